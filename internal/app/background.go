package app

import (
	"context"

	"github.com/gatehouse/gatehouse/ratelimit"
	"github.com/gatehouse/gatehouse/ratelimit/redislimit"
)

// startBackground starts the background loops of optional capabilities.
func (d *deps) startBackground(run func(name string, f func(context.Context) error)) {
	d.startMailWorker(run)
}

// newLimiters returns the rate limit and backoff backends: in memory for one
// instance, in Redis when instances share one (REDIS_URL).
func (d *deps) newLimiters() (ratelimit.Backend, ratelimit.Backoff) {
	if d.redis != nil {
		return redislimit.New(d.redis), redislimit.NewBackoff(d.redis)
	}
	return ratelimit.NewMemory(), ratelimit.NewMemoryBackoff()
}
