package keyring_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/gatehouse/gatehouse/keyring"
)

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "keyring")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "keys.json")

	// The first Open creates the file, mode 0600, with one key.
	keys, err := keyring.Open(path, keyring.OnError(func(err error) {
		log.Printf("keys file not reloaded: %v", err)
	}))
	if err != nil {
		log.Fatal(err)
	}
	// Pick up rotations made by `gatehouse keys rotate` or other instances.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go keys.Watch(ctx, 0) // every 30s

	fi, _ := os.Stat(path)
	fmt.Println(fi.Mode().Perm(), len(keys.Ring().Keys()))
	// Output: -rw------- 1
}

func ExampleFile_Rotate() {
	dir, _ := os.MkdirTemp("", "keyring")
	defer os.RemoveAll(dir)
	keys, err := keyring.Open(filepath.Join(dir, "keys.json"))
	if err != nil {
		log.Fatal(err)
	}
	cookies := keyring.NewAEAD(keys, "cookie")
	old, _ := cookies.Seal([]byte("session data"), nil)
	oldID := keys.Ring().Current().ID

	// The new key is staged: every instance that re-reads the file accepts
	// it, none encrypts with it until its activation time (two reload
	// intervals by default) or until it is activated.
	k, err := keys.Rotate()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("staged:", keys.Ring().Current().ID == oldID)
	if _, err := keys.Activate(k.ID); err != nil {
		log.Fatal(err)
	}
	fmt.Println("activated:", keys.Ring().Current().ID == k.ID)
	_, err = cookies.Open(old, nil)
	fmt.Println("after rotate:", err)

	// Once retired, what the old key sealed is refused.
	if err := keys.Retire(oldID); err != nil {
		log.Fatal(err)
	}
	_, err = cookies.Open(old, nil)
	fmt.Println("after retire:", errors.Is(err, keyring.ErrUnknownKey))
	// Output:
	// staged: true
	// activated: true
	// after rotate: <nil>
	// after retire: true
}

func ExampleAEAD() {
	a := keyring.NewAEAD(keyring.Ephemeral(), "totp-secret")
	userID := []byte("user 42")
	sealed, _ := a.Seal([]byte("JBSWY3DPEHPK3PXP"), userID)

	plain, err := a.Open(sealed, userID)
	fmt.Println(string(plain), err)

	// Additional data binds the ciphertext to its owner.
	_, err = a.Open(sealed, []byte("user 43"))
	fmt.Println(err)
	// Output:
	// JBSWY3DPEHPK3PXP <nil>
	// keyring: decryption failed
}

func ExampleMAC() {
	m := keyring.NewMAC(keyring.Ephemeral(), "csrf")
	sig := m.Sign([]byte("browser secret"))
	fmt.Println(len(sig), m.Verify([]byte("browser secret"), sig))
	fmt.Println(m.Verify([]byte("other"), sig))
	// Output:
	// 37 <nil>
	// keyring: invalid signature
}

func ExampleKey_Ed25519() {
	ring := keyring.Ephemeral()
	k := ring.Current()
	signer := k.Ed25519("jwt")
	// Publish signer.Public() in a JWKS under kid = k.ID.
	fmt.Println(len(k.ID), len(signer.Seed()))
	// Output: 8 32
}

func ExampleNewStatic() {
	old := keyring.Generate()
	old.Created = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	old.Retired = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	current := keyring.Generate()
	ring, err := keyring.NewStatic(old, current)
	if err != nil {
		log.Fatal(err)
	}
	_, found := ring.Find(old.ID)
	fmt.Println(ring.Current().ID == current.ID, found)
	// Output: true false
}
