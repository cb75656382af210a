package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
	jose "github.com/go-jose/go-jose/v4"
)

// Issue 15 item 6: rotation has no window. Two instances share a keys file
// and encrypted cookie sessions (the session itself is sealed by the keys)
// and re-read the file every 2s, out of phase; `keys rotate` stages the new
// key for two reload intervals. While it is staged and after it
// starts sealing, a signed-in user alternating between A and B re-seals
// the session cookie on one instance ("sign out other sessions") and loads
// pages and posts a CSRF token from it on the other, and an access token
// from it verifies with the other's JWKS: nothing is ever refused, until
// both instances seal with the new key.
func TestScaleRotateNoRefusal(t *testing.T) {
	const reload = 2 * time.Second // slow enough that an unstaged key is refused
	a, b := startPair(t, "--database-url", testenv.PostgresSchemaURL(t), "--session-store", "cookie", "--keys-reload="+reload.String())
	email := scaleEmail(t, "rotate")
	a.mustCLI(goodPassword+"\n", "user", "create", "--email", email, "--verified")
	user := a.browser()
	user.signIn(email, goodPassword)
	old := currentKey(t, a)

	out := a.mustCLI("", "keys", "rotate")
	m := newKeyLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys rotate said %q", out)
	}
	fresh := m[1]
	sealedNew := map[*testServer]bool{}
	within := 2*reload + reloadWithin
	deadline := time.Now().Add(within)
	for i := 0; !sealedNew[a] || !sealedNew[b]; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("the instances did not both seal with the new key %s (old %s) within %v", fresh, old, within)
		}
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		// The session cookie, re-sealed by from's current key...
		x := user.on(from)
		x.submit("/account/sessions", "/account/sessions/revoke-others").redirect(t, "/account/sessions")
		sealedNew[from] = sealedNew[from] || cookieKeyID(t, x.session()) == fresh
		// ...opens on to, with a CSRF token signed on from...
		tok := x.token("/account/sessions")
		y := x.on(to)
		y.wantSignedIn(t, email)
		if st := y.post("/account/sessions/revoke-others", url.Values{"csrf_token": {tok}}).StatusCode; st != http.StatusSeeOther {
			t.Fatalf("step %d: %s refused a CSRF token signed on the other instance: %d", i, to.URL, st)
		}
		// ...and an access token issued by from verifies with to's
		// published keys (instances have their own BASE_URL here, so
		// to's /api/v1/me would refuse it for its issuer, not its key).
		access := apiMustTokens(t, from, email, goodPassword).AccessToken
		var set jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(apiCall(t, to, http.MethodGet, "/.well-known/jwks.json", "").want(t, http.StatusOK).body), &set); err != nil {
			t.Fatal(err)
		}
		if kid := tokenKid(t, access); len(set.Key(kid)) != 1 {
			t.Fatalf("step %d: an access token of key %s is not verifiable with %s's keys", i, kid, to.URL)
		}
		user = y
	}
}
