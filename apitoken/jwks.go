package apitoken

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// MaxJWKSKeys is the most keys a JSON Web Key Set may hold, both when
// published by [JWKS] and when fetched by a [RemoteKeySet].
const MaxJWKSKeys = 100

// ErrJWKS is wrapped by errors about a JSON Web Key Set.
var ErrJWKS = errors.New("apitoken: bad JWKS")

// jwk is one JSON Web Key as published (RFC 7517, RFC 8037).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

// JWKS returns keys as a JSON Web Key Set:
//
//	{"keys":[{"kty":"OKP","crv":"Ed25519","x":"...","kid":"...","use":"sig","alg":"EdDSA"}]}
//
// Key ids must be valid (see [ValidKeyID]) and distinct.
func JWKS(keys []PublicKey) ([]byte, error) {
	if len(keys) > MaxJWKSKeys {
		return nil, fmt.Errorf("%w: more than %d keys", ErrJWKS, MaxJWKSKeys)
	}
	if err := checkPublicKeys(keys); err != nil {
		return nil, err
	}
	set := jwkSet{Keys: make([]jwk, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, jwk{
			Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.Key),
			Kid: k.ID, Use: "sig", Alg: "EdDSA",
		})
	}
	return json.Marshal(set)
}

// JWKSHandler serves the verification keys of src as a JSON Web Key Set
// (see [JWKS]) with Content-Type application/json and
// "Cache-Control: public, max-age=300". It answers GET and HEAD only.
func JWKSHandler(src KeySource) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeProblem(w, http.StatusMethodNotAllowed, "The method is not allowed for this resource.")
			return
		}
		keys, err := src.VerificationKeys()
		var body []byte
		if err == nil {
			body, err = JWKS(keys)
		}
		if err != nil {
			writeProblem(w, http.StatusInternalServerError, "The key set is not available.")
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}

// ParseJWKS reads a JSON Web Key Set and returns its usable keys: those with
// "kty" "OKP", "crv" "Ed25519", a 32-byte "x" and a valid "kid", whose "use"
// (if present) is "sig" and "alg" (if present) is "EdDSA". Other keys, and
// keys that carry private material, are skipped. A set with no usable key,
// more than [MaxJWKSKeys] keys, or a key id used twice is an error.
func ParseJWKS(data []byte) ([]PublicKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJWKS, err)
	}
	if len(raw.Keys) > MaxJWKSKeys {
		return nil, fmt.Errorf("%w: more than %d keys", ErrJWKS, MaxJWKSKeys)
	}
	var out []PublicKey
	seen := make(map[string]bool, len(raw.Keys))
	for _, rk := range raw.Keys {
		var k struct {
			jwk
			D *json.RawMessage `json:"d"`
		}
		if bytes.Equal(bytes.TrimSpace(rk), []byte("null")) || json.Unmarshal(rk, &k) != nil {
			continue // a key we do not understand is not ours
		}
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.D != nil ||
			(k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "EdDSA") {
			continue
		}
		x, err := base64.RawURLEncoding.Strict().DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize || !ValidKeyID(k.Kid) {
			continue
		}
		if seen[k.Kid] {
			return nil, fmt.Errorf("%w: duplicate key id", ErrJWKS)
		}
		seen[k.Kid] = true
		out = append(out, PublicKey{ID: k.Kid, Key: ed25519.PublicKey(x)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no usable Ed25519 key", ErrJWKS)
	}
	return out, nil
}
