#!/usr/bin/env bash
# Builds what a bastion or a Debian host installs, into target/dist-files/:
#
#   fleettop                                  the portable binary (x86_64, glibc ≥ 2.17)
#   fleettop-VERSION-x86_64-linux-gnu.tar.gz  it with LICENSE, README, man pages, completions
#                                             and the RBAC role (also the krew archive)
#   fleettop_VERSION-1_amd64.deb              the Debian package (cargo deb)
#   krew/fleettop.yaml                        the krew manifest, with the archive's SHA-256
#   SHA256SUMS                                of the binary, the archive and the package
#
# The binary is built with `cargo zigbuild --target x86_64-unknown-linux-gnu.2.17`: Zig links
# it against glibc 2.17's symbol versions, so it runs on RHEL 7 era hosts and newer, and stays
# dynamically linked to glibc so NVML (libnvidia-ml.so.1) can be loaded at run time. The build
# fails if the binary asks for a newer GLIBC symbol than 2.17.
#
# Needs: `pip install ziglang cargo-zigbuild` and `cargo install cargo-deb` (both from the
# registries). FLEETTOP_RELEASE_URL: where the archive will be published (for the krew
# manifest). FLEETTOP_DIST_PROFILE picks the cargo profile: `dist` (default: fat LTO, one
# codegen unit, stripped; the shipped build) or `release` (quick; what CI checks).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${FLEETTOP_DIST_PROFILE:-dist}
triple=x86_64-unknown-linux-gnu
glibc=2.17
out=target/dist-files
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)

for tool in cargo-zigbuild cargo-deb objdump; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "dist/build.sh: $tool is missing (pip install ziglang cargo-zigbuild; cargo install cargo-deb; apt-get install binutils)" >&2
        exit 1
    fi
done

echo "== cargo zigbuild --profile $profile --target $triple.$glibc"
cargo zigbuild --locked --profile "$profile" --target "$triple.$glibc" --bin fleettop
bin="target/$triple/$profile/fleettop"

# The highest GLIBC symbol version the binary needs (dynamic symbols, objdump -T).
highest=$(bash dist/glibc-needed.sh "$bin")
echo "== $bin needs GLIBC $highest (allowed: $glibc)"
if [ "$(printf '%s\n%s\n' "$highest" "$glibc" | sort -V | tail -1)" != "$glibc" ]; then
    echo "dist/build.sh: $bin needs GLIBC_$highest, newer than $glibc" >&2
    exit 1
fi

rm -rf "$out"
mkdir -p "$out/man" "$out/completions" "$out/krew"
cp "$bin" "$out/fleettop"
# Man pages and completions come from the binary's own clap definitions.
"$bin" man --out "$out/man" >/dev/null
gzip -9n "$out"/man/*.1
"$bin" completions bash >"$out/completions/fleettop.bash"
"$bin" completions zsh >"$out/completions/_fleettop"
"$bin" completions fish >"$out/completions/fleettop.fish"

# The archive: what `scp` takes to a bastion, and what krew unpacks.
archive="fleettop-$version-x86_64-linux-gnu.tar.gz"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/fleettop-$version"
cp "$out/fleettop" LICENSE README.md dist/rbac/fleettop-reader.yaml "$stage/fleettop-$version/"
cp -r "$out/man" "$out/completions" "$stage/fleettop-$version/"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='@0' \
    -C "$stage" -czf "$out/$archive" "fleettop-$version"

echo "== cargo deb"
cargo deb --no-build --no-strip --profile "$profile" --target "$triple" --output "$out/" >/dev/null
deb=$(cd "$out" && ls fleettop_*.deb)

sha() { sha256sum "$1" | cut -d' ' -f1; }
url=${FLEETTOP_RELEASE_URL:-https://fleettop.example.invalid/releases}
sed -e "s/{{VERSION}}/$version/g" -e "s/{{SHA256}}/$(sha "$out/$archive")/g" \
    -e "s/{{ARCHIVE}}/$archive/g" -e "s|{{URL}}|$url|g" dist/krew/fleettop.yaml >"$out/krew/fleettop.yaml"
(cd "$out" && sha256sum fleettop "$archive" "$deb" >SHA256SUMS)

echo "== built ($profile profile):"
ls -l "$out/fleettop" "$out/$archive" "$out/$deb"
cat "$out/SHA256SUMS"
