package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/accessrule"
)

// Rules runs "gatehouse rules check FILE" and "gatehouse rules test
// URL [--email E] [--method M] [--ip A]".
func Rules(ctx context.Context, env Env, args []string, stdout, stderr io.Writer) error {
	const use = "rules: want check FILE, or test URL [--email E] [--method M] [--ip A]\n\n"
	if len(args) == 0 {
		return &UsageError{Msg: use + env.Usage}
	}
	switch args[0] {
	case "check":
		if len(args) != 2 {
			return &UsageError{Msg: use + env.Usage}
		}
		return accessrule.CheckFile(stdout, args[1])
	case "test":
		var target, email, method, ip string
		flags := map[string]*string{"--email": &email, "--method": &method, "--ip": &ip}
		rest := args[1:]
		for len(rest) > 0 {
			switch a := rest[0]; {
			case flags[a] != nil && len(rest) > 1:
				*flags[a] = rest[1]
				rest = rest[2:]
			case target == "" && !strings.HasPrefix(a, "-"):
				target, rest = a, rest[1:]
			default:
				return &UsageError{Msg: fmt.Sprintf("rules test: unexpected %q\n\n%s%s", a, use, env.Usage)}
			}
		}
		if target == "" {
			return &UsageError{Msg: use + env.Usage}
		}
		if env.AccessRules == "" {
			return errors.New("rules test: set GATEHOUSE_ACCESS_RULES (--access-rules) to the rules file")
		}
		rs, err := accessrule.Load(env.AccessRules)
		if err != nil {
			return err
		}
		var addr netip.Addr
		if ip != "" {
			if addr, err = netip.ParseAddr(ip); err != nil {
				return &UsageError{Msg: fmt.Sprintf("rules test: --ip %q is not an address", ip)}
			}
		}
		var user *accessrule.Identity
		if email != "" {
			d, err := env.Open(ctx, stderr)
			if err != nil {
				return err
			}
			defer d.Close()
			u, err := d.Accounts.UserByEmail(ctx, email)
			if err != nil {
				return fmt.Errorf("rules test: user %s: %w", email, err)
			}
			user = &accessrule.Identity{ID: strconv.FormatInt(u.ID, 10), Email: u.Email}
			for _, role := range u.Roles {
				user.Roles = append(user.Roles, string(role))
			}
		}
		accessrule.Explain(stdout, rs, target, strings.ToUpper(method), user, addr)
		return nil
	}
	return &UsageError{Msg: use + env.Usage}
}
