package keyring

import (
	"encoding/hex"
	"sync/atomic"
)

// formatVersion is the first byte of every sealed message and signature.
const formatVersion = 1

// headerSize is the size of the version byte and binary key id that start
// every sealed message and signature.
const headerSize = 1 + idSize

// derivedKeys caches per-key values derived for one purpose from the ring a
// Source currently returns; it rebuilds them when the ring changes.
type derivedKeys[T any] struct {
	src   Source
	build func(Key) T
	state atomic.Pointer[derivedState[T]]
}

type derivedState[T any] struct {
	ring    *Ring
	byID    map[[idSize]byte]T
	current [headerSize]byte
	currVal T
}

func (d *derivedKeys[T]) get() *derivedState[T] {
	r := d.src.Ring()
	if s := d.state.Load(); s != nil && s.ring == r {
		return s
	}
	s := &derivedState[T]{ring: r, byID: make(map[[idSize]byte]T)}
	for _, k := range r.keys {
		if k.Active() {
			s.byID[binaryID(k.ID)] = d.build(k)
		}
	}
	cur := binaryID(r.Current().ID)
	s.current[0] = formatVersion
	copy(s.current[1:], cur[:])
	s.currVal = s.byID[cur]
	d.state.Store(s)
	return s
}

// find returns the value for the key named in header, which must be
// headerSize bytes long.
func (s *derivedState[T]) find(header []byte) (T, bool) {
	v, ok := s.byID[[idSize]byte(header[1:headerSize])]
	return v, ok
}

// binaryID decodes a valid key id.
func binaryID(id string) (b [idSize]byte) {
	hex.Decode(b[:], []byte(id))
	return b
}
