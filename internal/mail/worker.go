package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of a Worker.
const (
	DefaultPollInterval = 10 * time.Second
	DefaultLease        = 5 * time.Minute
	DefaultSendTimeout  = time.Minute
	DefaultMaxAttempts  = 25
	DefaultMaxAge       = 48 * time.Hour
	DefaultRetention    = 7 * 24 * time.Hour
	DefaultBatchSize    = 50
	// bookkeepingTimeout bounds the database update after an attempt, which
	// runs even when the Worker is being stopped.
	bookkeepingTimeout = 10 * time.Second
)

// DefaultBackoff is the wait before attempt number attempt+1, after attempt
// number attempt (1-based) failed: 30s, 1m, 2m, 4m, ... doubling, capped at
// one hour.
func DefaultBackoff(attempt int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// Failure describes a message the Worker gave up on.
type Failure struct {
	ID       string
	To       string
	Subject  string
	Created  time.Time
	Attempts int
	// Err is the sanitized text of the last error (never a body).
	Err string
}

// Worker delivers the mail of an Outbox through a Sender, in the
// background, with retries. Several Workers may share one table. Set the
// fields before calling Run or RunOnce; zero values take the defaults.
type Worker struct {
	// Outbox and Sender are required.
	Outbox *Outbox
	Sender Sender
	// Logger gets one line per attempt: ids, recipients, attempts and
	// errors, never a body. Nil discards.
	Logger *slog.Logger
	// Now returns the current time; the Outbox's clock when nil.
	Now func() time.Time
	// PollInterval is how often Run looks for due mail when not notified
	// (DefaultPollInterval).
	PollInterval time.Duration
	// Lease is how long a claimed message stays reserved for this Worker
	// (DefaultLease). It must be longer than SendTimeout.
	Lease time.Duration
	// SendTimeout bounds one delivery attempt (DefaultSendTimeout).
	SendTimeout time.Duration
	// MaxAttempts and MaxAge bound the retries: a message is given up on
	// after MaxAttempts attempts, or when its next attempt would come later
	// than MaxAge after it was queued (DefaultMaxAttempts, DefaultMaxAge).
	MaxAttempts int
	MaxAge      time.Duration
	// Backoff gives the wait after a failed attempt (DefaultBackoff).
	Backoff func(attempt int) time.Duration
	// Retention is how long the row of a sent or abandoned message (its
	// bodies already erased) is kept before deletion (DefaultRetention).
	Retention time.Duration
	// BatchSize bounds the messages RunOnce handles (DefaultBatchSize).
	BatchSize int
	// OnGiveUp, when set, is called for each message given up on, e.g. to
	// write an audit event.
	OnGiveUp func(ctx context.Context, f Failure)
}

// settings is a Worker with its defaults filled in.
type settings struct {
	Worker
	log *slog.Logger
}

func (w *Worker) settings() (settings, error) {
	s := settings{Worker: *w}
	if s.Outbox == nil || s.Sender == nil {
		return s, errors.New("mail: Worker needs an Outbox and a Sender")
	}
	if s.Now == nil {
		s.Now = s.Outbox.now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&s.PollInterval, DefaultPollInterval)
	def(&s.Lease, DefaultLease)
	def(&s.SendTimeout, DefaultSendTimeout)
	def(&s.MaxAge, DefaultMaxAge)
	def(&s.Retention, DefaultRetention)
	if s.MaxAttempts <= 0 {
		s.MaxAttempts = DefaultMaxAttempts
	}
	if s.BatchSize <= 0 {
		s.BatchSize = DefaultBatchSize
	}
	if s.Backoff == nil {
		s.Backoff = DefaultBackoff
	}
	if s.SendTimeout >= s.Lease {
		return s, fmt.Errorf("mail: Worker.SendTimeout (%v) must be shorter than Lease (%v)", s.SendTimeout, s.Lease)
	}
	s.log = s.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Run delivers mail until ctx is done: at once, after each Notify of the
// Outbox, and every PollInterval. Database errors are logged and retried
// at the next poll. It returns nil when ctx is done, or an error when the
// Worker is misconfigured.
func (w *Worker) Run(ctx context.Context) error {
	s, err := w.settings()
	if err != nil {
		return err
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		for {
			n, err := s.runOnce(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.LogAttrs(ctx, slog.LevelError, "mail outbox", slog.String("error", sanitizeError(err)))
			}
			if err != nil || n < s.BatchSize || ctx.Err() != nil {
				break
			}
		}
		timer.Reset(s.PollInterval)
		select {
		case <-ctx.Done():
			return nil
		case <-s.Outbox.wake:
		case <-timer.C:
		}
	}
}

// RunOnce delivers up to BatchSize due messages, one at a time, then
// deletes the rows whose retention has passed. It returns the number of
// messages it attempted. It is what Run does on each wake-up, exported for
// tests and for programs that schedule delivery themselves.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	s, err := w.settings()
	if err != nil {
		return 0, err
	}
	return s.runOnce(ctx)
}

func (s *settings) runOnce(ctx context.Context) (int, error) {
	n := 0
	for ; n < s.BatchSize && ctx.Err() == nil; n++ {
		c, found, err := s.Outbox.claim(ctx, s.Now(), s.Lease)
		if err != nil {
			return n, err
		}
		if !found {
			break
		}
		if err := s.deliver(ctx, c); err != nil {
			return n + 1, err
		}
	}
	if _, err := s.Outbox.Purge(ctx, s.Now().Add(-s.Retention)); err != nil {
		return n, err
	}
	return n, nil
}

// deliver makes one attempt at c and records the outcome.
func (s *settings) deliver(ctx context.Context, c claimed) error {
	// The outcome is recorded even while the Worker is stopping.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	attrs := []slog.Attr{slog.String("id", c.ID), slog.String("to", c.To), slog.Int("attempt", c.attempts)}

	now := s.Now()
	if c.attempts > s.MaxAttempts || now.Sub(c.Time) > s.MaxAge {
		return s.giveUp(bctx, c, now, "mail: expired before it could be delivered", attrs)
	}
	sctx, scancel := context.WithTimeout(ctx, s.SendTimeout)
	err := s.Sender.Send(sctx, c.Message)
	scancel()
	now = s.Now()
	if err == nil {
		ok, err := s.Outbox.markSent(bctx, c, now)
		if err != nil {
			return err
		}
		if !ok {
			s.log.LogAttrs(ctx, slog.LevelWarn, "mail sent after its lease expired; it may be sent twice", attrs...)
			return nil
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "mail delivered", attrs...)
		return nil
	}
	errText := sanitizeError(err)
	next := now.Add(s.Backoff(c.attempts))
	permanent := errors.Is(err, ErrPermanent) || errors.Is(err, ErrInvalidRecipient) ||
		errors.Is(err, ErrInvalidSubject) || errors.Is(err, ErrInvalidBody)
	if permanent || c.attempts >= s.MaxAttempts || next.Sub(c.Time) > s.MaxAge {
		return s.giveUp(bctx, c, now, errText, attrs)
	}
	ok, uerr := s.Outbox.markRetry(bctx, c, next, errText)
	if uerr != nil {
		return uerr
	}
	if ok {
		s.log.LogAttrs(ctx, slog.LevelWarn, "mail delivery failed; will retry",
			append(attrs, slog.Time("next_attempt", next), slog.String("error", errText))...)
	}
	return nil
}

func (s *settings) giveUp(ctx context.Context, c claimed, now time.Time, errText string, attrs []slog.Attr) error {
	ok, err := s.Outbox.markFailed(ctx, c, now, errText)
	if err != nil {
		return err
	}
	if !ok {
		return nil // another Worker owns it now
	}
	s.log.LogAttrs(ctx, slog.LevelError, "mail delivery abandoned",
		append(attrs, slog.String("error", errText))...)
	if s.OnGiveUp != nil {
		s.OnGiveUp(ctx, Failure{ID: c.ID, To: c.To, Subject: c.Subject, Created: c.Time, Attempts: c.attempts, Err: errText})
	}
	return nil
}
