package account

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/password"
)

// EventUserImport is recorded once for every account an import creates.
const EventUserImport EventName = "user.import"

// Import fields: the column names of an import file, in their usual order.
const (
	ImportEmail         = "email"
	ImportPasswordHash  = "password_hash"
	ImportDisplayName   = "display_name"
	ImportRoles         = "roles"
	ImportEmailVerified = "email_verified"
	ImportCreatedAt     = "created_at"
)

// ImportFields lists every field of an import row, in order. Email and
// password_hash are required; the others may be empty.
var ImportFields = []string{ImportEmail, ImportPasswordHash, ImportDisplayName, ImportRoles, ImportEmailVerified, ImportCreatedAt}

// ImportFutureSkew is how far in the future a created_at may lie (clock
// and time zone mistakes in the old system); anything later is refused.
const ImportFutureSkew = 24 * time.Hour

// importEpoch is the earliest created_at accepted.
var importEpoch = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// ImportRow is one line of an import file as read, before validation.
// Every value is as found in the file; [Importer.Validate] trims and checks.
type ImportRow struct {
	Email        string
	PasswordHash string
	DisplayName  string
	// Roles are role names; empty means just [RoleUser].
	Roles []string
	// EmailVerified is "" (false), true or false (also True/TRUE, 1/0 and
	// t/f, as SQLite and psql export booleans).
	EmailVerified string
	// CreatedAt is "" (the import time) or an RFC 3339 time.
	CreatedAt string
}

// ImportUser is a validated row, ready for [Importer.Import]. Build it
// only with [Importer.Validate].
type ImportUser struct {
	Email, EmailKey, DisplayName string
	// PasswordHash is the legacy hash, stored as is; Format is what
	// [password.Identify] made of it.
	PasswordHash string
	Format       password.Format
	// Roles are normalized (sorted, with RoleUser).
	Roles         []Role
	EmailVerified bool
	// CreatedAt is the old system's creation time; zero: the import time.
	CreatedAt time.Time
	// Source says where the row came from ("users.csv line 12"); it goes
	// into the audit event. The caller sets it.
	Source string
}

// ImportProblem is one invalid field of a row.
type ImportProblem struct {
	// Field is one of [ImportFields].
	Field string
	// Reason is a sentence fragment for the operator. It never contains
	// the password hash.
	Reason string
}

// ImportError lists every invalid field of a row, in field order.
type ImportError struct {
	Problems []ImportProblem
}

// Error returns "field: reason; field: reason".
func (e *ImportError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Reason
	}
	return strings.Join(parts, "; ")
}

func (e *ImportError) add(field, format string, a ...any) {
	e.Problems = append(e.Problems, ImportProblem{Field: field, Reason: fmt.Sprintf(format, a...)})
}

// HashIdentifier validates a stored hash without a password; a
// *password.Hasher implements it, with its own [password.Limits].
type HashIdentifier interface {
	Identify(encoded string) (password.Format, error)
}

// ImportInsert is what an [ImportStore] needs to create one imported
// account: the user (its Now is the import time, used for UpdatedAt and
// SessionsValidAfter), the old creation time, and the audit event to
// record with the new ID.
type ImportInsert struct {
	User      NewUser
	CreatedAt time.Time
	Event     Event
}

// ImportStore is the storage port of an import.
type ImportStore interface {
	// ExistingEmailKeys reports which of keys already belong to an account.
	ExistingEmailKeys(ctx context.Context, keys []string) (map[string]bool, error)
	// ImportUsers creates the accounts in one transaction: each one whose
	// EmailKey is already taken is skipped and left unchanged; each created
	// one gets its audit event (Event.UserID set to the new ID). It returns
	// the new IDs in order, 0 for a skipped account. On error nothing of
	// the batch is written.
	ImportUsers(ctx context.Context, users []ImportInsert) ([]int64, error)
}

// ImporterConfig holds the dependencies of an [Importer].
type ImporterConfig struct {
	// Store creates the accounts (internal/db implements it).
	Store ImportStore
	// Hashes checks password hashes; give it the server's own hasher, so
	// that every imported hash is one the server will verify.
	Hashes HashIdentifier
	// Now is the clock (nil: time.Now). It is read once, by NewImporter:
	// every account of one import carries the same import time.
	Now func() time.Time
}

// Importer validates rows of an import file and creates the accounts,
// never changing an existing one. It is meant for one import run.
type Importer struct {
	store  ImportStore
	hashes HashIdentifier
	at     time.Time
}

