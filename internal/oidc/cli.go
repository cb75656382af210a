package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// ErrUsage wraps a command-line usage error (the caller prints usage and
// exits 2).
var ErrUsage = errors.New("oidc: usage")

// ClientUsage describes the client commands.
const ClientUsage = `gatehouse client create --name N --redirect-uri U [--redirect-uri U2] [--public] [--post-logout-uri U]
                        [--scope S]... [--require-2fa] [--role R]... [--skip-consent] [--allow-no-pkce] [--json]
gatehouse client list | show ID | rotate-secret ID | disable ID | delete ID`

type multi []string

func (m *multi) String() string     { return strings.Join(*m, " ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func usage(msg string) error { return fmt.Errorf("%w: %s\n\n%s", ErrUsage, msg, ClientUsage) }

// ClientCommand runs `gatehouse client ...` (args after "client").
func ClientCommand(ctx context.Context, cs *Clients, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usage("client: want create, list, show, rotate-secret, disable or delete")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "create":
		fs := flag.NewFlagSet("client create", flag.ContinueOnError)
		fs.SetOutput(stderr)
		var nc NewClient
		var redirects, logouts, scopes, roles multi
		fs.StringVar(&nc.Name, "name", "", "the application's name, shown on the consent page")
		fs.Var(&redirects, "redirect-uri", "a redirect URI, matched exactly (repeatable)")
		fs.Var(&logouts, "post-logout-uri", "a post-logout redirect URI (repeatable)")
		fs.Var(&scopes, "scope", "a scope the client may request (repeatable; default all)")
		fs.Var(&roles, "role", "only users with this role may sign in (repeatable; any of them)")
		fs.BoolVar(&nc.Public, "public", false, "a public client (no secret, PKCE; loopback redirects on any port)")
		fs.BoolVar(&nc.Require2FA, "require-2fa", false, "require a two-factor sign-in")
		fs.BoolVar(&nc.SkipConsent, "skip-consent", false, "a first-party client: no consent page")
		fs.BoolVar(&nc.AllowNoPKCE, "allow-no-pkce", false, "a confidential client that cannot send PKCE (S256 stays the default)")
		asJSON := fs.Bool("json", false, `print {"client_id", "client_secret"} as JSON`)
		if err := fs.Parse(args); err != nil {
			return usage(err.Error())
		}
		if nc.Name == "" || len(redirects) == 0 || fs.NArg() > 0 {
			return usage("client create needs --name and at least one --redirect-uri")
		}
		nc.RedirectURIs, nc.PostLogoutURIs, nc.Scopes, nc.Roles = redirects, logouts, scopes, roles
		c, secret, err := cs.Create(ctx, nc)
		if err != nil {
			return err
		}
		if *asJSON {
			out := map[string]string{"client_id": c.ID}
			if secret != "" {
				out["client_secret"] = secret
			}
			return json.NewEncoder(stdout).Encode(out)
		}
		fmt.Fprintf(stdout, "client_id:     %s\n", c.ID)
		if secret != "" {
			fmt.Fprintf(stdout, "client_secret: %s\n(shown once: store it now)\n", secret)
		}
		return nil
	case "list":
		if len(args) > 0 {
			return usage("client list takes no arguments")
		}
		all, err := cs.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT_ID\tNAME\tTYPE\tSTATUS\tCREATED")
		for _, c := range all {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, kind(c), status(c), c.CreatedAt.Format("2006-01-02"))
		}
		return tw.Flush()
	case "show", "rotate-secret", "disable", "delete":
		if len(args) != 1 {
			return usage("client " + sub + " needs exactly one client id")
		}
		id := args[0]
		switch sub {
		case "show":
			c, err := cs.Get(ctx, id)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(c)
		case "rotate-secret":
			secret, err := cs.RotateSecret(ctx, id)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "client_secret: %s\n(shown once: store it now; the old secret no longer works)\n", secret)
			return nil
		case "disable":
			if err := cs.Disable(ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "disabled client %s; its tokens no longer work\n", id)
			return nil
		default:
			if err := cs.Delete(ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "deleted client %s\n", id)
			return nil
		}
	}
	return usage("client: unknown command " + sub)
}

func kind(c Client) string {
	if c.Public {
		return "public"
	}
	return "confidential"
}

func status(c Client) string {
	if c.Disabled {
		return "disabled"
	}
	return "active"
}
