package redislimit_test

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/ratelimit/redislimit"
	"github.com/redis/go-redis/v9"
)

// Sharing limits between several application servers. Not run: it needs
// a Redis server.
func Example() {
	opt, err := redis.ParseURL("redis://127.0.0.1:6379/0") // REDIS_URL
	if err != nil {
		panic(err)
	}
	client := redis.NewClient(opt)
	defer client.Close()

	limiter := redislimit.New(client, redislimit.WithPrefix("gatehouse:rl:"))
	backoff := redislimit.NewBackoff(client, redislimit.WithPrefix("gatehouse:bo:"))

	ctx := context.Background()
	res, err := limiter.Allow(ctx, "login:ip:192.0.2.1", ratelimit.PerMinute(10))
	if err != nil {
		// fail closed: answer 503
	}
	fmt.Println(res.Allowed, res.Remaining)

	st, err := backoff.Check(ctx, "login:acct:ada@example.com", ratelimit.DefaultBackoff())
	if err == nil && st.Locked {
		// answer 429 with Retry-After: ratelimit.RetryAfterSeconds(st.RetryAfter)
	}
}
