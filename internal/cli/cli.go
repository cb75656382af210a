// Package cli holds the administration commands (migrate, user, keys,
// rules and the user import): what they parse, do and print. internal/app runs them
// and hands them what they need (Env); cli imports internal/account,
// internal/db and ring 1, never internal/app or a feature.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/password"
	"golang.org/x/term"
)

// UsageError is an error in the command line; main exits with status 2.
type UsageError struct{ Msg string }

// Error returns the message, usage text included.
func (e *UsageError) Error() string { return e.Msg }

// Meta marks audit events made from the command line.
var Meta = account.Meta{IP: "", UserAgent: "gatehouse-cli"}

// Deps is what the commands work with, opened by Env.Open.
type Deps struct {
	// Accounts is the account service.
	Accounts *account.Service
	// DB is the migrated database.
	DB *db.DB
	// Hasher hashes passwords (for the import's checks).
	Hasher *password.Hasher
	// Now is the clock.
	Now func() time.Time
	// EndAllSessions deletes every server-side session of a user.
	EndAllSessions func(ctx context.Context, userID int64)
	// ResetSecondFactor turns off a user's second factor and ends their
	// sessions (actorID 0: the operator).
	ResetSecondFactor func(ctx context.Context, u account.User, actorID int64, m account.Meta) error
	// Close releases what Open opened.
	Close func()
}

// Env is how the commands reach the instance they administer.
type Env struct {
	// OpenDB opens the database (DATABASE_URL) without migrating it, for
	// migrate; its error names the setting.
	OpenDB func(ctx context.Context) (*db.DB, error)
	// KeysFile is the keys file (KEYS_FILE), for keys.
	KeysFile string
	// AccessRules is the forward-auth rules file (ACCESS_RULES), for rules
	// test.
	AccessRules string
	// KeysReload is how often running servers re-read the keys file
	// (KEYS_RELOAD): a rotated key is staged for two of these.
	KeysReload time.Duration
	// Usage is the usage text shown with command line errors.
	Usage string
	// Open opens the dependencies and migrates the database, so that
	// commands work on a fresh database too.
	Open func(ctx context.Context, stderr io.Writer) (*Deps, error)
}

// Migrate applies the database migrations (`gatehouse migrate`).
func Migrate(ctx context.Context, env Env, stdout, stderr io.Writer) error {
	d, err := env.OpenDB(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	applied, err := d.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database is up to date")
		return nil
	}
	for _, m := range applied {
		fmt.Fprintln(stdout, "applied", m)
	}
	return nil
}

