#!/usr/bin/env bash
# README command 2: install what is missing, build, and run the whole test suite with
# CTest: the optimized build, then the same tests under AddressSanitizer and UBSan (fuzz
# corpora included; built with clang, which builds it in half gcc's time), then the threaded
# sweep under ThreadSanitizer.
# `scripts/test.sh --release-only` skips the sanitizer pass.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh clang

scripts/build.sh release
ctest --preset release

if [ "${1:-}" != "--release-only" ]; then
  scripts/build.sh asan
  ctest --preset asan
  # The threaded sweep under ThreadSanitizer: its tests on 1, 2 and 8 threads.
  scripts/build.sh tsan
  build/tsan/tests/unit_tests --test-case='*thread*'
fi
