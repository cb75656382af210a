#!/usr/bin/python3
"""Generate the `gatehouse user import` test fixtures with the real
Werkzeug, Django, passlib and bcrypt libraries.

Run from the repository root with Debian's python (python3-werkzeug,
python3-django, python3-passlib, python3-bcrypt, python3-argon2):

    /usr/bin/python3 scripts/gen_import_fixtures.py

It writes, in internal/app/testdata/import/:

  users.csv      a CSV export (header row, Python's csv module quoting)
  users.jsonl    a JSON Lines export of other users
  passwords.json {"email": "password"} for every user of both files, so
                 the tests can sign each one in with its original password

One user per hash format the password package verifies, with small work
factors so that the tests stay fast, plus one Flask user with Werkzeug's
default (pbkdf2:sha256:260000 in Werkzeug 2.2). Werkzeug 2.2 has no
scrypt; the werkzeug-scrypt rows follow Werkzeug 3.x exactly
(hashlib.scrypt over the UTF-8 salt string, dklen 64, lowercase hex).
Salts are random: every run gives new hashes; commit the result.
"""
import csv
import hashlib
import json
import os

import bcrypt
import django
import passlib.hash as ph
from django.conf import settings
from werkzeug.security import check_password_hash, gen_salt, generate_password_hash

settings.configure(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"])
django.setup()
from django.contrib.auth import hashers as dj  # noqa: E402

OUT = os.path.join("internal", "app", "testdata", "import")


class SmallArgon2(dj.Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 1024
    parallelism = 1


class SmallBcryptSHA256(dj.BCryptSHA256PasswordHasher):
    rounds = 4


class SmallBcrypt(dj.BCryptPasswordHasher):
    rounds = 4


def werkzeug(method):
    def h(pw):
        out = generate_password_hash(pw, method)
        assert check_password_hash(out, pw)
        return out
    return h


def werkzeug_scrypt(pw):
    salt = gen_salt(16)
    n, r, p = 1024, 8, 1
    key = hashlib.scrypt(pw.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p, dklen=64).hex()
    return "scrypt:%d:%d:%d$%s$%s" % (n, r, p, salt, key)


def django_hasher(cls, iterations=None):
    def h(pw):
        hasher = cls()
        out = hasher.encode(pw, hasher.salt(), iterations) if iterations else hasher.encode(pw, hasher.salt())
        assert hasher.verify(pw, out)
        return out
    return h


def passlib_hasher(handler):
    def h(pw):
        out = handler.hash(pw)
        assert handler.verify(pw, out)
        return out
    return h


def plain_bcrypt(pw):
    return bcrypt.hashpw(pw.encode(), bcrypt.gensalt(4)).decode()


FORMATS = [
    ("werkzeug-pbkdf2-sha256", werkzeug("pbkdf2:sha256:1000")),
    ("werkzeug-pbkdf2-sha512", werkzeug("pbkdf2:sha512:1000")),
    ("werkzeug-pbkdf2-sha1", werkzeug("pbkdf2:sha1:1000")),
    ("werkzeug-scrypt", werkzeug_scrypt),
    ("django-pbkdf2-sha256", django_hasher(dj.PBKDF2PasswordHasher, 1000)),
    ("django-pbkdf2-sha1", django_hasher(dj.PBKDF2SHA1PasswordHasher, 1000)),
    ("django-argon2", django_hasher(SmallArgon2)),
    ("django-bcrypt-sha256", django_hasher(SmallBcryptSHA256)),
    ("django-bcrypt", django_hasher(SmallBcrypt)),
    ("passlib-pbkdf2-sha256", passlib_hasher(ph.pbkdf2_sha256.using(rounds=1000))),
    ("passlib-pbkdf2-sha512", passlib_hasher(ph.pbkdf2_sha512.using(rounds=1000))),
    ("passlib-pbkdf2-sha1", passlib_hasher(ph.pbkdf2_sha1.using(rounds=1000))),
    ("passlib-scrypt", passlib_hasher(ph.scrypt.using(rounds=10, block_size=8, parallelism=1))),
    ("argon2id", passlib_hasher(ph.argon2.using(type="ID", time_cost=1, memory_cost=1024, parallelism=1))),
    ("argon2i", passlib_hasher(ph.argon2.using(type="I", time_cost=1, memory_cost=1024, parallelism=1))),
    ("bcrypt-2a", passlib_hasher(ph.bcrypt.using(ident="2a", rounds=4))),
    ("bcrypt-2b", passlib_hasher(ph.bcrypt.using(ident="2b", rounds=4))),
    ("bcrypt-2y", passlib_hasher(ph.bcrypt.using(ident="2y", rounds=4))),
    ("bcrypt", plain_bcrypt),
    ("flask-default", werkzeug("pbkdf2:sha256")),
]

PASSWORDS = [
    "correct horse battery staple",
    "pässwörd-日本語-🔑-Ωmega",  # NFKC-stable
    "ﬁsh ｆｕｌｌｗｉｄｔｈ Ⅻ",  # NFKC changes it; the old libraries hashed it raw
    "Long-" + "0123456789abcdefghijklmnopqrstuvwxyz" * 5 + "-end",  # 189 bytes: bcrypt uses 72
]
NAMES = ['Zoë "Zed" O\'Brien, PhD', "", "Łukasz Żółć", "山田 太郎", "Comma, Inc.", "  padded  "]
ROLES = ["user", "user,admin", "", "admin"]
VERIFIED = ["true", "false", ""]
CREATED = ["2019-05-06T07:08:09Z", "2020-01-02T03:04:05.123456+01:00", ""]


def users(prefix):
    for i, (name, h) in enumerate(FORMATS):
        pw = "%s #%d" % (PASSWORDS[i % len(PASSWORDS)], i)
        local = "%s-%s" % (prefix, name)
        email = (local.capitalize() if i % 3 == 0 else local) + "@Example.com"
        yield i, email, pw, h(pw)


passwords = {}

with open(os.path.join(OUT, "users.csv"), "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["email", "password_hash", "display_name", "roles", "email_verified", "created_at"])
    for i, email, pw, h in users("csv"):
        passwords[email] = pw
        w.writerow([email, h, NAMES[i % len(NAMES)], ROLES[i % len(ROLES)], VERIFIED[i % len(VERIFIED)], CREATED[i % len(CREATED)]])

with open(os.path.join(OUT, "users.jsonl"), "w", encoding="utf-8") as f:
    for i, email, pw, h in users("jsonl"):
        passwords[email] = pw
        row = {"email": email, "password_hash": h}
        if i % 4:
            row["display_name"] = NAMES[i % len(NAMES)] or None
        roles = ROLES[i % len(ROLES)]
        row["roles"] = roles.split(",") if i % 2 else roles
        row["email_verified"] = [True, False, None][i % 3]
        if CREATED[i % len(CREATED)]:
            row["created_at"] = CREATED[i % len(CREATED)]
        f.write(json.dumps(row, ensure_ascii=False) + "\n")

with open(os.path.join(OUT, "passwords.json"), "w", encoding="utf-8") as f:
    json.dump(passwords, f, indent=1, ensure_ascii=False)
    f.write("\n")
