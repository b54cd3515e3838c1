#!/usr/bin/env bash
# Calibrates the GPU of this machine in one unattended run, within a time budget, and
# keeps everything it measured and printed (docs/calibration.md, "Calibrating a GPU"):
#   1. foresight-kernels --check: every kernel against a float64 reference;
#   2. foresight calibrate --quick;
#   3. the full sweep, one family per process (a failure costs that family only), each
#      GEMM dtype with its own time cap, then causal prefill attention through PyTorch
#      where it is installed, merged into one profile by foresight calibrate --merge
#      (and PyTorch's own bf16 GEMMs, for comparison);
#   4. held-out random shapes, into a file of their own, for scoring the models;
#   5. nvidia-smi's clocks, power and throttle reasons every half second throughout.
#
#   scripts/gpu/calibrate_on_gpu.sh BIN_DIR OUT_DIR [GPU]
# BIN_DIR holds foresight and foresight-kernels (built anywhere with nvcc; see the doc for
# a build that runs on machines without the build dependencies). Only reads the GPU's
# state: never sets clocks, power limits or modes.
set -uo pipefail
bin=$(cd "$1" && pwd)
out=$2
gpu=${3:-h200_sxm}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/parts"
log() { echo "[$(date +%T)] $*" | tee -a "$out/run.log"; }

# cuBLASLt, NCCL and cuDNN where this machine keeps them (a CUDA toolkit or Python wheels).
for library in libcublasLt.so.13 libnccl.so.2 libcudnn.so.9; do
  found=$(find /usr/local /opt /usr/lib -name "$library" 2>/dev/null | head -1)
  [ -n "$found" ] && export LD_LIBRARY_PATH="$(dirname "$found")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
log "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
ldd "$bin/foresight-kernels" | grep "not found" | tee -a "$out/run.log"
nvidia-smi --query-gpu=name,driver_version,power.limit,power.max_limit,clocks.max.sm,clocks.max.mem,temperature.gpu,pstate \
  --format=csv 2>&1 | tee -a "$out/run.log"

reasons=clocks_event_reasons.active  # named clocks_throttle_reasons before driver 535
nvidia-smi --query-gpu=$reasons --format=csv > /dev/null 2>&1 || reasons=clocks_throttle_reasons.active
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu,$reasons \
  --format=csv -lms 500 > "$out/telemetry.csv" 2>&1 &
telemetry=$!
trap 'kill $telemetry 2>/dev/null' EXIT

# step NAME COMMAND...: runs it with stdout and stderr kept, and logs its status and time.
step() {
  local name=$1 started=$SECONDS
  shift
  log "start $name: $*"
  "$@" > "$out/parts/$name.out" 2> "$out/parts/$name.err"
  local status=$?
  log "end $name: exit $status after $((SECONDS - started)) s"
  tail -n 4 "$out/parts/$name.err" | tee -a "$out/run.log"
  return $status
}

kernels=("$bin/foresight" calibrate --kernels "$bin/foresight-kernels")
step check "$bin/foresight-kernels" --check
cat "$out/parts/check.out" | tee -a "$out/run.log"
step quick "${kernels[@]}" --quick --out "$out/${gpu}_quick.json"

parts=()
family() {  # family NAME FAMILIES MAX_SECONDS
  step "$1" "${kernels[@]}" --only "$2" --max-seconds "$3" --out "$out/parts/$1.json" && parts+=("$out/parts/$1.json")
}
family small launch,memory,attention,layer,host 60
family sustained sustained 60
family gemm_bf16 gemm.bf16 90
have_torch=false
python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null && have_torch=true
# PyTorch's own bf16 GEMMs right after ours, in the same power state, as a cross-check.
$have_torch && step torch_gemm python3 "$here/torch_gemm_crosscheck.py" --gpu "$gpu" --out "$out/torch_gemm.json"
family gemm_fp8 gemm.fp8 60
family gemm_fp16 gemm.fp16 30
family gemm_tf32 gemm.tf32 30
if $have_torch; then
  step torch_attention python3 "$here/torch_attention_profile.py" --gpu "$gpu" --out "$out/parts/torch_attention.json" &&
    parts+=("$out/parts/torch_attention.json")
fi
if [ ${#parts[@]} -gt 0 ]; then
  step merge "$bin/foresight" calibrate --merge "${parts[@]}" --out "$out/$gpu.json"
  cat "$out/parts/merge.out" | tee -a "$out/run.log"
fi
# Random shapes off the sweep's grid, kept apart: the data the models are scored on.
step holdout "${kernels[@]}" --only holdout --max-seconds 60 --out "$out/${gpu}_holdout.json"
log "done"
