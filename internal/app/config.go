package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/accessrule"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// Config is every setting of the server. Each comes from a flag `--x-y`,
// else the environment variable `GATEHOUSE_X_Y`, else its default.
type Config struct {
	Addr            string
	BaseURL         *url.URL
	Dev             bool
	DatabaseURL     string
	DBTimeout       time.Duration
	SessionStore    string
	RedisURL        string
	KeysFile        string
	KeysReload      time.Duration
	SMTPURL         string
	MailFrom        string
	TLSCert         string
	TLSKey          string
	TrustedProxies  []netip.Prefix
	SessionIdle     time.Duration
	SessionLifetime time.Duration
	RememberFor     time.Duration
	ResetTTL        time.Duration
	VerifyTTL       time.Duration
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	MetricsAddr     string
	LogLevel        string
	LogFormat       string
	AccessLog       bool
	Argon2Memory    uint32 // KiB
	Argon2Time      uint32
	Argon2Threads   uint8
	HashWorkers     int
	// Caps on the work a stored (imported) hash may ask for.
	MaxArgon2Memory   uint32 // KiB
	MaxArgon2Threads  uint8
	MaxPBKDF2Iter     int
	MaxBcryptCost     int
	MaxScryptMemory   int64 // bytes
	WerkzeugDefaultIt int
	HashMemoryBudget  int64 // bytes; 0: password.DefaultMemoryBudget
	HashQueueWait     time.Duration
	APIAudience       string
	CORSOrigins       []string
	UnverifiedLogin   string // "allow" (default) or "deny"
	LoginLimit        string
	LoginIPLimit      string
	RegisterLimit     string
	ForgotLimit       string
	AvatarMaxBytes    int64 // largest profile picture upload
	// Branding: the name on pages and in mail, a logo file, an accent colour.
	ProductName string
	LogoFile    string
	Accent      web.Accent

	// Forward-auth (feature_forwardauth.go): ACCESS_RULES, the rules file
	// ("" for none), and COOKIE_DOMAIN, normalized ("" for a host-only
	// session cookie).
	AccessRules, CookieDomain string

	// set records which settings were given explicitly (flag or environment).
	set map[string]bool
}

// setting describes one configuration entry: its name in UPPER_SNAKE form,
// its default and how to apply a value.
type setting struct {
	name, def, help string
	boolean         bool
	apply           func(c *Config, v string) error
}

func durationSetting(name, def, help string, dst func(*Config) *time.Duration) setting {
	return setting{name: name, def: def, help: help, apply: func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration such as 30m or 24h, got %q", v)
		}
		*dst(c) = d
		return nil
	}}
}

func stringSetting(name, def, help string, dst func(*Config) *string) setting {
	return setting{name: name, def: def, help: help, apply: func(c *Config, v string) error {
		*dst(c) = v
		return nil
	}}
}

func uintSetting(name, def, help string, min, max uint64, dst func(*Config, uint64)) setting {
	return setting{name: name, def: def, help: help, apply: func(c *Config, v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n < min || n > max {
			return fmt.Errorf("want a whole number from %d to %d, got %q", min, max, v)
		}
		dst(c, n)
		return nil
	}}
}

func boolSetting(name, def, help string, dst func(*Config) *bool) setting {
	return setting{name: name, def: def, help: help, boolean: true, apply: func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		*dst(c) = b
		return nil
	}}
}

