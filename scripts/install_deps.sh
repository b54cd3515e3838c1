#!/usr/bin/env bash
# Installs foresight's build dependencies from Debian's packages when any is missing.
# Safe to run repeatedly: it does nothing when everything is present. Extra packages given as
# arguments are installed too (the sanitized build and the fuzz targets ask for clang).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost-graph-dev nlohmann-json3-dev libcli11-dev libeigen3-dev
  doctest-dev libbenchmark-dev
  libopenmpi-dev openmpi-bin   # foresight sweep across machines; the tests launch mpirun -np 2
  chromium                     # the tests render foresight report's HTML in headless Chromium
  "$@"
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "Installing: ${missing[*]}"
run_as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
  run_as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${run_as_root[@]}" apt-get update -qq
"${run_as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
