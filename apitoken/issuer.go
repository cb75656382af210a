package apitoken

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultTTL is the lifetime of an access token when IssuerConfig.TTL is 0.
const DefaultTTL = 15 * time.Minute

// Limits on what Issue accepts, so that every token it signs stays well
// under [MaxTokenSize].
const (
	maxSubjectLength = 255
	maxValueLength   = 255
	maxListLength    = 64
)

// ErrIssue is wrapped by every error Issue and NewIssuer return for bad
// input or configuration.
var ErrIssue = errors.New("apitoken: cannot issue token")

// IssuerConfig configures an [Issuer].
type IssuerConfig struct {
	// Issuer is the issuer identifier, the server's base URL, such as
	// "https://auth.example.com". Required.
	Issuer string
	// Audience lists the resource servers the tokens are meant for. At
	// least one is required.
	Audience []string
	// TTL is the token lifetime; 0 means [DefaultTTL].
	TTL time.Duration
	// ClientID is the OAuth client_id put in every token. Required.
	ClientID string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Extra holds the optional, per-token claims of Issue.
type Extra struct {
	// Roles become the "roles" claim.
	Roles []string
	// AuthTime, if not zero, becomes "auth_time": when the user last
	// authenticated.
	AuthTime time.Time
	// Scope becomes the space-separated "scope" claim. Scope values must
	// not contain spaces.
	Scope []string
	// AMR becomes the "amr" claim (authentication methods, RFC 8176).
	AMR []string
	// Audience, if not empty, replaces IssuerConfig.Audience for this
	// token (forward-auth: the protected app's origin).
	Audience []string
	// Email and Name become the "email" and "name" claims (OpenID Connect
	// Core 5.1) when not empty.
	Email, Name string
	// Groups become the "groups" claim (RFC 9068 section 2.2.3.1).
	Groups []string
}

// Issuer signs access tokens. It is safe for concurrent use.
type Issuer struct {
	keys KeySource
	cfg  IssuerConfig
}

// NewIssuer returns an Issuer that signs with keys' current signing key.
func NewIssuer(keys KeySource, cfg IssuerConfig) (*Issuer, error) {
	if keys == nil {
		return nil, fmt.Errorf("%w: no key source", ErrIssue)
	}
	if cfg.Issuer == "" || len(cfg.Issuer) > maxValueLength {
		return nil, fmt.Errorf("%w: Issuer is required", ErrIssue)
	}
	if cfg.ClientID == "" || len(cfg.ClientID) > maxValueLength {
		return nil, fmt.Errorf("%w: ClientID is required", ErrIssue)
	}
	if len(cfg.Audience) == 0 || len(cfg.Audience) > maxListLength || slices.Contains(cfg.Audience, "") {
		return nil, fmt.Errorf("%w: Audience is required", ErrIssue)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.TTL < time.Second {
		return nil, fmt.Errorf("%w: TTL must be at least one second", ErrIssue)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Audience = slices.Clone(cfg.Audience)
	return &Issuer{keys: keys, cfg: cfg}, nil
}

func checkList(name string, vals []string, noSpace bool) error {
	if len(vals) > maxListLength {
		return fmt.Errorf("%w: too many %s", ErrIssue, name)
	}
	for _, v := range vals {
		if v == "" || len(v) > maxValueLength || (noSpace && strings.ContainsAny(v, " \t\r\n")) {
			return fmt.Errorf("%w: bad %s value", ErrIssue, name)
		}
	}
	return nil
}

// Issue signs a new access token for subject (the user id) and returns it
// with the claims it carries. The token has a fresh 128-bit random "jti".
func (i *Issuer) Issue(subject string, extra Extra) (string, Claims, error) {
	if subject == "" || len(subject) > maxSubjectLength {
		return "", Claims{}, fmt.Errorf("%w: bad subject", ErrIssue)
	}
	if err := checkList("roles", extra.Roles, false); err != nil {
		return "", Claims{}, err
	}
	if err := checkList("scope", extra.Scope, true); err != nil {
		return "", Claims{}, err
	}
	if err := checkList("amr", extra.AMR, false); err != nil {
		return "", Claims{}, err
	}
	if err := checkList("groups", extra.Groups, false); err != nil {
		return "", Claims{}, err
	}
	aud := i.cfg.Audience
	if len(extra.Audience) > 0 {
		if err := checkList("audience", extra.Audience, true); err != nil {
			return "", Claims{}, err
		}
		aud = extra.Audience
	}
	if len(extra.Email) > maxValueLength || len(extra.Name) > maxValueLength {
		return "", Claims{}, fmt.Errorf("%w: email or name too long", ErrIssue)
	}
	key, err := i.keys.SigningKey()
	if err != nil {
		return "", Claims{}, fmt.Errorf("apitoken: signing key: %w", err)
	}
	if err := checkSigningKey(key); err != nil {
		return "", Claims{}, err
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", Claims{}, err
	}
	exact := i.cfg.Now().Truncate(time.Microsecond)
	now := exact.Truncate(time.Second)
	micros := int64(exact.Sub(now) / time.Microsecond)
	w := wireClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.cfg.Issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings(slices.Clone(aud)),
			ExpiresAt: jwt.NewNumericDate(now.Add(i.cfg.TTL)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        base64.RawURLEncoding.EncodeToString(id[:]),
		},
		ClientID:     i.cfg.ClientID,
		AuthTime:     numericDate(extra.AuthTime),
		Roles:        slices.Clone(extra.Roles),
		Scope:        strings.Join(extra.Scope, " "),
		AMR:          slices.Clone(extra.AMR),
		IssuedMicros: &micros,
		Email:        extra.Email,
		Name:         extra.Name,
		Groups:       slices.Clone(extra.Groups),
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, w)
	t.Header["typ"] = "at+jwt"
	t.Header["kid"] = key.ID
	s, err := t.SignedString(key.Key)
	if err != nil {
		return "", Claims{}, fmt.Errorf("apitoken: sign: %w", err)
	}
	if len(s) > MaxTokenSize {
		return "", Claims{}, fmt.Errorf("%w: token would exceed MaxTokenSize", ErrIssue)
	}
	return s, *w.claims(), nil
}
