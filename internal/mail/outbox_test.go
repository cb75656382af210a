package mail

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock {
	return &testClock{t: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// backend opens a fresh database with the mail_outbox migration applied.
// open returns another pool on the same database (a second instance).
type backend struct {
	name    string
	dialect Dialect
	open    func(t *testing.T) *sql.DB
}

func backends() []backend {
	return []backend{
		{"sqlite", SQLite, nil},
		{"postgres", Postgres, nil},
	}
}

// forEachBackend runs f against SQLite (temp dir) and Postgres (a fresh
// schema), each with the table created from the migration file.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			var open func(t *testing.T) *sql.DB
			switch b.dialect {
			case SQLite:
				dsn := filepath.Join(t.TempDir(), "mail.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
				open = func(t *testing.T) *sql.DB { return mustOpen(t, "sqlite", dsn) }
			case Postgres:
				u := testenv.PostgresSchemaURL(t)
				open = func(t *testing.T) *sql.DB { return mustOpen(t, "pgx", u) }
			}
			db := open(t)
			mig, err := os.ReadFile(filepath.Join("..", "db", "migrations", string(b.dialect), "0010_mail_outbox.sql"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(string(mig)); err != nil {
				t.Fatalf("migration: %v", err)
			}
			b.open = func(t *testing.T) *sql.DB {
				if db != nil {
					d := db
					db = nil
					return d
				}
				return open(t)
			}
			f(t, b)
		})
	}
}

func mustOpen(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustOutbox(t *testing.T, db *sql.DB, d Dialect, clock *testClock) *Outbox {
	t.Helper()
	o, err := NewOutbox(db, d)
	if err != nil {
		t.Fatal(err)
	}
	o.Now = clock.Now
	return o
}

func mustEnqueue(t *testing.T, o *Outbox, m Message) string {
	t.Helper()
	id, err := o.Enqueue(context.Background(), m)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return id
}

func mustRunOnce(t *testing.T, w *Worker) int {
	t.Helper()
	n, err := w.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	return n
}

func mustPending(t *testing.T, o *Outbox) int {
	t.Helper()
	n, err := o.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// row is what the table holds for a message.
type row struct {
	Text, HTML, LastError string
	Attempts              int
	Sent, Failed          bool
}

func mustRow(t *testing.T, db *sql.DB, o *Outbox, id string) (row, bool) {
	t.Helper()
	var r row
	var sent, failed dbTime
	err := db.QueryRow(o.q(`SELECT text_body, html_body, last_error, attempts, sent_at, failed_at FROM mail_outbox WHERE id = ?`), id).
		Scan(&r.Text, &r.HTML, &r.LastError, &r.Attempts, &sent, &failed)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false
	}
	if err != nil {
		t.Fatal(err)
	}
	r.Sent, r.Failed = !sent.t.IsZero(), !failed.t.IsZero()
	return r, true
}

func TestOutboxDeliversThroughSMTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		clock := newClock()
		o := mustOutbox(t, db, b.dialect, clock)
		srv := mustSMTPServer(t, smtpOpts{})
		var logs bytes.Buffer
		w := &Worker{Outbox: o, Sender: mustSender(t, srv), Logger: slog.New(slog.NewTextHandler(&logs, nil))}

		m, err := Render(PasswordReset, Data{Email: "ada@example.com", Link: "https://auth.example.com/password/reset?token=SECRETTOKEN", ExpiresIn: 30 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		m.To = "ada@example.com"
		id := mustEnqueue(t, o, m)
		if n := mustPending(t, o); n != 1 {
			t.Fatalf("Pending = %d, want 1", n)
		}
		if n := mustRunOnce(t, w); n != 1 {
			t.Fatalf("RunOnce attempted %d, want 1", n)
		}
		msgs := srv.Messages()
		if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "ada@example.com" {
			t.Fatalf("server got %+v", msgs)
		}
		p := mustParseMail(t, msgs[0].Raw)
		if p.Subject != "Reset your password" || p.Text != m.Text || p.HTML != m.HTML {
			t.Fatalf("delivered %+v", p)
		}
		if got := p.Header.Get("Message-Id"); got != "<"+id+"@auth.example.com>" {
			t.Errorf("Message-ID %q, want one derived from the id %s", got, id)
		}
		if strings.Contains(logs.String(), "SECRETTOKEN") {
			t.Errorf("the worker logged a body: %s", logs.String())
		}
		r, ok := mustRow(t, db, o, id)
		if !ok || !r.Sent || r.Text != "" || r.HTML != "" || r.Attempts != 1 {
			t.Fatalf("row after delivery %+v (bodies must be erased)", r)
		}
		if n := mustPending(t, o); n != 0 {
			t.Fatalf("Pending = %d after delivery", n)
		}
		if n := mustRunOnce(t, w); n != 0 || len(srv.Messages()) != 1 {
			t.Fatal("delivered twice")
		}
		// The row stays for the retention period, then goes.
		clock.Add(DefaultRetention - time.Minute)
		mustRunOnce(t, w)
		if _, ok := mustRow(t, db, o, id); !ok {
			t.Fatal("row purged before the retention period")
		}
		clock.Add(2 * time.Minute)
		mustRunOnce(t, w)
		if _, ok := mustRow(t, db, o, id); ok {
			t.Fatal("row kept after the retention period")
		}
	})
}

func TestOutboxRetriesWhileSMTPIsDown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		clock := newClock()
		o := mustOutbox(t, db, b.dialect, clock)
		srv := mustSMTPServer(t, smtpOpts{})
		srv.down.Store(true)
		w := &Worker{Outbox: o, Sender: mustSender(t, srv)}
		ids := []string{
			mustEnqueue(t, o, testMessage("ada@example.com")),
			mustEnqueue(t, o, testMessage("bob@example.com")),
		}

		steps := []struct {
			advance     time.Duration
			up          bool
			wantTried   int
			wantPending int
		}{
			{0, false, 2, 2},                // first attempt fails: retry in 30s
			{29 * time.Second, false, 0, 2}, // not yet due
			{time.Second, false, 2, 2},      // second attempt fails: retry in 1m
			{59 * time.Second, true, 0, 2},  // server back, but not yet due
			{time.Second, true, 2, 0},       // third attempt delivers both
		}
		for i, s := range steps {
			clock.Add(s.advance)
			srv.down.Store(!s.up)
			if n := mustRunOnce(t, w); n != s.wantTried {
				t.Fatalf("step %d: attempted %d, want %d", i, n, s.wantTried)
			}
			if n := mustPending(t, o); n != s.wantPending {
				t.Fatalf("step %d: pending %d, want %d", i, n, s.wantPending)
			}
			if i == 0 {
				r, _ := mustRow(t, db, o, ids[0])
				if r.LastError == "" || strings.Contains(r.LastError, "token=") || len(r.LastError) > MaxErrorLen {
					t.Fatalf("last_error %q", r.LastError)
				}
			}
		}
		got := map[string]int{}
		for _, m := range srv.Messages() {
			got[m.To[0]]++
		}
		if len(got) != 2 || got["ada@example.com"] != 1 || got["bob@example.com"] != 1 {
			t.Fatalf("delivered %v, want each once", got)
		}
		r, _ := mustRow(t, db, o, ids[1])
		if !r.Sent || r.Attempts != 3 || r.LastError != "" {
			t.Fatalf("row %+v", r)
		}
	})
}

