#!/usr/bin/env bash
# Obtains the pinned llama.cpp source for llamac.
#
# The pin is the git bundle that the npm package node-llama-cpp ships: npm is a registry every build machine
# can reach, the tarball's sha256 is checked before anything is unpacked, and the commit of the cloned bundle is
# checked again afterwards. The result is a plain git checkout in DEST (default: .deps/llama.cpp, git-ignored).
#
# Usage: scripts/fetch-llama.sh [DEST]
# To move the pin, change the three values below (see README, "Moving the llama.cpp pin").
set -euo pipefail

NPM_PACKAGE="node-llama-cpp@3.22.1"
NPM_SHA256="a0d9dd80eacd2ab1cfe71aee57ac8a806487fd70b3d2a38fbec637752d9e5c5f"
LLAMA_COMMIT="de3ff815ea7d559ee917f063901b8986f038abc6"

root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-"$root/.deps/llama.cpp"}

if [ -d "$dest/.git" ]; then
  have=$(git -C "$dest" rev-parse HEAD)
  if [ "$have" = "$LLAMA_COMMIT" ]; then
    exit 0
  fi
  echo "fetch-llama: $dest is at $have, expected $LLAMA_COMMIT; remove it to fetch the pinned commit" >&2
  exit 1
fi

for tool in npm git tar sha256sum; do
  command -v "$tool" >/dev/null || { echo "fetch-llama: '$tool' is required" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "fetch-llama: npm pack $NPM_PACKAGE" >&2
(cd "$work" && npm pack --silent "$NPM_PACKAGE" >/dev/null)
tarball=$(ls "$work"/*.tgz)
got=$(sha256sum "$tarball" | cut -d' ' -f1)
if [ "$got" != "$NPM_SHA256" ]; then
  echo "fetch-llama: sha256 mismatch for $NPM_PACKAGE: got $got, expected $NPM_SHA256" >&2
  exit 1
fi

tar -xzf "$tarball" -C "$work" package/llama/gitRelease.bundle
mkdir -p "$(dirname "$dest")"
git clone --quiet "$work/package/llama/gitRelease.bundle" "$dest.tmp.$$"
git -C "$dest.tmp.$$" -c advice.detachedHead=false checkout --quiet "$LLAMA_COMMIT"
have=$(git -C "$dest.tmp.$$" rev-parse HEAD)
if [ "$have" != "$LLAMA_COMMIT" ]; then
  rm -rf "$dest.tmp.$$"
  echo "fetch-llama: bundle holds $have, expected $LLAMA_COMMIT" >&2
  exit 1
fi
mv "$dest.tmp.$$" "$dest"
echo "fetch-llama: llama.cpp $LLAMA_COMMIT in $dest" >&2
