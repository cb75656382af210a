// Package accessrule parses, validates and evaluates the forward-auth access
// rules of Gatehouse (the YAML file named by ACCESS_RULES): which policy
// (deny, public, signed_in, two_factor) applies to a request for a host,
// path and method. It is a ring-1 package: it imports only the standard
// library, go.yaml.in/yaml/v3 and golang.org/x/net/publicsuffix.
//
// Rules are matched first to last against a normalized request (see
// [NormalizePath]); the first rule whose every condition holds decides, and
// [Rules.Default] decides when none does. A request whose host, path or
// method cannot be normalized is denied whatever the rules say.
package accessrule

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits on a rules file; a file beyond them is refused.
const (
	// MaxFileBytes is the largest rules file read.
	MaxFileBytes = 1 << 20
	// MaxRules is the most rules in a file.
	MaxRules = 1000
	// MaxListLen is the most entries in one list of a rule (domains, paths...).
	MaxListLen = 1000
	// MaxRegexBytes is the longest path regular expression.
	MaxRegexBytes = 1024
	// maxNameBytes bounds a role or user entry.
	maxNameBytes = 320
)

// ErrInvalid is wrapped by the errors of Parse and Load: the rules file is
// not valid and is not used.
var ErrInvalid = errors.New("accessrule: invalid rules")

// Policy is what a rule asks of a request.
type Policy string

// The policies a rule can have.
const (
	// Deny refuses the request (403), signed in or not.
	Deny Policy = "deny"
	// Public lets the request through without a sign-in.
	Public Policy = "public"
	// SignedIn needs a signed-in session.
	SignedIn Policy = "signed_in"
	// TwoFactor needs a session signed in with two factors.
	TwoFactor Policy = "two_factor"
)

// Valid reports whether p is one of the four policies.
func (p Policy) Valid() bool {
	switch p {
	case Deny, Public, SignedIn, TwoFactor:
		return true
	}
	return false
}

// Rule is one entry of the rules list. Every non-empty list is a condition
// that must hold; within a list, any entry may match.
type Rule struct {
	// Domains are exact host names or "*.example.com" for any subdomain
	// (not example.com itself). At least one is required.
	Domains []string `yaml:"domains"`
	// Paths are prefixes of the normalized path, matched on segment
	// boundaries ("/admin" matches /admin and /admin/x, not /administrator),
	// or, starting with "^", regular expressions (RE2 syntax) anchored at
	// the start of the normalized path.
	Paths []string `yaml:"paths"`
	// Methods are HTTP methods, upper case.
	Methods []string `yaml:"methods"`
	// Networks are the client address's networks (CIDR or single address).
	Networks []string `yaml:"networks"`
	// Roles: the signed-in user must have one of them.
	Roles []string `yaml:"roles"`
	// Users: the signed-in user's email must be one of them.
	Users []string `yaml:"users"`
	// Policy is what a matching request needs.
	Policy Policy `yaml:"policy"`

	prefixes []string
	regexes  []*regexp.Regexp
	networks []netip.Prefix
}

// Rules is a validated rules file, safe for concurrent use.
type Rules struct {
	// Default decides requests no rule matches.
	Default Policy `yaml:"default"`
	// Rules are tried in order; the first match wins.
	Rules []Rule `yaml:"rules"`
}

// Parse decodes and validates a rules file. Unknown keys, more than one
// YAML document, a file larger than MaxFileBytes and every invalid entry
// are refused with an error wrapping ErrInvalid that names the rule.
func Parse(data []byte) (*Rules, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%w: file larger than %d bytes", ErrInvalid, MaxFileBytes)
	}
	var rs Rules
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&rs); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty file", ErrInvalid)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one YAML document", ErrInvalid)
	}
	if err := rs.compile(); err != nil {
		return nil, err
	}
	return &rs, nil
}

func (rs *Rules) compile() error {
	if rs.Default == "" {
		return fmt.Errorf("%w: \"default\" is missing (deny, public, signed_in or two_factor)", ErrInvalid)
	}
	if !rs.Default.Valid() {
		return fmt.Errorf("%w: default: unknown policy %q", ErrInvalid, rs.Default)
	}
	if len(rs.Rules) > MaxRules {
		return fmt.Errorf("%w: more than %d rules", ErrInvalid, MaxRules)
	}
	for i := range rs.Rules {
		if err := rs.Rules[i].compile(); err != nil {
			return fmt.Errorf("%w: rule %d: %w", ErrInvalid, i+1, err)
		}
	}
	return nil
}