// NewImporter returns an Importer. Store and Hashes are required; it
// panics without them, since that is a wiring bug.
func NewImporter(c ImporterConfig) *Importer {
	if c.Store == nil || c.Hashes == nil {
		panic("account: NewImporter needs Store and Hashes")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Importer{store: c.Store, hashes: c.Hashes, at: c.Now().UTC()}
}

// At returns the import time.
func (im *Importer) At() time.Time { return im.at }

// Validate checks every field of row and returns the account to import,
// or an *ImportError naming each invalid field:
//
//   - email: required, [ParseEmail];
//   - password_hash: required, a format and work factor the server's
//     hasher accepts (checked without a password: nothing is hashed);
//   - display_name: optional, [ParseDisplayName];
//   - roles: optional, each "user" or "admin";
//   - email_verified: optional, true or false (also 1/0, t/f);
//   - created_at: optional, RFC 3339, from 1970 to [ImportFutureSkew]
//     after the import time.
func (im *Importer) Validate(row ImportRow) (ImportUser, error) {
	var (
		u    ImportUser
		verr ImportError
		err  error
	)
	if e := strings.TrimSpace(row.Email); e == "" {
		verr.add(ImportEmail, "missing")
	} else if u.Email, u.EmailKey, err = ParseEmail(e); err != nil {
		if len(e) > MaxEmailBytes {
			verr.add(ImportEmail, "longer than %d bytes", MaxEmailBytes)
		} else {
			verr.add(ImportEmail, "not a plain email address (ASCII, no name or angle brackets)")
		}
	}

	u.PasswordHash = strings.TrimSpace(row.PasswordHash)
	if u.PasswordHash == "" {
		verr.add(ImportPasswordHash, "missing")
	} else if u.Format, err = im.hashes.Identify(u.PasswordHash); err != nil {
		verr.add(ImportPasswordHash, "%s", hashReason(err))
	}

	if u.DisplayName, err = ParseDisplayName(row.DisplayName); err != nil {
		switch {
		case !utf8.ValidString(row.DisplayName):
			verr.add(ImportDisplayName, "not valid UTF-8")
		case utf8.RuneCountInString(strings.TrimSpace(row.DisplayName)) > MaxDisplayNameRunes:
			verr.add(ImportDisplayName, "longer than %d characters", MaxDisplayNameRunes)
		default:
			verr.add(ImportDisplayName, "contains control or invisible formatting characters")
		}
	}

	var roles []Role
	for _, r := range row.Roles {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !Role(r).Valid() {
			verr.add(ImportRoles, "unknown role %s (want user or admin)", quoteShort(r))
			break
		}
		roles = append(roles, Role(r))
	}
	u.Roles, _ = NormalizeRoles(roles)

	if v := strings.TrimSpace(row.EmailVerified); v != "" {
		if u.EmailVerified, err = strconv.ParseBool(v); err != nil {
			verr.add(ImportEmailVerified, "want true or false, got %s", quoteShort(v))
		}
	}

	if v := strings.TrimSpace(row.CreatedAt); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		switch {
		case err != nil:
			verr.add(ImportCreatedAt, "want an RFC 3339 time such as 2021-03-04T05:06:07Z, got %s", quoteShort(v))
		case t.Before(importEpoch):
			verr.add(ImportCreatedAt, "before 1970")
		case t.After(im.at.Add(ImportFutureSkew)):
			verr.add(ImportCreatedAt, "in the future")
		default:
			u.CreatedAt = t.UTC()
		}
	}
	if len(verr.Problems) > 0 {
		return ImportUser{}, &verr
	}
	return u, nil
}

// hashReason turns an Identify error into a reason for the operator.
func hashReason(err error) string {
	for _, c := range []struct {
		sentinel error
		what     string
	}{
		{password.ErrTooExpensive, "work factor over this server's limits"},
		{password.ErrUnsupportedHash, "unsupported hash format"},
		{password.ErrMalformedHash, "malformed hash"},
	} {
		if errors.Is(err, c.sentinel) {
			detail := strings.TrimPrefix(err.Error(), c.sentinel.Error())
			detail = strings.TrimPrefix(detail, ": ")
			if detail == "" {
				return c.what
			}
			return c.what + ": " + Sanitize(detail, 200)
		}
	}
	return "not accepted: " + Sanitize(err.Error(), 200)
}

// quoteShort quotes an input value for an error message, cut to a few
// dozen bytes and made printable.
func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(Sanitize(s, max)) + "…"
	}
	return strconv.Quote(Sanitize(s, max))
}

// CountExisting returns how many of users already have an account (by
// EmailKey). It reads only; a dry run uses it.
func (im *Importer) CountExisting(ctx context.Context, users []ImportUser) (int, error) {
	if len(users) == 0 {
		return 0, nil
	}
	keys := make([]string, len(users))
	for i, u := range users {
		keys[i] = u.EmailKey
	}
	found, err := im.store.ExistingEmailKeys(ctx, keys)
	if err != nil {
		return 0, fmt.Errorf("account: import: %w", err)
	}
	n := 0
	for _, k := range keys {
		if found[k] {
			n++
		}
	}
	return n, nil
}

// ImportResult counts what one [Importer.Import] call did.
type ImportResult struct {
	// Created accounts were new; Skipped ones already existed and were
	// left unchanged.
	Created, Skipped int
}

// Import creates the accounts of users (from [Importer.Validate]) in one
// transaction, skipping every address that already has an account, and
// records a user.import audit event for each account created, in the same
// transaction. On error nothing of this batch is written.
func (im *Importer) Import(ctx context.Context, users []ImportUser, m Meta) (ImportResult, error) {
	if len(users) == 0 {
		return ImportResult{}, nil
	}
	ins := make([]ImportInsert, len(users))
	for i, u := range users {
		var verified time.Time
		if u.EmailVerified {
			verified = im.at
		}
		created := u.CreatedAt
		if created.IsZero() {
			created = im.at
		}
		detail := "hash format " + string(u.Format)
		if u.Source != "" {
			detail += "; from " + u.Source
		}
		ins[i] = ImportInsert{
			User: NewUser{Email: u.Email, EmailKey: u.EmailKey, DisplayName: u.DisplayName,
				PasswordHash: u.PasswordHash, Roles: u.Roles, EmailVerifiedAt: verified, Now: im.at},
			CreatedAt: created,
			Event: SanitizeEvent(Event{At: im.at, Name: EventUserImport, Outcome: OutcomeSuccess,
				IP: m.IP, UserAgent: m.UserAgent, Detail: detail}),
		}
	}
	ids, err := im.store.ImportUsers(ctx, ins)
	if err != nil {
		return ImportResult{}, fmt.Errorf("account: import: %w", err)
	}
	var r ImportResult
	for _, id := range ids {
		if id == 0 {
			r.Skipped++
		} else {
			r.Created++
		}
	}
	return r, nil
}
