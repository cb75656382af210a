package activity

import (
	"testing"
	"time"
)

func TestAuditTimes(t *testing.T) {
	day := time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in       string
		endOfDay bool
		want     time.Time
		bad      bool
	}{
		{"", false, time.Time{}, false},
		{"2025-01-31", false, day, false},
		{"2025-01-31", true, day.AddDate(0, 0, 1), false},
		{"2025-01-31T14:30", true, day.Add(14*time.Hour + 30*time.Minute), false},
		{"2025-01-31T14:30:05", false, day.Add(14*time.Hour + 30*time.Minute + 5*time.Second), false},
		{"2025-01-31T14:30:00+02:00", false, day.Add(12*time.Hour + 30*time.Minute), false},
		{"2025-01-31T14:30:00.9Z", false, day.Add(14*time.Hour + 30*time.Minute), false},
		{"2025-02-30", false, time.Time{}, true},
		{"31/01/2025", false, time.Time{}, true},
		{"0000-01-01T00:00:00Z", false, time.Time{}, true},
		{"9999-12-31T23:59", false, time.Time{}, true},
		{"2025-01-31T25:00", false, time.Time{}, true},
		{"\x00", false, time.Time{}, true},
	} {
		got, err := parseAuditTime(tt.in, tt.endOfDay)
		if (err != nil) != tt.bad || !got.Equal(tt.want) {
			t.Errorf("parseAuditTime(%q, %v) = %v, %v", tt.in, tt.endOfDay, got, err)
		}
	}
}

func FuzzAuditTime(f *testing.F) {
	for _, s := range []string{"2025-01-31", "2025-01-31T14:30", "2025-01-31T14:30:00Z", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, end := range []bool{false, true} {
			got, err := parseAuditTime(s, end)
			if err == nil && s != "" && (got.Year() < 1 || got.Year() > 9999 || got.Location() != time.UTC) {
				t.Fatalf("parseAuditTime(%q) = %v", s, got)
			}
		}
	})
}

func TestEventNames(t *testing.T) {
	for in, want := range map[string]bool{"login.failure": true, "2fa.recovery_codes": true, "a-b": true, "": false,
		"Login": false, "login failure": false, "<x>": false, "é": false} {
		if got := validEventName(in); got != want {
			t.Errorf("validEventName(%q) = %v", in, got)
		}
	}
}
