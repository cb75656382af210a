package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Bounds on a Limit. A Limit outside them is refused by Validate and by
// ParseLimit, so that a typo or a hostile configuration value makes the
// application refuse to start instead of running without protection.
const (
	// MaxRatePerSecond is the highest rate accepted: one event per
	// microsecond.
	MaxRatePerSecond = 1_000_000
	// MaxPeriod is the longest period (and the longest window, burst ×
	// interval) accepted.
	MaxPeriod = 366 * 24 * time.Hour
	// MaxBurst is the largest burst accepted.
	MaxBurst = 1_000_000
	// maxLimitString bounds the text ParseLimit reads.
	maxLimitString = 64
)

// ErrInvalidLimit is wrapped by every error from ParseLimit and
// Limit.Validate.
var ErrInvalidLimit = errors.New("ratelimit: invalid limit")

// A Limit allows Rate events per Period on average, with bursts of up to
// Burst events at once. A zero Burst means Burst = Rate.
//
// Internally a Limit is a GCRA emission interval (Period / Rate) and a
// delay tolerance (Burst × interval): a fresh key may spend Burst events at
// once, and then earns one more event every interval.
type Limit struct {
	Rate   int           // events per Period, at least 1
	Period time.Duration // at least 1µs × Rate, at most MaxPeriod
	Burst  int           // events allowed at once; 0 means Rate
}

// PerSecond returns a Limit of n events per second with a burst of n.
func PerSecond(n int) Limit { return Limit{Rate: n, Period: time.Second} }

// PerMinute returns a Limit of n events per minute with a burst of n.
func PerMinute(n int) Limit { return Limit{Rate: n, Period: time.Minute} }

// PerHour returns a Limit of n events per hour with a burst of n.
func PerHour(n int) Limit { return Limit{Rate: n, Period: time.Hour} }

// PerDay returns a Limit of n events per day with a burst of n.
func PerDay(n int) Limit { return Limit{Rate: n, Period: 24 * time.Hour} }

// WithBurst returns a copy of l with the given burst.
func (l Limit) WithBurst(burst int) Limit { l.Burst = burst; return l }

// BurstSize returns the effective burst: Burst, or Rate when Burst is 0.
func (l Limit) BurstSize() int {
	if l.Burst == 0 {
		return l.Rate
	}
	return l.Burst
}

// Interval returns the GCRA emission interval, Period / Rate: the time it
// takes to earn back one event.
func (l Limit) Interval() time.Duration {
	if l.Rate <= 0 {
		return 0
	}
	return l.Period / time.Duration(l.Rate)
}

// Window returns the time a fully spent key takes to become fresh again:
// BurstSize × Interval.
func (l Limit) Window() time.Duration {
	return time.Duration(l.BurstSize()) * l.Interval()
}

// Validate reports, with an error wrapping ErrInvalidLimit, why l is not a
// usable limit.
func (l Limit) Validate() error {
	_, _, err := l.params()
	return err
}

// params validates l and returns its interval and burst, with a single
// division on the fast path.
func (l Limit) params() (interval time.Duration, burst int, err error) {
	if l.Rate <= 0 || l.Period <= 0 || l.Period > MaxPeriod || l.Burst < 0 || l.Burst > MaxBurst {
		return 0, 0, l.invalid()
	}
	interval, burst = l.Period/time.Duration(l.Rate), l.Burst
	if burst == 0 {
		burst = l.Rate
	}
	if interval < time.Second/MaxRatePerSecond || burst > MaxBurst || time.Duration(burst) > MaxPeriod/interval {
		return 0, 0, l.invalid()
	}
	return interval, burst, nil
}

// invalid explains why l is not valid.
func (l Limit) invalid() error {
	switch {
	case l.Rate <= 0:
		return fmt.Errorf("%w: rate %d must be at least 1", ErrInvalidLimit, l.Rate)
	case l.Period <= 0:
		return fmt.Errorf("%w: period %v must be positive", ErrInvalidLimit, l.Period)
	case l.Period > MaxPeriod:
		return fmt.Errorf("%w: period %v is longer than a year", ErrInvalidLimit, l.Period)
	case l.Interval() < time.Second/MaxRatePerSecond:
		return fmt.Errorf("%w: rate %d per %v is above %d per second", ErrInvalidLimit, l.Rate, l.Period, MaxRatePerSecond)
	case l.Burst < 0:
		return fmt.Errorf("%w: burst %d must not be negative", ErrInvalidLimit, l.Burst)
	case l.BurstSize() > MaxBurst:
		return fmt.Errorf("%w: burst %d is above %d", ErrInvalidLimit, l.BurstSize(), MaxBurst)
	}
	return fmt.Errorf("%w: burst %d × interval %v is longer than a year", ErrInvalidLimit, l.BurstSize(), l.Interval())
}

