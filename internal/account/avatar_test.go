package account

import (
	"strings"
	"testing"
)

func TestAvatarID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewAvatarID()
		if len(id) != AvatarIDLen || !ValidAvatarID(id) {
			t.Fatalf("NewAvatarID() = %q: length %d, valid %v", id, len(id), ValidAvatarID(id))
		}
		if seen[id] {
			t.Fatalf("NewAvatarID repeated %q", id)
		}
		seen[id] = true
	}
	good := NewAvatarID()
	tests := []struct {
		id   string
		want bool
	}{
		{good, true},
		{"AAAAAAAAAAAAAAAAAAAAAA", true},
		{"", false},
		{good[:21], false},
		{good + "A", false},
		{"AAAAAAAAAAAAAAAAAAAAA=", false},   // padding
		{"AAAAAAAAAAAAAAAAAAAAAB", false},   // non-canonical last character
		{"AAAAAAAAAAAAAAAAAAAA+A", false},   // standard, not URL, alphabet
		{"AAAAAAAAAAAAAAAAAAA/AA", false},   // a path separator
		{"../../../../etc/passwd", false},   // 22 characters of traversal
		{"AAAAAAAAAAAAAAAAAAAA\r\n", false}, // CR/LF
		{strings.Repeat("é", 11), false},
	}
	for _, tc := range tests {
		if got := ValidAvatarID(tc.id); got != tc.want {
			t.Errorf("ValidAvatarID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}
