// Package passkeytest is a software WebAuthn authenticator for tests: it
// answers the options of a registration or sign-in ceremony (JSON, as a
// server sends them to navigator.credentials) with the JSON a browser
// would post back, signing with ECDSA P-256 keys it keeps in memory. Tests
// change its fields to forge answers (another origin, another relying
// party, a counter going backwards). It imports only the standard library
// and the CBOR encoding of go-webauthn.
package passkeytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// Credential is a key pair held by the [Authenticator].
type Credential struct {
	// ID is the credential id; UserHandle the user handle the server gave
	// at registration; RPID the relying party it belongs to.
	ID, UserHandle []byte
	RPID           string
	Key            *ecdsa.PrivateKey
	// Counter is the signature counter, incremented before each signature
	// unless NoCounter (then always 0).
	Counter   uint32
	NoCounter bool
}

// Authenticator is a software authenticator with the browser around it.
// The zero value is not usable: set Origin (and RPID, or it is taken from
// the options).
type Authenticator struct {
	// Origin is what the "browser" writes in the client data.
	Origin string
	// RPID, if not empty, replaces the relying party id of the options in
	// the hash of the authenticator data (to forge a wrong one).
	RPID string
	// Synced sets the backup eligible and backup state flags.
	Synced bool
	// NoUserVerification leaves the UV flag out.
	NoUserVerification bool
	// Credentials are the keys made so far, oldest first.
	Credentials []*Credential
}

var b64 = base64.RawURLEncoding

// options is the part of the server's options the authenticator reads.
type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Allow []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

func (a *Authenticator) rpID(fromOptions string) string {
	if a.RPID != "" {
		return a.RPID
	}
	return fromOptions
}

func (a *Authenticator) flags(attested bool) byte {
	f := byte(0x01) // user present
	if !a.NoUserVerification {
		f |= 0x04
	}
	if a.Synced {
		f |= 0x08 | 0x10
	}
	if attested {
		f |= 0x40
	}
	return f
}

func clientData(typ, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

// Create answers registration options (the JSON the server sent) with a
// new credential, and returns the JSON to post back.
func (a *Authenticator) Create(optionsJSON []byte) ([]byte, *Credential, error) {
	var o options
	if err := json.Unmarshal(optionsJSON, &o); err != nil {
		return nil, nil, fmt.Errorf("passkeytest: options: %w", err)
	}
	handle, err := b64.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("passkeytest: user id: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return nil, nil, err
	}
	c := &Credential{ID: id, UserHandle: handle, RPID: o.PublicKey.RP.ID, Key: key}
	ecdh, err := key.PublicKey.ECDH()
	if err != nil {
		return nil, nil, err
	}
	raw := ecdh.Bytes() // 0x04 || X || Y
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:65]})
	if err != nil {
		return nil, nil, err
	}
	rp := sha256.Sum256([]byte(a.rpID(o.PublicKey.RP.ID)))
	var ad bytes.Buffer
	ad.Write(rp[:])
	ad.WriteByte(a.flags(true))
	ad.Write([]byte{0, 0, 0, 0})
	ad.Write(make([]byte, 16)) // AAGUID
	ad.Write([]byte{byte(len(id) >> 8), byte(len(id))})
	ad.Write(id)
	ad.Write(cose)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad.Bytes()})
	if err != nil {
		return nil, nil, err
	}
	resp, err := json.Marshal(map[string]any{
		"id": b64.EncodeToString(id), "rawId": b64.EncodeToString(id), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(clientData("webauthn.create", o.PublicKey.Challenge, a.Origin)),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"internal", "hybrid"},
		},
	})
	if err != nil {
		return nil, nil, err
	}
	a.Credentials = append(a.Credentials, c)
	return resp, c, nil
}

// ErrNoCredential means the authenticator holds no credential the options
// allow.
var ErrNoCredential = errors.New("passkeytest: no matching credential")

// Get answers sign-in options with the first credential they allow (any,
// for a discoverable sign-in, of the options' relying party), and returns
// the JSON to post back.
func (a *Authenticator) Get(optionsJSON []byte) ([]byte, error) {
	var o options
	if err := json.Unmarshal(optionsJSON, &o); err != nil {
		return nil, fmt.Errorf("passkeytest: options: %w", err)
	}
	for _, c := range a.Credentials {
		if len(o.PublicKey.Allow) == 0 && c.RPID == o.PublicKey.RPID {
			return a.GetWith(optionsJSON, c)
		}
		for _, al := range o.PublicKey.Allow {
			if al.ID == b64.EncodeToString(c.ID) {
				return a.GetWith(optionsJSON, c)
			}
		}
	}
	return nil, ErrNoCredential
}

// GetWith answers sign-in options with credential c, allowed or not.
func (a *Authenticator) GetWith(optionsJSON []byte, c *Credential) ([]byte, error) {
	var o options
	if err := json.Unmarshal(optionsJSON, &o); err != nil {
		return nil, fmt.Errorf("passkeytest: options: %w", err)
	}
	if !c.NoCounter {
		c.Counter++
	}
	rp := sha256.Sum256([]byte(a.rpID(o.PublicKey.RPID)))
	ad := append(rp[:], a.flags(false))
	ad = binary.BigEndian.AppendUint32(ad, c.Counter)
	cdj := clientData("webauthn.get", o.PublicKey.Challenge, a.Origin)
	cdh := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(append([]byte{}, ad...), cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, c.Key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(c.ID), "rawId": b64.EncodeToString(c.ID), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cdj),
			"authenticatorData": b64.EncodeToString(ad),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(c.UserHandle),
		},
	})
}