func TestOutboxGivesUp(t *testing.T) {
	temporary := errors.New("451 try later")
	tests := []struct {
		name         string
		err          error
		maxAttempts  int
		maxAge       time.Duration
		wait         time.Duration // before the first attempt (workers were down)
		wantAttempts int           // calls of the Sender
		wantCounted  int           // attempts recorded
	}{
		{"permanent error", fmt.Errorf("wrapped: %w", ErrPermanent), 5, time.Hour, 0, 1, 1},
		{"invalid recipient", ErrInvalidRecipient, 5, time.Hour, 0, 1, 1},
		{"max attempts", temporary, 3, 48 * time.Hour, 0, 3, 3},
		{"max age", temporary, 100, 3 * time.Minute, 0, 3, 3}, // 30s, 1m, then 2m would pass 3m
		{"too old when first claimed", temporary, 5, 48 * time.Hour, 49 * time.Hour, 0, 1},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				clock := newClock()
				o := mustOutbox(t, db, b.dialect, clock)
				var failures []Failure
				calls := 0
				w := &Worker{
					Outbox: o, MaxAttempts: tt.maxAttempts, MaxAge: tt.maxAge,
					Sender:   SenderFunc(func(context.Context, Message) error { calls++; return tt.err }),
					OnGiveUp: func(_ context.Context, f Failure) { failures = append(failures, f) },
				}
				id := mustEnqueue(t, o, testMessage("ada@example.com"))
				clock.Add(tt.wait)
				for range 200 {
					mustRunOnce(t, w)
					clock.Add(time.Minute)
				}
				if calls != tt.wantAttempts {
					t.Fatalf("%d attempts, want %d", calls, tt.wantAttempts)
				}
				if len(failures) != 1 || failures[0].ID != id || failures[0].Attempts != tt.wantCounted || failures[0].Err == "" {
					t.Fatalf("OnGiveUp got %+v", failures)
				}
				r, ok := mustRow(t, db, o, id)
				if !ok || !r.Failed || r.Text != "" || r.HTML != "" || r.Attempts != tt.wantCounted {
					t.Fatalf("row %+v: must be failed with bodies erased", r)
				}
				clock.Add(DefaultRetention)
				mustRunOnce(t, w)
				if _, ok := mustRow(t, db, o, id); ok {
					t.Fatal("abandoned row kept after the retention period")
				}
			})
		}
	})
}

