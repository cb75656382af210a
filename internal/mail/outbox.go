package mail

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Dialect names the SQL database behind an Outbox.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ErrDialect is returned by NewOutbox for an unknown dialect.
var ErrDialect = errors.New("mail: unknown SQL dialect")

// MaxErrorLen bounds the last_error text kept for a message, in bytes.
const MaxErrorLen = 500

// Execer is what EnqueueTx needs: a *sql.Tx, *sql.DB or *sql.Conn.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Outbox is the durable queue of mail in the mail_outbox table, created by
// the 0010_mail_outbox.sql migrations. Requests enqueue; a Worker delivers.
// It is safe for concurrent use.
type Outbox struct {
	// Now returns the current time; time.Now when nil. Set it before use.
	Now func() time.Time

	db      *sql.DB
	dialect Dialect
	wake    chan struct{}
}

// NewOutbox returns the Outbox stored in db, whose dialect is SQLite (driver
// "sqlite") or Postgres. Times are stored in UTC truncated to microseconds,
// as in internal/db: INTEGER Unix nanoseconds on SQLite, TIMESTAMPTZ on
// Postgres. With SQLite, db should be the pool internal/db writes with (or
// have a busy timeout), since every claim is a write.
func NewOutbox(db *sql.DB, dialect Dialect) (*Outbox, error) {
	if db == nil {
		return nil, errors.New("mail: NewOutbox: nil database")
	}
	if dialect != SQLite && dialect != Postgres {
		return nil, fmt.Errorf("%w: %q (want sqlite or postgres)", ErrDialect, clip(string(dialect), 32))
	}
	return &Outbox{db: db, dialect: dialect, wake: make(chan struct{}, 1)}, nil
}

func (o *Outbox) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Enqueue validates m, stores it for delivery as soon as possible, wakes
// the Workers, and returns its id. m.ID and m.Time are ignored.
func (o *Outbox) Enqueue(ctx context.Context, m Message) (string, error) {
	id, err := o.EnqueueTx(ctx, o.db, m)
	if err != nil {
		return "", err
	}
	o.Notify()
	return id, nil
}

// EnqueueTx is Enqueue within the caller's transaction (or connection) ex,
// so that a mail is queued if and only if the change it reports is
// committed. It does not wake the Workers: call Notify after the commit.
func (o *Outbox) EnqueueTx(ctx context.Context, ex Execer, m Message) (string, error) {
	if err := m.Validate(); err != nil {
		return "", err
	}
	id := rand.Text()
	now := o.now()
	_, err := ex.ExecContext(ctx, o.q(`INSERT INTO mail_outbox
		(id, recipient, subject, text_body, html_body, created_at, attempts, next_attempt_at, last_error)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, '')`),
		id, m.To, m.Subject, m.Text, m.HTML, o.t(now), o.t(now))
	if err != nil {
		return "", fmt.Errorf("mail: enqueue: %w", err)
	}
	return id, nil
}

