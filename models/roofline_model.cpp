#include "models/roofline_model.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "sim/input/object_reader.hpp"

namespace foresight {

namespace {
// The GPU family's measured fraction, unless the scenario set the curve's own.
EfficiencyCurve with_gpu_fraction(EfficiencyCurve curve, double measured) {
  if (!curve.overrides_gpu && measured > 0) curve.peak_fraction = measured;
  return curve;
}

double attention_fraction(const Op& op, const KernelEfficiency& e) {
  const bool forward = op.phase == Phase::kForward;
  const double flash2 = forward ? e.flash_forward : e.flash_backward;
  if (!op.attention.warp_specialized) return flash2;
  const double flash3 = forward ? e.flash3_forward : e.flash3_backward;
  return flash3 > 0 ? flash3 : flash2;  // GPUs without them run FlashAttention-2-class kernels
}
}  // namespace

double RooflineModel::gemm_reduction_share(const Op& op, const GpuSpec& gpu, int split) const {
  const double overhead = gpu.efficiency.gemm_tile_overhead_k;
  if (overhead <= 0 || op.gemm.k <= 0 || p_.gemm.overrides_gpu) return 1.0;
  const double sixteen_bit = gpu.peak(Dtype::kBf16);
  const double steps = sixteen_bit > 0 ? overhead * gpu.peak(op.dtype) / sixteen_bit : overhead;
  const double k = static_cast<double>(op.gemm.k) / split;
  return k / (k + steps);
}

double RooflineModel::attention_key_share(const Op& op, const GpuSpec& gpu) const {
  const KernelEfficiency& e = gpu.efficiency;
  const bool forward = op.phase == Phase::kForward;
  const double flash2_overhead = forward ? e.attention_overhead_kv_forward : e.attention_overhead_kv_backward;
  const double flash3_overhead = forward ? e.flash3_overhead_kv_forward : e.flash3_overhead_kv_backward;
  const bool runs_flash3 = op.attention.warp_specialized && (forward ? e.flash3_forward : e.flash3_backward) > 0;
  const double overhead = runs_flash3 && flash3_overhead > 0 ? flash3_overhead : flash2_overhead;
  const EfficiencyCurve& generic = forward ? p_.attention_forward : p_.attention_backward;
  const AttentionShape& a = op.attention;
  if (overhead <= 0 || generic.overrides_gpu) return 1.0;
  // The keys a query meets in one kernel, from the work the op does: 4 b h d FLOPs per
  // query and key forward, 2.5 times that backward; masked keys are not met.
  const double per_key = 4.0 * static_cast<double>(a.batch * a.heads * a.q_len * a.head_dim) * (forward ? 1.0 : 2.5);
  if (per_key <= 0 || op.flops <= 0) return 1.0;
  const double keys = op.flops / per_key / static_cast<double>(std::max<std::int64_t>(1, a.kv_steps));
  return keys / (keys + overhead);
}

namespace {
// One query token per sequence over the cache: a decode kernel, which streams the KV cache.
bool is_decode_attention(const Op& op) { return op.kind == OpClass::kAttention && op.attention.q_len == 1; }

// Every measured attention fraction in the catalog (FA2, FA3 and cuDNN, Hopper and
// Blackwell) was taken at head dim 128.
constexpr double kAttentionReferenceHeadDim = 128;
// Each score's exp2 runs on the special-function units, GpuSpec::exp_per_sm_clock results
// per SM per clock: 16 on every NVIDIA GPU since Maxwell (CUDA C++ Programming Guide,
// arithmetic instruction throughput; FlashAttention-3: "989 TFLOPS of FP16 matmul but only
// 3.9 TFLOPS of special functions" on an H100 SXM5, 16 per SM at 1,830 MHz), and on CDNA3's
// quarter-rate transcendentals too; 32 on Blackwell Ultra. Tensor work per score is 4 d FLOPs
// forward and 10 d backward (five matmuls), while the exponential is one per score either way
// (the backward recomputes P).

// The head dim whose tensor work per score takes as long as the score's exponential:
// 64 forward on Hopper in 16 bits (4,096 FLOPs per SM per clock), 128 on Blackwell (8,192)
// and on Hopper in fp8, whose doubled tensor rate leaves the exponentials as they were; 64
// again on Blackwell Ultra, whose exponentials doubled.
double exp_equivalent_head_dim(const GpuSpec& gpu, Dtype dtype, bool forward, double exp_per_sm_clock) {
  return gpu.tensor_flops_per_sm_clock(dtype) / ((forward ? 4.0 : 10.0) * exp_per_sm_clock);
}
}  // namespace

double RooflineModel::attention_head_dim_share(const Op& op, const GpuSpec& gpu) const {
  const bool forward = op.phase == Phase::kForward;
  const EfficiencyCurve& generic = forward ? p_.attention_forward : p_.attention_backward;
  const double d = static_cast<double>(op.attention.head_dim);
  const double exp_dim = exp_equivalent_head_dim(gpu, op.dtype, forward, gpu.exp_per_sm_clock);
  // The fractions include the exponentials of the GPU they were measured on: Blackwell Ultra
  // runs Blackwell's measured kernels with half their exponential time.
  const double measured_exp = gpu.efficiency.attention_exp_per_sm_clock > 0 ? gpu.efficiency.attention_exp_per_sm_clock : gpu.exp_per_sm_clock;
  const double measured_exp_dim = exp_equivalent_head_dim(gpu, op.dtype, forward, measured_exp);
  const double fraction = with_gpu_fraction(generic, attention_fraction(op, gpu.efficiency)).peak_fraction;
  if (generic.overrides_gpu || d <= 0 || exp_dim <= 0 || fraction <= 0) return 1.0;
  // Time per score in units of one head dim's ideal tensor work. Warp-specialized kernels
  // (FA3, cuDNN 9, FA4) issue the exponentials beside asynchronous matmuls and are taken to
  // keep their share of the sum: time (d + exp_dim) / efficiency. FlashAttention-2-class
  // kernels lose their time in warp-level matmuls and pay the exponentials at the units'
  // own rate: time tensor_per_dim x d + exp_dim, tensor_per_dim from the measured fraction.
  const bool overlapped = op.attention.warp_specialized && (forward ? gpu.efficiency.flash3_forward : gpu.efficiency.flash3_backward) > 0;
  const auto rate = [&](double dim, double tensor_per_dim, double exps) { return dim / (tensor_per_dim * dim + exps); };
  const double tensor_per_dim =
      overlapped ? 1.0 : std::max(1.0, (kAttentionReferenceHeadDim / fraction - measured_exp_dim) / kAttentionReferenceHeadDim);
  // Larger heads would spread the exponential over more tensor work, but kernels shrink
  // their tiles to hold them (registers, tensor memory): measured head dim 256 runs from 0.80
  // to 1.64 of 128's FLOP rate, kernel by kernel (FlashAttention-3 paper, H100; cuDNN 9.27,
  // H200 and B200; tests/attention_head_dim_validation_test.cpp), so no gain is taken above
  // the reference.
  const double reference = kAttentionReferenceHeadDim;
  const double head_dim_share = std::min(1.0, rate(d, tensor_per_dim, exp_dim) / rate(reference, tensor_per_dim, exp_dim));
  return head_dim_share * rate(reference, tensor_per_dim, exp_dim) / rate(reference, tensor_per_dim, measured_exp_dim);
}

EfficiencyCurve RooflineModel::compute_curve(const Op& op, const GpuSpec& gpu) const {
  if (op.kind == OpClass::kGemm) return with_gpu_fraction(p_.gemm, gpu.efficiency.gemm);
  if (op.kind == OpClass::kAttention) {
    const EfficiencyCurve& generic = op.phase == Phase::kForward ? p_.attention_forward : p_.attention_backward;
    EfficiencyCurve curve = with_gpu_fraction(generic, attention_fraction(op, gpu.efficiency));
    curve.peak_fraction *= gpu.attention_clock_factor(op.dtype);
    // A decode kernel streams the cache and its fixed cost is on its memory curve: scaled by
    // a prefill kernel's compute fraction (0.13 for FlashAttention-2 on a power-limited B200)
    // the compute ramp alone came to 31 us, where cuDNN decodes 2k tokens in 6.4 us.
    if (is_decode_attention(op)) curve.ramp_seconds = 0;
    return curve;
  }
  // Norms, activations and optimizers are memory-bound; their few FLOPs run on the
  // vector units at roughly the memory curve's efficiency.
  return memory_curve(op, gpu);
}

EfficiencyCurve RooflineModel::memory_curve(const Op& op, const GpuSpec& gpu) const {
  EfficiencyCurve curve = p_.memory;
  const KernelEfficiency& e = gpu.efficiency;
  if (!curve.overrides_gpu && e.memory > 0) {
    curve.peak_fraction = e.memory;
    curve.ramp_seconds = e.memory_ramp_us * 1e-6;
  }
  if (is_decode_attention(op)) curve.ramp_seconds = std::max(curve.ramp_seconds, p_.decode_attention_ramp_seconds);
  return curve;
}

namespace {
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// GEMM libraries pick smaller tiles for skinny problems (a 1-row GEMM runs as a GEMV, not
// as a 128-row tile that is 1/128 full), so a dimension smaller than the tile is padded
// only to the next power of two, and never below 16.
std::int64_t tile_for(std::int64_t dim, std::int64_t tile) {
  return std::min(tile, std::max<std::int64_t>(16, std::bit_ceil(static_cast<std::uint64_t>(std::max<std::int64_t>(dim, 1)))));
}
}  // namespace

std::int64_t RooflineModel::gemm_tiles(const GemmShape& s) const {
  return ceil_div(s.m, tile_for(s.m, p_.tile_m)) * ceil_div(s.n, tile_for(s.n, p_.tile_n)) * s.batch;
}

double RooflineModel::gemm_quantization(const GemmShape& s, int sm_count, int split) const {
  const std::int64_t tile_m = tile_for(s.m, p_.tile_m);
  const std::int64_t tile_n = tile_for(s.n, p_.tile_n);
  const std::int64_t tiles = gemm_tiles(s) * split;
  if (tiles == 0) return 1.0;
  const std::int64_t slots = sm_count > 0 ? ceil_div(tiles, sm_count) * sm_count : tiles;
  const double useful = static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.batch) * split;
  return useful / (static_cast<double>(slots) * static_cast<double>(tile_m * tile_n));
}

