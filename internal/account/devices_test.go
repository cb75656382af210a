package account_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/netip"
	"testing"

	"github.com/gatehouse/gatehouse/internal/account"
)

// rotatingMAC signs with its current key and verifies with every key it
// holds, as keyring.MAC does.
type rotatingMAC struct{ keys [][]byte }

func (m *rotatingMAC) sign(k, msg []byte) []byte {
	h := hmac.New(sha256.New, k)
	h.Write(msg)
	return h.Sum(nil)
}

func (m *rotatingMAC) Sign(msg []byte) []byte { return m.sign(m.keys[len(m.keys)-1], msg) }

func (m *rotatingMAC) Verify(msg, sig []byte) error {
	for _, k := range m.keys {
		if hmac.Equal(m.sign(k, msg), sig) {
			return nil
		}
	}
	return errors.New("mismatch")
}

func TestEmailDeviceNetwork(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"203.0.113.77", "203.0.113.0/24"},
		{"::ffff:203.0.113.77", "203.0.113.0/24"},
		{"2001:db8:1234:5678::1", "2001:db8:1234::/48"},
		{"", "invalid Prefix"},
	} {
		var a netip.Addr
		if tc.addr != "" {
			a = netip.MustParseAddr(tc.addr)
		}
		if got := account.NewDevice("Firefox", "Linux", a).Network.String(); got != tc.want {
			t.Errorf("NewDevice(%s).Network = %s, want %s", tc.addr, got, tc.want)
		}
	}
	if got := account.NewDevice("", "", netip.Addr{}).String(); got != "Unknown browser on an unknown system" {
		t.Errorf("String() = %q", got)
	}
}

func TestEmailDevicesSignedIn(t *testing.T) {
	e := newEnv(t)
	mac := &rotatingMAC{keys: [][]byte{[]byte("key one")}}
	devs := account.NewDevices(e.db.Devices(), mac, e.clock.Now)
	u := e.mustRegister(t, "ada@example.com", goodPassword)
	other := e.mustRegister(t, "bob@example.com", goodPassword)
	ip := netip.MustParseAddr
	home := account.NewDevice("Firefox", "Linux", ip("203.0.113.7"))

	steps := []struct {
		name   string
		user   int64
		dev    account.Device
		notify bool
	}{
		{"first sign-in ever", u.ID, home, false},
		{"same device", u.ID, home, false},
		{"same network, other address", u.ID, account.NewDevice("Firefox", "Linux", ip("203.0.113.200")), false},
		{"other browser", u.ID, account.NewDevice("Chrome", "Linux", ip("203.0.113.7")), true},
		{"other system", u.ID, account.NewDevice("Firefox", "Windows", ip("203.0.113.7")), true},
		{"other network", u.ID, account.NewDevice("Firefox", "Linux", ip("198.51.100.7")), true},
		{"now known", u.ID, account.NewDevice("Firefox", "Linux", ip("198.51.100.9")), false},
		{"other account's first sign-in", other.ID, home, false},
		{"IPv6 /48", u.ID, account.NewDevice("Firefox", "Linux", ip("2001:db8:1::1")), true},
		{"same IPv6 /48", u.ID, account.NewDevice("Firefox", "Linux", ip("2001:db8:1:ffff::2")), false},
	}
	for _, s := range steps {
		got, err := devs.SignedIn(ctx, s.user, s.dev)
		if err != nil || got != s.notify {
			t.Fatalf("%s: SignedIn = %v, %v; want %v", s.name, got, err, s.notify)
		}
	}

	// A key rotation does not make known devices new; a device seen since
	// stays known once the old key is retired.
	mac.keys = append(mac.keys, []byte("key two"))
	if got, _ := devs.SignedIn(ctx, u.ID, home); got {
		t.Fatal("known device new after key rotation")
	}
	mac.keys = mac.keys[1:]
	if got, _ := devs.SignedIn(ctx, u.ID, home); got {
		t.Fatal("device seen since the rotation new after the old key was retired")
	}

	// The table holds MACs only, never the description.
	rows, err := e.db.SQL().QueryContext(ctx, "SELECT mac FROM known_devices")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil || len(b) != sha256.Size {
			t.Fatalf("stored %q, %v", b, err)
		}
	}
}

func TestEmailDevicesBounded(t *testing.T) {
	e := newEnv(t)
	devs := account.NewDevices(e.db.Devices(), &rotatingMAC{keys: [][]byte{[]byte("k")}}, e.clock.Now)
	u := e.mustRegister(t, "ada@example.com", goodPassword)
	for i := range account.MaxKnownDevices + 10 {
		a := netip.AddrFrom4([4]byte{10, byte(i), 0, 1})
		if _, err := devs.SignedIn(ctx, u.ID, account.NewDevice("Firefox", "Linux", a)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.db.Devices().KnownDevices(ctx, u.ID, 1000)
	if err != nil || len(got) != account.MaxKnownDevices {
		t.Fatalf("%d devices kept, %v; want %d", len(got), err, account.MaxKnownDevices)
	}
}
