// Package oidc is Gatehouse's OpenID Connect provider: "Sign in with
// Gatehouse" for other applications. The protocol (authorization code flow
// with PKCE, token endpoint, refresh token rotation with reuse detection,
// revocation, introspection of its own tokens) is ory/fosite's; this
// package stores fosite's state in Gatehouse's database (internal/db),
// signs with RS256 keys kept sealed by the keyring, and adds what fosite
// leaves to the server: discovery, UserInfo, RP-initiated logout, consent,
// per-client policy and client management.
//
// It may import the standard library, ring-1 packages, internal/account,
// internal/db, internal/kit and internal/web; never internal/app or another
// feature package.
package oidc

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/token/jwt"
)

// Routes of the provider, below the issuer (BASE_URL).
const (
	PathDiscovery = "/.well-known/openid-configuration"
	PathJWKS      = "/.well-known/jwks.json"
	PathAuthorize = "/oidc/authorize"
	PathToken     = "/oidc/token"
	PathUserInfo  = "/oidc/userinfo"
	PathRevoke    = "/oidc/revoke"
	PathLogout    = "/oidc/logout"
)

// Lifetimes fixed by the provider.
const (
	CodeTTL    = 60 * time.Second
	IDTokenTTL = 5 * time.Minute
)

// Input bounds, checked before any work.
const (
	maxClientIDLen = 64
	maxBodyBytes   = 16 << 10
	maxQueryBytes  = 4096
	maxParamLen    = 2048
)

// SignIn describes the signed-in Gatehouse session of a browser request.
type SignIn struct {
	User account.User
	// AuthAt is when the session signed in, exactly (compared with the
	// user's sessions cut-off).
	AuthAt time.Time
	// AMR lists how (RFC 8176: "pwd", "otp", "hwk", "mfa").
	AMR []string
}

// Browser is what the provider needs from the server's page machinery (the
// page kit implements most of it).
type Browser interface {
	// SignedIn returns the request's signed-in session, if any.
	SignedIn(r *http.Request) (SignIn, bool)
	// Page returns the common data of a page.
	Page(r *http.Request, title string) *web.Page
	// Show renders the page name.
	Show(w http.ResponseWriter, r *http.Request, status int, name string, p *web.Page)
	// ErrorPage answers status with an error page showing msg.
	ErrorPage(w http.ResponseWriter, r *http.Request, status int, msg string)
	// Unavailable answers 503 for a backend failure.
	Unavailable(w http.ResponseWriter, r *http.Request, err error)
	// EndSession ends the request's Gatehouse session.
	EndSession(w http.ResponseWriter, r *http.Request)
}

// Users reads accounts.
type Users interface {
	UserByID(ctx context.Context, id int64) (account.User, error)
}

// Config is what [New] needs. Every field but the TTLs, Now and Log is
// required.
type Config struct {
	// Issuer is the public base URL (BASE_URL), without a trailing slash.
	Issuer string
	// DB holds clients, grants, consents and the sealed signing keys.
	DB *db.DB
	// Keys is the keyring: it seals the RS256 keys and keys the HMAC of
	// codes and refresh tokens.
	Keys keyring.Source
	// Users reads the accounts behind tokens.
	Users Users
	// Browser serves the pages.
	Browser Browser
	// AccessTokenTTL (default 15m) and RefreshTokenTTL (default 720h).
	AccessTokenTTL, RefreshTokenTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives operational errors (never tokens).
	Log *slog.Logger
}

// Provider is the OpenID Connect provider. Its handlers are safe for
// concurrent use.
type Provider struct {
	cfg     Config
	issuer  string
	f       fosite.OAuth2Provider
	fc      *fosite.Config
	store   *store
	repo    *db.OIDC
	keys    *Keys
	signer  signer
	clients *Clients
	now     func() time.Time
	log     *slog.Logger
	// lastPurge is when expired grants were last deleted (unix seconds).
	lastPurge atomic.Int64
}

