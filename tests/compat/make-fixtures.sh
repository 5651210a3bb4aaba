#!/usr/bin/env bash
# Writes tests/fixtures/storage/sdk-0.11/ with the published runbeam-sdk 0.11 (through the
# small program in tests/compat/sdk-0.11). Run from the repository root:
#
#   bash tests/compat/make-fixtures.sh
#
# The fixture is committed; run this again only to regenerate it (the key and the ciphertext
# change every time, the tokens inside do not).
set -euo pipefail
cd "$(dirname "$0")/../.."
cli=$(bash tests/compat/build.sh)
out=tests/fixtures/storage/sdk-0.11
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
HOME=$scratch "$cli" write-machine sdk-gw mt_sdk011_fixture_token_0123456789 \
  2099-12-31T23:59:59Z gw-sdk011 harmony:send,harmony:receive
# 4102444799 = 2099-12-31T23:59:59Z
HOME=$scratch "$cli" write-user sdk-gw sdk011.user.jwt 4102444799 u-42 ada@radiology.example "Ada L"
rm -rf "$out"
mkdir -p "$out"
cp -R "$scratch/.runbeam/sdk-gw" "$out/sdk-gw"
find "$out" -type f | sort
