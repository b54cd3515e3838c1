#include "models/attention_dropout.hpp"

namespace foresight {

namespace {
// The SM clock under a sustained tensor load, or, unmeasured, the clock behind the
// datasheet peaks.
double sm_clock_hz(const GpuSpec& gpu, Dtype dtype) {
  const double sustained = gpu.sustained_clock_mhz(dtype);
  return sustained > 0 ? sustained * 1e6 : gpu.peak_clock_hz() * gpu.unmeasured_lock_factor();
}

// Score elements the kernel visits: QK^T and PV take 4 d FLOPs per element forward, and
// the backward's five matmuls 2.5 times that.
double score_elements(const Op& op) {
  const double per_element = 4.0 * static_cast<double>(op.attention.head_dim) * (op.phase == Phase::kForward ? 1.0 : 2.5);
  return per_element > 0 ? op.flops / per_element : 0;
}
}  // namespace

double attention_dropout_seconds(const Op& op, const GpuSpec& gpu) {
  if (op.kind != OpClass::kAttention || !op.attention.dropout || gpu.sm_count <= 0) return 0;
  const double issue_rate = kIntegerOpsPerClockPerSm * gpu.sm_count * sm_clock_hz(gpu, op.dtype);
  return issue_rate > 0 ? score_elements(op) * kDropoutSlotsPerScore / issue_rate : 0;
}

}  // namespace foresight
