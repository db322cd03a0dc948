#!/usr/bin/env bash
# Installs a pinned Julia release from its official tarball, checking its SHA-256 first.
#
#   install-julia.sh VERSION SHA256 DEST
#
# Downloads julia-VERSION-linux-ARCH.tar.gz from JULIA_MIRROR (default: Julia's official
# download server), compares it with SHA256, and only then unpacks it and moves it into
# place as DEST (e.g. /opt/julia-1.12.7). Every failure (download, checksum, archive)
# exits non-zero with the fix, and leaves nothing behind: no DEST, no temporary files.
#
# Environment (all optional):
#   JULIA_MIRROR    base URL holding linux/<arch>/<major.minor>/ (default
#                   https://julialang-s3.julialang.org/bin)
#   JULIA_ARCH      x86_64 or aarch64 (default: this machine's)
#   CURL_CA_BUNDLE  extra CAs for a TLS-intercepting proxy (curl reads it itself)
set -euo pipefail

die() {
    echo "install-julia: error: $1" >&2
    if [ -n "${2:-}" ]; then echo "install-julia: fix: $2" >&2; fi
    exit 1
}

[ $# -eq 3 ] || die "expected 3 arguments, got $#" "run: install-julia.sh VERSION SHA256 DEST"
version=$1
expected=$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')
dest=$3
mirror=${JULIA_MIRROR:-https://julialang-s3.julialang.org/bin}
arch=${JULIA_ARCH:-$(uname -m)}

[[ $version =~ ^([0-9]+)\.([0-9]+)\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] \
    || die "'$version' is not a Julia version" "pass a release such as 1.12.7"
minor="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
[[ $expected =~ ^[0-9a-f]{64}$ ]] \
    || die "'$2' is not a SHA-256 checksum" "pass the 64 hex digits published for this release"
case "$arch" in
    x86_64) folder=x64 ;;
    aarch64) folder=aarch64 ;;
    *) die "no Julia build for architecture '$arch'" "set JULIA_ARCH to x86_64 or aarch64" ;;
esac
[ ! -e "$dest" ] || die "$dest already exists" "remove it, or install into another directory"
parent=$(dirname "$dest")
mkdir -p "$parent"

# Work next to DEST, so the final step is a rename on one filesystem: DEST appears whole
# or not at all.
work=$(mktemp -d "$parent/.install-julia.XXXXXX")
trap 'rm -rf "$work"' EXIT

url="$mirror/linux/$folder/$minor/julia-$version-linux-$arch.tar.gz"
echo "install-julia: downloading $url"
curl --fail --silent --show-error --location --retry 3 --output "$work/julia.tar.gz" "$url" \
    || die "could not download $url" \
           "check the network, JULIA_MIRROR and (behind a TLS proxy) CURL_CA_BUNDLE"

actual=$(sha256sum "$work/julia.tar.gz" | cut -d ' ' -f 1)
if [ "$actual" != "$expected" ]; then
    die "checksum mismatch for julia-$version-linux-$arch.tar.gz: expected $expected, got $actual" \
        "the download is corrupt or not the published release; check JULIA_MIRROR and the pinned checksum"
fi
echo "install-julia: sha256 verified ($actual)"

mkdir "$work/julia"
tar --extract --gzip --file "$work/julia.tar.gz" --directory "$work/julia" \
    --strip-components 1 --no-same-owner \
    || die "could not unpack julia-$version-linux-$arch.tar.gz" "check the archive"
[ -x "$work/julia/bin/julia" ] \
    || die "the archive has no bin/julia" "check that JULIA_MIRROR serves Julia's release tarballs"
chmod 0755 "$work/julia"
mv "$work/julia" "$dest"
echo "install-julia: installed Julia $version in $dest"
