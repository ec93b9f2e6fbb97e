#!/usr/bin/env bash
# Proves the portable binary and the Debian package work where users are:
#
# 1. the binary needs no GLIBC symbol newer than 2.17 (objdump -T);
# 2. it runs `--version`, `snapshot --json --demo` and `report --demo` inside an old
#    distribution's root (Debian bullseye, glibc 2.31: the oldest release the configured Debian
#    mirror serves, made with debootstrap) and on this host (the current one);
# 3. the .deb installs with dpkg in a clean copy of that root, puts the binary, the
#    kubectl-fleettop link, man pages, completions, the RBAC role and the licence where they
#    belong, runs as `fleettop` and as `kubectl-fleettop`, and removes cleanly.
#
#   dist/check.sh            checks what dist/build.sh left in target/dist-files/
#   dist/check.sh --build    runs dist/build.sh first (FLEETTOP_DIST_PROFILE: dist by default)
#
# The root is made once and kept in FLEETTOP_DIST_ROOTS (default /var/cache/fleettop-dist);
# debootstrap needs the Debian mirror (MIRROR, default the one apt uses here) and root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --build ]; then
    bash dist/build.sh
fi

out=target/dist-files
bin="$out/fleettop"
suite=bullseye
mirror=${MIRROR:-http://deb.debian.org/debian}
roots=${FLEETTOP_DIST_ROOTS:-/var/cache/fleettop-dist}
glibc=2.17
fail() { echo "dist/check.sh: $*" >&2; exit 1; }

[ -x "$bin" ] || fail "$bin is missing: run dist/build.sh (or dist/check.sh --build)"
deb=$(find "$out" -maxdepth 1 -name 'fleettop_*.deb' | sort | sed -n 1p)
[ -n "$deb" ] || fail "no .deb in $out: run dist/build.sh"

# 1. GLIBC symbol versions.
highest=$(bash dist/glibc-needed.sh "$bin")
[ "$(printf '%s\n%s\n' "$highest" "$glibc" | sort -V | tail -1)" = "$glibc" ] ||
    fail "$bin needs GLIBC_$highest, newer than $glibc"
echo "ok: $bin needs GLIBC $highest at most (≤ $glibc)"

# The old root, made once (a minimal Debian: libc6, coreutils, dpkg; no man, no shell extras).
root="$roots/$suite"
if [ ! -x "$root/bin/sh" ]; then
    command -v debootstrap >/dev/null || fail "debootstrap is missing (apt-get install debootstrap)"
    mkdir -p "$roots"
    rm -rf "$root.tmp"
    echo "making a $suite root in $root (debootstrap from $mirror; once)"
    debootstrap --variant=minbase "$suite" "$root.tmp" "$mirror" >"$roots/$suite.log" 2>&1 ||
        fail "debootstrap failed; see $roots/$suite.log"
    mv "$root.tmp" "$root"
fi
# `getconf` prints one line ("glibc 2.31"); `ldd --version | head -1` would end ldd with
# SIGPIPE, which pipefail turns into the script's exit status 141.
old_glibc=$(chroot "$root" /usr/bin/getconf GNU_LIBC_VERSION | grep -o '[0-9.]*$')
host_glibc=$(getconf GNU_LIBC_VERSION | grep -o '[0-9.]*$')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs the three commands as EXE with HOME (for the log) and the given prefix (nothing for this
# host, `chroot ROOT` for a root) and checks what they print.
smoke() {
    local where=$1 exe=$2 home=$3
    shift 3
    local env=(env -i HOME=$home PATH=/usr/local/bin:/usr/bin:/bin TERM=dumb)
    "$@" "${env[@]}" "$exe" --version >"$work/version" || fail "$where: --version failed"
    grep -q "^fleettop " "$work/version" || fail "$where: --version printed $(cat "$work/version")"
    "$@" "${env[@]}" "$exe" snapshot --json --demo >"$work/snapshot.json" ||
        fail "$where: snapshot --json --demo failed"
    python3 - "$work/snapshot.json" <<'EOF' || fail "$where: snapshot --json --demo is not the demo's JSON"
import json, sys
v = json.load(open(sys.argv[1]))
for key in ("clusters", "denials", "exceptions"):
    assert v.get(key), f"{key} is empty"
EOF
    "$@" "${env[@]}" "$exe" report --demo >"$work/report" || fail "$where: report --demo failed"
    grep -q "GPU-hours" "$work/report" || fail "$where: report --demo printed no GPU-hours"
    echo "ok: $where: --version, snapshot --json --demo, report --demo"
}

# 2. The old root and this host.
cp "$bin" "$root/usr/local/bin/fleettop"
smoke "Debian $suite (glibc $old_glibc)" /usr/local/bin/fleettop /tmp chroot "$root"
rm -f "$root/usr/local/bin/fleettop"
smoke "this host (glibc $host_glibc)" "$bin" "$work/home"

# 3. The package, in a clean copy of the old root.
clean="$work/root"
cp -a "$root" "$clean"
cp "$deb" "$clean/tmp/fleettop.deb"
chroot "$clean" dpkg -i /tmp/fleettop.deb >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i failed"; }
for f in /usr/bin/fleettop /usr/share/man/man1/fleettop.1.gz /usr/share/man/man1/fleettop-report.1.gz \
    /usr/share/bash-completion/completions/fleettop /usr/share/zsh/vendor-completions/_fleettop \
    /usr/share/fish/vendor_completions.d/fleettop.fish /usr/share/fleettop/fleettop-reader.yaml \
    /usr/share/doc/fleettop/copyright; do
    [ -s "$clean$f" ] || fail "the package did not install $f"
done
[ "$(readlink "$clean/usr/bin/kubectl-fleettop")" = fleettop ] || fail "/usr/bin/kubectl-fleettop is not a link to fleettop"
grep -q "Apache License" "$clean/usr/share/doc/fleettop/copyright" || fail "the copyright file lacks the licence"
smoke "the .deb in Debian $suite" /usr/bin/fleettop /tmp chroot "$clean"
chroot "$clean" env -i PATH=/usr/bin:/bin kubectl-fleettop --help >"$work/plugin-help" ||
    fail "kubectl-fleettop --help failed"
grep -q "Usage: kubectl fleettop" "$work/plugin-help" || fail "kubectl-fleettop does not call itself kubectl fleettop"
chroot "$clean" dpkg -r fleettop >>"$work/dpkg.log" 2>&1 || fail "dpkg -r failed"
[ ! -e "$clean/usr/bin/fleettop" ] || fail "dpkg -r left /usr/bin/fleettop"
echo "ok: $(basename "$deb") installs, runs (also as kubectl-fleettop) and removes in Debian $suite"
