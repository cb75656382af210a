package account

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"time"
)

// Profile pictures. The picture itself is made by package imagesafe; this
// file holds what the rest of the system agrees on: its record, the port
// that stores it, its id and its audit events.

// Audit events of profile pictures.
const (
	EventAvatarUpload EventName = "avatar.upload"
	EventAvatarDelete EventName = "avatar.delete"
)

// Avatar is a user's profile picture: bytes the server encoded itself,
// never the uploaded file.
type Avatar struct {
	// ID is random (see [NewAvatarID]) and names the picture in its URL; a
	// new picture always gets a new ID.
	ID string
	// UserID is the owner. A user has at most one picture.
	UserID int64
	// ContentType is "image/png" or "image/jpeg".
	ContentType string
	// SHA256 is the hex SHA-256 of Data.
	SHA256 string
	// Data is the encoded image.
	Data []byte
	// CreatedAt is when it was uploaded.
	CreatedAt time.Time
}

// AvatarStore keeps at most one picture per user.
type AvatarStore interface {
	// PutAvatar stores a as its user's picture, replacing (and deleting)
	// any earlier one in the same step.
	PutAvatar(ctx context.Context, a Avatar) error
	// AvatarByID returns the picture with that id, or [ErrNotFound].
	AvatarByID(ctx context.Context, id string) (Avatar, error)
	// AvatarIDForUser returns the id of the user's picture, or
	// [ErrNotFound] when there is none.
	AvatarIDForUser(ctx context.Context, userID int64) (string, error)
	// DeleteAvatar deletes the user's picture and reports whether there
	// was one.
	DeleteAvatar(ctx context.Context, userID int64) (bool, error)
}

// avatarIDBytes is the entropy of a picture id: 128 bits.
const avatarIDBytes = 16

// AvatarIDLen is the length of every picture id: unpadded base64url of
// 16 random bytes.
const AvatarIDLen = (avatarIDBytes*8 + 5) / 6

// NewAvatarID returns a fresh random picture id (128 bits from
// crypto/rand, unpadded base64url). Ids are not secrets, but they cannot be
// guessed or enumerated, and they never come from the client.
func NewAvatarID() string {
	var b [avatarIDBytes]byte
	_, _ = rand.Read(b[:]) // never fails: it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidAvatarID reports whether id has the shape of an id made by
// [NewAvatarID]: exactly [AvatarIDLen] characters of canonical unpadded
// base64url. Anything else can be answered "not found" without a lookup.
func ValidAvatarID(id string) bool {
	if len(id) != AvatarIDLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(id)
	return err == nil && len(b) == avatarIDBytes
}
