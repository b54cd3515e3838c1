#!/usr/bin/env bash
# The layers of the source tree (sim/CMakeLists.txt): each folder includes only the project
# headers of the layers below it. Prints every include that crosses upward; exit 1 if any.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
# folder: the folders its files may include from, besides its own.
check() {
  local folder=$1 allowed=$2
  while IFS= read -r line; do
    local header=${line#*\"}
    header=${header%%\"*}
    local ok=0
    for prefix in "$folder" $allowed; do
      [[ $header == "$prefix"/* ]] && ok=1
    done
    [[ $header == */* ]] || ok=1  # a sibling include of generated headers or libraries
    if [[ $ok == 0 ]]; then
      echo "layering: ${line%%:*} includes $header, above $folder"
      status=1
    fi
  done < <(grep -rHn '^#include "' "$folder" --include='*.cpp' --include='*.hpp' --include='*.cu' | sed 's/:[0-9]*:/:/')
}
check sim/engine ""
check sim/input ""
check models "sim/engine sim/input"
check topologies "sim/engine sim/input models"
check calibration "sim/engine sim/input models"
check workloads "sim/engine sim/input models topologies calibration"
check sim/runner "sim/engine sim/input models topologies workloads calibration"
check kernels "sim/engine sim/input models calibration"
[[ $status == 0 ]] && echo "layering: every include points down"
exit $status