// hmacConfig keys the HMAC of codes and refresh tokens with the keyring:
// the current key signs, every active key verifies, so a rotation keeps
// outstanding refresh tokens valid and retiring a key kills them.
type hmacConfig struct {
	*fosite.Config
	src keyring.Source
}

func (h hmacConfig) GetGlobalSecret(context.Context) ([]byte, error) {
	return h.src.Ring().Current().Derive("oidc-hmac"), nil
}

func (h hmacConfig) GetRotatedGlobalSecrets(context.Context) ([][]byte, error) {
	ring := h.src.Ring()
	cur := ring.Current().ID
	var out [][]byte
	for _, k := range ring.Keys() {
		if k.Active() && k.ID != cur {
			out = append(out, k.Derive("oidc-hmac"))
		}
	}
	return out, nil
}

// pkceConfig requires PKCE (S256) unless the request's client was
// registered with --allow-no-pkce (a confidential client only).
type pkceConfig struct{ *fosite.Config }

type pkceOptionalKey struct{}

func (pkceConfig) GetEnforcePKCE(ctx context.Context) bool {
	optional, _ := ctx.Value(pkceOptionalKey{}).(bool)
	return !optional
}

// withPKCEPolicy marks ctx for a confidential client that may skip PKCE.
func withPKCEPolicy(ctx context.Context, c db.OIDCClient) context.Context {
	if c.PKCEOptional && !c.Public {
		return context.WithValue(ctx, pkceOptionalKey{}, true)
	}
	return ctx
}

