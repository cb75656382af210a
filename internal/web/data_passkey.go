package web

import "time"

// Passkeys is the data of the passkeys page (/account/passkeys).
type Passkeys struct {
	Items []PasskeyItem
	// Confirmed is true when the user re-entered the password (or a second
	// factor, or signed in) recently enough to add or remove passkeys.
	Confirmed bool
	// Max is how many passkeys an account may have.
	Max int
}

// PasskeyItem is one passkey in the list.
type PasskeyItem struct {
	ID         int64
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used
	// Synced is true for a passkey the owner's devices share (backup
	// eligible), false for one bound to a single device.
	Synced bool
}
