package mail

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMessageValidate(t *testing.T) {
	ok := Message{To: "ada@example.com", Subject: "Hello", Text: "body"}
	tests := []struct {
		name string
		edit func(*Message)
		want error
	}{
		{"valid", func(*Message) {}, nil},
		{"valid with html", func(m *Message) { m.HTML = "<p>body</p>" }, nil},
		{"unicode subject", func(m *Message) { m.Subject = "Grüße – bestätigen" }, nil},
		{"empty to", func(m *Message) { m.To = "" }, ErrInvalidRecipient},
		{"to with name", func(m *Message) { m.To = "Ada <ada@example.com>" }, ErrInvalidRecipient},
		{"to list", func(m *Message) { m.To = "ada@example.com,eve@example.com" }, ErrInvalidRecipient},
		{"to with CRLF", func(m *Message) { m.To = "ada@example.com\r\nBcc: eve@example.com" }, ErrInvalidRecipient},
		{"to with NUL", func(m *Message) { m.To = "ada@exa\x00mple.com" }, ErrInvalidRecipient},
		{"to no domain", func(m *Message) { m.To = "ada" }, ErrInvalidRecipient},
		{"to too long", func(m *Message) { m.To = strings.Repeat("a", 250) + "@example.com" }, ErrInvalidRecipient},
		{"to invalid utf8", func(m *Message) { m.To = "ad\xffa@example.com" }, ErrInvalidRecipient},
		{"empty subject", func(m *Message) { m.Subject = "" }, ErrInvalidSubject},
		{"subject CRLF", func(m *Message) { m.Subject = "Hi\r\nBcc: eve@example.com" }, ErrInvalidSubject},
		{"subject LF", func(m *Message) { m.Subject = "Hi\nthere" }, ErrInvalidSubject},
		{"subject tab", func(m *Message) { m.Subject = "Hi\tthere" }, ErrInvalidSubject},
		{"subject line separator", func(m *Message) { m.Subject = "Hi\u2028there" }, ErrInvalidSubject},
		{"subject too long", func(m *Message) { m.Subject = strings.Repeat("s", MaxSubjectLen+1) }, ErrInvalidSubject},
		{"empty text", func(m *Message) { m.Text = " \n" }, ErrInvalidBody},
		{"text too long", func(m *Message) { m.Text = strings.Repeat("x", MaxBodyLen+1) }, ErrInvalidBody},
		{"html too long", func(m *Message) { m.HTML = strings.Repeat("x", MaxBodyLen+1) }, ErrInvalidBody},
		{"text invalid utf8", func(m *Message) { m.Text = "\xff" }, ErrInvalidBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.edit(&m)
			err := m.Validate()
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzMessageValidate(f *testing.F) {
	f.Add("ada@example.com", "Hello", "body")
	f.Add("a@b\r\nBcc: c@d", "x\ny", "")
	f.Add("\"quoted\"@example.com", "Grüße", "text")
	f.Fuzz(func(t *testing.T, to, subject, text string) {
		m := Message{To: to, Subject: subject, Text: text}
		if m.Validate() != nil {
			return
		}
		if strings.ContainsAny(to+subject, "\r\n\x00") || len(to) > MaxAddressLen || len(subject) > MaxSubjectLen {
			t.Fatalf("accepted %q / %q", to, subject)
		}
	})
}

func TestDevOutbox(t *testing.T) {
	var logs bytes.Buffer
	o := NewDevOutbox(3, slog.New(slog.NewTextHandler(&logs, nil)))
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	o.Now = func() time.Time { return base }
	for i, to := range []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"} {
		m := Message{To: to, Subject: "s", Text: "link https://x.example/t?token=TOKEN" + to}
		if i == 0 {
			m.ID = "given-id"
		}
		if err := o.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	got := o.List()
	if len(got) != 3 {
		t.Fatalf("List() has %d messages, want 3 (bounded)", len(got))
	}
	for i, want := range []string{"d@example.com", "c@example.com", "b@example.com"} {
		if got[i].To != want || got[i].ID == "" || !got[i].Time.Equal(base) {
			t.Errorf("List()[%d] = %+v, want To %s with an ID and Time", i, got[i], want)
		}
	}
	if _, ok := o.Get("given-id"); ok {
		t.Error("the oldest message was not dropped")
	}
	if m, ok := o.Get(got[0].ID); !ok || m.To != "d@example.com" {
		t.Errorf("Get(%q) = %+v, %v", got[0].ID, m, ok)
	}
	if !strings.Contains(logs.String(), "TOKENd@example.com") {
		t.Errorf("the dev outbox must log the body (dev mode only): %s", logs.String())
	}
	if err := o.Send(context.Background(), Message{To: "x@example.com", Subject: "a\r\nb", Text: "t"}); !errors.Is(err, ErrInvalidSubject) {
		t.Errorf("Send(bad subject) = %v", err)
	}
	// Concurrent use is safe (run with -race).
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_ = o.Send(context.Background(), Message{To: "x@example.com", Subject: "s", Text: "t"})
			_ = o.List()
		})
	}
	wg.Wait()
	if n := len(o.List()); n != 3 {
		t.Fatalf("%d messages kept, want 3", n)
	}
}

func TestDevOutboxSizeBounds(t *testing.T) {
	tests := []struct{ in, want int }{{0, DefaultDevOutboxSize}, {-1, DefaultDevOutboxSize}, {5, 5}, {1 << 30, MaxDevOutboxSize}}
	for _, tt := range tests {
		if got := NewDevOutbox(tt.in, nil).size; got != tt.want {
			t.Errorf("NewDevOutbox(%d) keeps %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestSanitizeError(t *testing.T) {
	tests := []struct {
		in   error
		want string
	}{
		{nil, ""},
		{errors.New("dial tcp: refused"), "dial tcp: refused"},
		{errors.New("line1\r\nline2\x00"), "line1  line2 "},
		{errors.New("bad \xff utf8"), "bad   utf8"},
	}
	for _, tt := range tests {
		if got := sanitizeError(tt.in); got != tt.want {
			t.Errorf("sanitizeError(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := sanitizeError(errors.New(strings.Repeat("é", 10*MaxErrorLen)))
	if len(long) > MaxErrorLen || !strings.HasPrefix(long, "é") || strings.ContainsRune(long, '\uFFFD') {
		t.Errorf("long error: %d bytes", len(long))
	}
}

func TestDefaultBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{{1, 30 * time.Second}, {2, time.Minute}, {3, 2 * time.Minute}, {4, 4 * time.Minute}, {7, 32 * time.Minute}, {8, time.Hour}, {100, time.Hour}, {0, 30 * time.Second}}
	for _, tt := range tests {
		if got := DefaultBackoff(tt.attempt); got != tt.want {
			t.Errorf("DefaultBackoff(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}
