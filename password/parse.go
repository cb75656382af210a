package password

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
)

// kdf is the key-derivation function behind a parsed hash.
type kdf int

const (
	kdfArgon2id kdf = iota + 1
	kdfArgon2i
	kdfBcrypt
	kdfPBKDF2
	kdfScrypt
)

// prehash is a transformation applied to the password before the KDF.
type prehash int

const (
	preNone      prehash = iota
	preSHA256Hex         // Django bcrypt_sha256: hex(sha256(password))
)

// parsed is a validated hash: every field is within Limits.
type parsed struct {
	format Format
	kdf    kdf

	// argon2
	memory, time uint32
	threads      uint8
	// pbkdf2
	newHash func() hash.Hash
	iter    int
	// scrypt
	n, r, p int

	salt []byte
	key  []byte
	// bcrypt: the full 60-byte modular crypt string.
	bcrypt []byte

	pre prehash
	// tryNFKC: verify NFKC(password) first, then the raw password if that
	// differs. Set for bare PHC argon2 strings, which this package writes
	// from NFKC-normalized passwords and other libraries from raw ones.
	tryNFKC bool
}

// Bounds on decoded salts and keys.
const (
	maxSaltLen   = 256
	minKeyLen    = 16
	maxKeyLen    = 256
	minArgonSalt = 8
)

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedHash}, a...)...)
}

func unsupported(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupportedHash}, a...)...)
}

func tooExpensive(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrTooExpensive}, a...)...)
}

// parseNum parses a decimal without sign, spaces or leading zeros. Values
// above max (or with too many digits to represent) give ErrTooExpensive,
// naming what.
func parseNum(s, what string, max uint64) (uint64, error) {
	if s == "" {
		return 0, malformed("%s: empty number", what)
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, malformed("%s: leading zero", what)
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, malformed("%s: not a decimal number", what)
		}
		if v > (1<<63)/10 {
			return 0, tooExpensive("%s over limit %d", what, max)
		}
		v = v*10 + uint64(c-'0')
	}
	if v > max {
		return 0, tooExpensive("%s %d over limit %d", what, v, max)
	}
	return v, nil
}

// decodeB64 decodes s strictly with enc, bounding the decoded length.
func decodeB64(enc *base64.Encoding, s, what string, min, max int) ([]byte, error) {
	if len(s) > enc.EncodedLen(max)+4 {
		return nil, malformed("%s too long", what)
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, malformed("%s: bad base64", what)
	}
	if len(b) < min || len(b) > max {
		return nil, malformed("%s: length %d not in [%d, %d]", what, len(b), min, max)
	}
	return b, nil
}

// parse identifies and validates encoded against lim. It does no hashing.
func (h *Hasher) parse(encoded string) (*parsed, error) {
	lim := h.limits
	if encoded == "" {
		return nil, malformed("empty hash")
	}
	if len(encoded) > maxEncodedLen {
		return nil, malformed("hash longer than %d bytes", maxEncodedLen)
	}
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"), strings.HasPrefix(encoded, "$argon2i$"):
		p, err := parseArgon2PHC(encoded, lim)
		if err != nil {
			return nil, err
		}
		p.tryNFKC = true
		return p, nil
	case strings.HasPrefix(encoded, "$argon2"):
		return nil, unsupported("argon2 variant (only argon2id and argon2i)")
	case strings.HasPrefix(encoded, "$2"):
		return parseBcrypt(encoded, FormatBcrypt, lim)
	case strings.HasPrefix(encoded, "$pbkdf2"):
		return parsePasslibPBKDF2(encoded, lim)
	case strings.HasPrefix(encoded, "$scrypt$"):
		return parsePasslibScrypt(encoded, lim)
	case strings.HasPrefix(encoded, "pbkdf2:"), strings.HasPrefix(encoded, "scrypt:"), strings.HasPrefix(encoded, "scrypt$"):
		return parseWerkzeug(encoded, lim, h.werkzeugIter)
	case strings.HasPrefix(encoded, "pbkdf2_sha256$"), strings.HasPrefix(encoded, "pbkdf2_sha1$"):
		return parseDjangoPBKDF2(encoded, lim)
	case strings.HasPrefix(encoded, "argon2$"):
		p, err := parseArgon2PHC(encoded[len("argon2"):], lim)
		if err != nil {
			return nil, err
		}
		p.format = FormatDjangoArgon2
		return p, nil
	case strings.HasPrefix(encoded, "bcrypt_sha256$"):
		p, err := parseBcrypt(encoded[len("bcrypt_sha256$"):], FormatDjangoBcryptSHA256, lim)
		if err != nil {
			return nil, err
		}
		p.pre = preSHA256Hex
		return p, nil
	case strings.HasPrefix(encoded, "bcrypt$"):
		return parseBcrypt(encoded[len("bcrypt$"):], FormatDjangoBcrypt, lim)
	}
	return nil, unsupported("unknown format")
}

