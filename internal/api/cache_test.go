package api

import (
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apitoken"
	"github.com/gatehouse/gatehouse/keyring"
)

func TestAPIVerifiedTokensCache(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	r1, r2 := keyring.Ephemeral(), keyring.Ephemeral()
	var c verifiedTokens
	claims := &apitoken.Claims{Subject: "1", ExpiresAt: now.Add(time.Minute)}
	if _, ok := c.get(r1, "tok", now); ok {
		t.Fatal("hit in an empty cache")
	}
	c.put(r1, "tok", claims)
	tests := []struct {
		name  string
		ring  *keyring.Ring
		token string
		at    time.Time
		hit   bool
	}{
		{"same token", r1, "tok", now, true},
		{"just before exp", r1, "tok", now.Add(time.Minute - time.Nanosecond), true},
		{"at exp", r1, "tok", now.Add(time.Minute), false},
		{"other token", r1, "tok2", now, false},
		{"prefix", r1, "to", now, false},
		{"other keys", r2, "tok", now, false},
	}
	for _, tc := range tests {
		got, ok := c.get(tc.ring, tc.token, tc.at)
		if ok != tc.hit || (ok && got != claims) {
			t.Errorf("%s: get = %v, %v; want hit %v", tc.name, got, ok, tc.hit)
		}
	}
	// New keys drop every entry, even for a later get with the old ring.
	c.put(r2, "other", claims)
	if _, ok := c.get(r1, "tok", now); ok {
		t.Error("an entry survived a key change")
	}
	// The cache never grows past its bound.
	for i := range maxVerifiedTokens + 10 {
		c.put(r2, strconv.Itoa(i), claims)
	}
	if n := len(c.entries); n > maxVerifiedTokens {
		t.Errorf("%d entries, bound %d", n, maxVerifiedTokens)
	}
}