var settings = []setting{
	stringSetting("ADDR", "127.0.0.1:8080", "listen address", func(c *Config) *string { return &c.Addr }),
	{name: "BASE_URL", def: "http://localhost:8080", help: "public URL; https turns on Secure __Host- cookies and HSTS", apply: func(c *Config, v string) error {
		u, err := url.Parse(strings.TrimSpace(v))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("want an absolute http(s) URL such as https://auth.example.com, got %q", v)
		}
		if u.Path != "" && u.Path != "/" {
			return fmt.Errorf("a base URL with a path (%q) is not supported: serve Gatehouse at the root of its own host", u.Path)
		}
		u.Path = ""
		c.BaseURL = u
		return nil
	}},
	boolSetting("DEV", "false", "development mode: allows an http BASE_URL, shows /dev/outbox", func(c *Config) *bool { return &c.Dev }),
	stringSetting("DATABASE_URL", "sqlite:gatehouse.db", "sqlite:PATH or postgres://...", func(c *Config) *string { return &c.DatabaseURL }),
	durationSetting("DB_TIMEOUT", "5s", "longest a PostgreSQL call may take, waiting for a connection included; then the request answers 503", func(c *Config) *time.Duration { return &c.DBTimeout }),
	{name: "SESSION_STORE", def: "db", help: "db, redis, cookie or memory", apply: func(c *Config, v string) error {
		switch v {
		case "db", "redis", "cookie", "memory":
			c.SessionStore = v
			return nil
		}
		return fmt.Errorf("want db, redis, cookie or memory, got %q", v)
	}},
	stringSetting("REDIS_URL", "", "redis://host:port/db, for sessions and rate limits", func(c *Config) *string { return &c.RedisURL }),
	stringSetting("KEYS_FILE", "", "secret keys file (default: beside the SQLite database, or ./gatehouse.keys)", func(c *Config) *string { return &c.KeysFile }),
	durationSetting("KEYS_RELOAD", "30s", "how often a running server re-reads the keys file", func(c *Config) *time.Duration { return &c.KeysReload }),
	stringSetting("SMTP_URL", "", "smtp(s)://user:pass@host:port; empty: dev outbox", func(c *Config) *string { return &c.SMTPURL }),
	stringSetting("MAIL_FROM", "", "sender address of outgoing mail (default: no-reply@ the base URL's host)", func(c *Config) *string { return &c.MailFrom }),
	stringSetting("TLS_CERT", "", "certificate file: serve HTTPS directly", func(c *Config) *string { return &c.TLSCert }),
	stringSetting("TLS_KEY", "", "private key file for TLS_CERT", func(c *Config) *string { return &c.TLSKey }),
	{name: "TRUSTED_PROXIES", def: "", help: "CIDRs whose X-Forwarded-For is believed", apply: func(c *Config, v string) error {
		ps, err := parsePrefixes(v)
		if err != nil {
			return err
		}
		c.TrustedProxies = ps
		return nil
	}},
	durationSetting("SESSION_IDLE", "30m", "sign out after this long without a request", func(c *Config) *time.Duration { return &c.SessionIdle }),
	durationSetting("SESSION_LIFETIME", "24h", "sign out this long after sign-in, however active", func(c *Config) *time.Duration { return &c.SessionLifetime }),
	durationSetting("REMEMBER_FOR", "720h", "lifetime of a remember-me session", func(c *Config) *time.Duration { return &c.RememberFor }),
	durationSetting("RESET_TTL", "30m", "lifetime of a password reset link", func(c *Config) *time.Duration { return &c.ResetTTL }),
	durationSetting("VERIFY_TTL", "48h", "lifetime of an email verification link", func(c *Config) *time.Duration { return &c.VerifyTTL }),
	durationSetting("ACCESS_TOKEN_TTL", "15m", "lifetime of an API access token", func(c *Config) *time.Duration { return &c.AccessTokenTTL }),
	durationSetting("REFRESH_TOKEN_TTL", "720h", "lifetime of an API refresh token", func(c *Config) *time.Duration { return &c.RefreshTokenTTL }),
	stringSetting("METRICS_ADDR", "127.0.0.1:9091", "Prometheus listener; empty turns it off", func(c *Config) *string { return &c.MetricsAddr }),
	{name: "LOG_LEVEL", def: "info", help: "debug, info, warn or error", apply: func(c *Config, v string) error {
		switch v {
		case "debug", "info", "warn", "error":
			c.LogLevel = v
			return nil
		}
		return fmt.Errorf("want debug, info, warn or error, got %q", v)
	}},
	{name: "LOG_FORMAT", def: "text", help: "text or json", apply: func(c *Config, v string) error {
		if v != "text" && v != "json" {
			return fmt.Errorf("want text or json, got %q", v)
		}
		c.LogFormat = v
		return nil
	}},
	boolSetting("ACCESS_LOG", "true", "log one line per request", func(c *Config) *bool { return &c.AccessLog }),
	stringSetting("ACCESS_RULES", "", "YAML file of forward-auth rules; re-read when it changes", func(c *Config) *string { return &c.AccessRules }),
	stringSetting("COOKIE_DOMAIN", "", "parent domain of the session cookie (__Secure-gatehouse, Domain=), for forward-auth across subdomains", func(c *Config) *string { return &c.CookieDomain }),
	uintSetting("ARGON2_MEMORY", "19456", "argon2id memory in KiB", 1024, 1<<20, func(c *Config, n uint64) { c.Argon2Memory = uint32(n) }),
	uintSetting("ARGON2_TIME", "2", "argon2id passes", 1, 20, func(c *Config, n uint64) { c.Argon2Time = uint32(n) }),
	uintSetting("ARGON2_THREADS", "1", "argon2id lanes", 1, 16, func(c *Config, n uint64) { c.Argon2Threads = uint8(n) }),
	uintSetting("HASH_WORKERS", strconv.Itoa(runtime.NumCPU()), "password hashes computed at once", 1, 256, func(c *Config, n uint64) { c.HashWorkers = int(n) }),
	uintSetting("HASH_MAX_ARGON2_MEMORY", "131072", "largest argon2 memory (KiB) a stored hash may ask for", 1024, 4<<20, func(c *Config, n uint64) { c.MaxArgon2Memory = uint32(n) }),
	uintSetting("HASH_MAX_ARGON2_THREADS", "8", "largest argon2 parallelism a stored hash may ask for", 1, 64, func(c *Config, n uint64) { c.MaxArgon2Threads = uint8(n) }),
	uintSetting("HASH_MAX_PBKDF2_ITERATIONS", "2000000", "most PBKDF2 iterations a stored hash may ask for", 1000, 50000000, func(c *Config, n uint64) { c.MaxPBKDF2Iter = int(n) }),
	uintSetting("HASH_MAX_BCRYPT_COST", "14", "highest bcrypt cost a stored hash may ask for", 4, 31, func(c *Config, n uint64) { c.MaxBcryptCost = int(n) }),
	uintSetting("HASH_MAX_SCRYPT_MEMORY", "67108864", "most memory (bytes) a stored scrypt hash may ask for", 1<<20, 4<<30, func(c *Config, n uint64) { c.MaxScryptMemory = int64(n) }),
	uintSetting("WERKZEUG_DEFAULT_ITERATIONS", "260000", "PBKDF2 iterations of Werkzeug hashes that do not name them", 1000, 50000000, func(c *Config, n uint64) { c.WerkzeugDefaultIt = int(n) }),
	uintSetting("HASH_MEMORY_BUDGET", "0", "most memory (MiB) the hashes running at once may need together; 0: HASH_WORKERS × ARGON2_MEMORY + the largest stored-hash cap", 0, 1<<20, func(c *Config, n uint64) { c.HashMemoryBudget = int64(n) << 20 }),
	durationSetting("HASH_QUEUE_WAIT", "3s", "longest wait for a hashing worker before answering 503", func(c *Config) *time.Duration { return &c.HashQueueWait }),
	stringSetting("API_AUDIENCE", "", "aud claim of API access tokens (default: the base URL)", func(c *Config) *string { return &c.APIAudience }),
	{name: "CORS_ORIGINS", def: "", help: "origins allowed to call the JSON API from a browser (comma-separated); empty: none", apply: func(c *Config, v string) error {
		c.CORSOrigins = nil
		for _, o := range splitList(v) {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
				return fmt.Errorf("want origins such as https://app.example.com, got %q", o)
			}
			c.CORSOrigins = append(c.CORSOrigins, u.Scheme+"://"+u.Host)
		}
		return nil
	}},
	{name: "UNVERIFIED_LOGIN", def: "allow", help: "allow: unverified accounts sign in and see a banner; deny: they must verify first", apply: func(c *Config, v string) error {
		if v != "allow" && v != "deny" {
			return fmt.Errorf("want allow or deny, got %q", v)
		}
		c.UnverifiedLogin = v
		return nil
	}},
	stringSetting("LOGIN_LIMIT", "10/hour", "sign-in attempts per account", func(c *Config) *string { return &c.LoginLimit }),
	stringSetting("LOGIN_IP_LIMIT", "100/hour", "sign-in attempts per client IP", func(c *Config) *string { return &c.LoginIPLimit }),
	stringSetting("REGISTER_LIMIT", "20/hour", "registrations per client IP", func(c *Config) *string { return &c.RegisterLimit }),
	stringSetting("FORGOT_LIMIT", "10/hour", "password reset requests per client IP", func(c *Config) *string { return &c.ForgotLimit }),
	{name: "PRODUCT_NAME", def: web.DefaultProductName, help: "the name shown on pages and in mail", apply: func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		if v == "" || utf8.RuneCountInString(v) > 64 || strings.ContainsFunc(v, unicode.IsControl) {
			return fmt.Errorf("want a name of 1 to 64 characters, got %q", v)
		}
		c.ProductName = v
		return nil
	}},
	stringSetting("LOGO_FILE", "", "logo shown in the page header: an SVG or PNG file of at most 256 KiB", func(c *Config) *string { return &c.LogoFile }),
	{name: "ACCENT_COLOR", def: "", help: "accent colour of links and buttons: #rrggbb, or #light,#dark; refused unless it meets WCAG AA contrast", apply: func(c *Config, v string) (err error) {
		if v != "" {
			c.Accent, err = web.ParseAccent(v)
		}
		return err
	}},
	uintSetting("AVATAR_MAX_BYTES", "2097152", "largest profile picture accepted, in bytes (the upload body is capped at 3 MiB)", 1024, kit.MaxUploadBytes-64<<10, func(c *Config, n uint64) { c.AvatarMaxBytes = int64(n) }),
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range splitList(v) {
		if !strings.Contains(p, "/") {
			a, err := netip.ParseAddr(p)
			if err != nil {
				return nil, fmt.Errorf("want CIDRs such as 10.0.0.0/8 or addresses, got %q", p)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		pr, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("want CIDRs such as 10.0.0.0/8 or addresses, got %q", p)
		}
		out = append(out, pr.Masked())
	}
	return out, nil
}

