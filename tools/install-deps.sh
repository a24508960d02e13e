#!/usr/bin/env bash
# Installs the Debian packages shortbus builds and tests with, only those
# missing, without asking anything (works as root with no terminal, as CI
# runs it). Prints nothing when all are present, so a second run is fast.
set -euo pipefail

packages=(
  g++ meson ninja-build pkg-config
  liblmdb-dev liburing-dev libxxhash-dev liblz4-dev libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev
  libnats-dev nats-server gnuplot-nox
  redis-server redis-tools
  # fuzz/: clang, its libFuzzer and sanitizer runtimes, llvm-symbolizer
  clang libclang-rt-14-dev llvm
)

missing=()
# The Node client tests need node and npm; a machine may already have them from
# another packaging, whose npm conflicts with Debian's, so ask only when absent.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# The Node client tests' packages (npm's registry), installed once from the
# lock file into tests/e2e/node/node_modules.
install_npm() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e/node"
  if [ -f "$dir/package-lock.json" ] && [ ! -d "$dir/node_modules" ]; then
    echo "installing npm packages in tests/e2e/node"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null >/dev/null)
  fi
}

if [ ${#missing[@]} -eq 0 ]; then install_npm; exit 0; fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq </dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
install_npm
