#!/usr/bin/env bash
# Regenerates docs/scenario-reference.md from the parser itself (`foresight reference`).
# The golden test fails when the file and the code disagree.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-build/release/sim/runner/foresight}
{
  cat <<'HEADER'
# Scenario file reference

Every key a scenario file accepts, with its type, unit, default and range. This file is
generated from the code that parses scenarios (`foresight reference`, via
`scripts/generate_reference.sh`), and a golden test fails when the two disagree.

Conventions:
- Paths are the JSON paths that error messages print; `--set path=value` overrides any of them.
- Keys that accept several forms (`hardware.gpu`, `model`) list the fields of their object
  form under the same path, marked `[object form]`.
- `cost_model` takes the chosen model's own parameters beside `name`, marked with the model's name.
- Unknown keys are errors (with a "did you mean" suggestion), never ignored.

HEADER
  "$binary" reference
} > docs/scenario-reference.md
echo "wrote docs/scenario-reference.md"