// errHelp is returned when --help was asked for; the flags were printed.
var errHelp = errors.New("help requested")

// envName turns a setting name into its environment variable.
func envName(name string) string { return "GATEHOUSE_" + name }

// flagName turns a setting name into its flag.
func flagName(name string) string { return strings.ToLower(strings.ReplaceAll(name, "_", "-")) }

// ParseConfig reads the settings from args (flags) and getenv, applying
// defaults, and validates them. Remaining positional arguments are returned.
//
// getenv cannot tell a variable set to the empty string from an unset one;
// commands use [ParseConfigEnv] with os.LookupEnv, where an empty variable
// means an empty setting.
func ParseConfig(args []string, getenv func(string) string, stderr io.Writer) (*Config, []string, error) {
	return parseConfig(args, getenv, stderr, true)
}

// ParseConfigEnv is [ParseConfig] with a lookup (such as os.LookupEnv) that
// tells an unset variable from one set to the empty string: GATEHOUSE_X=
// sets X to "", as --x= does.
func ParseConfigEnv(args []string, lookupEnv func(string) (string, bool), stderr io.Writer) (*Config, []string, error) {
	return parseConfigEnv(args, lookupEnv, stderr, true)
}

// nonEmpty turns a getenv into a lookup where an empty value is unset.
func nonEmpty(getenv func(string) string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v := getenv(k)
		return v, v != ""
	}
}

