#!/usr/bin/python3
"""Generate defaults.json: one hash per library at the default work factor
of its current release (December 2026), for password/defaults_test.go.

legacy.json holds hashes made by the Debian bookworm versions of the
libraries; the work factors have grown since. This script makes hashes with
the current defaults using the real argon2-cffi and bcrypt libraries and
Python's hashlib for PBKDF2 and scrypt, encoded exactly as each library
encodes them. Run with Debian's python (python3-argon2, python3-bcrypt):

    /usr/bin/python3 password/testdata/gen_defaults.py > password/testdata/defaults.json

Defaults covered:
  Django 6.1 PBKDF2PasswordHasher     pbkdf2_sha256, 1,500,000 iterations
  Django Argon2PasswordHasher         argon2id m=102400, t=2, p=8 (unchanged since 3.2)
  Django BCryptSHA256PasswordHasher   bcrypt cost 12 over hex(sha256)
  argon2-cffi >= 21.2 PasswordHasher  argon2id m=65536, t=3, p=4 (RFC 9106 low memory)
  argon2-cffi <= 21.1, passlib argon2 argon2id m=102400, t=2, p=8
  Werkzeug 3.1 pbkdf2                 pbkdf2:sha256:1000000
  Werkzeug 3.0 pbkdf2                 pbkdf2:sha256:600000
  Werkzeug 3.x scrypt (the default)   scrypt:32768:8:1
  bcrypt                              cost 14 (the highest cost the caps admit)
"""
import base64
import hashlib
import json
import secrets
import string
import sys

import argon2
import bcrypt

PW = "correct horse battery staple"
out = []


def add(fmt, h, lib):
    out.append({"format": fmt, "password": PW, "hash": h, "realistic": True, "lib": lib})


def salt(n):
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


# Django: pbkdf2_sha256$ITER$salt$base64(dk), salt of 22 characters.
s = salt(22)
dk = hashlib.pbkdf2_hmac("sha256", PW.encode(), s.encode(), 1_500_000)
add("django-pbkdf2-sha256", "pbkdf2_sha256$%d$%s$%s" % (1_500_000, s, base64.b64encode(dk).decode()), "django 6.1 default (hashlib)")

# Django Argon2PasswordHasher: "argon2" + argon2-cffi's encoded hash.
dj = argon2.PasswordHasher(time_cost=2, memory_cost=102400, parallelism=8, hash_len=32, salt_len=16)
add("django-argon2", "argon2" + dj.hash(PW), "django 6.x default (argon2-cffi %s)" % argon2.__version__)

# Django BCryptSHA256PasswordHasher: bcrypt_sha256$ + bcrypt(hex(sha256(pw))).
hexpw = hashlib.sha256(PW.encode()).hexdigest().encode()
add("django-bcrypt-sha256", "bcrypt_sha256$" + bcrypt.hashpw(hexpw, bcrypt.gensalt(12)).decode(), "django 6.x default (bcrypt %s)" % bcrypt.__version__)

# argon2-cffi's current defaults (argon2.profiles.RFC_9106_LOW_MEMORY).
cffi = argon2.PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4, hash_len=32, salt_len=16)
add("argon2id", cffi.hash(PW), "argon2-cffi 21.2+ default (made with %s)" % argon2.__version__)
# Its earlier defaults, also passlib's argon2 default with them installed.
add("argon2id", argon2.PasswordHasher().hash(PW), "argon2-cffi %s default, passlib argon2 default" % argon2.__version__)

# Werkzeug: METHOD$salt$hex, salt of 16 characters.
for iters, lib in [(1_000_000, "werkzeug 3.1 pbkdf2 default"), (600_000, "werkzeug 3.0 pbkdf2 default")]:
    s = salt(16)
    add("werkzeug-pbkdf2-sha256", "pbkdf2:sha256:%d$%s$%s" % (iters, s, hashlib.pbkdf2_hmac("sha256", PW.encode(), s.encode(), iters).hex()), lib + " (hashlib)")
s = salt(16)
n, r, p = 2**15, 8, 1
dk = hashlib.scrypt(PW.encode(), salt=s.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p, dklen=64)
add("werkzeug-scrypt", "scrypt:%d:%d:%d$%s$%s" % (n, r, p, s, dk.hex()), "werkzeug 3.x default (hashlib)")

add("bcrypt", bcrypt.hashpw(PW.encode(), bcrypt.gensalt(14)).decode(), "bcrypt %s cost 14" % bcrypt.__version__)

json.dump(out, sys.stdout, indent=1)
sys.stdout.write("\n")
