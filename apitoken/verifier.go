package apitoken

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenSize is the longest token, in bytes, that a [Verifier] parses.
const MaxTokenSize = 8 << 10

const (
	// DefaultLeeway is the clock skew a [Verifier] allows when
	// VerifierConfig.Leeway is 0.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway is the largest VerifierConfig.Leeway accepted.
	MaxLeeway = 5 * time.Minute
	// DefaultMaxLifetime is the longest exp - iat a [Verifier] accepts
	// when VerifierConfig.MaxLifetime is 0.
	DefaultMaxLifetime = 24 * time.Hour
)

// ErrInvalidToken is the one error callers of [Verifier.Verify] need: every
// refusal matches it with errors.Is. Show only this message to clients.
var ErrInvalidToken = errors.New("apitoken: invalid token")

// ErrConfig is wrapped by configuration errors of NewVerifier and
// NewRemoteKeySet.
var ErrConfig = errors.New("apitoken: bad configuration")

// Reasons a token is refused, found in [VerifyError].Reason. They are meant
// for logs and metrics, never for clients.
const (
	ReasonOversize       = "token too large"
	ReasonMalformed      = "malformed token"
	ReasonAlgorithm      = "algorithm not allowed"
	ReasonType           = "wrong typ header"
	ReasonHeader         = "forbidden header parameter"
	ReasonKeyID          = "missing or invalid kid"
	ReasonUnknownKey     = "unknown kid"
	ReasonKeyLookup      = "key lookup failed"
	ReasonSignature      = "invalid signature"
	ReasonExpired        = "token expired"
	ReasonNotYetValid    = "token not valid yet"
	ReasonIssuedInFuture = "token issued in the future"
	ReasonIssuer         = "wrong issuer"
	ReasonAudience       = "wrong audience"
	ReasonMissingClaim   = "required claim missing"
	ReasonLifetime       = "token lifetime too long"
	ReasonClaims         = "invalid claims"
	ReasonCheck          = "refused by check"
)

// VerifyError says why a token was refused. Its message contains only the
// fixed Reason, never token contents, so it is safe to log; it matches
// [ErrInvalidToken] and unwraps to the underlying cause, if any.
type VerifyError struct {
	// Reason is one of the Reason constants.
	Reason string
	// Err is the underlying cause, or nil.
	Err error
}

// Error returns "apitoken: invalid token: " followed by the reason.
func (e *VerifyError) Error() string { return ErrInvalidToken.Error() + ": " + e.Reason }

// Unwrap returns [ErrInvalidToken] and the cause.
func (e *VerifyError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidToken}
	}
	return []error{ErrInvalidToken, e.Err}
}

func refuse(reason string, err error) *VerifyError { return &VerifyError{Reason: reason, Err: err} }