// String returns l in the syntax ParseLimit reads, such as "5/min" or
// "10/s burst 20".
func (l Limit) String() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(l.Rate))
	b.WriteByte('/')
	b.WriteString(periodString(l.Period))
	if l.Burst != 0 && l.Burst != l.Rate {
		b.WriteString(" burst ")
		b.WriteString(strconv.Itoa(l.Burst))
	}
	return b.String()
}

func periodString(p time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "min"}, {time.Second, "s"}} {
		if p >= u.d && p%u.d == 0 {
			if p == u.d {
				return u.name
			}
			return strconv.FormatInt(int64(p/u.d), 10) + u.name
		}
	}
	return p.String()
}

var units = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
}

// ParseLimit reads a limit written as RATE/PERIOD with an optional burst:
//
//	5/min              5 per minute, burst 5
//	10/s               10 per second
//	100/hour  200/day  per hour, per day
//	20/15min           20 per 15 minutes (a count before the unit)
//	5/min burst 10     5 per minute, up to 10 at once
//	5/min:10           the same, short form
//
// Units: s, sec, second(s); m, min, minute(s); h, hr, hour(s); d, day(s).
// Numbers are decimal integers. The text is at most 64 bytes; anything
// else, and any limit that Validate refuses (zero, negative, above 1e6
// events per second, a period or window longer than a year, a burst above
// 1e6), is an error wrapping ErrInvalidLimit that names the problem.
func ParseLimit(s string) (Limit, error) {
	if len(s) > maxLimitString {
		return Limit{}, fmt.Errorf("%w: %d bytes is too long (at most %d)", ErrInvalidLimit, len(s), maxLimitString)
	}
	text := strings.TrimSpace(s)
	if text == "" {
		return Limit{}, fmt.Errorf("%w: empty", ErrInvalidLimit)
	}
	spec, burstText, hasBurst := strings.Cut(text, ":")
	if !hasBurst {
		if i := strings.Index(spec, " burst "); i >= 0 {
			spec, burstText, hasBurst = spec[:i], spec[i+len(" burst "):], true
		}
	}
	rateText, periodText, ok := strings.Cut(strings.TrimSpace(spec), "/")
	if !ok {
		return Limit{}, fmt.Errorf("%w: %q is not RATE/PERIOD (such as 5/min)", ErrInvalidLimit, s)
	}
	var l Limit
	var err error
	if l.Rate, err = parseCount("rate", strings.TrimSpace(rateText)); err != nil {
		return Limit{}, err
	}
	if l.Period, err = parsePeriod(strings.TrimSpace(periodText)); err != nil {
		return Limit{}, err
	}
	if hasBurst {
		if l.Burst, err = parseCount("burst", strings.TrimSpace(burstText)); err != nil {
			return Limit{}, err
		}
	}
	if err := l.Validate(); err != nil {
		return Limit{}, err
	}
	return l, nil
}

// parseCount reads a positive decimal integer of at most 10 digits.
func parseCount(what, s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: missing %s", ErrInvalidLimit, what)
	}
	if len(s) > 10 {
		return 0, fmt.Errorf("%w: %s %q is too large", ErrInvalidLimit, what, s)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %s %q is not a whole number", ErrInvalidLimit, what, s)
		}
		n = n*10 + int(c-'0')
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: %s must be at least 1", ErrInvalidLimit, what)
	}
	return n, nil
}

// parsePeriod reads [COUNT]UNIT, such as "min" or "15min".
func parsePeriod(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	count := 1
	if i > 0 {
		var err error
		if count, err = parseCount("period count", s[:i]); err != nil {
			return 0, err
		}
	}
	unit, ok := units[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, fmt.Errorf("%w: unknown period unit %q (use s, min, hour or day)", ErrInvalidLimit, s[i:])
	}
	if int64(count) > int64(MaxPeriod/unit) {
		return 0, fmt.Errorf("%w: period %q is longer than a year", ErrInvalidLimit, s)
	}
	return time.Duration(count) * unit, nil
}