// parseArgon2PHC parses $argon2id$v=19$m=M,t=T,p=P$salt$hash (or argon2i).
func parseArgon2PHC(s string, lim Limits) (*parsed, error) {
	parts := strings.Split(s, "$")
	p := &parsed{}
	switch parts[1] {
	case "argon2id":
		p.format, p.kdf = FormatArgon2id, kdfArgon2id
	case "argon2i":
		p.format, p.kdf = FormatArgon2i, kdfArgon2i
	default:
		return nil, unsupported("argon2 variant")
	}
	if len(parts) == 5 && !strings.HasPrefix(parts[2], "v=") {
		return nil, unsupported("argon2 version 1.0 (no v= field)")
	}
	if len(parts) != 6 || parts[0] != "" {
		return nil, malformed("argon2: want 6 $-separated fields, got %d", len(parts))
	}
	switch parts[2] {
	case "v=19":
	case "v=16":
		return nil, unsupported("argon2 version 16")
	default:
		return nil, malformed("argon2: bad version field")
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 || !strings.HasPrefix(kv[0], "m=") || !strings.HasPrefix(kv[1], "t=") || !strings.HasPrefix(kv[2], "p=") {
		return nil, malformed("argon2: want m=,t=,p= parameters")
	}
	m, err := parseNum(kv[0][2:], "argon2 memory", uint64(lim.MaxArgon2Memory))
	if err != nil {
		return nil, err
	}
	t, err := parseNum(kv[1][2:], "argon2 time", uint64(lim.MaxArgon2Time))
	if err != nil {
		return nil, err
	}
	par, err := parseNum(kv[2][2:], "argon2 parallelism", uint64(lim.MaxArgon2Threads))
	if err != nil {
		return nil, err
	}
	if t < 1 || par < 1 {
		return nil, malformed("argon2: t and p must be at least 1")
	}
	if m < 8*par {
		return nil, malformed("argon2: memory %d below 8*p", m)
	}
	p.memory, p.time, p.threads = uint32(m), uint32(t), uint8(par)
	if p.salt, err = decodeB64(base64.RawStdEncoding, parts[4], "argon2 salt", minArgonSalt, maxSaltLen); err != nil {
		return nil, err
	}
	if p.key, err = decodeB64(base64.RawStdEncoding, parts[5], "argon2 hash", 4, maxKeyLen); err != nil {
		return nil, err
	}
	if len(p.key) < minKeyLen {
		return nil, unsupported("argon2 hash shorter than %d bytes", minKeyLen)
	}
	return p, nil
}

// bcrypt's base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// parseBcrypt validates $2a$/$2b$/$2y$NN$<53 chars>.
func parseBcrypt(s string, f Format, lim Limits) (*parsed, error) {
	if !strings.HasPrefix(s, "$2a$") && !strings.HasPrefix(s, "$2b$") && !strings.HasPrefix(s, "$2y$") {
		if strings.HasPrefix(s, "$2") {
			return nil, unsupported("bcrypt variant (only $2a$, $2b$, $2y$)")
		}
		return nil, malformed("bcrypt: bad prefix")
	}
	if len(s) != 60 {
		return nil, malformed("bcrypt: want 60 bytes, got %d", len(s))
	}
	if s[6] != '$' || s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9' {
		return nil, malformed("bcrypt: bad cost field")
	}
	cost := int(s[4]-'0')*10 + int(s[5]-'0')
	if cost < 4 || cost > 31 {
		return nil, malformed("bcrypt: cost %d not in [4, 31]", cost)
	}
	if cost > lim.MaxBcryptCost {
		return nil, tooExpensive("bcrypt cost %d over limit %d", cost, lim.MaxBcryptCost)
	}
	for i := 7; i < len(s); i++ {
		if strings.IndexByte(bcryptAlphabet, s[i]) < 0 {
			return nil, malformed("bcrypt: bad character in salt or hash")
		}
	}
	return &parsed{format: f, kdf: kdfBcrypt, bcrypt: []byte(s)}, nil
}

type digest struct {
	name string
	new  func() hash.Hash
	size int
}

var (
	digestSHA1   = digest{"sha1", sha1.New, sha1.Size}
	digestSHA256 = digest{"sha256", sha256.New, sha256.Size}
	digestSHA512 = digest{"sha512", sha512.New, sha512.Size}
)

