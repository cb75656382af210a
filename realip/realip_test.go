package realip_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/realip"
)

func mustParseTrusted(t testing.TB, s string) []netip.Prefix {
	t.Helper()
	p, err := realip.ParseTrusted(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseTrusted(t *testing.T) {
	tests := []struct {
		in   string
		want string // prefixes joined by " ", or "error"
	}{
		{"", ""},
		{"   ", ""},
		{"10.0.0.0/8, 192.168.1.1, ::1/128", "10.0.0.0/8 192.168.1.1/32 ::1/128"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"fd00::/8 2001:db8::1", "fd00::/8 2001:db8::1/128"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"::ffff:10.0.0.1", "10.0.0.1/32"},
		{"10.0.0.0/8,,\t127.0.0.1\n", "10.0.0.0/8 127.0.0.1/32"},
		{"10.0.0.0/33", "error"},
		{"10.0.0.0/-1", "error"},
		{"localhost", "error"},
		{"fe80::1%eth0", "error"},
		{"10.0.0.256", "error"},
		{"10.0.0.0/8/8", "error"},
		{"1.2.3.4:80", "error"},
		{strings.Repeat("10.0.0.1,", 2000), "error"},
	}
	for _, tt := range tests {
		got, err := realip.ParseTrusted(tt.in)
		if tt.want == "error" {
			if !errors.Is(err, realip.ErrInvalidTrusted) {
				t.Errorf("ParseTrusted(%.30q) = %v, %v; want ErrInvalidTrusted", tt.in, got, err)
			}
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if err != nil || strings.Join(s, " ") != tt.want {
			t.Errorf("ParseTrusted(%q) = %v, %v; want %s", tt.in, s, err, tt.want)
		}
	}
	if _, err := realip.ParseTrusted("10.0.0.0/8, bogus"); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("error does not name the entry: %v", err)
	}
}

func TestClientIP(t *testing.T) {
	r := realip.New(mustParseTrusted(t, "10.0.0.0/8, 192.168.1.1, ::1, fd00::/8"))
	none := realip.New(nil)
	tests := []struct {
		name   string
		res    *realip.Resolver
		remote string
		xff    []string // nil: no header
		want   string   // "" for the zero Addr
	}{
		{"direct client", r, "203.0.113.5:1234", nil, "203.0.113.5"},
		{"spoof from untrusted peer", r, "203.0.113.5:1234", []string{"1.1.1.1"}, "203.0.113.5"},
		{"spoof trusted addr from untrusted peer", r, "203.0.113.5:1234", []string{"10.0.0.1"}, "203.0.113.5"},
		{"no trusted proxies", none, "10.0.0.1:1", []string{"1.1.1.1"}, "10.0.0.1"},
		{"one proxy", r, "10.0.0.1:1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"client spoof left of proxy entry", r, "10.0.0.1:1", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"chain of proxies", r, "10.0.0.1:1", []string{"198.51.100.7, 192.168.1.1, 10.2.3.4"}, "198.51.100.7"},
		{"spoofed trusted entry left of client", r, "10.0.0.1:1", []string{"10.9.9.9, 198.51.100.7, 10.2.3.4"}, "198.51.100.7"},
		{"all trusted: leftmost", r, "10.0.0.1:1", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"trusted peer, no header", r, "10.0.0.1:1", nil, "10.0.0.1"},
		{"trusted peer, empty header", r, "10.0.0.1:1", []string{""}, "10.0.0.1"},
		{"multiple headers combined in order", r, "10.0.0.1:1", []string{"6.6.6.6, 198.51.100.7", "10.0.0.9"}, "198.51.100.7"},
		{"multiple headers, client in last", r, "10.0.0.1:1", []string{"6.6.6.6", "198.51.100.7"}, "198.51.100.7"},
		{"malformed entry stops at last trusted", r, "10.0.0.1:1", []string{"198.51.100.7, garbage, 10.0.0.2"}, "10.0.0.2"},
		{"unknown", r, "10.0.0.1:1", []string{"unknown"}, "10.0.0.1"},
		{"malformed left of client ignored", r, "10.0.0.1:1", []string{"garbage, 198.51.100.7"}, "198.51.100.7"},
		{"empty entries skipped", r, "10.0.0.1:1", []string{"198.51.100.7,, ,"}, "198.51.100.7"},
		{"port in entry", r, "10.0.0.1:1", []string{"198.51.100.7:4711"}, "198.51.100.7"},
		{"bracketed v6 with port", r, "10.0.0.1:1", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"bracketed v6", r, "10.0.0.1:1", []string{"[2001:db8::7]"}, "2001:db8::7"},
		{"quoted", r, "10.0.0.1:1", []string{`"[2001:db8::7]:1"`}, "2001:db8::7"},
		{"v4-mapped entry unmapped", r, "10.0.0.1:1", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{"v4-mapped trusted entry skipped", r, "10.0.0.1:1", []string{"198.51.100.7, ::ffff:10.0.0.5"}, "198.51.100.7"},
		{"v4-mapped peer", r, "[::ffff:10.0.0.1]:1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"v4-mapped untrusted peer", r, "[::ffff:203.0.113.5]:1", []string{"1.1.1.1"}, "203.0.113.5"},
		{"zone stripped", r, "10.0.0.1:1", []string{"fe80::1%eth0"}, "fe80::1"},
		{"v6 trusted peer", r, "[::1]:8080", []string{"2001:db8::7"}, "2001:db8::7"},
		{"v6 peer with zone", r, "[fd00::1%lo]:1", []string{"2001:db8::7"}, "2001:db8::7"},
		{"peer without port", r, "203.0.113.5", nil, "203.0.113.5"},
		{"unparsable peer", r, "not an address", []string{"1.1.1.1"}, ""},
		{"empty peer", r, "", []string{"1.1.1.1"}, ""},
		{"pipe peer", r, "@", nil, ""},
		{"too many trusted entries", r, "10.0.0.1:1", []string{"198.51.100.7," + strings.Repeat("10.0.0.2,", 30) + "10.0.0.3"}, "10.0.0.2"},
		{"huge header, client at the end", r, "10.0.0.1:1", []string{strings.Repeat("6.6.6.6,", 100_000) + "198.51.100.7"}, "198.51.100.7"},
		{"huge entry", r, "10.0.0.1:1", []string{strings.Repeat("9", 100_000)}, "10.0.0.1"},
		{"truncated entry at the cut", r, "10.0.0.1:1", []string{strings.Repeat("1", 4090) + "1.1.1.1"}, "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			got := tt.res.ClientIP(req)
			if tt.want == "" {
				if got.IsValid() {
					t.Fatalf("ClientIP = %v, want the zero Addr", got)
				}
				return
			}
			if got != netip.MustParseAddr(tt.want) {
				t.Fatalf("ClientIP = %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:1", "198.51.100.7, 10.0.0.2", "")
	f.Add("203.0.113.5:1234", "1.1.1.1", "2.2.2.2")
	f.Add("[::1]:80", "[2001:db8::1]:443, \"::ffff:1.2.3.4\"", "fe80::1%eth0")
	f.Add("garbage", ",,,", "unknown")
	r := realip.New(mustParseTrusted(f, "10.0.0.0/8, ::1, 2001:db8::/32"))
	f.Fuzz(func(t *testing.T, remote, xff1, xff2 string) {
		req := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		for _, v := range []string{xff1, xff2} {
			if v != "" {
				req.Header.Add("X-Forwarded-For", v)
			}
		}
		got := r.ClientIP(req)
		plain := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		peer := r.ClientIP(plain)
		if !peer.IsValid() {
			if got.IsValid() {
				t.Fatalf("invalid peer %q gave %v", remote, got)
			}
			return
		}
		if got.Is4In6() || got.Zone() != "" {
			t.Fatalf("ClientIP = %v: mapped or zoned", got)
		}
		if !r.IsTrusted(peer) && got != peer {
			t.Fatalf("untrusted peer %v: headers changed the answer to %v", peer, got)
		}
	})
}

func FuzzParseTrusted(f *testing.F) {
	f.Add("10.0.0.0/8, 192.168.1.1, ::1/128")
	f.Add("::ffff:10.0.0.0/104 fe80::1%eth0")
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := realip.ParseTrusted(s)
		if err != nil {
			if !errors.Is(err, realip.ErrInvalidTrusted) {
				t.Fatalf("error %v does not wrap ErrInvalidTrusted", err)
			}
			return
		}
		for _, p := range ps {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("ParseTrusted(%q) gave %v", s, p)
			}
		}
	})
}