// parseConfig is ParseConfig; with strict false, the settings that only
// weaken a running server (http base URL, long lifetimes…) are not refused,
// so administration commands work with just the database and keys settings.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer, strict bool) (*Config, []string, error) {
	return parseConfigEnv(args, nonEmpty(getenv), stderr, strict)
}

// parseConfigEnv is parseConfig with a lookup that tells set from unset.
func parseConfigEnv(args []string, lookupEnv func(string) (string, bool), stderr io.Writer, strict bool) (*Config, []string, error) {
	c := &Config{set: map[string]bool{}}
	values := map[string]string{}
	for _, s := range settings {
		values[s.name] = s.def
		if v, ok := lookupEnv(envName(s.name)); ok {
			values[s.name] = v
			c.set[s.name] = true
		}
	}
	fs := flag.NewFlagSet("gatehouse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, s := range settings {
		s := s
		help := fmt.Sprintf("%s (env %s, default %q)", s.help, envName(s.name), s.def)
		set := func(v string) error {
			values[s.name] = v
			c.set[s.name] = true
			return nil
		}
		if s.boolean {
			fs.BoolFunc(flagName(s.name), help, set)
		} else {
			fs.Func(flagName(s.name), help, set)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, errHelp
		}
		return nil, nil, &UsageError{Msg: err.Error()}
	}
	for _, s := range settings {
		if err := s.apply(c, values[s.name]); err != nil {
			return nil, nil, fmt.Errorf("setting %s (--%s): %w", envName(s.name), flagName(s.name), err)
		}
	}
	if err := c.complete(strict); err != nil {
		return nil, nil, err
	}
	return c, fs.Args(), nil
}