// parseIterations parses a PBKDF2 iteration count within the limit.
func parseIterations(s string, lim Limits) (int, error) {
	it, err := parseNum(s, "pbkdf2 iterations", uint64(lim.MaxPBKDF2Iterations))
	if err != nil {
		return 0, err
	}
	if it < 1 {
		return 0, malformed("pbkdf2: zero iterations")
	}
	return int(it), nil
}

// parseWerkzeug parses pbkdf2:DIGEST[:ITER]$salt$hex and
// scrypt[:N:r:p]$salt$hex. Werkzeug uses the salt string's UTF-8 bytes.
func parseWerkzeug(s string, lim Limits, defaultIter int) (*parsed, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 3 {
		return nil, malformed("werkzeug: want 3 $-separated fields, got %d", len(parts))
	}
	method, salt, hexKey := parts[0], parts[1], parts[2]
	if salt == "" || len(salt) > maxSaltLen {
		return nil, malformed("werkzeug: salt length %d not in [1, %d]", len(salt), maxSaltLen)
	}
	args := strings.Split(method, ":")
	p := &parsed{salt: []byte(salt)}
	var keyLen int
	switch args[0] {
	case "pbkdf2":
		if len(args) != 2 && len(args) != 3 {
			return nil, malformed("werkzeug: pbkdf2 takes a digest and optional iterations")
		}
		var d digest
		switch args[1] {
		case "sha1":
			d, p.format = digestSHA1, FormatWerkzeugPBKDF2SHA1
		case "sha256":
			d, p.format = digestSHA256, FormatWerkzeugPBKDF2SHA256
		case "sha512":
			d, p.format = digestSHA512, FormatWerkzeugPBKDF2SHA512
		default:
			return nil, unsupported("werkzeug: pbkdf2 digest (only sha1, sha256, sha512)")
		}
		p.kdf, p.newHash, keyLen = kdfPBKDF2, d.new, d.size
		if len(args) == 2 {
			p.iter = defaultIter
			if p.iter > lim.MaxPBKDF2Iterations {
				return nil, tooExpensive("pbkdf2 iterations %d over limit %d", p.iter, lim.MaxPBKDF2Iterations)
			}
		} else {
			var err error
			if p.iter, err = parseIterations(args[2], lim); err != nil {
				return nil, err
			}
		}
	case "scrypt":
		p.format, p.kdf, keyLen = FormatWerkzeugScrypt, kdfScrypt, 64
		switch len(args) {
		case 1: // Werkzeug's defaults.
			p.n, p.r, p.p = 1<<15, 8, 1
			if err := checkScrypt(uint64(p.n), uint64(p.r), uint64(p.p), lim); err != nil {
				return nil, err
			}
		case 4:
			var nrp [3]uint64
			for i, what := range []string{"scrypt N", "scrypt r", "scrypt p"} {
				v, err := parseNum(args[i+1], what, 1<<62)
				if err != nil {
					return nil, err
				}
				nrp[i] = v
			}
			if err := checkScrypt(nrp[0], nrp[1], nrp[2], lim); err != nil {
				return nil, err
			}
			p.n, p.r, p.p = int(nrp[0]), int(nrp[1]), int(nrp[2])
		default:
			return nil, malformed("werkzeug: scrypt takes no or 3 arguments")
		}
	default:
		return nil, unsupported("werkzeug method")
	}
	if len(hexKey) != 2*keyLen {
		return nil, malformed("werkzeug: want %d hex digits, got %d", 2*keyLen, len(hexKey))
	}
	key := make([]byte, keyLen)
	for i := range key {
		hi, ok1 := unhex(hexKey[2*i])
		lo, ok2 := unhex(hexKey[2*i+1])
		if !ok1 || !ok2 {
			return nil, malformed("werkzeug: bad hex")
		}
		key[i] = hi<<4 | lo
	}
	p.key = key
	return p, nil
}

// unhex accepts lowercase hex only, as Werkzeug writes and compares it.
func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// checkScrypt validates scrypt parameters and applies the limits.
func checkScrypt(n, r, p uint64, lim Limits) error {
	if n < 2 || n&(n-1) != 0 {
		return malformed("scrypt: N must be a power of two above 1")
	}
	if r < 1 || p < 1 {
		return malformed("scrypt: r and p must be at least 1")
	}
	max := uint64(lim.MaxScryptMemory)
	if n > max/128 || r > max/(128*n) {
		return tooExpensive("scrypt memory 128*N*r over limit %d bytes", max)
	}
	if p > uint64(lim.MaxScryptParallel) {
		return tooExpensive("scrypt p %d over limit %d", p, lim.MaxScryptParallel)
	}
	if r*p >= 1<<30 {
		return malformed("scrypt: r*p too large")
	}
	return nil
}

