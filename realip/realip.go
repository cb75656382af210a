// Package realip finds the client's IP address of an HTTP request behind
// trusted reverse proxies.
//
// The socket peer (RemoteAddr) is the answer unless it is a trusted proxy.
// Only then is X-Forwarded-For read, from the right (the entry the nearest
// proxy appended) to the left, skipping trusted proxies: the first
// untrusted address is the client. What a client writes in the header
// itself sits to the left of what the proxies append, so a spoofed header
// never moves the answer past the first untrusted hop, and a request that
// did not come through a trusted proxy is answered by its peer alone.
//
// The work is bounded whatever the header holds: at most MaxEntries
// entries and the last MaxHeaderBytes bytes of X-Forwarded-For are looked
// at. An entry that is not an address (garbage, "unknown", a truncated
// entry) stops the walk, and the last trusted hop is the answer.
package realip

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

const (
	// MaxEntries is the most X-Forwarded-For entries ClientIP looks at.
	MaxEntries = 20
	// MaxHeaderBytes is the most bytes of X-Forwarded-For ClientIP looks
	// at, counted from the end.
	MaxHeaderBytes = 4096
	// maxTrusted bounds ParseTrusted's input.
	maxTrusted      = 1024
	maxTrustedBytes = 64 << 10
	// maxEntryLen is longer than any IPv6 address with zone and port.
	maxEntryLen = 64
)

// ErrInvalidTrusted is wrapped by ParseTrusted's errors.
var ErrInvalidTrusted = errors.New("realip: invalid trusted proxy")

// ParseTrusted reads a list of trusted proxies, separated by commas or
// white space: CIDR prefixes ("10.0.0.0/8", "fd00::/8") or single
// addresses ("192.168.1.1", "::1"). The empty string is the empty list (no
// proxy is trusted). Prefixes are normalized (masked; IPv4-mapped IPv6
// prefixes become IPv4). Zones, host names and malformed entries are
// errors wrapping ErrInvalidTrusted that quote the entry.
func ParseTrusted(s string) ([]netip.Prefix, error) {
	if len(s) > maxTrustedBytes {
		return nil, fmt.Errorf("%w: list of %d bytes is too long", ErrInvalidTrusted, len(s))
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if len(fields) > maxTrusted {
		return nil, fmt.Errorf("%w: %d entries is more than %d", ErrInvalidTrusted, len(fields), maxTrusted)
	}
	var out []netip.Prefix
	for _, f := range fields {
		var p netip.Prefix
		if strings.Contains(f, "/") {
			var err error
			if p, err = netip.ParsePrefix(f); err != nil {
				return nil, fmt.Errorf("%w: %q is not a CIDR prefix or an address", ErrInvalidTrusted, f)
			}
		} else {
			a, err := netip.ParseAddr(f)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%w: %q is not a CIDR prefix or an address", ErrInvalidTrusted, f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, normalize(p))
	}
	return out, nil
}

// normalize masks p and turns an IPv4-mapped IPv6 prefix into IPv4.
func normalize(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// Resolver finds client addresses behind a set of trusted proxies. Its
// methods are safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver that believes X-Forwarded-For only from peers in
// trusted. With no trusted prefixes, ClientIP is always the socket peer.
func New(trusted []netip.Prefix) *Resolver {
	r := &Resolver{}
	for _, p := range trusted {
		if p.IsValid() {
			r.trusted = append(r.trusted, normalize(p))
		}
	}
	return r
}

// IsTrusted reports whether a is one of the trusted proxies.
func (r *Resolver) IsTrusted(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the client's address: the socket peer, or, when the
// peer is a trusted proxy, the rightmost X-Forwarded-For address that is
// not trusted (the leftmost one examined when all are trusted). Several
// X-Forwarded-For fields count as one list, in order. Addresses are
// returned unmapped (IPv4-mapped IPv6 becomes IPv4) and without zone. An
// unparsable RemoteAddr gives the zero Addr.
func (r *Resolver) ClientIP(req *http.Request) netip.Addr {
	peer, ok := parseHost(req.RemoteAddr)
	if !ok {
		return netip.Addr{}
	}
	if !r.IsTrusted(peer) {
		return peer
	}
	last := peer // the last trusted hop
	values := req.Header.Values("X-Forwarded-For")
	budget, entries := MaxHeaderBytes, 0
	for i := len(values) - 1; i >= 0; i-- {
		v, truncated := values[i], false
		if len(v) > budget {
			v, truncated = v[len(v)-budget:], true
		}
		budget -= len(v)
		for v != "" {
			entry := v
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				entry, v = v[j+1:], v[:j]
			} else if truncated {
				return last // the start of this entry was cut off
			} else {
				v = ""
			}
			entry = strings.Trim(entry, " \t")
			if entry == "" {
				continue
			}
			if entries++; entries > MaxEntries {
				return last
			}
			a, ok := parseEntry(entry)
			if !ok {
				return last
			}
			if !r.IsTrusted(a) {
				return a
			}
			last = a
		}
		if budget <= 0 {
			break
		}
	}
	return last
}

// parseHost reads "addr:port", "[addr]:port" or a bare address.
func parseHost(s string) (netip.Addr, bool) {
	if len(s) > maxEntryLen {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

// parseEntry reads one X-Forwarded-For entry: an address, possibly with a
// port, in brackets or in double quotes.
func parseEntry(s string) (netip.Addr, bool) {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	return parseHost(s)
}
