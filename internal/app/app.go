// Package app wires Gatehouse together: configuration, opening the
// dependencies, the page kit and the features, one route list (routes.go)
// naming every route and the feature serving it, serving and shutdown, and
// background jobs; the commands run from internal/cli. It is the only
// package that imports features, and only cmd/gatehouse imports it.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/gatehouse/gatehouse/internal/cli"
	"github.com/gatehouse/gatehouse/internal/db"
)

// Version is the release, set at build time with
// -ldflags "-X github.com/gatehouse/gatehouse/internal/app.Version=v1.2.3".
var Version = "dev"

// UsageError is an error in the command line; main exits with status 2.
type UsageError = cli.UsageError

const usage = `Usage:
  gatehouse [settings] [serve]                         run the server (the default)
  gatehouse [settings] migrate                         apply database migrations
  gatehouse [settings] user create --email E [--admin] [--verified]
                                                       create a user; the password is read from stdin
  gatehouse [settings] user list [--search S]
  gatehouse [settings] user import [--dry-run] [--skip-invalid] [--format csv|jsonl] [--batch N] FILE
                                                       import users with their password hashes (CSV or JSON Lines)
  gatehouse [settings] user disable E | enable E
  gatehouse [settings] user revoke-sessions E          end every session and token of the user
  gatehouse [settings] user reset-2fa E                turn off the user's second factor
  gatehouse [settings] keys list | rotate | activate ID | retire ID
  gatehouse [settings] rules check FILE                validate a forward-auth rules file
  gatehouse [settings] rules test URL [--email E] [--method M] [--ip A]
                                                       which rule of ACCESS_RULES decides, and why
  gatehouse [settings] client create --name N --redirect-uri U [--redirect-uri U2] [--public] [--post-logout-uri U]
                        [--scope S]... [--require-2fa] [--role R]... [--skip-consent] [--allow-no-pkce] [--json]
  gatehouse [settings] client list | show ID | rotate-secret ID | disable ID | delete ID
                                                       OpenID Connect clients (docs/oidc.md)
  gatehouse version

Every setting is a flag --x-y or an environment variable GATEHOUSE_X_Y;
run 'gatehouse --help' for the list.
`

// splitCommand separates the settings flags from the command and its own
// arguments. Settings may come before the command (and, for serve and
// migrate, after it too).
func splitCommand(args []string) (cmd string, global, rest []string) {
	valued := map[string]bool{}
	for _, s := range settings {
		valued[flagName(s.name)] = !s.boolean
	}
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			break
		}
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") || !valued[name] {
			i++
			continue
		}
		i += 2
	}
	if i > len(args) {
		i = len(args)
	}
	global = args[:i]
	if i < len(args) && args[i] != "--" {
		cmd, rest = args[i], args[i+1:]
	} else {
		cmd = "serve"
	}
	if (cmd == "serve" || cmd == "migrate") && len(rest) > 0 {
		global = append(append([]string{}, global...), rest...)
		rest = nil
	}
	return cmd, global, rest
}

// Run runs one gatehouse command with the given arguments and environment.
// It returns when the command is done or, for serve, when ctx is cancelled
// and the server has shut down gracefully. Tests call it directly. An empty
// value from getenv counts as unset; see [RunEnv].
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return RunEnv(ctx, args, nonEmpty(getenv), stdin, stdout, stderr)
}

// RunEnv is [Run] with an environment lookup such as os.LookupEnv, so that a
// variable set to the empty string (GATEHOUSE_METRICS_ADDR=) means an empty
// setting, exactly as the flag --metrics-addr= does.
func RunEnv(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, global, rest := splitCommand(args)
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "gatehouse", version())
		return nil
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	cfg, extra, err := parseConfigEnv(global, lookupEnv, stderr, cmd == "serve")
	if err != nil {
		if errors.Is(err, errHelp) {
			fmt.Fprint(stderr, usage)
			return nil
		}
		return err
	}
	if len(extra) > 0 {
		return &UsageError{Msg: fmt.Sprintf("unexpected argument %q\n\n%s", extra[0], usage)}
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, stdout, stderr)
	case "migrate":
		return cli.Migrate(ctx, cliEnv(cfg), stdout, stderr)
	case "user":
		return cli.User(ctx, cliEnv(cfg), rest, stdin, stdout, stderr)
	case "keys":
		return cli.Keys(ctx, cliEnv(cfg), rest, stdout, stderr)
	case "rules":
		return cli.Rules(ctx, cliEnv(cfg), rest, stdout, stderr)
	case "client":
		return clientCommand(ctx, cfg, rest, stdout, stderr)
	}
	return &UsageError{Msg: fmt.Sprintf("unknown command %q\n\n%s", cmd, usage)}
}

func version() string {
	if Version != "dev" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return Version
}

// cliEnv hands the commands of internal/cli what they need: the settings
// they read and a way to open the dependencies.
func cliEnv(cfg *Config) cli.Env {
	return cli.Env{KeysFile: cfg.KeysFile, KeysReload: cfg.KeysReload, AccessRules: cfg.AccessRules, Usage: usage,
		OpenDB: func(ctx context.Context) (*db.DB, error) {
			d, err := db.Open(ctx, cfg.DatabaseURL, db.WithTimeout(cfg.DBTimeout))
			if err != nil {
				return nil, databaseError(cfg.DatabaseURL, err)
			}
			return d, nil
		},
		Open: func(ctx context.Context, stderr io.Writer) (*cli.Deps, error) {
			d, err := openForCLI(ctx, cfg, stderr)
			if err != nil {
				return nil, err
			}
			return &cli.Deps{Accounts: d.accounts, DB: d.db, Hasher: d.pool.Hasher(), Now: d.now,
				EndAllSessions: d.kit.EndAllSessions, ResetSecondFactor: d.tf.Reset, Close: d.Close}, nil
		}}
}

// openForCLI opens the dependencies and migrates, so commands work on a
// fresh database too.
func openForCLI(ctx context.Context, cfg *Config, stderr io.Writer) (*deps, error) {
	cfg.LogLevel = "warn"
	cfg.AccessRules = "" // commands do not need the forward-auth rules, even a broken file
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
