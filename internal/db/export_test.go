package db

import "context"

// PollCache runs one poll of the hot-row cache now, as its background
// poller does every cachePollEvery.
func (d *DB) PollCache(ctx context.Context) error {
	if d.cache == nil {
		return nil
	}
	return d.cache.poll(ctx, d.write)
}

// ForgetCache empties the hot-row cache, as a write does.
func (d *DB) ForgetCache() { d.cache.forgetAll() }
