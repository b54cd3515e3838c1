#!/usr/bin/env bash
# Regenerates docs/scenario-reference.md and docs/scenario.schema.json from the parser itself
# (`foresight reference`, `foresight reference --schema`). The golden tests fail when the files
# and the code disagree.
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
- Editors can check scenarios as they are written against `docs/scenario.schema.json` (JSON
  Schema 2020-12, generated alongside this file): give a scenario
  `"$schema": "../docs/scenario.schema.json"` (relative to the file), or map `*.json` under your
  scenarios folder to it in the editor's settings (VS Code: `json.schemas`). Checks that
  involve several keys are `foresight validate`'s.

HEADER
  "$binary" reference
} > docs/scenario-reference.md
"$binary" reference --schema > docs/scenario.schema.json
echo "wrote docs/scenario-reference.md and docs/scenario.schema.json"
