package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse/gatehouse/internal/db"
)

// Errors of client management.
var (
	// ErrInvalidClient wraps a reason why a client's settings are refused.
	ErrInvalidClient = errors.New("oidc: invalid client settings")
	// ErrClientNotFound means no client has this id.
	ErrClientNotFound = errors.New("oidc: no such client")
	// ErrPublicClient means a public client has no secret to rotate.
	ErrPublicClient = errors.New("oidc: a public client has no secret")
)

// Limits on client settings.
const (
	maxRedirectURIs = 10
	maxURILen       = 512
	maxNameLen      = 100
	maxRoles        = 10
)

// NewClient is what [Clients.Create] registers.
type NewClient struct {
	Name           string
	RedirectURIs   []string
	PostLogoutURIs []string
	// Public clients (native and browser apps) have no secret and must use
	// PKCE; loopback redirect URIs then match any port (RFC 8252).
	Public bool
	// Scopes the client may request; empty: all of [AllScopes].
	Scopes []string
	// Require2FA makes a one-factor session step up first.
	Require2FA bool
	// Roles, if any, limit who may sign in to the client (any of them).
	Roles []string
	// SkipConsent marks a first-party client: no consent page.
	SkipConsent bool
	// AllowNoPKCE lets a confidential client that cannot send PKCE sign
	// users in without it (PKCE stays required when it sends a challenge,
	// and always for public clients; plain is never accepted).
	AllowNoPKCE bool
}

// Client is a registered client, as shown to administrators.
type Client struct {
	ID             string    `json:"client_id"`
	Name           string    `json:"name"`
	RedirectURIs   []string  `json:"redirect_uris"`
	PostLogoutURIs []string  `json:"post_logout_redirect_uris"`
	Public         bool      `json:"public"`
	Scopes         []string  `json:"scopes"`
	Require2FA     bool      `json:"require_2fa"`
	Roles          []string  `json:"roles"`
	SkipConsent    bool      `json:"skip_consent"`
	AllowNoPKCE    bool      `json:"allow_no_pkce"`
	Disabled       bool      `json:"disabled"`
	CreatedAt      time.Time `json:"created_at"`
}

func clientView(c db.OIDCClient) Client {
	return Client{ID: c.ID, Name: c.Name, RedirectURIs: c.RedirectURIs, PostLogoutURIs: c.PostLogoutURIs, Public: c.Public,
		Scopes: c.Scopes, Require2FA: c.Require2FA, Roles: c.Roles, SkipConsent: c.SkipConsent, AllowNoPKCE: c.PKCEOptional, Disabled: c.Disabled(), CreatedAt: c.CreatedAt}
}

// Clients manages the registered clients. Secrets are shown once and
// stored as SHA-256 hashes.
type Clients struct {
	repo *db.OIDC
	now  func() time.Time
}

// NewClients returns the client service over repo.
func NewClients(repo *db.OIDC, now func() time.Time) *Clients {
	if now == nil {
		now = time.Now
	}
	return &Clients{repo: repo, now: now}
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidClient, fmt.Sprintf(format, args...))
}

// ValidRedirectURI checks a redirect or post-logout URI: absolute, no
// fragment or user info, at most 512 bytes; https, or http on a loopback
// host; public clients may also use a private-use scheme with a dot
// (com.example.app:/cb, RFC 8252).
func ValidRedirectURI(raw string, public bool) error {
	if raw == "" || len(raw) > maxURILen || strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return invalid("redirect URI %q: empty, too long or contains spaces", trunc(raw))
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return invalid("redirect URI %q is not an absolute URL", trunc(raw))
	}
	if u.Fragment != "" || strings.Contains(raw, "#") || u.User != nil {
		return invalid("redirect URI %q must not have a fragment or user info", trunc(raw))
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case public && strings.Contains(u.Scheme, ".") && u.Host == "":
		return nil
	}
	return invalid("redirect URI %q must be https (or http on 127.0.0.1, [::1] or localhost)", trunc(raw))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validRole(r string) bool {
	return r != "" && len(r) <= 32 && !strings.ContainsFunc(r, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_')
	})
}

