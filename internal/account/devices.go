package account

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// Known devices: the basis of the "new sign-in to your account" notice.

// MaxKnownDevices bounds the devices remembered per account; the least
// recently seen are forgotten first.
const MaxKnownDevices = 50

// Device is what tells one sign-in device from another for the new-device
// notice: the browser family, the operating system and the network the
// client came from (its /24 for IPv4, /48 for IPv6). Browser versions and
// the rest of the address are left out, so an update or a new address from
// the same provider does not count as a new device.
type Device struct {
	Browser string
	OS      string
	Network netip.Prefix // invalid when the client address is unknown
}

// NewDevice returns the Device of a client with this browser family, OS and
// address.
func NewDevice(browser, os string, addr netip.Addr) Device {
	d := Device{Browser: Sanitize(browser, 64), OS: Sanitize(os, 64)}
	if addr.IsValid() {
		addr = addr.Unmap()
		bits := 24
		if addr.Is6() {
			bits = 48
		}
		d.Network, _ = addr.Prefix(bits)
	}
	return d
}

// String describes the device for people, such as "Firefox on Linux".
func (d Device) String() string {
	b, o := d.Browser, d.OS
	if b == "" {
		b = "Unknown browser"
	}
	if o == "" {
		o = "an unknown system"
	}
	return b + " on " + o
}

// message is what is signed to remember d for user userID. The fields are
// length-prefixed, so no two devices share a message.
func (d Device) message(userID int64) []byte {
	var b []byte
	b = append(b, "gatehouse/device/v1"...)
	for _, f := range []string{strconv.FormatInt(userID, 10), d.Browser, d.OS, d.Network.String()} {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
	}
	return b
}

// KnownDevice is one remembered device: only a MAC of its description.
type KnownDevice struct {
	ID       int64
	MAC      []byte
	LastSeen time.Time
}

// DeviceStore is the storage port of known devices (internal/db implements
// it). Implementations must be safe for concurrent use.
type DeviceStore interface {
	// KnownDevices returns the user's devices, most recently seen first,
	// at most limit.
	KnownDevices(ctx context.Context, userID int64, limit int) ([]KnownDevice, error)
	// TouchDevice sets the device's LastSeen to now and its MAC to mac
	// (made with the current key, so a device seen since a key rotation
	// stays known once the old key is retired).
	TouchDevice(ctx context.Context, id int64, mac []byte, now time.Time) error
	// AddDevice remembers a device for the user and forgets all but the
	// keep most recently seen.
	AddDevice(ctx context.Context, userID int64, mac []byte, now time.Time, keep int) error
}

// DeviceMAC signs device descriptions so that the table holds no readable
// network prefix; *keyring.MAC implements it. Verify must accept a MAC made
// with any key still in use, so key rotation does not make every device new.
type DeviceMAC interface {
	Sign(msg []byte) []byte
	Verify(msg, sig []byte) error
}

// Devices remembers the devices each account signs in from.
type Devices struct {
	store DeviceStore
	mac   DeviceMAC
	now   func() time.Time
}

// NewDevices returns the known-device rules over store, with mac to sign
// descriptions and now as the clock (time.Now when nil).
func NewDevices(store DeviceStore, mac DeviceMAC, now func() time.Time) *Devices {
	if store == nil || mac == nil {
		panic("account: NewDevices needs a store and a MAC")
	}
	if now == nil {
		now = time.Now
	}
	return &Devices{store: store, mac: mac, now: now}
}

// SignedIn records that user userID signed in from dev and reports whether
// the owner should be told: the device was not seen before, and it is not
// the account's very first sign-in.
func (d *Devices) SignedIn(ctx context.Context, userID int64, dev Device) (notify bool, err error) {
	msg := dev.message(userID)
	known, err := d.store.KnownDevices(ctx, userID, MaxKnownDevices)
	if err != nil {
		return false, fmt.Errorf("account: known devices: %w", err)
	}
	now := d.now().UTC()
	for _, k := range known {
		if d.mac.Verify(msg, k.MAC) == nil {
			if err := d.store.TouchDevice(ctx, k.ID, d.mac.Sign(msg), now); err != nil {
				return false, fmt.Errorf("account: known devices: %w", err)
			}
			return false, nil
		}
	}
	if err := d.store.AddDevice(ctx, userID, d.mac.Sign(msg), now, MaxKnownDevices); err != nil {
		return false, fmt.Errorf("account: known devices: %w", err)
	}
	return len(known) > 0, nil
}
