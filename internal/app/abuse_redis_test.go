package app

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/gatehouse/gatehouse/internal/guard"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/ratelimit/redislimit"
	"github.com/redis/go-redis/v9"
)

// With REDIS_URL, instances share the limits and the backoff: attempts
// spread over two servers count once. The keys of this test are unique to
// it (a random address and client IP), since the limiters' key prefix is
// fixed and the Redis is shared with other tests.
func TestAbuseSharedAcrossInstances(t *testing.T) {
	url := testenv.RedisURL(t)
	args := []string{"--redis-url", url, "--trusted-proxies=127.0.0.1", "--register-limit=2/hour"}
	a, b := startServer(t, args...), startServer(t, args...)
	servers := []*testServer{a, b}
	email := "shared-" + testenv.RandomHex(t, 6) + "@example.com"
	for _, ts := range servers { // each instance has its own database here
		ts.mustCLI(goodPassword+"\n", "user", "create", "--email", email, "--verified")
	}
	x, _ := strconv.ParseUint(testenv.RandomHex(t, 2), 16, 16)
	net := fmt.Sprintf("10.%d.%d", x>>8, x&0xff) // a /24 of this run, for the clients below

	// A failure on one instance, then the right password on the other: the
	// rate limiter and the backoff store keep different kinds of values
	// for the account, and must not collide in Redis.
	a.attempt(ipN(net, 1), email, "wrong password here").want(t, 401)
	b.from(ipN(net, 1)).signIn(email, goodPassword)

	// One client alternating between the instances has five attempts for
	// the account in all, not five on each.
	for i := range 5 {
		servers[i%2].attempt(ipN(net, 2), email, "wrong password here").want(t, 401)
	}
	a.attempt(ipN(net, 2), email, goodPassword).want(t, 429)
	b.attempt(ipN(net, 2), email, goodPassword).want(t, 429)

	// The failures since the success are counted once, in Redis, under
	// the backoff's own prefix.
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	st, err := redislimit.NewBackoff(rc, redislimit.WithPrefix(guard.RedisBackoffPrefix)).Check(context.Background(), guard.LoginKey(email), ratelimit.DefaultBackoff())
	if err != nil || st.Failures != 5 {
		t.Fatalf("shared backoff: %+v, %v; want 5 failures", st, err)
	}

	// Registration per IP: two in all.
	a.from(ipN(net, 3)).register("r1-"+email, goodPassword)
	b.from(ipN(net, 3)).register("r2-"+email, goodPassword)
	a.from(ipN(net, 3)).submit("/register", "/register", "email", "r3-"+email, "password", goodPassword).want(t, 429)
	b.from(ipN(net, 3)).submit("/register", "/register", "email", "r4-"+email, "password", goodPassword).want(t, 429)
}