// check validates and normalizes nc.
func (nc *NewClient) check() error {
	nc.Name = strings.TrimSpace(nc.Name)
	if nc.Name == "" || len(nc.Name) > maxNameLen || strings.ContainsFunc(nc.Name, unicode.IsControl) {
		return invalid("name must be 1 to %d characters", maxNameLen)
	}
	if len(nc.RedirectURIs) == 0 || len(nc.RedirectURIs) > maxRedirectURIs || len(nc.PostLogoutURIs) > maxRedirectURIs {
		return invalid("give 1 to %d redirect URIs (and at most %d post-logout URIs)", maxRedirectURIs, maxRedirectURIs)
	}
	for _, u := range slices.Concat(nc.RedirectURIs, nc.PostLogoutURIs) {
		if err := ValidRedirectURI(u, nc.Public); err != nil {
			return err
		}
	}
	if len(nc.Scopes) == 0 {
		nc.Scopes = AllScopes()
	}
	var scopes []string
	for _, s := range nc.Scopes {
		if !slices.Contains(AllScopes(), s) {
			return invalid("unknown scope %q (known: %s)", trunc(s), strings.Join(AllScopes(), " "))
		}
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	if !slices.Contains(scopes, ScopeOpenID) {
		scopes = append([]string{ScopeOpenID}, scopes...)
	}
	nc.Scopes = scopes
	if len(nc.Roles) > maxRoles {
		return invalid("at most %d roles", maxRoles)
	}
	for _, r := range nc.Roles {
		if !validRole(r) {
			return invalid("role %q: lowercase letters, digits, - and _ only", trunc(r))
		}
	}
	if nc.Public && nc.AllowNoPKCE {
		return invalid("a public client must use PKCE")
	}
	nc.RedirectURIs = slices.Compact(nc.RedirectURIs)
	return nil
}

func newSecret() (string, []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	s := base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(s))
	return s, h[:]
}

// Create registers a client and returns it with its secret ("" for a
// public client), which is never shown again.
func (cs *Clients) Create(ctx context.Context, nc NewClient) (Client, string, error) {
	if err := nc.check(); err != nil {
		return Client{}, "", err
	}
	idb := make([]byte, 16)
	_, _ = rand.Read(idb)
	c := db.OIDCClient{ID: hex.EncodeToString(idb), Name: nc.Name, RedirectURIs: nc.RedirectURIs, PostLogoutURIs: nc.PostLogoutURIs,
		Public: nc.Public, Scopes: nc.Scopes, Require2FA: nc.Require2FA, Roles: nc.Roles, SkipConsent: nc.SkipConsent,
		PKCEOptional: nc.AllowNoPKCE, CreatedAt: cs.now().UTC()}
	var secret string
	if !nc.Public {
		secret, c.SecretHash = newSecret()
	}
	if err := cs.repo.InsertClient(ctx, c); err != nil {
		return Client{}, "", err
	}
	return clientView(c), secret, nil
}

// List returns every client, oldest first.
func (cs *Clients) List(ctx context.Context) ([]Client, error) {
	all, err := cs.repo.Clients(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Client, len(all))
	for i, c := range all {
		out[i] = clientView(c)
	}
	return out, nil
}

func notFound(err error) error {
	if errors.Is(err, db.ErrOIDCNotFound) {
		return ErrClientNotFound
	}
	return err
}

// Get returns one client.
func (cs *Clients) Get(ctx context.Context, id string) (Client, error) {
	if id == "" || len(id) > maxClientIDLen {
		return Client{}, ErrClientNotFound
	}
	c, err := cs.repo.Client(ctx, id)
	if err != nil {
		return Client{}, notFound(err)
	}
	return clientView(c), nil
}

// RotateSecret gives a confidential client a new secret (returned once);
// the old one stops working at once.
func (cs *Clients) RotateSecret(ctx context.Context, id string) (string, error) {
	c, err := cs.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if c.Public {
		return "", ErrPublicClient
	}
	secret, h := newSecret()
	if err := cs.repo.SetClientSecret(ctx, id, h); err != nil {
		return "", notFound(err)
	}
	return secret, nil
}

// Disable disables a client: it can no longer sign anyone in, and every
// token it holds stops working.
func (cs *Clients) Disable(ctx context.Context, id string) error {
	if id == "" || len(id) > maxClientIDLen {
		return ErrClientNotFound
	}
	return notFound(cs.repo.DisableClient(ctx, id, cs.now()))
}

// Delete deletes a client with its tokens and consents.
func (cs *Clients) Delete(ctx context.Context, id string) error {
	if id == "" || len(id) > maxClientIDLen {
		return ErrClientNotFound
	}
	return notFound(cs.repo.DeleteClient(ctx, id))
}