func (r *Rule) compile() error {
	if !r.Policy.Valid() {
		if r.Policy == "" {
			return errors.New("\"policy\" is missing")
		}
		return fmt.Errorf("unknown policy %q", r.Policy)
	}
	for name, l := range map[string][]string{"domains": r.Domains, "paths": r.Paths, "methods": r.Methods,
		"networks": r.Networks, "roles": r.Roles, "users": r.Users} {
		if len(l) > MaxListLen {
			return fmt.Errorf("more than %d %s", MaxListLen, name)
		}
	}
	if len(r.Domains) == 0 {
		return errors.New("\"domains\" is missing")
	}
	for i, d := range r.Domains {
		norm, err := normalizeDomain(d)
		if err != nil {
			return fmt.Errorf("domain %q: %w", d, err)
		}
		r.Domains[i] = norm
	}
	for _, p := range r.Paths {
		if strings.HasPrefix(p, "^") {
			if len(p) > MaxRegexBytes {
				return fmt.Errorf("path regex longer than %d bytes", MaxRegexBytes)
			}
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("path %q: %w", p, err)
			}
			r.regexes = append(r.regexes, re)
			continue
		}
		norm, err := NormalizePath(p)
		if err != nil || norm != p {
			return fmt.Errorf("path %q is not a normalized path (or a regex starting with \"^\")", p)
		}
		if len(norm) > 1 {
			norm = strings.TrimSuffix(norm, "/")
		}
		r.prefixes = append(r.prefixes, norm)
	}
	for i, m := range r.Methods {
		norm, err := NormalizeMethod(m)
		if err != nil || norm != m {
			return fmt.Errorf("method %q is not an upper-case HTTP method", m)
		}
		r.Methods[i] = norm
	}
	for _, n := range r.Networks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			a, aerr := netip.ParseAddr(n)
			if aerr != nil || a.Zone() != "" {
				return fmt.Errorf("network %q: not a CIDR prefix or address", n)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p != p.Masked() {
			return fmt.Errorf("network %q has host bits set (did you mean %s?)", n, p.Masked())
		}
		r.networks = append(r.networks, p)
	}
	for _, l := range [][]string{r.Roles, r.Users} {
		for i, v := range l {
			v = strings.TrimSpace(v)
			if v == "" || len(v) > maxNameBytes || strings.ContainsFunc(v, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
				return fmt.Errorf("role or user %q is empty, overlong or has control characters", l[i])
			}
			l[i] = v
		}
	}
	for i, u := range r.Users {
		r.Users[i] = strings.ToLower(u)
	}
	if r.Policy == Public && (len(r.Roles) > 0 || len(r.Users) > 0) {
		return errors.New("a public rule cannot name roles or users (they need a sign-in); use signed_in")
	}
	return nil
}

// normalizeDomain checks a rule's domain: an exact host or "*." and a host.
func normalizeDomain(d string) (string, error) {
	host, wild := strings.CutPrefix(d, "*.")
	if strings.Contains(host, "*") {
		return "", errors.New("\"*\" is allowed only as \"*.\" at the start")
	}
	norm, port, err := splitHost(host)
	if err != nil || port != "" {
		return "", errors.New("not a host name (no scheme, port or path)")
	}
	if !wild {
		return norm, nil
	}
	if _, err := netip.ParseAddr(norm); err == nil {
		return "", errors.New("\"*.\" before an IP address")
	}
	return "*." + norm, nil
}

// Identity is the signed-in user a request comes from.
type Identity struct {
	// ID is the user's stable id.
	ID string
	// Email is matched, case-insensitively, against a rule's users.
	Email string
	// Roles are matched against a rule's roles.
	Roles []string
}

// Request is what Decide looks at. Host, Path and Method are normalized by
// Decide; Path is the path only, without the query.
type Request struct {
	Method   string
	Host     string
	Path     string
	ClientIP netip.Addr
	// User is nil when the request has no signed-in session.
	User *Identity
}

// NoRule is Decision.Rule when no rule matched.
const NoRule = -1

// Decision is the outcome of Decide.
type Decision struct {
	// Policy is what the request needs.
	Policy Policy
	// Rule is the 0-based index of the deciding rule, or NoRule when the
	// default decided or the request was malformed.
	Rule int
	// Reason says, for humans and logs, why.
	Reason string
	// Malformed is set when the request could not be normalized.
	Malformed bool
}

// RuleName returns "rule N" (1-based, as "rules check" counts) or
// "default" for the metrics label and logs.
func (d Decision) RuleName() string {
	if d.Malformed {
		return "malformed"
	}
	if d.Rule == NoRule {
		return "default"
	}
	return fmt.Sprintf("rule %d", d.Rule+1)
}

