#!/usr/bin/env bash
# Builds releases that install offline, one tarball per target machine:
# <out>/signalk-edge-<version>-<target>.tar.gz, holding one folder, signalk-edge/: `npm pack` of
# this package, a copy of its production node_modules, and release.json (target, Node ABI, every
# .node file with its ELF machine). Native addons are machine code, so each target gets its own:
# a package that ships prebuilds for the target (serialport) keeps only those; any other package
# with a binding.gyp (socketcan, canboatjs's CAN socket, bufferutil) is compiled for the target
# with Debian's cross compilers against the local Node headers, or left out of that tarball with
# the reason recorded in release.json. A tarball with an addon of the wrong machine is not written.
#
# usage: scripts/release.sh [--target T]... [--out DIR] [--no-build]
#   --target T   linux-arm64 (Raspberry Pi, 64-bit OS), linux-armv7 (Cerbo GX; Raspberry Pi,
#                32-bit OS) or linux-x64; repeat for several; default: all three
#   --out DIR    where to write the tarballs (default: ./release)
#   --no-build   use the current dist/ as it is (tests do; `npm run build` otherwise)
# Needs g++-aarch64-linux-gnu and g++-arm-linux-gnueabihf (apt-get install) for the ARM targets,
# and Node headers (npm's nodedir, else the ones beside node: /usr/include/node).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/release"
BUILD=1
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --target)
      case "${2:-}" in linux-arm64|linux-armv7|linux-x64) TARGETS+=("$2") ;; *) echo "release.sh: --target must be linux-arm64, linux-armv7 or linux-x64" >&2; exit 2 ;; esac
      shift 2 ;;
    --out) OUT=${2:?--out needs a folder}; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "release.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(linux-arm64 linux-armv7 linux-x64)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

cd "$ROOT"
if [ "$BUILD" = 1 ]; then npm run build; fi
[ -f dist/runtime/cli/main.js ] || { echo "release.sh: dist/ is not built (run npm run build)" >&2; exit 1; }

# node-gyp as npm bundles it, against local headers (never downloaded: the build may be offline).
NODE_GYP=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
[ -f "$NODE_GYP" ] || NODE_GYP=${npm_config_node_gyp:-}
[ -n "$NODE_GYP" ] && [ -f "$NODE_GYP" ] || { echo "release.sh: node-gyp not found beside npm" >&2; exit 1; }
NODEDIR=$(npm config get nodedir 2>/dev/null || true)
case "$NODEDIR" in ""|undefined|null) NODEDIR=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")") ;; esac
[ -f "$NODEDIR/include/node/node.h" ] || { echo "release.sh: no Node headers in $NODEDIR/include/node (apt-get install nodejs-dev, or set npm's nodedir)" >&2; exit 1; }

case "$(node -p process.arch)" in arm64) HOST_TARGET=linux-arm64 ;; arm) HOST_TARGET=linux-armv7 ;; x64) HOST_TARGET=linux-x64 ;; *) HOST_TARGET="" ;; esac

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

# The package as npm would publish it (package.json "files"); prepare already ran or was skipped.
tgz=$(npm pack --ignore-scripts --silent --pack-destination "$STAGE" | tail -n 1)
mkdir "$STAGE/x" "$STAGE/base"
tar xzf "$STAGE/$tgz" -C "$STAGE/x"
mv "$STAGE/x/package" "$STAGE/base/signalk-edge"
chmod 0755 "$STAGE/base/signalk-edge/scripts/install.sh"

# Production dependencies, copied from node_modules (no network). Each package is copied without
# its own node_modules: nested production deps are listed, and copied, on their own.
if ! deps=$(npm ls --omit=dev --all --parseable 2>"$STAGE/npm-ls.err"); then
  echo "release.sh: npm ls reports a broken dependency tree:" >&2
  cat "$STAGE/npm-ls.err" >&2
  exit 1