CostEstimate RooflineModel::estimate(const Op& op, const GpuSpec& gpu) const {
  if (op.kind == OpClass::kCollective) {
    throw std::logic_error("roofline asked to time collective " + op.name + "; the network times collectives");
  }
  // Vector-unit work (norms, activations) runs at the fp32 rate whatever its storage type.
  const bool tensor_core = op.kind == OpClass::kGemm || op.kind == OpClass::kAttention;
  const double datasheet_peak = tensor_core ? gpu.peak(op.dtype) : gpu.peak(Dtype::kFp32);
  const double peak = op.kind == OpClass::kGemm ? datasheet_peak * gpu.tensor_clock_factor(op.dtype) : datasheet_peak;
  if (datasheet_peak <= 0 && op.flops > 0) {
    throw std::invalid_argument(gpu.name + " has no " + std::string(dtype_name(op.dtype)) +
                                " peak in the catalog (op " + op.name + ")");
  }
  const auto busy_time = [&](int split) {
    double compute = 0;
    if (op.flops > 0) {
      // Padding tiles and idle SMs in the last wave cost time like useful work does; the
      // ramp is a fixed cost per kernel, so it applies to the padded time once.
      double padded = op.flops / peak;
      if (op.kind == OpClass::kGemm) {
        padded /= gemm_quantization(op.gemm, gpu.sm_count, split) * gemm_reduction_share(op, gpu, split);
      }
      if (op.kind == OpClass::kAttention) padded /= attention_key_share(op, gpu) * attention_head_dim_share(op, gpu);
      compute = padded / compute_curve(op, gpu).at(padded);
    }
    // Split-K writes each slice's fp32 partial result and reads them all back to reduce.
    const double partials = split > 1 ? 2.0 * split * 4 * static_cast<double>(op.gemm.m * op.gemm.n) : 0.0;
    double memory = 0;
    if (op.bytes + partials > 0) {
      const double ideal = (op.bytes + partials) / gpu.memory_bandwidth;
      memory = ideal / memory_curve(op, gpu).at(ideal);
    }
    return std::pair{compute, memory};
  };
  auto [compute, memory] = busy_time(1);
  // Split-K: a GEMM whose output tiles fill less than one wave of the SMs can split its
  // reduction into slices that run side by side, as cuBLAS does for small m x n with a
  // long k; the slices' partial sums then cost memory traffic. Take the split, up to 16
  // and one wave, that finishes first, as a library's heuristic aims to.
  if (op.kind == OpClass::kGemm && p_.split_k && op.gemm.batch == 1 && gpu.sm_count > 0) {
    const std::int64_t tiles = gemm_tiles(op.gemm);
    const auto most = static_cast<int>(std::min<std::int64_t>({16, tiles > 0 ? gpu.sm_count / tiles : 1, op.gemm.k / 128}));
    for (int split = 2; split <= most; ++split) {
      const auto [c, m] = busy_time(split);
      if (std::max(c, m) < std::max(compute, memory)) std::tie(compute, memory) = std::tie(c, m);
    }
  }
  const double busy = std::max(compute, memory);
  Bound bound = compute >= memory ? Bound::kCompute : Bound::kMemory;
  if (p_.launch_seconds > busy) bound = Bound::kLaunch;
  return {from_seconds(p_.launch_seconds + busy), bound, name(), 0, {}};
}

