package password

// Format names a hash format that Verify understands. Identify reports it.
type Format string

// Formats recognised by Identify and Verify. Only FormatArgon2id with the
// Hasher's current parameters is ever "current"; every other format makes
// Verify report needsRehash=true.
const (
	// FormatArgon2id is the PHC string $argon2id$v=19$m=,t=,p=$salt$hash,
	// as written by this package, argon2-cffi and passlib.
	FormatArgon2id Format = "argon2id"
	// FormatArgon2i is the PHC string $argon2i$v=19$... (older passlib and
	// argon2-cffi defaults).
	FormatArgon2i Format = "argon2i"
	// FormatBcrypt is $2a$, $2b$ or $2y$ bcrypt (OpenBSD, python bcrypt,
	// passlib, PHP password_hash).
	FormatBcrypt Format = "bcrypt"

	// FormatWerkzeugPBKDF2SHA1 is Werkzeug's pbkdf2:sha1[:ITER]$salt$hex.
	FormatWerkzeugPBKDF2SHA1 Format = "werkzeug-pbkdf2-sha1"
	// FormatWerkzeugPBKDF2SHA256 is Werkzeug's pbkdf2:sha256[:ITER]$salt$hex.
	FormatWerkzeugPBKDF2SHA256 Format = "werkzeug-pbkdf2-sha256"
	// FormatWerkzeugPBKDF2SHA512 is Werkzeug's pbkdf2:sha512[:ITER]$salt$hex.
	FormatWerkzeugPBKDF2SHA512 Format = "werkzeug-pbkdf2-sha512"
	// FormatWerkzeugScrypt is Werkzeug's scrypt[:N:r:p]$salt$hex.
	FormatWerkzeugScrypt Format = "werkzeug-scrypt"

	// FormatDjangoPBKDF2SHA256 is Django's pbkdf2_sha256$ITER$salt$b64.
	FormatDjangoPBKDF2SHA256 Format = "django-pbkdf2-sha256"
	// FormatDjangoPBKDF2SHA1 is Django's pbkdf2_sha1$ITER$salt$b64.
	FormatDjangoPBKDF2SHA1 Format = "django-pbkdf2-sha1"
	// FormatDjangoArgon2 is Django's argon2$argon2id$... or argon2$argon2i$...
	FormatDjangoArgon2 Format = "django-argon2"
	// FormatDjangoBcryptSHA256 is Django's bcrypt_sha256$$2b$..., bcrypt over
	// the hex SHA-256 of the password.
	FormatDjangoBcryptSHA256 Format = "django-bcrypt-sha256"
	// FormatDjangoBcrypt is Django's bcrypt$$2b$...
	FormatDjangoBcrypt Format = "django-bcrypt"

	// FormatPasslibPBKDF2SHA1 is passlib's $pbkdf2$ITER$salt$hash.
	FormatPasslibPBKDF2SHA1 Format = "passlib-pbkdf2-sha1"
	// FormatPasslibPBKDF2SHA256 is passlib's $pbkdf2-sha256$ITER$salt$hash.
	FormatPasslibPBKDF2SHA256 Format = "passlib-pbkdf2-sha256"
	// FormatPasslibPBKDF2SHA512 is passlib's $pbkdf2-sha512$ITER$salt$hash.
	FormatPasslibPBKDF2SHA512 Format = "passlib-pbkdf2-sha512"
	// FormatPasslibScrypt is passlib's $scrypt$ln=,r=,p=$salt$hash.
	FormatPasslibScrypt Format = "passlib-scrypt"
)

// String returns the format name.
func (f Format) String() string { return string(f) }

// Legacy reports whether f is a format accepted only for importing users:
// every format but FormatArgon2id.
func (f Format) Legacy() bool { return f != FormatArgon2id }
