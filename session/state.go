package session

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxDataSize caps the encoded state of one session, both when it is saved
// and when it is decoded, so a stored record never makes the server do
// unbounded work.
const MaxDataSize = 64 << 10

const (
	maxUserAgent = 256
	maxIP        = 64
)

// state is what a session keeps in Record.Data, as compact JSON. Times are
// Unix seconds, except that the sign-in time also keeps its nanoseconds
// (AuthNs): an app compares it with a per-user cut-off ("sessions valid
// after"), and a session signed in a moment before a password change, in the
// same second, must not pass for one signed in just after it.
type state struct {
	Created  int64             `json:"c"`
	AuthAt   int64             `json:"a,omitempty"`
	AuthNs   int64             `json:"an,omitempty"`
	LastSeen int64             `json:"l"`
	IP       string            `json:"ip,omitempty"`
	UA       string            `json:"ua,omitempty"`
	Remember bool              `json:"r,omitempty"`
	Values   map[string]string `json:"v,omitempty"`
	Flashes  []string          `json:"f,omitempty"`
}

func (st *state) encode() ([]byte, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("session: encode: %w", err)
	}
	if len(b) > MaxDataSize {
		return nil, fmt.Errorf("%w: %d bytes encoded, limit %d", ErrTooLarge, len(b), MaxDataSize)
	}
	return b, nil
}

// decodeState parses stored session data. Oversized or malformed input is an
// error wrapping ErrInvalidData, never a panic.
func decodeState(b []byte) (state, error) {
	var st state
	if len(b) > MaxDataSize {
		return state{}, fmt.Errorf("%w: %d bytes", ErrInvalidData, len(b))
	}
	// Unknown fields are ignored: only Gatehouse writes this data (server
	// stores, or cookies sealed with our keys), and a newer instance may add
	// fields during a rolling upgrade; older ones must not sign its users
	// out. Unmarshal also refuses trailing data.
	if err := json.Unmarshal(b, &st); err != nil {
		return state{}, fmt.Errorf("%w: %v", ErrInvalidData, err)
	}
	if st.Created <= 0 || st.LastSeen <= 0 || st.AuthAt < 0 {
		return state{}, fmt.Errorf("%w: missing times", ErrInvalidData)
	}
	if st.AuthNs < 0 || st.AuthNs >= int64(time.Second) || (st.AuthNs != 0 && st.AuthAt == 0) {
		return state{}, fmt.Errorf("%w: bad sign-in time", ErrInvalidData)
	}
	return st, nil
}

// maxDecoded bounds the decodedStates cache.
const maxDecoded = 4096

// decodedStates remembers the states decoded from recent session data. A
// session's data changes only when the session does (at most once a minute
// for last-seen), so a signed-in visitor's pages decode the same bytes over
// and over; decoding is a pure function of them, so the exact bytes are the
// key. When full it starts over. It is safe for concurrent use.
type decodedStates struct {
	mu sync.RWMutex
	m  map[string]state
}

// decode is decodeState through the cache. Invalid data is not cached.
func (c *decodedStates) decode(b []byte) (state, error) {
	c.mu.RLock()
	st, ok := c.m[string(b)]
	c.mu.RUnlock()
	if ok {
		return st.clone(), nil
	}
	st, err := decodeState(b)
	if err != nil || len(b) > 1024 { // large states (many values) are rare: do not keep them
		return st, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxDecoded {
		c.m = make(map[string]state)
	}
	c.m[string(b)] = st.clone()
	c.mu.Unlock()
	return st, nil
}

// clone returns st with its own map and slice, so that a session may change
// them.
func (st state) clone() state {
	if st.Values != nil {
		st.Values = maps.Clone(st.Values)
	}
	if st.Flashes != nil {
		st.Flashes = slices.Clone(st.Flashes)
	}
	return st
}

func unix(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0)
}

// authTime is the sign-in time with its nanoseconds, or the zero time.
func (st *state) authTime() time.Time {
	if st.AuthAt == 0 {
		return time.Time{}
	}
	return time.Unix(st.AuthAt, st.AuthNs)
}

// bound truncates s to at most n bytes at a rune boundary, dropping invalid
// UTF-8 first.
func bound(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