func TestOutboxReclaimsExpiredLease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		clock := newClock()
		o := mustOutbox(t, db, b.dialect, clock)
		var sent []string
		w := &Worker{Outbox: o, Sender: SenderFunc(func(_ context.Context, m Message) error { sent = append(sent, m.ID); return nil })}
		id := mustEnqueue(t, o, testMessage("ada@example.com"))

		// A worker claims the message and dies.
		c, found, err := o.claim(context.Background(), clock.Now(), DefaultLease)
		if err != nil || !found || c.ID != id {
			t.Fatalf("claim = %+v, %v, %v", c, found, err)
		}
		if n := mustRunOnce(t, w); n != 0 {
			t.Fatal("a leased message was claimed again")
		}
		clock.Add(DefaultLease)
		if n := mustRunOnce(t, w); n != 1 || len(sent) != 1 {
			t.Fatalf("expired lease not reclaimed: %d, %v", n, sent)
		}
		// The dead worker comes back: its lease is gone.
		if ok, err := o.markSent(context.Background(), c, clock.Now()); err != nil || ok {
			t.Fatalf("markSent with a lost lease = %v, %v", ok, err)
		}
		r, _ := mustRow(t, db, o, id)
		if r.Attempts != 2 || !r.Sent {
			t.Fatalf("row %+v", r)
		}
	})
}

func TestOutboxTwoWorkersDeliverEachOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		clock := newClock()
		o1 := mustOutbox(t, b.open(t), b.dialect, clock)
		o2 := mustOutbox(t, b.open(t), b.dialect, clock) // another instance
		srv := mustSMTPServer(t, smtpOpts{})
		const n = 40
		want := map[string]bool{}
		for i := range n {
			to := fmt.Sprintf("user%d@example.com", i)
			want[to] = true
			mustEnqueue(t, o1, testMessage(to))
		}
		var mu sync.Mutex
		counts := map[string]int{}
		sender := mustSender(t, srv)
		counting := SenderFunc(func(ctx context.Context, m Message) error {
			mu.Lock()
			counts[m.ID]++
			mu.Unlock()
			return sender.Send(ctx, m)
		})
		var wg sync.WaitGroup
		for _, o := range []*Outbox{o1, o2} {
			w := &Worker{Outbox: o, Sender: counting, BatchSize: 3}
			wg.Go(func() {
				for {
					n, err := w.RunOnce(context.Background())
					if err != nil {
						t.Error(err)
						return
					}
					if n == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		if p := mustPending(t, o1); p != 0 {
			t.Fatalf("%d messages left", p)
		}
		if len(counts) != n {
			t.Fatalf("%d distinct messages sent, want %d", len(counts), n)
		}
		for id, c := range counts {
			if c != 1 {
				t.Errorf("message %s sent %d times", id, c)
			}
		}
		got := srv.Messages()
		if len(got) != n {
			t.Fatalf("server got %d messages, want %d", len(got), n)
		}
		for _, m := range got {
			if !want[m.To[0]] {
				t.Errorf("unexpected or duplicate recipient %s", m.To[0])
			}
			delete(want, m.To[0])
		}
	})
}

func TestOutboxEnqueueTx(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		o := mustOutbox(t, db, b.dialect, newClock())
		ctx := context.Background()
		for _, commit := range []bool{false, true} {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := o.EnqueueTx(ctx, tx, testMessage("ada@example.com")); err != nil {
				t.Fatal(err)
			}
			if commit {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := mustPending(t, o); n != 1 {
			t.Fatalf("Pending = %d, want 1 (the rolled-back mail must not be queued)", n)
		}
	})
}

func TestOutboxEnqueueRejectsInvalid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		o := mustOutbox(t, db, b.dialect, newClock())
		bad := []Message{
			{To: "ada@example.com\r\nBcc: eve@example.com", Subject: "s", Text: "t"},
			{To: "ada@example.com", Subject: "s\r\nBcc: eve@example.com", Text: "t"},
			{To: "ada@example.com", Subject: "s", Text: strings.Repeat("x", MaxBodyLen+1)},
		}
		for _, m := range bad {
			if _, err := o.Enqueue(context.Background(), m); err == nil {
				t.Errorf("Enqueue(%q, %q) succeeded", m.To, m.Subject)
			}
		}
		if n := mustPending(t, o); n != 0 {
			t.Fatalf("Pending = %d", n)
		}
	})
}

func TestWorkerRunWakesOnNotify(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		o := mustOutbox(t, db, b.dialect, newClock())
		srv := mustSMTPServer(t, smtpOpts{})
		w := &Worker{Outbox: o, Sender: mustSender(t, srv), PollInterval: time.Hour}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()

		mustEnqueue(t, o, testMessage("ada@example.com")) // Enqueue notifies
		if got := srv.waitMessage(t); got.To[0] != "ada@example.com" {
			t.Fatalf("got %+v", got)
		}
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.EnqueueTx(ctx, tx, testMessage("bob@example.com")); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		o.Notify()
		if got := srv.waitMessage(t); got.To[0] != "bob@example.com" {
			t.Fatalf("got %+v", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}
	})
}

func TestWorkerConfigErrors(t *testing.T) {
	o, err := NewOutbox(&sql.DB{}, SQLite)
	if err != nil {
		t.Fatal(err)
	}
	nop := SenderFunc(func(context.Context, Message) error { return nil })
	tests := []struct {
		name string
		w    *Worker
	}{
		{"no outbox", &Worker{Sender: nop}},
		{"no sender", &Worker{Outbox: o}},
		{"timeout over lease", &Worker{Outbox: o, Sender: nop, Lease: time.Minute, SendTimeout: 2 * time.Minute}},
	}
	for _, tt := range tests {
		if err := tt.w.Run(context.Background()); err == nil {
			t.Errorf("%s: Run succeeded", tt.name)
		}
	}
	if _, err := NewOutbox(&sql.DB{}, "mysql"); !errors.Is(err, ErrDialect) {
		t.Errorf("NewOutbox(mysql) = %v", err)
	}
	if _, err := NewOutbox(nil, SQLite); err == nil {
		t.Error("NewOutbox(nil) succeeded")
	}
}
