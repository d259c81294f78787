#!/usr/bin/env bash
# The README's main job. Until the local-cluster demo exists, it sets up, builds and shows the operator's version
# and help.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
./build/medivote-controller --version
./build/medivote-controller --help