// VerifierConfig configures a [Verifier].
type VerifierConfig struct {
	// Issuer is the exact "iss" required, such as
	// "https://auth.example.com". Required.
	Issuer string
	// Audience is this resource server's identifier; the token's "aud"
	// must contain it. Required.
	Audience string
	// Leeway is the clock skew allowed for exp, nbf and iat; 0 means
	// [DefaultLeeway]. At most [MaxLeeway].
	Leeway time.Duration
	// MaxLifetime is the longest exp - iat accepted; 0 means
	// [DefaultMaxLifetime].
	MaxLifetime time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verifier checks access tokens. It is safe for concurrent use.
type Verifier struct {
	keys   KeyLookup
	cfg    VerifierConfig
	parser *jwt.Parser
}

// NewVerifier returns a Verifier that takes public keys from keys.
func NewVerifier(keys KeyLookup, cfg VerifierConfig) (*Verifier, error) {
	if keys == nil {
		return nil, fmt.Errorf("%w: no key lookup", ErrConfig)
	}
	if cfg.Issuer == "" {
		return nil, fmt.Errorf("%w: Issuer is required", ErrConfig)
	}
	if cfg.Audience == "" {
		return nil, fmt.Errorf("%w: Audience is required", ErrConfig)
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		return nil, fmt.Errorf("%w: Leeway must be between 0 and %v", ErrConfig, MaxLeeway)
	}
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	if cfg.MaxLifetime < 0 {
		return nil, fmt.Errorf("%w: negative MaxLifetime", ErrConfig)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithStrictDecoding(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
	)
	return &Verifier{keys: keys, cfg: cfg, parser: p}, nil
}

// Verify checks token and returns its claims. Every error matches
// [ErrInvalidToken]; see [Verifier.VerifyContext].
func (v *Verifier) Verify(token string) (*Claims, error) {
	return v.VerifyContext(context.Background(), token)
}

// forbiddenHeaders name keys or extensions carried by, or fetched because
// of, the token itself. Keys only ever come from the KeyLookup.
var forbiddenHeaders = []string{"jku", "x5u", "x5c", "jwk", "crit", "x5t", "x5t#S256", "b64"}

// VerifyContext checks token and returns its claims; ctx is passed to the
// [KeyLookup]. Every error matches [ErrInvalidToken] and is a
// [*VerifyError] with the reason.
func (v *Verifier) VerifyContext(ctx context.Context, token string) (*Claims, error) {
	if len(token) > MaxTokenSize {
		return nil, refuse(ReasonOversize, nil)
	}
	if strings.Count(token, ".") != 2 {
		return nil, refuse(ReasonMalformed, nil)
	}
	var keyErr *VerifyError
	keyfunc := func(t *jwt.Token) (any, error) {
		keyErr = checkHeader(t)
		if keyErr != nil {
			return nil, keyErr
		}
		kid := t.Header["kid"].(string) // checked by checkHeader
		key, err := v.keys.PublicKey(ctx, kid)
		switch {
		case errors.Is(err, ErrUnknownKey):
			keyErr = refuse(ReasonUnknownKey, err)
			return nil, keyErr
		case err != nil:
			keyErr = refuse(ReasonKeyLookup, err)
			return nil, keyErr
		case len(key) != ed25519.PublicKeySize:
			keyErr = refuse(ReasonKeyLookup, ErrBadKey)
			return nil, keyErr
		}
		// The concrete type matters: only an ed25519.PublicKey verifies.
		return key, nil
	}
	var w wireClaims
	_, err := v.parser.ParseWithClaims(token, &w, keyfunc)
	if err != nil {
		if keyErr != nil {
			return nil, keyErr
		}
		return nil, classify(err)
	}
	switch {
	case w.Subject == "", w.ID == "", w.ClientID == "", w.IssuedAt == nil:
		return nil, refuse(ReasonMissingClaim, nil)
	case !w.ExpiresAt.After(w.IssuedAt.Time):
		return nil, refuse(ReasonClaims, errors.New("exp not after iat"))
	case w.ExpiresAt.Sub(w.IssuedAt.Time) > v.cfg.MaxLifetime:
		return nil, refuse(ReasonLifetime, nil)
	case w.IssuedMicros != nil && (*w.IssuedMicros < 0 || *w.IssuedMicros >= 1e6):
		return nil, refuse(ReasonClaims, errors.New("iat_us not in [0, 999999]"))
	}
	return w.claims(), nil
}

// checkHeader enforces the JOSE header rules before any key is looked up.
func checkHeader(t *jwt.Token) *VerifyError {
	if t.Method != jwt.SigningMethodEdDSA {
		return refuse(ReasonAlgorithm, nil)
	}
	for _, h := range forbiddenHeaders {
		if _, ok := t.Header[h]; ok {
			return refuse(ReasonHeader, nil)
		}
	}
	typ, _ := t.Header["typ"].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return refuse(ReasonType, nil)
	}
	kid, _ := t.Header["kid"].(string)
	if !ValidKeyID(kid) {
		return refuse(ReasonKeyID, nil)
	}
	return nil
}

func classify(err error) error {
	var reason string
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		reason = ReasonMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		// WithValidMethods also reports a refused alg this way.
		reason = ReasonSignature
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		reason = ReasonAlgorithm
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		reason = ReasonMissingClaim
	case errors.Is(err, jwt.ErrTokenExpired):
		reason = ReasonExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		reason = ReasonNotYetValid
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		reason = ReasonIssuedInFuture
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		reason = ReasonIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		reason = ReasonAudience
	default:
		reason = ReasonClaims
	}
	return refuse(reason, err)
}