// Decide returns the policy for a request: the first matching rule's, or
// the default. A malformed method, host or path is denied. A rule that
// names roles or users matches only a signed-in user; for a request without
// one, a rule that would match if it were signed in decides "signed in"
// (at least), so that the user signs in and the rules are asked again.
func (rs *Rules) Decide(req Request) Decision {
	method, err := NormalizeMethod(req.Method)
	if err != nil {
		return refused(err)
	}
	host, err := NormalizeHost(req.Host)
	if err != nil {
		return refused(err)
	}
	path, err := NormalizePath(req.Path)
	if err != nil {
		return refused(err)
	}
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if !r.matchDomain(host) || !r.matchPath(path) || !r.matchMethod(method) || !r.matchNetwork(req.ClientIP) {
			continue
		}
		if len(r.Roles) > 0 || len(r.Users) > 0 {
			if req.User == nil {
				p := SignedIn
				if r.Policy == TwoFactor {
					p = TwoFactor
				}
				return Decision{Policy: p, Rule: i,
					Reason: fmt.Sprintf("rule %d names roles or users: sign in first", i+1)}
			}
			if !r.matchSubject(req.User) {
				continue
			}
		}
		return Decision{Policy: r.Policy, Rule: i, Reason: fmt.Sprintf("rule %d matches (%s)", i+1, r.summary())}
	}
	return Decision{Policy: rs.Default, Rule: NoRule, Reason: "no rule matches: default"}
}

func refused(err error) Decision {
	return Decision{Policy: Deny, Rule: NoRule, Reason: err.Error(), Malformed: true}
}

func (r *Rule) matchDomain(host string) bool {
	for _, d := range r.Domains {
		if suffix, ok := strings.CutPrefix(d, "*"); ok {
			if strings.HasSuffix(host, suffix) && len(host) > len(suffix) {
				return true
			}
		} else if d == host {
			return true
		}
	}
	return false
}

func (r *Rule) matchPath(path string) bool {
	if len(r.prefixes) == 0 && len(r.regexes) == 0 {
		return true
	}
	for _, p := range r.prefixes {
		if p == "/" || path == p || strings.HasPrefix(path, p) && path[len(p)] == '/' {
			return true
		}
	}
	for _, re := range r.regexes {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}

func (r *Rule) matchMethod(m string) bool {
	return len(r.Methods) == 0 || slices.Contains(r.Methods, m)
}

func (r *Rule) matchNetwork(ip netip.Addr) bool {
	if len(r.networks) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, n := range r.networks {
		if ip.IsValid() && n.Contains(ip) {
			return true
		}
	}
	return false
}

func (r *Rule) matchSubject(u *Identity) bool {
	if len(r.Roles) > 0 && !slices.ContainsFunc(u.Roles, func(role string) bool { return slices.Contains(r.Roles, role) }) {
		return false
	}
	return len(r.Users) == 0 || slices.Contains(r.Users, strings.ToLower(u.Email))
}

// summary describes a rule's conditions in one line.
func (r *Rule) summary() string {
	parts := []string{"domains " + strings.Join(r.Domains, ",")}
	for _, l := range []struct {
		name string
		vals []string
	}{{"paths", r.Paths}, {"methods", r.Methods}, {"networks", r.Networks}, {"roles", r.Roles}, {"users", r.Users}} {
		if len(l.vals) > 0 {
			parts = append(parts, l.name+" "+strings.Join(l.vals, ","))
		}
	}
	return strings.Join(parts, "; ") + " -> " + string(r.Policy)
}

// Domains returns every domain the rules name, exact or "*." wildcards.
func (rs *Rules) Domains() []string {
	var out []string
	for i := range rs.Rules {
		for _, d := range rs.Rules[i].Domains {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

// CoversHost reports whether a rule names host (exactly or through a "*."
// wildcard): the hosts forward-auth protects, to which a sign-in may
// return.
func (rs *Rules) CoversHost(host string) bool {
	h, err := NormalizeHost(host)
	if err != nil {
		return false
	}
	for i := range rs.Rules {
		if rs.Rules[i].matchDomain(h) {
			return true
		}
	}
	return false
}

// Describe returns a one-line description of rule i (0-based), for the
// admin page and "rules check".
func (rs *Rules) Describe(i int) string {
	if i < 0 || i >= len(rs.Rules) {
		return "default -> " + string(rs.Default)
	}
	return rs.Rules[i].summary()
}
