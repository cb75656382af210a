package password

import "fmt"

// MaxPasswordBytes is the longest password, in bytes before normalization,
// that Hash and Verify accept. Longer input fails with ErrPasswordTooLong
// before any work is done. It is far above the Policy maximum of 256
// characters, which is at most 1024 bytes of UTF-8.
const MaxPasswordBytes = 4096

// maxEncodedLen bounds the length of any stored hash string we parse.
const maxEncodedLen = 1024

// Limits caps the work that a stored hash may ask for. A hash whose
// parameters exceed any limit fails with ErrTooExpensive before any
// hashing is done. Zero fields take the value from DefaultLimits.
type Limits struct {
	// MaxArgon2Memory is the largest argon2 m parameter, in KiB.
	MaxArgon2Memory uint32
	// MaxArgon2Time is the largest argon2 t parameter (passes).
	MaxArgon2Time uint32
	// MaxArgon2Threads is the largest argon2 p parameter (lanes).
	MaxArgon2Threads uint8
	// MaxBcryptCost is the largest bcrypt cost (log2 of rounds).
	MaxBcryptCost int
	// MaxPBKDF2Iterations is the largest PBKDF2 iteration count.
	MaxPBKDF2Iterations int
	// MaxScryptMemory is the largest scrypt memory, 128*N*r, in bytes.
	MaxScryptMemory int64
	// MaxScryptParallel is the largest scrypt p parameter. scrypt runs the
	// p lanes one after another here, so CPU time grows linearly with p.
	MaxScryptParallel int
}

// DefaultLimits returns the default caps: argon2 m ≤ 131072 KiB (128 MiB),
// t ≤ 10, p ≤ 8; bcrypt cost ≤ 14; PBKDF2 ≤ 2,000,000 iterations; scrypt
// 128*N*r ≤ 64 MiB and p ≤ 4.
//
// They admit the default work factors of the stacks docs/migrating.md
// names: Django's Argon2PasswordHasher (m=102400, t=2, p=8, as argon2-cffi
// up to 21.1 and passlib with it), argon2-cffi 21.2+ (m=65536, t=3, p=4),
// Django's PBKDF2 hasher up to 6.2 (1,800,000 iterations; 1,500,000 in
// 6.1), Werkzeug 3.1's PBKDF2 (1,000,000) and scrypt (N=2^15, r=8, p=1),
// passlib's pbkdf2 and scrypt (ln=16, r=8: 64 MiB) and bcrypt up to cost
// 14. A Pool bounds the memory that such hashes take together; see
// DefaultMemoryBudget.
func DefaultLimits() Limits {
	return Limits{
		MaxArgon2Memory:     128 * 1024,
		MaxArgon2Time:       10,
		MaxArgon2Threads:    8,
		MaxBcryptCost:       14,
		MaxPBKDF2Iterations: 2_000_000,
		MaxScryptMemory:     64 << 20,
		MaxScryptParallel:   4,
	}
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxArgon2Memory == 0 {
		l.MaxArgon2Memory = d.MaxArgon2Memory
	}
	if l.MaxArgon2Time == 0 {
		l.MaxArgon2Time = d.MaxArgon2Time
	}
	if l.MaxArgon2Threads == 0 {
		l.MaxArgon2Threads = d.MaxArgon2Threads
	}
	if l.MaxBcryptCost == 0 {
		l.MaxBcryptCost = d.MaxBcryptCost
	}
	if l.MaxPBKDF2Iterations == 0 {
		l.MaxPBKDF2Iterations = d.MaxPBKDF2Iterations
	}
	if l.MaxScryptMemory == 0 {
		l.MaxScryptMemory = d.MaxScryptMemory
	}
	if l.MaxScryptParallel == 0 {
		l.MaxScryptParallel = d.MaxScryptParallel
	}
	return l
}

func (l Limits) validate() error {
	switch {
	case l.MaxBcryptCost < 4 || l.MaxBcryptCost > 31:
		return fmt.Errorf("%w: MaxBcryptCost %d not in [4, 31]", ErrInvalidParams, l.MaxBcryptCost)
	case l.MaxPBKDF2Iterations < 1:
		return fmt.Errorf("%w: MaxPBKDF2Iterations %d < 1", ErrInvalidParams, l.MaxPBKDF2Iterations)
	case l.MaxScryptMemory < 1:
		return fmt.Errorf("%w: MaxScryptMemory %d < 1", ErrInvalidParams, l.MaxScryptMemory)
	case l.MaxScryptParallel < 1:
		return fmt.Errorf("%w: MaxScryptParallel %d < 1", ErrInvalidParams, l.MaxScryptParallel)
	}
	return nil
}
