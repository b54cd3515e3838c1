#!/usr/bin/env bash
# Fuzzes foresight's input surfaces with libFuzzer (clang), each from its saved corpus in
# tests/fuzz/corpus/. Usage:
#   scripts/fuzz.sh [--runs N | --seconds S] [surface ...]
# Default: 20 seconds per surface, every surface. `--runs N` fuzzes N inputs per surface from a
# fixed seed, so the same inputs every time (what CI runs). A crash or an internal error reachable from
# input stops the surface with its input saved in build/fuzz/crashes/; add that file to
# tests/fuzz/corpus/<surface>/ once fixed, and CTest replays it on every build.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=(-max_total_time=20)
case "${1:-}" in
  --runs) limit=(-runs="$2" -seed=1); shift 2 ;;  # a fixed count from a fixed seed: the same inputs every time (CI)
  --seconds) limit=(-max_total_time="$2"); shift 2 ;;
esac
surfaces=("$@")
[ ${#surfaces[@]} -gt 0 ] || surfaces=(scenario set_override topology replay trace_csv trace_jsonl profile sweep_spec hf_config size_string report import nemo_config nemo2 megatron_bridge torchtitan_config kineto chakra)

scripts/install_deps.sh clang
# The asan preset: clang, ASan + UBSan, coverage for libFuzzer in every library; the same
# tree that scripts/test.sh tests, so CI builds it once.
scripts/build.sh asan $(printf -- '--target fuzz_%s ' "${surfaces[@]}")

mkdir -p build/fuzz/crashes
total=0
for surface in "${surfaces[@]}"; do
  work=build/fuzz/corpus/$surface
  mkdir -p "$work"
  log=build/fuzz/$surface.log
  # New inputs go to the work corpus; the saved one is only read.
  if ! build/asan/tests/fuzz/fuzz_"$surface" "${limit[@]}" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 -dict=tests/fuzz/foresight.dict \
      -artifact_prefix=build/fuzz/crashes/"$surface"- "$work" tests/fuzz/corpus/"$surface" >"$log" 2>&1; then
    tail -30 "$log"
    echo "fuzz: $surface failed; the input is in build/fuzz/crashes/" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  total=$((total + runs))
  printf 'fuzz: %-17s %12s inputs, no crash and no internal error\n' "$surface" "$runs"
done
echo "fuzz: $total inputs over ${#surfaces[@]} surfaces"