// Notify wakes a Worker running on this Outbox, if one is waiting. It never
// blocks.
func (o *Outbox) Notify() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Pending returns the number of messages not yet sent nor given up on.
func (o *Outbox) Pending(ctx context.Context) (int, error) {
	var n int
	err := o.db.QueryRowContext(ctx,
		`SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("mail: pending: %w", err)
	}
	return n, nil
}

// Purge deletes the rows of messages sent or given up on before the given
// time, and returns how many it deleted.
func (o *Outbox) Purge(ctx context.Context, before time.Time) (int64, error) {
	res, err := o.db.ExecContext(ctx, o.q(`DELETE FROM mail_outbox
		WHERE (sent_at IS NOT NULL AND sent_at < ?) OR (failed_at IS NOT NULL AND failed_at < ?)`),
		o.t(before), o.t(before))
	if err != nil {
		return 0, fmt.Errorf("mail: purge: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// claimed is a message a Worker holds the lease of.
type claimed struct {
	Message
	attempts int
	token    string
}

// claim takes the lease of the message that is due first, counting an
// attempt. found is false when nothing is due.
func (o *Outbox) claim(ctx context.Context, now time.Time, lease time.Duration) (c claimed, found bool, err error) {
	lock := ""
	if o.dialect == Postgres {
		lock = "FOR UPDATE SKIP LOCKED"
	}
	c.token = rand.Text()
	var created dbTime
	err = o.db.QueryRowContext(ctx, o.q(`UPDATE mail_outbox
		SET attempts = attempts + 1, locked_until = ?, claim_token = ?
		WHERE id = (
			SELECT id FROM mail_outbox
			WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?
			  AND (locked_until IS NULL OR locked_until <= ?)
			ORDER BY next_attempt_at, created_at, id
			LIMIT 1 `+lock+`)
		RETURNING id, recipient, subject, text_body, html_body, created_at, attempts`),
		o.t(now.Add(lease)), c.token, o.t(now), o.t(now)).
		Scan(&c.ID, &c.To, &c.Subject, &c.Text, &c.HTML, &created, &c.attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return claimed{}, false, nil
	}
	if err != nil {
		return claimed{}, false, fmt.Errorf("mail: claim: %w", err)
	}
	c.Time = created.t
	return c, true, nil
}

// markSent, markRetry and markFailed record the outcome of an attempt; ok
// is false when the lease was lost (another Worker has the message now).
func (o *Outbox) markSent(ctx context.Context, c claimed, now time.Time) (ok bool, err error) {
	return o.update(ctx, `UPDATE mail_outbox
		SET sent_at = ?, text_body = '', html_body = '', last_error = '', locked_until = NULL, claim_token = NULL
		WHERE id = ? AND claim_token = ?`, o.t(now), c.ID, c.token)
}

func (o *Outbox) markRetry(ctx context.Context, c claimed, next time.Time, errText string) (bool, error) {
	return o.update(ctx, `UPDATE mail_outbox
		SET next_attempt_at = ?, last_error = ?, locked_until = NULL, claim_token = NULL
		WHERE id = ? AND claim_token = ?`, o.t(next), errText, c.ID, c.token)
}

func (o *Outbox) markFailed(ctx context.Context, c claimed, now time.Time, errText string) (bool, error) {
	return o.update(ctx, `UPDATE mail_outbox
		SET failed_at = ?, last_error = ?, text_body = '', html_body = '', locked_until = NULL, claim_token = NULL
		WHERE id = ? AND claim_token = ?`, o.t(now), errText, c.ID, c.token)
}

func (o *Outbox) update(ctx context.Context, query string, args ...any) (bool, error) {
	res, err := o.db.ExecContext(ctx, o.q(query), args...)
	if err != nil {
		return false, fmt.Errorf("mail: update outbox: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mail: update outbox: %w", err)
	}
	return n == 1, nil
}

// q rewrites the ? placeholders of query for the dialect. The queries of
// this file contain no other question marks.
func (o *Outbox) q(query string) string {
	if o.dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// t converts a time to its stored form, UTC truncated to microseconds:
// Unix nanoseconds on SQLite, a timestamp on Postgres.
func (o *Outbox) t(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if o.dialect == SQLite {
		return t.UnixNano()
	}
	return t
}

// dbTime scans either stored form of a time.
type dbTime struct{ t time.Time }

func (d *dbTime) Scan(v any) error {
	switch v := v.(type) {
	case int64:
		d.t = time.Unix(0, v).UTC()
	case time.Time:
		d.t = v.UTC()
	case nil:
		d.t = time.Time{}
	default:
		return fmt.Errorf("mail: cannot scan %T as a time", v)
	}
	return nil
}

// sanitizeError returns err's text with control characters replaced and
// cut to MaxErrorLen bytes, fit for logs and the last_error column.
func sanitizeError(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > 4*MaxErrorLen {
		s = s[:4*MaxErrorLen]
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, " "))
	return clip(s, MaxErrorLen)
}
