#!/usr/bin/python3
"""Generate legacy.json: hashes made by the real Werkzeug, Django, passlib
and bcrypt libraries, for password/legacy_test.go.

Run with Debian's python (python3-werkzeug, python3-django, python3-passlib,
python3-bcrypt, python3-argon2):

    /usr/bin/python3 password/testdata/gen_legacy.py > password/testdata/legacy.json

Each entry: format (the Go Format name), password, hash, realistic (true for
the library's default work factor; the Go test skips those in -short and
-race runs) and lib (library and version that made it).

Werkzeug 2.2 (Debian bookworm) has no scrypt; the werkzeug-scrypt entries
follow Werkzeug 3.x's _hash_internal exactly (hashlib.scrypt over the UTF-8
salt string, dklen 64, lowercase hex) and are checked by recomputing.
"""
import hashlib
import json
import sys

import bcrypt
import django
import passlib
import passlib.hash as ph
import werkzeug
from django.conf import settings
from werkzeug.security import _hash_internal, check_password_hash, generate_password_hash

settings.configure(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"])
django.setup()
from django.contrib.auth import hashers as dj  # noqa: E402

ASCII = "correct horse battery staple"
UNICODE = "pässwörd-日本語-🔑-Ωmega"  # NFKC-stable
NOT_NFKC = "ﬁsh ｆｕｌｌｗｉｄｔｈ Ⅻ"  # NFKC changes it; other libraries hash it raw
LONG = "Long-" + "0123456789abcdefghijklmnopqrstuvwxyz" * 5 + "-end"  # 189 bytes
PASSWORDS = [ASCII, UNICODE, LONG]

WZ = "werkzeug " + werkzeug.__version__
DJ = "django " + django.__version__
PL = "passlib " + passlib.__version__
BC = "bcrypt " + bcrypt.__version__

out = []


def add(fmt, pw, h, lib, realistic=False):
    out.append({"format": fmt, "password": pw, "hash": h, "realistic": realistic, "lib": lib})


def werkzeug_scrypt(pw, salt, n=None, r=None, p=None):
    # Werkzeug 3.x: "scrypt" alone means n=2**15, r=8, p=1.
    method = "scrypt" if n is None else "scrypt:%d:%d:%d" % (n, r, p)
    n, r, p = (n or 2**15), (r or 8), (p or 1)
    h = hashlib.scrypt(pw.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p).hex()
    return "%s$%s$%s" % (method, salt, h)


for pw in PASSWORDS:
    for method, fmt in [
        ("pbkdf2:sha256:1000", "werkzeug-pbkdf2-sha256"),
        ("pbkdf2:sha512:1000", "werkzeug-pbkdf2-sha512"),
        ("pbkdf2:sha1:1000", "werkzeug-pbkdf2-sha1"),
    ]:
        h = generate_password_hash(pw, method)
        assert check_password_hash(h, pw)
        add(fmt, pw, h, WZ)
    add("werkzeug-scrypt", pw, werkzeug_scrypt(pw, "saltSALT1234abcd", 1024, 8, 1), "werkzeug 3.x algorithm, hashlib")

    add("django-pbkdf2-sha256", pw, dj.PBKDF2PasswordHasher().encode(pw, dj.PBKDF2PasswordHasher().salt(), 1000), DJ)
    add("django-pbkdf2-sha1", pw, dj.PBKDF2SHA1PasswordHasher().encode(pw, dj.PBKDF2SHA1PasswordHasher().salt(), 1000), DJ)

    class SmallArgon2(dj.Argon2PasswordHasher):
        time_cost = 1
        memory_cost = 1024
        parallelism = 1

    add("django-argon2", pw, SmallArgon2().encode(pw, SmallArgon2().salt()), DJ)

    class SmallBcryptSHA256(dj.BCryptSHA256PasswordHasher):
        rounds = 4

    class SmallBcrypt(dj.BCryptPasswordHasher):
        rounds = 4

    add("django-bcrypt-sha256", pw, SmallBcryptSHA256().encode(pw, SmallBcryptSHA256().salt()), DJ)
    add("django-bcrypt", pw, SmallBcrypt().encode(pw, SmallBcrypt().salt()), DJ)

    add("passlib-pbkdf2-sha256", pw, ph.pbkdf2_sha256.using(rounds=1000).hash(pw), PL)
    add("passlib-pbkdf2-sha512", pw, ph.pbkdf2_sha512.using(rounds=1000).hash(pw), PL)
    add("passlib-pbkdf2-sha1", pw, ph.pbkdf2_sha1.using(rounds=1000).hash(pw), PL)
    add("passlib-scrypt", pw, ph.scrypt.using(rounds=10, block_size=8, parallelism=1).hash(pw), PL)
    add("argon2id", pw, ph.argon2.using(type="ID", time_cost=1, memory_cost=1024, parallelism=1).hash(pw), PL)
    add("argon2i", pw, ph.argon2.using(type="I", time_cost=1, memory_cost=1024, parallelism=1).hash(pw), PL)
    for ident in ["2a", "2b", "2y"]:
        add("bcrypt", pw, ph.bcrypt.using(ident=ident, rounds=4).hash(pw), PL)
    add("bcrypt", pw, bcrypt.hashpw(pw.encode(), bcrypt.gensalt(4)).decode(), BC)

# Werkzeug without an iteration count: 260000 in Werkzeug 2.0 to 2.2.
salt = "omittedIters1234"
hexval, _ = _hash_internal("pbkdf2:sha256", salt, ASCII)
h = "pbkdf2:sha256$%s$%s" % (salt, hexval)
assert check_password_hash(h, ASCII)
add("werkzeug-pbkdf2-sha256", ASCII, h, WZ + " (iterations omitted)", True)

# A password that NFKC normalization changes, hashed raw by passlib.
add("argon2id", NOT_NFKC, ph.argon2.using(type="ID", time_cost=1, memory_cost=1024, parallelism=1).hash(NOT_NFKC), PL)
add("django-pbkdf2-sha256", NOT_NFKC, dj.PBKDF2PasswordHasher().encode(NOT_NFKC, "rawsalt", 1000), DJ)

# One realistic default per library and format.
add("werkzeug-pbkdf2-sha256", ASCII, generate_password_hash(ASCII), WZ + " default", True)
add("werkzeug-scrypt", ASCII, werkzeug_scrypt(ASCII, "defaultSalt12345"), "werkzeug 3.x default scrypt", True)
add("django-pbkdf2-sha256", ASCII, dj.PBKDF2PasswordHasher().encode(ASCII, dj.PBKDF2PasswordHasher().salt()), DJ + " default", True)
add("django-argon2", ASCII, dj.Argon2PasswordHasher().encode(ASCII, dj.Argon2PasswordHasher().salt()), DJ + " default", True)
add("django-bcrypt-sha256", ASCII, dj.BCryptSHA256PasswordHasher().encode(ASCII, dj.BCryptSHA256PasswordHasher().salt()), DJ + " default", True)
add("passlib-pbkdf2-sha256", ASCII, ph.pbkdf2_sha256.hash(ASCII), PL + " default", True)
add("passlib-scrypt", ASCII, ph.scrypt.hash(ASCII), PL + " default", True)
add("argon2id", ASCII, ph.argon2.hash(ASCII), PL + " default (argon2-cffi defaults)", True)
add("bcrypt", ASCII, ph.bcrypt.hash(ASCII), PL + " default", True)

json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write("\n")