fi
# One find and one tar for all of them (a tar per package costs minutes on a busy machine).
mapfile -t rels < <(grep -vxF "$ROOT" <<<"$deps" | sed "s|^$ROOT/||")
count=${#rels[@]}
(cd "$ROOT" && find "${rels[@]}" -path '*/node_modules' -prune -o -print0 | tar cf - --null --no-recursion -T -) |
  tar xf - -C "$STAGE/base/signalk-edge"
version=$(node -p "require('./package.json').version")

# addons DIR TARGET: leaves each addon package in DIR with files for TARGET only; prints
# --omit PACKAGE=REASON lines for those it could not build.
addons() {
  local dir=$1 target=$2 arch prefix gyp pkg name log
  case "$target" in
    linux-arm64) arch=arm64; prefix=aarch64-linux-gnu ;;
    linux-armv7) arch=arm; prefix=arm-linux-gnueabihf ;;
    linux-x64) arch=x64; prefix=x86_64-linux-gnu ;;
  esac
  while IFS= read -r gyp; do
    pkg=$(dirname "$gyp")
    [ -f "$pkg/package.json" ] || continue
    name=$(node -p 'require(process.argv[1]).name' "$pkg/package.json")
    if [ -d "$pkg/prebuilds" ]; then
      find "$pkg/prebuilds" -mindepth 1 -maxdepth 1 ! -name "linux-$arch" -exec rm -rf {} +
      if compgen -G "$pkg/prebuilds/linux-$arch/*.node" >/dev/null; then
        rm -rf "$pkg/build" # node-gyp-build would load a build/Release file before the prebuild
        echo "  $name: prebuilds/linux-$arch kept" >&2
        continue
      fi
      rm -rf "$pkg/prebuilds"
    fi
    if [ "$target" = "$HOST_TARGET" ] && compgen -G "$pkg/build/Release/*.node" >/dev/null; then
      # Built by npm on this machine, for this machine: only the addons themselves go in.
      find "$pkg/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
      find "$pkg/build/Release" -mindepth 1 ! -name '*.node' -prune -exec rm -rf {} +
      echo "  $name: build/Release kept (npm built it here, for $target)" >&2
      continue
    fi
    rm -rf "$pkg/build"
    if ! command -v "$prefix-g++" >/dev/null; then
      printf '%s\n' "--omit" "$name=no $prefix-g++ on the build machine (apt-get install g++-$prefix)"
      echo "  $name: LEFT OUT (no $prefix-g++)" >&2
      continue
    fi
    log="$STAGE/gyp-$target-${name//\//_}.log"
    if (cd "$pkg" && CC="$prefix-gcc" CXX="$prefix-g++" LINK="$prefix-g++" AR="$prefix-ar" \
          node "$NODE_GYP" rebuild --arch="$arch" --nodedir="$NODEDIR" --jobs=2) >"$log" 2>&1; then
      # Only the addons themselves: objects, Makefiles and config of the build stay behind.
      find "$pkg/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
      find "$pkg/build/Release" -mindepth 1 ! -name '*.node' -prune -exec rm -rf {} +
      echo "  $name: compiled for $target ($prefix-g++)" >&2
    else
      rm -rf "$pkg/build"
      printf '%s\n' "--omit" "$name=cross-build with $prefix-g++ failed: $(grep -m1 -iE 'error' "$log" || tail -n 1 "$log")"
      echo "  $name: LEFT OUT (cross-build failed, see below)" >&2
      tail -n 20 "$log" >&2
    fi
  done < <(find "$dir/node_modules" -name binding.gyp -not -path '*/build/*' | sort)
}

for target in "${TARGETS[@]}"; do
  start=$(date +%s)
  echo "release $target:"
  mkdir "$STAGE/$target"
  cp -a "$STAGE/base/signalk-edge" "$STAGE/$target/signalk-edge"
  mapfile -t omit < <(addons "$STAGE/$target/signalk-edge" "$target")
  node dist/runtime/release/write-manifest.js "$STAGE/$target/signalk-edge" --target "$target" "${omit[@]}"
  tarball="$OUT/signalk-edge-$version-$target.tar.gz"
  tar czf "$tarball" --sort=name --owner=0 --group=0 --numeric-owner -C "$STAGE/$target" signalk-edge
  echo "release: $tarball"
  echo "  $(du -h "$tarball" | cut -f1) compressed ($(stat -c %s "$tarball") bytes), $(find "$STAGE/$target/signalk-edge" -type f | wc -l) files, $count production packages, $(( $(date +%s) - start )) s"
  rm -rf "${STAGE:?}/$target"
done
