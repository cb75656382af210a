#!/bin/sh
# Regenerates common_passwords.txt from the npm package
# @zxcvbn-ts/language-common (MIT). Needs npm and go.
set -eu
VERSION=${1:-4.1.3}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@zxcvbn-ts/language-common@$VERSION" >/dev/null && tar xzf ./*.tgz)
cd "$here"
go run gen_common.go "$tmp/package/src/passwords.json" > common_passwords.txt
sha256sum common_passwords.txt
