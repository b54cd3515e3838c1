#pragma once
// Roofline with per-kernel-class efficiency curves, tile and wave quantization for GEMMs,
// and a fixed per-kernel launch gap:
//
//   duration = launch + max(t_c / e_class(t_c), t_m / e_mem(t_m))
//   t_c = flops / (peak[dtype] * clock * q_gemm * r_gemm)    t_m = bytes / hbm_bw
//   e(t) = e_max * t / (t + ramp)
//
// clock is the share of the datasheet peak the GPU's sustained clock under dense tensor
// load allows at its power limit (GpuSpec::tensor_clock_factor; GEMMs only: attention's
// measured fractions already include the clock it ran at, and scale only with a power
// cap). e_max is the steady-state fraction a well-tuned kernel of that class sustains: the
// GPU family's measured figure (GpuSpec::efficiency) where there is one, else the generic
// curve below. ramp models the fixed cost of filling and draining the machine, which makes
// short kernels less efficient (t / e(t) = (t + ramp) / e_max). q_gemm = m*n / (waves *
// SMs * tile_m * tile_n) is the fraction of launched tile slots doing useful work, with
// tiles shrunk to fit skinny dimensions as GEMM libraries do; r_gemm = k / (k + k_tile) is
// the share of each tile's time spent in its main loop, beside a fixed cost per tile.
// Attention has the same term over the keys a query meets in one kernel, kv / (kv + kv_tile).
#include "models/cost_model.hpp"

namespace foresight {

struct EfficiencyCurve {
  double peak_fraction;
  double ramp_seconds;
  // Set when a scenario gives peak_fraction: it then wins over the GPU's measured figure.
  bool overrides_gpu = false;
  double at(double ideal_seconds) const {
    return ideal_seconds <= 0 ? peak_fraction : peak_fraction * ideal_seconds / (ideal_seconds + ramp_seconds);
  }
};

struct RooflineParameters {
  double launch_seconds = 1.5e-6;
  EfficiencyCurve gemm{0.75, 2e-6};
  EfficiencyCurve attention_forward{0.55, 4e-6};
  EfficiencyCurve attention_backward{0.45, 4e-6};
  EfficiencyCurve memory{0.80, 1e-6};
  // Decode attention's fixed cost in microseconds of ideal time, beside the memory curve's:
  // its split-KV pass and combine, and few thread blocks at small batch. Fitted on Vidur's
  // FlashAttention decode kernels on an A100 (10,240 shapes; fitted on even batch sizes,
  // median |error| 8.5% on the odd ones, where the memory curve alone is 14.5% fast).
  double decode_attention_ramp_seconds = 10.5e-6;
  std::int64_t tile_m = 128;
  std::int64_t tile_n = 128;
  bool split_k = true;  // GEMMs that fill less than one wave may split their reduction
};

class RooflineModel : public OpCostModel {
 public:
  explicit RooflineModel(RooflineParameters parameters) : p_(parameters) {}
  std::string_view name() const override { return "roofline"; }
  CostEstimate estimate(const Op& op, const GpuSpec& gpu) const override;

  // The fraction of launched GEMM tile slots that hold useful output elements.
  // With split-K, each output tile runs as `split` slices of the reduction.
  double gemm_quantization(const GemmShape& shape, int sm_count, int split = 1) const;
  // The share of a GEMM's time its main loop takes, beside each tile's fixed cost.
  double gemm_reduction_share(const Op& op, const GpuSpec& gpu, int split = 1) const;
  std::int64_t gemm_tiles(const GemmShape& shape) const;
  // The same for attention: each query tile's fixed cost beside its pass over the keys.
  double attention_key_share(const Op& op, const GpuSpec& gpu) const;
  // The share of fused attention's time its tensor-core work takes beside each score's
  // exponential, relative to that share at kAttentionReferenceHeadDim on the GPU the
  // attention fractions were measured on: below 1 for smaller heads, 1 from there up, and
  // above 1 where this GPU's exponentials are faster than that GPU's (Blackwell Ultra).
  double attention_head_dim_share(const Op& op, const GpuSpec& gpu) const;
  static RooflineParameters read_parameters(ObjectReader& reader);

 private:
  EfficiencyCurve compute_curve(const Op& op, const GpuSpec& gpu) const;
  // The GPU family's measured streaming curve, unless the scenario set the memory curve;
  // for decode attention, with its larger fixed cost.
  EfficiencyCurve memory_curve(const Op& op, const GpuSpec& gpu) const;
  RooflineParameters p_;
};

}  // namespace foresight