// complete fills derived defaults and checks the settings against each other.
func (c *Config) complete(strict bool) error {
	var problems []error
	bad := func(name, format string, a ...any) {
		problems = append(problems, fmt.Errorf("setting %s (--%s): %s", envName(name), flagName(name), fmt.Sprintf(format, a...)))
	}
	dbDir := "."
	switch {
	case strings.HasPrefix(c.DatabaseURL, "sqlite:"):
		p, err := db.SQLitePath(c.DatabaseURL)
		if err != nil {
			bad("DATABASE_URL", "%q is not a usable SQLite URL: want sqlite:PATH (relative or absolute), sqlite:///ABSOLUTE/PATH or sqlite::memory:", c.DatabaseURL)
		} else if p != ":memory:" {
			dbDir = filepath.Dir(p)
		}
	case strings.HasPrefix(c.DatabaseURL, "postgres://"), strings.HasPrefix(c.DatabaseURL, "postgresql://"):
	default:
		bad("DATABASE_URL", "want sqlite:PATH or postgres://user@host/db, got %q", redactURL(c.DatabaseURL))
	}
	if c.KeysFile == "" {
		c.KeysFile = filepath.Join(dbDir, "gatehouse.keys")
	}
	if c.APIAudience == "" {
		c.APIAudience = c.BaseURL.String()
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("ADDR", "want host:port, got %q", c.Addr)
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			bad("METRICS_ADDR", "want host:port or empty, got %q", c.MetricsAddr)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("TLS_CERT", "TLS_CERT and TLS_KEY go together: set both or neither")
	}
	if c.SessionStore == "redis" && c.RedisURL == "" {
		bad("SESSION_STORE", "redis needs GATEHOUSE_REDIS_URL")
	}
	for _, l := range []struct{ name, v string }{
		{"LOGIN_LIMIT", c.LoginLimit}, {"LOGIN_IP_LIMIT", c.LoginIPLimit},
		{"REGISTER_LIMIT", c.RegisterLimit}, {"FORGOT_LIMIT", c.ForgotLimit},
	} {
		if _, err := ratelimit.ParseLimit(l.v); err != nil {
			bad(l.name, "%v", err)
		}
	}
	if c.CookieDomain != "" {
		d, err := accessrule.CheckCookieDomain(c.CookieDomain, c.BaseURL.Host)
		if err != nil {
			bad("COOKIE_DOMAIN", "%v", err)
		}
		c.CookieDomain = d
	}
	if c.SessionIdle > c.SessionLifetime {
		bad("SESSION_IDLE", "the idle timeout (%s) is longer than the session lifetime (%s)", c.SessionIdle, c.SessionLifetime)
	}
	if c.RememberFor < c.SessionLifetime {
		bad("REMEMBER_FOR", "remember-me (%s) is shorter than an ordinary session (%s)", c.RememberFor, c.SessionLifetime)
	}
	if !c.Dev && strict {
		// A production start refuses settings that weaken security.
		// Plain http is tolerated only when nothing leaves this machine: a
		// loopback base URL served on a loopback address (what a first
		// `go run ./cmd/gatehouse` does). Anything reachable needs https.
		if c.BaseURL.Scheme != "https" && !(isLoopbackHost(c.BaseURL.Hostname()) && isLoopbackHost(hostOf(c.Addr))) {
			bad("BASE_URL", "%s is plain http on a reachable address: cookies would travel unencrypted and could not be __Host- cookies; use an https URL, or --dev on your own machine", c.BaseURL)
		}
		for _, p := range c.TrustedProxies {
			if p.Bits() == 0 {
				bad("TRUSTED_PROXIES", "%s trusts every address, so any client could forge X-Forwarded-For; list only your proxies", p)
			}
		}
		weak := []struct {
			name     string
			val, max time.Duration
			why      string
		}{
			{"SESSION_IDLE", c.SessionIdle, 24 * time.Hour, "an idle session this long outlives its user at a shared computer"},
			{"SESSION_LIFETIME", c.SessionLifetime, 7 * 24 * time.Hour, "use REMEMBER_FOR for long sessions the user asks for"},
			{"REMEMBER_FOR", c.RememberFor, 90 * 24 * time.Hour, "a stolen remember-me cookie would stay valid for months"},
			{"RESET_TTL", c.ResetTTL, 24 * time.Hour, "a reset link that lives longer gives a mailbox thief more time"},
			{"VERIFY_TTL", c.VerifyTTL, 30 * 24 * time.Hour, "verification links should not live for months"},
			{"ACCESS_TOKEN_TTL", c.AccessTokenTTL, time.Hour, "access tokens cannot be revoked before they expire, so keep them short"},
			{"REFRESH_TOKEN_TTL", c.RefreshTokenTTL, 365 * 24 * time.Hour, "a refresh token that lives for years is as good as a password"},
		}
		for _, w := range weak {
			if w.val > w.max {
				bad(w.name, "%s is longer than the safe maximum %s: %s", w.val, w.max, w.why)
			}
		}
		if c.Argon2Memory < 19456 {
			bad("ARGON2_MEMORY", "%d KiB is below the OWASP minimum of 19456 KiB for argon2id", c.Argon2Memory)
		}
		if c.Argon2Memory == 19456 && c.Argon2Time < 2 {
			bad("ARGON2_TIME", "with 19456 KiB argon2id needs at least 2 passes")
		}
		for _, o := range c.CORSOrigins {
			if strings.HasPrefix(o, "http://") {
				bad("CORS_ORIGINS", "%s is plain http: a network attacker could call the API as that origin", o)
			}
		}
	}
	return errors.Join(problems...)
}

// isLoopbackHost reports whether host names this machine only.
func isLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.IsLoopback()
}

// Secure reports whether the base URL is https: cookies are then Secure and
// carry the __Host- prefix, and HSTS is sent.
func (c *Config) Secure() bool { return c.BaseURL.Scheme == "https" }

// redactURL hides a password in a URL-like setting before it is shown.
func redactURL(v string) string {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			return u.Redacted()
		}
	}
	return v
}

// brand reads the branding settings: the logo file is checked here, so a
// bad one stops the start with a message naming the setting.
func (c *Config) brand() (web.Brand, error) {
	b := web.Brand{Name: c.ProductName, Accent: c.Accent}
	if c.LogoFile == "" {
		return b, nil
	}
	f, err := os.Open(c.LogoFile)
	if err != nil {
		return b, fmt.Errorf("setting %s (--%s): %w", envName("LOGO_FILE"), flagName("LOGO_FILE"), err)
	}
	defer f.Close()
	if b.Logo, err = web.LoadLogo(f); err != nil {
		return b, fmt.Errorf("setting %s (--%s): %s: %w", envName("LOGO_FILE"), flagName("LOGO_FILE"), c.LogoFile, err)
	}
	return b, nil
}
