package oidc

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite/token/jwt"
)

// maxTokenLen bounds a JWT the provider will parse (an access token or an
// id_token_hint); longer input is refused before any work.
const maxTokenLen = 8192

var errBadToken = errors.New("oidc: malformed or unverifiable token")

// signer implements fosite's jwt.Signer with the RS256 [Keys]: it signs with
// the current key (kid in the header) and verifies with whichever active
// key the token names, so a keyring rotation does not break tokens issued
// a moment before.
type signer struct{ keys *Keys }

var _ jwt.Signer = signer{}

func (s signer) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	kid, pk, err := s.keys.Signing(ctx)
	if err != nil {
		return "", "", err
	}
	if header == nil || claims == nil {
		return "", "", errors.New("oidc: claims or header missing")
	}
	t := jwt.NewWithClaims(jose.RS256, claims)
	for k, v := range header.ToMap() {
		t.Header[k] = v
	}
	t.Header["kid"] = kid
	raw, err := t.SignedString(pk)
	if err != nil {
		return "", "", err
	}
	sig, err := s.GetSignature(ctx, raw)
	return raw, sig, err
}

func (s signer) Decode(ctx context.Context, token string) (*jwt.Token, error) {
	if len(token) > maxTokenLen {
		return nil, &jwt.ValidationError{Errors: jwt.ValidationErrorMalformed, Inner: errBadToken}
	}
	return jwt.ParseWithClaims(token, jwt.MapClaims{}, func(t *jwt.Token) (interface{}, error) {
		kid, _ := t.Header["kid"].(string)
		if t.Method != jose.RS256 {
			return nil, errBadToken
		}
		pub, ok := s.keys.Public(ctx, kid)
		if !ok {
			return nil, errBadToken
		}
		return pub, nil
	})
}

func (s signer) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, token)
}

func (s signer) GetSignature(_ context.Context, token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errBadToken
	}
	return parts[2], nil
}

func (s signer) Hash(_ context.Context, in []byte) ([]byte, error) {
	h := sha256.Sum256(in)
	return h[:], nil
}

func (s signer) GetSigningMethodLength(context.Context) int { return sha256.Size }
