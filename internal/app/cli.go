package app

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
	"golang.org/x/term"
)

// cliMeta marks audit events made from the command line.
var cliMeta = account.Meta{IP: "", UserAgent: "gatehouse-cli"}

func migrateCommand(ctx context.Context, cfg *Config, stdout, stderr io.Writer) error {
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("database: %w", err)
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

// openForCLI opens the dependencies and migrates, so commands work on a
// fresh database too.
func openForCLI(ctx context.Context, cfg *Config, stderr io.Writer) (*deps, error) {
	cfg.LogLevel = "warn"
	d, err := openDeps(ctx, cfg, newLogger(cfg, stderr))
	if err != nil {
		return nil, err
	}
	if _, err := d.db.Migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func userCommand(ctx context.Context, cfg *Config, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &UsageError{Msg: "user: want create, list, disable, enable, revoke-sessions or reset-2fa\n\n" + usage}
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "import":
		return importCommand(ctx, cfg, args, stdout, stderr)
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
		d, err := openForCLI(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer d.Close()
		u, err := d.accounts.CreateUser(ctx, account.CreateUserInput{Email: *email, Password: pw, DisplayName: *name,
			Admin: *admin, Verified: *verified}, cliMeta)
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
		d, err := openForCLI(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer d.Close()
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tROLES\tVERIFIED\tDISABLED\tCREATED")
		for page := 1; ; page++ {
			res, err := d.accounts.ListUsers(ctx, page, 500, *search)
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
		d, err := openForCLI(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer d.Close()
		u, err := d.accounts.UserByEmail(ctx, args[0])
		if errors.Is(err, account.ErrNotFound) {
			return fmt.Errorf("no user with the email address %s", args[0])
		}
		if err != nil {
			return err
		}
		switch sub {
		case "disable", "enable":
			if err := d.accounts.SetDisabledByOperator(ctx, u.ID, sub == "disable", cliMeta); err != nil {
				return err
			}
			if sub == "disable" {
				d.endAllSessions(ctx, u.ID)
			}
			fmt.Fprintf(stdout, "%sd user %d <%s>\n", sub, u.ID, u.Email)
		case "revoke-sessions":
			if _, err := d.accounts.RevokeSessions(ctx, u.ID, cliMeta); err != nil {
				return err
			}
			d.endAllSessions(ctx, u.ID)
			fmt.Fprintf(stdout, "ended every session and token of user %d <%s>\n", u.ID, u.Email)
		case "reset-2fa":
			if err := d.resetSecondFactor(ctx, u, 0, cliMeta); err != nil {
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

func keysCommand(ctx context.Context, cfg *Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &UsageError{Msg: "keys: want list, rotate, activate ID or retire ID\n\n" + usage}
	}
	// A rotated key is staged for two reload intervals: every instance
	// accepts it before any instance signs with it (docs/keys.md).
	f, err := keyring.Open(cfg.KeysFile, keyring.WithStagingDelay(2*cfg.KeysReload))
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
