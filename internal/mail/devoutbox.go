package mail

import (
	"context"
	"crypto/rand"
	"log/slog"
	"sync"
	"time"
)

// Bounds of the DevOutbox.
const (
	// DefaultDevOutboxSize is how many messages a DevOutbox keeps when
	// NewDevOutbox is given 0.
	DefaultDevOutboxSize = 50
	// MaxDevOutboxSize caps the number of messages a DevOutbox keeps.
	MaxDevOutboxSize = 1000
)

// DevOutbox is the Sender of development mode: instead of sending, it keeps
// the last messages in memory, for the /dev/outbox page, and writes each
// one, bodies and one-time links included, to its logger.
//
// Because it logs bodies, a DevOutbox must only be used in development
// mode. It is safe for concurrent use; memory is bounded by its size times
// the Message limits.
type DevOutbox struct {
	// Now returns the current time; time.Now when nil. Set it before use.
	Now func() time.Time

	mu   sync.Mutex
	size int
	msgs []Message // oldest first, at most size
	log  *slog.Logger
}

// NewDevOutbox returns a DevOutbox that keeps the last size messages
// (DefaultDevOutboxSize when size <= 0, at most MaxDevOutboxSize) and logs
// every message to logger (nil discards).
func NewDevOutbox(size int, logger *slog.Logger) *DevOutbox {
	if size <= 0 {
		size = DefaultDevOutboxSize
	}
	size = min(size, MaxDevOutboxSize)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &DevOutbox{size: size, log: logger}
}

// Send validates m, gives it an ID and a Time when it has none, keeps it,
// dropping the oldest message when full, and logs it in full.
func (o *DevOutbox) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.ID == "" {
		m.ID = rand.Text()
	}
	if m.Time.IsZero() {
		now := time.Now
		if o.Now != nil {
			now = o.Now
		}
		m.Time = now()
	}
	o.mu.Lock()
	if len(o.msgs) >= o.size {
		copy(o.msgs, o.msgs[1:])
		o.msgs = o.msgs[:len(o.msgs)-1]
	}
	o.msgs = append(o.msgs, m)
	o.mu.Unlock()
	// Development mode only: the body carries one-time links on purpose.
	o.log.LogAttrs(ctx, slog.LevelInfo, "mail (dev outbox, not sent)",
		slog.String("id", m.ID), slog.String("to", m.To), slog.String("subject", m.Subject),
		slog.String("text", m.Text))
	return nil
}

// List returns the kept messages, newest first.
func (o *DevOutbox) List() []Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Message, len(o.msgs))
	for i, m := range o.msgs {
		out[len(o.msgs)-1-i] = m
	}
	return out
}

// Get returns the kept message with the given id.
func (o *DevOutbox) Get(id string) (Message, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range o.msgs {
		if m.ID == id {
			return m, true
		}
	}
	return Message{}, false
}
