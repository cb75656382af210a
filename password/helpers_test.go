package password

import "golang.org/x/crypto/argon2"

func argon2IDForTest(pw, salt []byte, p Params) []byte {
	p = p.withDefaults()
	return argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}
