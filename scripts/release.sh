#!/usr/bin/env bash
# Builds a release that installs offline: `npm pack` of this package plus a copy of its
# production node_modules, as <out>/signalk-edge-<version>.tar.gz holding one folder,
# signalk-edge/. Native modules ship as their packages ship them (serialport carries prebuilt
# binaries for linux x64, arm and arm64), so one tarball serves every board.
#
# usage: scripts/release.sh [--out DIR] [--no-build]
#   --out DIR    where to write the tarball (default: ./release)
#   --no-build   use the current dist/ as it is (tests do; `npm run build` otherwise)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/release"
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=${2:?--out needs a folder}; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "release.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
start=$(date +%s)

cd "$ROOT"
if [ "$BUILD" = 1 ]; then npm run build; fi
[ -f dist/runtime/cli/main.js ] || { echo "release.sh: dist/ is not built (run npm run build)" >&2; exit 1; }

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

# The package as npm would publish it (package.json "files"); prepare already ran or was skipped.
tgz=$(npm pack --ignore-scripts --silent --pack-destination "$STAGE" | tail -n 1)
mkdir "$STAGE/x"
tar xzf "$STAGE/$tgz" -C "$STAGE/x"
mv "$STAGE/x/package" "$STAGE/signalk-edge"
chmod 0755 "$STAGE/signalk-edge/scripts/install.sh"

# Production dependencies, copied from node_modules (no network). Each package is copied without
# its own node_modules: nested production deps are listed, and copied, on their own.
if ! deps=$(npm ls --omit=dev --all --parseable 2>"$STAGE/npm-ls.err"); then
  echo "release.sh: npm ls reports a broken dependency tree:" >&2
  cat "$STAGE/npm-ls.err" >&2
  exit 1
fi
count=0
while IFS= read -r dir; do
  [ "$dir" = "$ROOT" ] && continue
  rel=${dir#"$ROOT"/}
  mkdir -p "$STAGE/signalk-edge/$rel"
  (cd "$dir" && tar cf - --exclude=./node_modules .) | (cd "$STAGE/signalk-edge/$rel" && tar xf -)
  count=$((count + 1))
done <<<"$deps"

version=$(node -p "require('./package.json').version")
tarball="$OUT/signalk-edge-$version.tar.gz"
tar czf "$tarball" --sort=name --owner=0 --group=0 --numeric-owner -C "$STAGE" signalk-edge
echo "release: $tarball"
echo "  $(du -h "$tarball" | cut -f1) compressed, $(find "$STAGE/signalk-edge" -type f | wc -l) files, $count production packages, $(( $(date +%s) - start )) s"