// New builds the provider. The current RS256 key is loaded (or made) when
// it is first needed, so New works before the database is migrated.
func New(ctx context.Context, c Config) (*Provider, error) {
	if c.Issuer == "" || c.DB == nil || c.Keys == nil || c.Users == nil || c.Browser == nil {
		return nil, errors.New("oidc: Config needs Issuer, DB, Keys, Users and Browser")
	}
	if c.AccessTokenTTL <= 0 {
		c.AccessTokenTTL = 15 * time.Minute
	}
	if c.RefreshTokenTTL <= 0 {
		c.RefreshTokenTTL = 720 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	issuer := strings.TrimRight(c.Issuer, "/")
	p := &Provider{cfg: c, issuer: issuer, repo: c.DB.OIDC(), now: c.Now, log: c.Log}
	p.store = &store{repo: p.repo, now: c.Now}
	p.keys = NewKeys(c.Keys, p.repo, c.Now)
	p.signer = signer{p.keys}
	p.clients = NewClients(p.repo, c.Now)
	fc := &fosite.Config{
		AccessTokenLifespan:            c.AccessTokenTTL,
		RefreshTokenLifespan:           c.RefreshTokenTTL,
		AuthorizeCodeLifespan:          CodeTTL,
		IDTokenLifespan:                IDTokenTTL,
		IDTokenIssuer:                  issuer,
		AccessTokenIssuer:              issuer,
		TokenURL:                       issuer + PathToken,
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.DefaultAudienceMatchingStrategy,
		EnforcePKCE:                    true,
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		RefreshTokenScopes:             []string{ScopeOfflineAccess},
		ClientSecretsHasher:            secretHasher{},
		JWTScopeClaimKey:               jwt.JWTScopeFieldString,
		SendDebugMessagesToClients:     false,
		MinParameterEntropy:            fosite.MinParameterEntropy,
		AllowedPromptValues:            []string{"none", "login", "consent"},
	}
	p.fc = fc
	hmacStrategy := compose.NewOAuth2HMACStrategy(hmacConfig{Config: fc, src: c.Keys})
	strategy := &compose.CommonStrategy{
		CoreStrategy:               &oauth2.DefaultJWTStrategy{Signer: p.signer, HMACSHAStrategy: hmacStrategy, Config: fc},
		OpenIDConnectTokenStrategy: &openid.DefaultStrategy{Signer: p.signer, Config: fc},
		Signer:                     p.signer,
	}
	p.f = compose.Compose(fc, p.store, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		func(_ fosite.Configurator, st, strat any) any {
			return &pkce.Handler{AuthorizeCodeStrategy: strat.(oauth2.AuthorizeCodeStrategy), Storage: st.(pkce.PKCERequestStorage),
				Config: pkceConfig{fc}}
		},
	)
	return p, nil
}

// Clients returns the client management service.
func (p *Provider) Clients() *Clients { return p.clients }

// Keys returns the RS256 signing keys (for the JWKS).
func (p *Provider) Keys() *Keys { return p.keys }

// Issuer returns the issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// SignedOut revokes every token that the user's clients hold: a Gatehouse
// sign-out reaches every application. (Password changes, disabling and
// "sign out everywhere" need no call: tokens from before the user's
// sessions cut-off are refused anyway.)
func (p *Provider) SignedOut(ctx context.Context, userID int64) error {
	_, err := p.repo.DeactivateUser(context.WithoutCancel(ctx), userID, "")
	return err
}

// Purge deletes grants that expired (codes, tokens); expired ones are
// refused anyway. The token endpoint calls it at most once an hour.
func (p *Provider) Purge(ctx context.Context) (int64, error) {
	return p.repo.DeleteExpiredTokens(ctx, p.now())
}

// maybePurge purges when the last purge is more than an hour old.
func (p *Provider) maybePurge(ctx context.Context) {
	now := p.now().Unix()
	last := p.lastPurge.Load()
	if now-last < 3600 || !p.lastPurge.CompareAndSwap(last, now) {
		return
	}
	if _, err := p.Purge(context.WithoutCancel(ctx)); err != nil {
		p.log.Warn("oidc: purging expired grants failed", "err", err)
	}
}

// Discovery is the OpenID Provider Metadata document.
type Discovery struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserInfoEndpoint                  string   `json:"userinfo_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods     []string `json:"revocation_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	PromptValuesSupported             []string `json:"prompt_values_supported"`
	AuthorizationResponseIssParameter bool     `json:"authorization_response_iss_parameter_supported"`
	RequestParameterSupported         bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	ClaimsParameterSupported          bool     `json:"claims_parameter_supported"`
	UserInfoSigningAlgValuesSupported []string `json:"userinfo_signing_alg_values_supported,omitempty"`
	ACRValuesSupported                []string `json:"acr_values_supported"`
	BackchannelLogoutSupported        bool     `json:"backchannel_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
}

// Discovery returns the provider metadata.
func (p *Provider) Discovery() Discovery {
	auth := []string{"client_secret_basic", "client_secret_post", "none"}
	return Discovery{
		Issuer:                            p.issuer,
		AuthorizationEndpoint:             p.issuer + PathAuthorize,
		TokenEndpoint:                     p.issuer + PathToken,
		UserInfoEndpoint:                  p.issuer + PathUserInfo,
		JWKSURI:                           p.issuer + PathJWKS,
		RevocationEndpoint:                p.issuer + PathRevoke,
		EndSessionEndpoint:                p.issuer + PathLogout,
		ScopesSupported:                   AllScopes(),
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		TokenEndpointAuthMethodsSupported: auth,
		RevocationEndpointAuthMethods:     auth,
		CodeChallengeMethodsSupported:     []string{"S256"},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "azp", "at_hash",
			"name", "preferred_username", "picture", "email", "email_verified", "groups"},
		PromptValuesSupported:             []string{"none", "login", "consent"},
		AuthorizationResponseIssParameter: true,
		ACRValuesSupported:                []string{ACRPassword, ACRMultiFactor},
	}
}

// withIss adds the iss parameter (RFC 9207) to a redirect's query.
func withIss(location, issuer string) string {
	u, err := url.Parse(location)
	if err != nil {
		return location
	}
	q := u.Query()
	q.Set("iss", issuer)
	u.RawQuery = q.Encode()
	return u.String()
}
