package api

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/apitoken"
	"github.com/gatehouse/gatehouse/keyring"
)

// maxVerifiedTokens bounds the cache of verified access tokens.
const maxVerifiedTokens = 4096

// verifiedTokens remembers access tokens that passed verification, so that a
// client calling the API many times with one token costs one signature check,
// not one per request. Only the exact token string that verified is a hit;
// an entry lives until the token's exp (without the verifier's leeway, so
// never longer than a fresh check would allow), and the whole cache is
// dropped when the keys change, so a retired key's tokens are refused at
// once. Checks that depend on the user (disabled, cut-off) are not cached:
// they run on every request. It is safe for concurrent use.
type verifiedTokens struct {
	mu      sync.RWMutex
	ring    *keyring.Ring // the key snapshot the entries were verified under
	entries map[string]*apitoken.Claims
}

func (c *verifiedTokens) get(ring *keyring.Ring, token string, now time.Time) (*apitoken.Claims, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ring != ring {
		return nil, false
	}
	claims, ok := c.entries[token]
	if !ok || !now.Before(claims.ExpiresAt) {
		return nil, false
	}
	return claims, true
}

func (c *verifiedTokens) put(ring *keyring.Ring, token string, claims *apitoken.Claims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ring != ring || len(c.entries) >= maxVerifiedTokens {
		// New keys, or full: start over. Only valid tokens get here,
		// and valid tokens cost a sign-in each, so refilling is cheap.
		c.ring, c.entries = ring, make(map[string]*apitoken.Claims)
	}
	c.entries[token] = claims
}

// verify checks an access token with the verifier, or finds it among the
// tokens already verified under the current keys. The claims returned are
// shared: callers must not modify them.
func (a *Feature) verify(ctx context.Context, token string) (*apitoken.Claims, error) {
	ring := a.keysrc.Ring()
	if claims, ok := a.verified.get(ring, token, a.now()); ok {
		return claims, nil
	}
	claims, err := a.verifier.VerifyContext(ctx, token)
	if err != nil {
		return nil, err
	}
	a.verified.put(ring, token, claims)
	return claims, nil
}
