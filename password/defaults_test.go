package password

import (
	"context"
	"encoding/json"
	"os"
	"testing"
)

// TestDefaultWorkFactors: a hash at the default work factor of each
// library's current release (testdata/gen_defaults.py: Django 6.1,
// argon2-cffi, Werkzeug 3, bcrypt cost 14) passes DefaultLimits and, with
// a default Pool, verifies and asks to be rehashed (legacy_test.go checks wrong
// passwords at lower cost). The verification runs
// outside -short and -race (it takes seconds there); the limits are always
// checked.
func TestDefaultWorkFactors(t *testing.T) {
	data, err := os.ReadFile("testdata/defaults.json")
	if err != nil {
		t.Fatal(err)
	}
	var fs []fixture
	if err := json.Unmarshal(data, &fs); err != nil || len(fs) == 0 {
		t.Fatalf("defaults.json: %d fixtures, %v", len(fs), err)
	}
	h := mustHasher(t)
	pool := NewPool(h, WithWorkers(2))
	for _, f := range fs {
		t.Run(f.Lib, func(t *testing.T) {
			got, err := h.Identify(f.Hash)
			if err != nil || got != f.Format {
				t.Fatalf("Identify(%s) = %q, %v; want %q", f.Hash, got, err, f.Format)
			}
			ph, _ := h.parse(f.Hash)
			if m := ph.memoryBytes(); m > pool.MemoryBudget() {
				t.Fatalf("needs %d bytes, over the default budget %d", m, pool.MemoryBudget())
			}
			if testing.Short() || raceEnabled {
				return
			}
			rehash, err := pool.Verify(context.Background(), f.Password, f.Hash)
			if err != nil || !rehash {
				t.Fatalf("Verify(right) = %v, %v; want true, nil", rehash, err)
			}
		})
	}
}