// User runs `gatehouse user create | list | import | disable | enable |
// revoke-sessions | reset-2fa`.
func User(ctx context.Context, env Env, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	usage := env.Usage
	if len(args) == 0 {
		return &UsageError{Msg: "user: want create, list, disable, enable, revoke-sessions or reset-2fa\n\n" + usage}
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "import":
		return importCommand(ctx, env, args, stdout, stderr)
	case "create":
		fs := flag.NewFlagSet("user create", flag.ContinueOnError)
		fs.SetOutput(stderr)
		email := fs.String("email", "", "the new user's email address")
		name := fs.String("display-name", "", "optional display name")
		admin := fs.Bool("admin", false, "grant the admin role")
		verified := fs.Bool("verified", false, "mark the email address as verified")
		if err := fs.Parse(args); err != nil {
			return &UsageError{Msg: err.Error()}
		}
		if *email == "" || fs.NArg() > 0 {
			return &UsageError{Msg: "usage: gatehouse user create --email E [--admin] [--verified]   (password on stdin)"}
		}
		pw, err := readPassword(stdin, stderr)
		if err != nil {
			return err
		}
		d, err := env.Open(ctx, stderr)
		if err != nil {
			return err
		}
		defer d.Close()
		u, err := d.Accounts.CreateUser(ctx, account.CreateUserInput{Email: *email, Password: pw, DisplayName: *name,
			Admin: *admin, Verified: *verified}, Meta)
		var verr *account.ValidationError
		if errors.As(err, &verr) {
			var msgs []string
			for f, m := range verr.Fields {
				msgs = append(msgs, f+": "+m)
			}
			return fmt.Errorf("cannot create the user: %s", strings.Join(msgs, "; "))
		}
		if errors.Is(err, account.ErrEmailTaken) {
			return fmt.Errorf("cannot create the user: %s already has an account", *email)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created user %d <%s> roles=%s\n", u.ID, u.Email, joinRoles(u.Roles))
		return nil
	case "list":
		fs := flag.NewFlagSet("user list", flag.ContinueOnError)
		fs.SetOutput(stderr)
		search := fs.String("search", "", "only users whose email or name contains this")
		if err := fs.Parse(args); err != nil {
			return &UsageError{Msg: err.Error()}
		}
		d, err := env.Open(ctx, stderr)
		if err != nil {
			return err
		}
		defer d.Close()
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tROLES\tVERIFIED\tDISABLED\tCREATED")
		for page := 1; ; page++ {
			res, err := d.Accounts.ListUsers(ctx, page, 500, *search)
			if err != nil {
				return err
			}
			for _, u := range res.Users {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%v\t%s\n", u.ID, u.Email, joinRoles(u.Roles), u.EmailVerified(), u.Disabled(), u.CreatedAt.UTC().Format(time.RFC3339))
			}
			if page >= res.Pages() {
				break
			}
		}
		return tw.Flush()
	case "disable", "enable", "revoke-sessions", "reset-2fa":
		if len(args) != 1 {
			return &UsageError{Msg: "usage: gatehouse user " + sub + " EMAIL"}
		}
		d, err := env.Open(ctx, stderr)
		if err != nil {
			return err
		}
		defer d.Close()
		u, err := d.Accounts.UserByEmail(ctx, args[0])
		if errors.Is(err, account.ErrNotFound) {
			return fmt.Errorf("no user with the email address %s", args[0])
		}
		if err != nil {
			return err
		}
		switch sub {
		case "disable", "enable":
			if err := d.Accounts.SetDisabledByOperator(ctx, u.ID, sub == "disable", Meta); err != nil {
				return err
			}
			if sub == "disable" {
				d.EndAllSessions(ctx, u.ID)
			}
			fmt.Fprintf(stdout, "%sd user %d <%s>\n", sub, u.ID, u.Email)
		case "revoke-sessions":
			if _, err := d.Accounts.RevokeSessions(ctx, u.ID, Meta); err != nil {
				return err
			}
			d.EndAllSessions(ctx, u.ID)
			fmt.Fprintf(stdout, "ended every session and token of user %d <%s>\n", u.ID, u.Email)
		case "reset-2fa":
			if err := d.ResetSecondFactor(ctx, u, 0, Meta); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "turned off two-factor sign-in for user %d <%s>\n", u.ID, u.Email)
		}
		return nil
	}
	return &UsageError{Msg: fmt.Sprintf("user: unknown command %q\n\n%s", sub, usage)}
}

func joinRoles(rs []account.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

// readPassword reads one line from stdin; on a terminal it prompts and turns
// echo off.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	line, err := bufio.NewReaderSize(io.LimitReader(stdin, 4096), 4096).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input")
	}
	return pw, nil
}

// Keys runs `gatehouse keys list | rotate | retire ID`.
func Keys(ctx context.Context, env Env, args []string, stdout, stderr io.Writer) error {
	usage := env.Usage
	if len(args) == 0 {
		return &UsageError{Msg: "keys: want list, rotate, activate ID or retire ID\n\n" + usage}
	}
	// A rotated key is staged for two reload intervals: every instance
	// accepts it before any instance signs with it (docs/keys.md).
	f, err := keyring.Open(env.KeysFile, keyring.WithStagingDelay(2*env.KeysReload))
	if err != nil {
		return err
	}
	switch args[0] {
	case "list":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tSTATE")
		cur, now := f.Ring().Current().ID, time.Now()
		for _, k := range f.Ring().Keys() {
			state := "active (verifies, decrypts)"
			switch {
			case k.ID == cur:
				state = "current (signs, encrypts)"
			case !k.Active():
				state = "retired"
			case k.Staged(now):
				state = "staged (verifies, decrypts; signs from " + k.Activates.UTC().Format(time.RFC3339) + " or keys activate)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", k.ID, k.Created.UTC().Format(time.RFC3339), state)
		}
		return tw.Flush()
	case "rotate":
		k, err := f.Rotate()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new key %s staged: running instances accept it from their next reload; it signs and encrypts from %s (or after: gatehouse keys activate %s); older keys still verify until retired\n",
			k.ID, k.Activates.UTC().Format(time.RFC3339), k.ID)
		return nil
	case "activate":
		if len(args) != 2 {
			return &UsageError{Msg: "usage: gatehouse keys activate ID"}
		}
		if _, err := f.Activate(args[1]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %s signs and encrypts from now on (instances that have not reloaded the keys file since it was added refuse what it signs until they do)\n", args[1])
		return nil
	case "retire":
		if len(args) != 2 {
			return &UsageError{Msg: "usage: gatehouse keys retire ID"}
		}
		if err := f.Retire(args[1]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "retired key %s: cookies and tokens it protected are refused from now on\n", args[1])
		return nil
	}
	return &UsageError{Msg: fmt.Sprintf("keys: unknown command %q", args[0])}
}