namespace {
EfficiencyCurve read_curve(ObjectReader& reader, const char* key, EfficiencyCurve fallback,
                           std::string_view what) {
  auto r = reader.object(key, what);
  const bool given = r.has("peak_fraction");
  const double fraction = r.number("peak_fraction", fallback.peak_fraction,
                                   {"Steady-state fraction of the roof that large kernels reach; given, it wins over the "
                                    "GPU family's measured figure (GEMMs: of the clock-scaled peak).", "", {}, 1.0, true});
  const double ramp_us = r.number("ramp_us", fallback.ramp_seconds * 1e6,
                                  {"Ideal duration at which a kernel reaches half of peak_fraction.", "us", 0.0});
  return {fraction, ramp_us * 1e-6, given || fallback.overrides_gpu};
}
}  // namespace

RooflineParameters RooflineModel::read_parameters(ObjectReader& reader) {
  RooflineParameters p;
  p.launch_seconds = reader.number("launch_overhead_us", p.launch_seconds * 1e6,
                                   {"Gap each kernel adds on its stream (launch and scheduling).", "us", 0.0}) * 1e-6;
  p.gemm = read_curve(reader, "gemm", p.gemm, "Efficiency curve of tensor-core GEMMs.");
  p.attention_forward = read_curve(reader, "attention_forward", p.attention_forward, "Efficiency curve of fused attention, forward.");
  p.attention_backward = read_curve(reader, "attention_backward", p.attention_backward, "Efficiency curve of fused attention, backward.");
  p.memory = read_curve(reader, "memory", p.memory, "Efficiency curve of device-memory traffic (all classes).");
  p.decode_attention_ramp_seconds = reader.number("decode_attention_ramp_us", p.decode_attention_ramp_seconds * 1e6,
      {"Decode attention's fixed cost in ideal microseconds beside the memory curve's (its split-KV pass and combine; "
       "fitted on Vidur's A100 FlashAttention decode kernels).", "us", 0.0}) * 1e-6;
  p.tile_m = reader.integer("gemm_tile_m", p.tile_m, {"GEMM output tile rows for quantization.", "", 1.0});
  p.tile_n = reader.integer("gemm_tile_n", p.tile_n, {"GEMM output tile columns for quantization.", "", 1.0});
  p.split_k = reader.boolean("gemm_split_k", p.split_k,
                             "Let GEMMs whose tiles fill less than one wave split their reduction (split-K), as cuBLAS does.");
  return p;
}

void register_builtin_cost_models(CostModelRegistry& registry) {
  registry.add("roofline",
               "max(compute, memory) roofline with per-class efficiency curves, GEMM tile/wave "
               "quantization and a launch gap",
               [](ObjectReader& parameters, const CostModelRegistry::Context&) -> std::unique_ptr<OpCostModel> {
                 return std::make_unique<RooflineModel>(RooflineModel::read_parameters(parameters));
               });
}

}  // namespace foresight
