package ratelimit_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/ratelimit"
)

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in      string
		want    ratelimit.Limit
		wantErr string // substring of the error; "" for success
	}{
		{"5/min", ratelimit.Limit{Rate: 5, Period: time.Minute}, ""},
		{"10/s", ratelimit.Limit{Rate: 10, Period: time.Second}, ""},
		{"100/hour", ratelimit.Limit{Rate: 100, Period: time.Hour}, ""},
		{"200/day", ratelimit.Limit{Rate: 200, Period: 24 * time.Hour}, ""},
		{" 3 / 15min ", ratelimit.Limit{Rate: 3, Period: 15 * time.Minute}, ""},
		{"5/min burst 10", ratelimit.Limit{Rate: 5, Period: time.Minute, Burst: 10}, ""},
		{"5/min:10", ratelimit.Limit{Rate: 5, Period: time.Minute, Burst: 10}, ""},
		{"5/MIN:1", ratelimit.Limit{Rate: 5, Period: time.Minute, Burst: 1}, ""},
		{"1000000/s", ratelimit.Limit{Rate: 1_000_000, Period: time.Second}, ""},
		{"1/366d", ratelimit.Limit{Rate: 1, Period: 366 * 24 * time.Hour}, ""},
		{"", ratelimit.Limit{}, "empty"},
		{"5", ratelimit.Limit{}, "RATE/PERIOD"},
		{"0/min", ratelimit.Limit{}, "rate must be at least 1"},
		{"-5/min", ratelimit.Limit{}, "not a whole number"},
		{"five/min", ratelimit.Limit{}, "not a whole number"},
		{"1.5/s", ratelimit.Limit{}, "not a whole number"},
		{"5/fortnight", ratelimit.Limit{}, "unknown period unit"},
		{"5/", ratelimit.Limit{}, "unknown period unit"},
		{"/min", ratelimit.Limit{}, "missing rate"},
		{"1000001/s", ratelimit.Limit{}, "above 1000000 per second"},
		{"99999999999/s", ratelimit.Limit{}, "too large"},
		{"1/367d", ratelimit.Limit{}, "longer than a year"},
		{"1/9999999999day", ratelimit.Limit{}, "longer than a year"},
		{"1/0s", ratelimit.Limit{}, "at least 1"},
		{"5/min burst 0", ratelimit.Limit{}, "burst must be at least 1"},
		{"5/min burst -1", ratelimit.Limit{}, "not a whole number"},
		{"5/min burst", ratelimit.Limit{}, "unknown period unit"},
		{"5/min:", ratelimit.Limit{}, "missing burst"},
		{"5/min:2000000", ratelimit.Limit{}, "burst 2000000 is above"},
		{"1/day burst 1000", ratelimit.Limit{}, "longer than a year"},
		{"5/min:1:2", ratelimit.Limit{}, "not a whole number"},
		{strings.Repeat("9", 100) + "/s", ratelimit.Limit{}, "too long"},
	}
	for _, tt := range tests {
		got, err := ratelimit.ParseLimit(tt.in)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseLimit(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, ratelimit.ErrInvalidLimit) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseLimit(%q) error = %v; want ErrInvalidLimit mentioning %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestLimitString(t *testing.T) {
	tests := []struct {
		l    ratelimit.Limit
		want string
	}{
		{ratelimit.PerMinute(5), "5/min"},
		{ratelimit.PerSecond(10), "10/s"},
		{ratelimit.PerHour(100).WithBurst(10), "100/hour burst 10"},
		{ratelimit.PerDay(200), "200/day"},
		{ratelimit.Limit{Rate: 3, Period: 15 * time.Minute}, "3/15min"},
		{ratelimit.Limit{Rate: 3, Period: 1500 * time.Millisecond}, "3/1.5s"},
	}
	for _, tt := range tests {
		if got := tt.l.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.l, got, tt.want)
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	p := ratelimit.BackoffPolicy{Free: 3, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour}
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{0, 0}, {3, 0}, {4, time.Second}, {5, 2 * time.Second}, {6, 4 * time.Second},
		{13, 512 * time.Second}, {14, 15 * time.Minute}, {100, 15 * time.Minute}, {1 << 40, 15 * time.Minute}, {-5, 0},
	}
	for _, tt := range tests {
		if got := p.Delay(tt.failures); got != tt.want {
			t.Errorf("Delay(%d) = %v, want %v", tt.failures, got, tt.want)
		}
	}
	if err := ratelimit.DefaultBackoff().Validate(); err != nil {
		t.Errorf("DefaultBackoff: %v", err)
	}
}

// FuzzParseLimit checks that any text either parses into a valid limit
// that prints back to the same limit, or fails with ErrInvalidLimit.
func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"5/min", "10/s", "100/hour", "200/day", "5/min burst 10", "5/min:10", "3/15min", "1000001/s", "1/366d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ratelimit.ParseLimit(s)
		if err != nil {
			if !errors.Is(err, ratelimit.ErrInvalidLimit) {
				t.Fatalf("ParseLimit(%q): error %v does not wrap ErrInvalidLimit", s, err)
			}
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("ParseLimit(%q) = %+v, which is invalid: %v", s, l, err)
		}
		back, err := ratelimit.ParseLimit(l.String())
		if err != nil || back.Rate != l.Rate || back.Period != l.Period || back.BurstSize() != l.BurstSize() {
			t.Fatalf("ParseLimit(%q) = %+v prints as %q, which parses as %+v, %v", s, l, l.String(), back, err)
		}
	})
}
