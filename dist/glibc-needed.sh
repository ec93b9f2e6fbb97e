#!/usr/bin/env bash
# Prints the highest GLIBC symbol version a binary needs (from its dynamic symbols,
# `objdump -T`), e.g. `2.17`; exits 1 if it needs none (not dynamically linked to glibc).
set -euo pipefail
bin=${1:?usage: glibc-needed.sh BINARY}
versions=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV)
if [ -z "$versions" ]; then
    echo "glibc-needed.sh: $bin needs no GLIBC symbol" >&2
    exit 1
fi
echo "$versions" | tail -1
