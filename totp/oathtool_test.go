package totp

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// oathtoolCode asks oathtool for the TOTP code of secret at unix time u.
// The secret goes through standard input, not the command line.
func oathtoolCode(t *testing.T, bin string, secret []byte, u int64) string {
	t.Helper()
	cmd := exec.Command(bin, "--totp", "--base32", "--now=@"+strconv.FormatInt(u, 10), "-")
	cmd.Stdin = strings.NewReader(EncodeSecret(secret) + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oathtool at %d: %v", u, err)
	}
	return strings.TrimSpace(string(out))
}

// TestOathtool cross-checks Code and Verify against OATH Toolkit's
// oathtool, an independent implementation of RFC 6238.
func TestOathtool(t *testing.T) {
	bin := testenv.Command(t, "oathtool")
	secrets := [][]byte{rfcSeed20, mustSecret(t), mustSecret(t)}
	times := []int64{59, 1111111109, 1234567890, 1700000000, 2000000000, 20000000000}
	for _, secret := range secrets {
		for _, u := range times {
			now := time.Unix(u, 0)
			if got, want := Code(secret, now), oathtoolCode(t, bin, secret, u); got != want {
				t.Errorf("Code(%s, %d) = %s, oathtool says %s", EncodeSecret(secret), u, got, want)
			}
			for _, d := range []int64{-2, -1, 0, 1, 2} {
				if u+d*30 < 0 {
					continue // oathtool refuses times before 1970
				}
				code := oathtoolCode(t, bin, secret, u+d*30)
				_, err := Verify(secret, code, now, Step(now)-2)
				switch {
				case d >= -1 && d <= 1 && err != nil:
					t.Errorf("Verify refused oathtool's code %s at offset %d steps (t=%d): %v", code, d, u, err)
				case (d < -1 || d > 1) && !errors.Is(err, ErrInvalid):
					// A collision with a code inside the window is a
					// one-in-a-million event; report it to be looked at.
					t.Errorf("Verify(oathtool code at offset %d steps, t=%d) = %v, want ErrInvalid", d, u, err)
				}
			}
		}
	}
}