// parseDjangoPBKDF2 parses pbkdf2_sha256$ITER$salt$b64 and pbkdf2_sha1$...
// Django uses the salt string's UTF-8 bytes and padded standard base64.
func parseDjangoPBKDF2(s string, lim Limits) (*parsed, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 4 {
		return nil, malformed("django pbkdf2: want 4 $-separated fields, got %d", len(parts))
	}
	p := &parsed{kdf: kdfPBKDF2}
	var d digest
	if parts[0] == "pbkdf2_sha256" {
		d, p.format = digestSHA256, FormatDjangoPBKDF2SHA256
	} else {
		d, p.format = digestSHA1, FormatDjangoPBKDF2SHA1
	}
	p.newHash = d.new
	var err error
	if p.iter, err = parseIterations(parts[1], lim); err != nil {
		return nil, err
	}
	if parts[2] == "" || len(parts[2]) > maxSaltLen {
		return nil, malformed("django pbkdf2: salt length %d not in [1, %d]", len(parts[2]), maxSaltLen)
	}
	p.salt = []byte(parts[2])
	if p.key, err = decodeB64(base64.StdEncoding, parts[3], "pbkdf2 hash", d.size, d.size); err != nil {
		return nil, err
	}
	return p, nil
}

// ab64 is passlib's "adapted base64": standard alphabet with '.' for '+',
// no padding.
var ab64 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./").WithPadding(base64.NoPadding)

// parsePasslibPBKDF2 parses $pbkdf2-sha256$ITER$salt$hash, $pbkdf2-sha512$
// and $pbkdf2$ (SHA-1), salt and hash in ab64.
func parsePasslibPBKDF2(s string, lim Limits) (*parsed, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 5 {
		return nil, malformed("passlib pbkdf2: want 5 $-separated fields, got %d", len(parts))
	}
	p := &parsed{kdf: kdfPBKDF2}
	var d digest
	switch parts[1] {
	case "pbkdf2":
		d, p.format = digestSHA1, FormatPasslibPBKDF2SHA1
	case "pbkdf2-sha256":
		d, p.format = digestSHA256, FormatPasslibPBKDF2SHA256
	case "pbkdf2-sha512":
		d, p.format = digestSHA512, FormatPasslibPBKDF2SHA512
	default:
		return nil, unsupported("passlib pbkdf2 digest")
	}
	p.newHash = d.new
	var err error
	if p.iter, err = parseIterations(parts[2], lim); err != nil {
		return nil, err
	}
	if p.salt, err = decodeB64(ab64, parts[3], "pbkdf2 salt", 0, maxSaltLen); err != nil {
		return nil, err
	}
	if p.key, err = decodeB64(ab64, parts[4], "pbkdf2 hash", d.size, d.size); err != nil {
		return nil, err
	}
	return p, nil
}

// parsePasslibScrypt parses $scrypt$ln=L,r=R,p=P$salt$hash (unpadded
// standard base64).
func parsePasslibScrypt(s string, lim Limits) (*parsed, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 5 {
		return nil, malformed("passlib scrypt: want 5 $-separated fields, got %d", len(parts))
	}
	kv := strings.Split(parts[2], ",")
	if len(kv) != 3 || !strings.HasPrefix(kv[0], "ln=") || !strings.HasPrefix(kv[1], "r=") || !strings.HasPrefix(kv[2], "p=") {
		return nil, malformed("passlib scrypt: want ln=,r=,p= parameters")
	}
	ln, err := parseNum(kv[0][3:], "scrypt ln", 62)
	if err != nil {
		return nil, err
	}
	r, err := parseNum(kv[1][2:], "scrypt r", 1<<62)
	if err != nil {
		return nil, err
	}
	par, err := parseNum(kv[2][2:], "scrypt p", 1<<62)
	if err != nil {
		return nil, err
	}
	if err := checkScrypt(1<<ln, r, par, lim); err != nil {
		return nil, err
	}
	p := &parsed{format: FormatPasslibScrypt, kdf: kdfScrypt, n: 1 << ln, r: int(r), p: int(par)}
	if p.salt, err = decodeB64(base64.RawStdEncoding, parts[3], "scrypt salt", 0, maxSaltLen); err != nil {
		return nil, err
	}
	if p.key, err = decodeB64(base64.RawStdEncoding, parts[4], "scrypt hash", minKeyLen, maxKeyLen); err != nil {
		return nil, err
	}
	return p, nil
}
