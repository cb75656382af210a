package session

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func FuzzParseToken(f *testing.F) {
	tok, _ := newToken()
	for _, s := range []string{tok, "", strings.Repeat("A", TokenLen), strings.Repeat("_", TokenLen), tok[:42] + "=", tok + tok} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		id, ok := parseToken(v)
		if !ok {
			if id != "" {
				t.Fatal("id for a rejected token")
			}
			return
		}
		if len(v) != TokenLen || !ValidHandle(id) {
			t.Fatalf("accepted %q giving handle %q", v, id)
		}
	})
}

func FuzzDecodeState(f *testing.F) {
	st := state{Created: 1, LastSeen: 2, AuthAt: 1, AuthNs: 999, IP: "192.0.2.1", UA: "ua", Remember: true,
		Values: map[string]string{"k": "v"}, Flashes: []string{"hi"}}
	b, _ := st.encode()
	for _, s := range [][]byte{b, nil, []byte("{}"), []byte(`{"c":1,"l":1}`), []byte(`{"c":1,"l":1}{}`), []byte(`{"c":1,"l":1,"x":2}`), []byte(`[`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeState(data)
		if err != nil {
			return
		}
		b, err := st.encode()
		if err != nil {
			return // re-encoding may grow (escapes) past the limit
		}
		if _, err := decodeState(b); err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
	})
}

func TestDecodeStateRejects(t *testing.T) {
	cases := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"not json", "\x00\x01"},
		{"no times", "{}"},
		{"negative auth", `{"c":1,"l":1,"a":-1}`},
		{"auth ns without auth", `{"c":1,"l":1,"an":5}`},
		{"negative auth ns", `{"c":1,"l":1,"a":1,"an":-1}`},
		{"auth ns of a second", `{"c":1,"l":1,"a":1,"an":1000000000}`},
		{"trailing", `{"c":1,"l":1} {}`},
		{"wrong type", `{"c":"1","l":1}`},
		{"too large", `{"c":1,"l":1,"ua":"` + strings.Repeat("a", MaxDataSize) + `"}`},
	}
	for _, c := range cases {
		if _, err := decodeState([]byte(c.in)); err == nil {
			t.Errorf("%s: decoded", c.name)
		}
	}
}

func TestValidHandle(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{strings.Repeat("a", 64), true},
		{strings.Repeat("0", 64), true},
		{strings.Repeat("A", 64), false},
		{strings.Repeat("a", 63), false},
		{strings.Repeat("g", 64), false},
		{"", false},
	}
	for _, c := range cases {
		if got := ValidHandle(c.in); got != c.want {
			t.Errorf("ValidHandle(%q) = %v", c.in, got)
		}
	}
}

func TestBound(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"aü", 2, "a"},
		{"a\xffb", 5, "ab"},
	}
	for _, c := range cases {
		if got := bound(c.in, c.n); got != c.want {
			t.Errorf("bound(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

// TestDecodeStateToleratesNewFields: a session written by a newer instance
// (during a rolling upgrade) is still read by an older one.
func TestDecodeStateToleratesNewFields(t *testing.T) {
	st, err := decodeState([]byte(`{"c":1,"l":2,"a":1,"future":{"x":[1,2]},"v":{"k":"v"}}`))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if st.Created != 1 || st.LastSeen != 2 || st.Values["k"] != "v" {
		t.Fatalf("decoded %+v", st)
	}
}

// The cache answers what decodeState answers, and every answer is the
// caller's own: changing one session's values never reaches another.
func TestDecodedStatesCache(t *testing.T) {
	var c decodedStates
	data := []byte(`{"c":1,"l":2,"v":{"k":"v"},"f":["info:hi"]}`)
	for i := 0; i < 3; i++ {
		st, err := c.decode(data)
		want, _ := decodeState(data)
		if err != nil || !reflect.DeepEqual(st, want) {
			t.Fatalf("decode #%d = %+v, %v; want %+v", i, st, err, want)
		}
		st.Values["k"] = "changed"
		st.Flashes[0] = "changed"
	}
	if _, err := c.decode([]byte(`{"c":0}`)); err == nil {
		t.Fatal("invalid data decoded")
	}
	if len(c.m) != 1 {
		t.Fatalf("cache holds %d states, want 1 (invalid data is not kept)", len(c.m))
	}
	for i := 0; i < maxDecoded+1; i++ {
		_, _ = c.decode([]byte(fmt.Sprintf(`{"c":%d,"l":1}`, i+1)))
	}
	if len(c.m) > maxDecoded {
		t.Fatalf("cache holds %d states, limit %d", len(c.m), maxDecoded)
	}
}
