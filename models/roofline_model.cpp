#include "models/roofline_model.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

#include "sim/object_reader.hpp"

namespace foresight {

const EfficiencyCurve& RooflineModel::compute_curve(const Op& op) const {
  if (op.kind == OpClass::kGemm) return p_.gemm;
  if (op.kind == OpClass::kAttention) {
    return op.phase == Phase::kForward ? p_.attention_forward : p_.attention_backward;
  }
  // Norms, activations and optimizers are memory-bound; their few FLOPs run on the
  // vector units at roughly the memory curve's efficiency.
  return p_.memory;
}

double RooflineModel::gemm_quantization(const GemmShape& s, int sm_count) const {
  const auto ceil_div = [](std::int64_t a, std::int64_t b) { return (a + b - 1) / b; };
  // GEMM libraries pick smaller tiles for skinny problems (a 1-row GEMM runs as a GEMV,
  // not as a 128-row tile that is 1/128 full), so a dimension smaller than the tile is
  // padded only to the next power of two, and never below 16.
  const auto tile_for = [](std::int64_t dim, std::int64_t tile) {
    return std::min(tile, std::max<std::int64_t>(16, std::bit_ceil(static_cast<std::uint64_t>(std::max<std::int64_t>(dim, 1)))));
  };
  const std::int64_t tile_m = tile_for(s.m, p_.tile_m);
  const std::int64_t tile_n = tile_for(s.n, p_.tile_n);
  const std::int64_t tiles = ceil_div(s.m, tile_m) * ceil_div(s.n, tile_n) * s.batch;
  if (tiles == 0) return 1.0;
  const std::int64_t slots = sm_count > 0 ? ceil_div(tiles, sm_count) * sm_count : tiles;
  const double useful = static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.batch);
  return useful / (static_cast<double>(slots) * static_cast<double>(tile_m * tile_n));
}

CostEstimate RooflineModel::estimate(const Op& op, const GpuSpec& gpu) const {
  if (op.kind == OpClass::kCollective) {
    throw std::logic_error("roofline asked to time collective " + op.name + "; the network times collectives");
  }
  // Vector-unit work (norms, activations) runs at the fp32 rate whatever its storage type.
  const bool tensor_core = op.kind == OpClass::kGemm || op.kind == OpClass::kAttention;
  const double peak = tensor_core ? gpu.peak(op.dtype) : gpu.peak(Dtype::kFp32);
  if (peak <= 0 && op.flops > 0) {
    throw std::invalid_argument(gpu.name + " has no " + std::string(dtype_name(op.dtype)) +
                                " peak in the catalog (op " + op.name + ")");
  }
  double compute = 0;
  if (op.flops > 0) {
    // Padding tiles and idle SMs in the last wave cost time like useful work does; the
    // ramp is a fixed cost per kernel, so it applies to the padded time once.
    double padded = op.flops / peak;
    if (op.kind == OpClass::kGemm) padded /= gemm_quantization(op.gemm, gpu.sm_count);
    compute = padded / compute_curve(op).at(padded);
  }
  double memory = 0;
  if (op.bytes > 0) {
    const double ideal = op.bytes / gpu.memory_bandwidth;
    memory = ideal / p_.memory.at(ideal);
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
  const double fraction = r.number("peak_fraction", fallback.peak_fraction,
                                   {"Steady-state fraction of the roof that large kernels reach.", "", {}, 1.0, true});
  const double ramp_us = r.number("ramp_us", fallback.ramp_seconds * 1e6,
                                  {"Ideal duration at which a kernel reaches half of peak_fraction.", "us", 0.0});
  return {fraction, ramp_us * 1e-6};
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
  p.tile_m = reader.integer("gemm_tile_m", p.tile_m, {"GEMM output tile rows for quantization.", "", 1.0});
  p.tile_n = reader.integer("gemm_tile_n", p.tile_n, {"GEMM output tile columns for quantization.", "", 1.0});
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
