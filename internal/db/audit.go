package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
)

// Audit is the append-only audit event repository; it implements
// [account.AuditStore].
type Audit struct{ d *DB }

// Audit returns the audit event repository.
func (d *DB) Audit() *Audit { return &Audit{d} }

var _ account.AuditStore = (*Audit)(nil)

// InsertAudit appends e as given (the account service sanitizes it) and
// returns its ID. UserID and ActorID 0 are stored as NULL.
func (a *Audit) InsertAudit(ctx context.Context, e account.Event) (int64, error) {
	ctx, cancel := a.d.bound(ctx)
	defer cancel()
	d := a.d
	var id int64
	err := d.write.QueryRowContext(ctx, d.q.auditInsert,
		d.ts(e.At), nullInt64(e.UserID), nullInt64(e.ActorID), string(e.Name), string(e.Outcome),
		e.IP, e.UserAgent, e.Detail).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("db: insert audit event: %w", err)
	}
	return id, nil
}

// farFuture is the default upper bound of an audit time range.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// ListAudit returns events matching f, newest first (Limit default 50).
func (a *Audit) ListAudit(ctx context.Context, f account.AuditFilter) ([]account.Event, error) {
	ctx, cancel := a.d.bound(ctx)
	defer cancel()
	d := a.d
	if f.Limit <= 0 {
		f.Limit = 50
	}
	until := f.Until
	if until.IsZero() {
		until = farFuture
	}
	byUser, byEvent := 0, 0
	var args []any
	if f.UserID != 0 {
		byUser = 1
		args = append(args, f.UserID)
	}
	if f.Name != "" {
		byEvent = 1
		args = append(args, string(f.Name))
	}
	args = append(args, d.ts(f.Since), d.ts(until), f.Limit, max(f.Offset, 0))
	rows, err := d.read.QueryContext(ctx, d.q.auditList[byUser][byEvent], args...)
	if err != nil {
		return nil, fmt.Errorf("db: list audit events: %w", err)
	}
	defer rows.Close()
	var out []account.Event
	for rows.Next() {
		var (
			e             account.Event
			user, actor   sql.NullInt64
			name, outcome string
		)
		if err := rows.Scan(&e.ID, timeScanner{&e.At}, &user, &actor, &name, &outcome, &e.IP, &e.UserAgent, &e.Detail); err != nil {
			return nil, fmt.Errorf("db: list audit events: %w", err)
		}
		e.UserID, e.ActorID = user.Int64, actor.Int64
		e.Name, e.Outcome = account.EventName(name), account.Outcome(outcome)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: list audit events: %w", err)
	}
	return out, nil
}
