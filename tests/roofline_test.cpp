#include <doctest/doctest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "models/gpu_spec.hpp"
#include "models/roofline_model.hpp"
#include "sim/input/object_reader.hpp"
#include "sim/runner/error_bands.hpp"

using namespace foresight;

namespace {
GpuSpec round_gpu() {
  // Round numbers so durations can be derived by hand: 100 TFLOP/s bf16, 10 TFLOP/s fp32,
  // 1 TB/s, 10 SMs.
  GpuSpec gpu;
  gpu.name = "round";
  gpu.peak_flops[static_cast<std::size_t>(Dtype::kBf16)] = 100e12;
  gpu.peak_flops[static_cast<std::size_t>(Dtype::kFp32)] = 10e12;
  gpu.memory_bandwidth = 1e12;
  gpu.sm_count = 10;
  return gpu;
}

RooflineParameters flat() {
  RooflineParameters p;
  p.launch_seconds = 2e-6;
  p.gemm = {0.5, 0};
  p.attention_forward = {0.5, 0};
  p.attention_backward = {0.25, 0};
  p.memory = {0.8, 0};
  return p;
}
}  // namespace

TEST_CASE("a compute-bound GEMM: flops / (peak x efficiency x quantization) + launch") {
  // 1280 x 1280 x 4096: 100 tiles of 128x128 fill exactly 10 waves of 10 SMs (q = 1).
  // 2*1280*1280*4096 = 1.342e10 FLOPs at 50 TFLOP/s = 268.4 us; bytes 2*(2*1280*4096 +
  // 1280^2) = 24.2 MB at 0.8 TB/s = 30.1 us. Duration = 268.435 + 2 = 270.435 us.
  const RooflineModel model(flat());
  Op op;
  op.kind = OpClass::kGemm;
  op.gemm = {1280, 1280, 4096, 1};
  op.flops = 2.0 * 1280 * 1280 * 4096;
  op.bytes = 2.0 * (2 * 1280 * 4096 + 1280 * 1280);
  const CostEstimate e = model.estimate(op, round_gpu());
  CHECK(e.bound == Bound::kCompute);
  CHECK(e.model == "roofline");
  CHECK(e.duration == from_seconds(op.flops / 50e12 + 2e-6));
}

TEST_CASE("GEMM tile and wave quantization") {
  const RooflineModel model(flat());
  // 129 x 128: two tile rows, the second nearly empty; 2 tiles on 10 SMs = one wave of
  // 10 slots: 129*128 / (10 * 128 * 128) = 0.1008.
  CHECK(model.gemm_quantization({129, 128, 64, 1}, 10) == doctest::Approx(129.0 / 1280));
  // 11 full tiles: 2 waves of 10 slots.
  CHECK(model.gemm_quantization({128 * 11, 128, 64, 1}, 10) == doctest::Approx(11.0 / 20));
  CHECK(model.gemm_quantization({1280, 1280, 64, 1}, 10) == doctest::Approx(1.0));
  // A 1-row GEMM runs with 16-row tiles, not 128: one 16x128 tile on 10 SMs.
  CHECK(model.gemm_quantization({1, 128, 4096, 1}, 10) == doctest::Approx(128.0 / (10 * 16 * 128)));
  // 40 rows pad to a 64-row tile.
  CHECK(model.gemm_quantization({40, 1280, 64, 1}, 10) == doctest::Approx(40.0 / 64));
}

TEST_CASE("split-K: a GEMM of one output tile and a long reduction spreads it over the SMs") {
  // 128 x 128 x 65,536 on 10 SMs: one tile, so without splitting 9 SMs idle (q = 0.1).
  // Split 10 ways every SM runs a 6,554-deep slice (q = 1) and the 10 fp32 partials are
  // written and read once: 2 x 10 x 4 x 128^2 = 1.3 MB more traffic; with 10 TB/s of
  // memory the 34.9 MB take 4.4 us, well under the 42.9 us of compute.
  GpuSpec gpu = round_gpu();
  gpu.memory_bandwidth = 10e12;
  Op op;
  op.kind = OpClass::kGemm;
  op.gemm = {128, 128, 65536, 1};
  op.flops = 2.0 * 128 * 128 * 65536;
  op.bytes = 2.0 * (2 * 128 * 65536 + 128 * 128);
  CHECK(RooflineModel(flat()).estimate(op, gpu).duration == from_seconds(op.flops / 50e12 + 2e-6));
  RooflineParameters no_split = flat();
  no_split.split_k = false;
  CHECK(RooflineModel(no_split).estimate(op, gpu).duration == from_seconds(op.flops / 5e12 + 2e-6));
}

TEST_CASE("a memory-bound op: bytes / (bandwidth x efficiency) + launch") {
  const RooflineModel model(flat());
  Op op;
  op.kind = OpClass::kNorm;
  op.flops = 5e6;
  op.bytes = 8e6;  // 8 MB at 0.8 TB/s = 10 us; 5 MFLOP on fp32 at 8 TFLOP/s = 0.6 us
  const CostEstimate e = model.estimate(op, round_gpu());
  CHECK(e.bound == Bound::kMemory);
  CHECK(e.duration == 12 * kMicrosecond);
}

TEST_CASE("tiny kernels are launch-bound") {
  const RooflineModel model(flat());
  Op op;
  op.kind = OpClass::kElementwise;
  op.bytes = 8;
  CHECK(model.estimate(op, round_gpu()).bound == Bound::kLaunch);
}

TEST_CASE("the efficiency curve ramps up with kernel size") {
  const EfficiencyCurve curve{0.8, 10e-6};
  CHECK(curve.at(10e-6) == doctest::Approx(0.4));  // half of peak_fraction at t = ramp
  CHECK(curve.at(1e-3) == doctest::Approx(0.8 * 1000 / 1010));
}

TEST_CASE("unsupported dtypes and collectives are refused") {
  const RooflineModel model(flat());
  Op op;
  op.kind = OpClass::kGemm;
  op.dtype = Dtype::kFp8;
  op.flops = 1e9;
  CHECK_THROWS_AS(model.estimate(op, round_gpu()), std::invalid_argument);
  op.kind = OpClass::kCollective;
  CHECK_THROWS_AS(model.estimate(op, round_gpu()), std::logic_error);
}

TEST_CASE("roofline parameters come from the scenario and are range-checked") {
  Diagnostics diagnostics("s.json");
  const nlohmann::json params = {{"launch_overhead_us", 3}, {"gemm", {{"peak_fraction", 0.6}}},
                                 {"memory", {{"peak_fraction", 1.5}}}};
  RooflineParameters p;
  {
    ObjectReader r(params, "cost_model", diagnostics);
    p = RooflineModel::read_parameters(r);
  }
  CHECK(p.launch_seconds == doctest::Approx(3e-6));
  CHECK(p.gemm.peak_fraction == 0.6);
  CHECK(p.gemm.overrides_gpu);
  CHECK_FALSE(p.attention_forward.overrides_gpu);
  REQUIRE(diagnostics.problems().size() == 1);
  CHECK(diagnostics.problems()[0].path == "cost_model.memory.peak_fraction");
}

namespace {
// round_gpu with a measured family: peaks quoted at 2,000 MHz, 1,500 MHz sustained in
// 16-bit GEMMs at a 500 W limit (1,000 MHz in fp8), 100 W of static power.
GpuSpec clocked_gpu() {
  GpuSpec gpu = round_gpu();
  gpu.peak_flops[static_cast<std::size_t>(Dtype::kFp8)] = 200e12;
  gpu.clocks = {2000, 2100, 1500, 1000, 500, 100};
  return gpu;
}

Op square_gemm(Dtype dtype, std::int64_t k) {
  Op op;
  op.kind = OpClass::kGemm;
  op.dtype = dtype;
  op.gemm = {1280, 1280, k, 1};  // 100 full tiles on 10 SMs: q = 1
  op.flops = 2.0 * 1280 * 1280 * static_cast<double>(k);
  return op;
}
}  // namespace

TEST_CASE("GEMMs run at the sustained clock's share of the datasheet peak") {
  const RooflineModel model(flat());
  const GpuSpec gpu = clocked_gpu();
  CHECK(gpu.tensor_clock_factor(Dtype::kBf16) == doctest::Approx(0.75));
  CHECK(gpu.tensor_clock_factor(Dtype::kFp8) == doctest::Approx(0.5));
  const Op op = square_gemm(Dtype::kBf16, 4096);
  // 100 TFLOP/s x 0.75 x 0.5 (the flat curve) = 37.5 TFLOP/s.
  CHECK(model.estimate(op, gpu).duration == from_seconds(op.flops / 37.5e12 + 2e-6));
  // Memory-bound ops keep their bandwidth: HBM is not on the SM clock.
  Op norm;
  norm.kind = OpClass::kNorm;
  norm.bytes = 8e6;
  CHECK(model.estimate(norm, gpu).duration == model.estimate(norm, round_gpu()).duration);
}

TEST_CASE("a lower power limit lowers the sustained clock as the cube root of the dynamic power") {
  GpuSpec gpu = clocked_gpu();
  gpu.power_limit_w = 300;  // (300 - 100) / (500 - 100) = 1/2 of the dynamic power
  CHECK(gpu.sustained_clock_mhz(Dtype::kBf16) == doctest::Approx(1500 * std::cbrt(0.5)));
  CHECK(gpu.power_cap_factor(Dtype::kFp8) == doctest::Approx(std::cbrt(0.5)));
  gpu.power_limit_w = 5000;  // a higher limit cannot push past the highest boost clock
  CHECK(gpu.sustained_clock_mhz(Dtype::kBf16) == 2100);
  gpu.power_limit_w = 0;  // unset: the rated limit
  CHECK(gpu.sustained_clock_mhz(Dtype::kBf16) == 1500);
  GpuSpec unmeasured = round_gpu();
  CHECK(unmeasured.tensor_clock_factor(Dtype::kBf16) == 1.0);
}

TEST_CASE("a locked clock bounds every clock but does not lift the power limit") {
  GpuSpec gpu = clocked_gpu();  // 1,500 MHz sustained in bf16, 1,000 in fp8, boost 2,100
  gpu.locked_clock_mhz = 1800;  // above the sustained clocks: the power limit still holds GEMMs to them
  CHECK(gpu.sustained_clock_mhz(Dtype::kBf16) == 1500);
  CHECK(gpu.sustained_clock_mhz(Dtype::kFp8) == 1000);
  CHECK(gpu.top_clock_mhz() == 1800);
  gpu.power_limit_w = 5000;  // a higher limit lets GEMMs clock up, but only to the lock
  CHECK(gpu.sustained_clock_mhz(Dtype::kBf16) == 1800);
  gpu.power_limit_w = 0;
  gpu.locked_clock_mhz = 1200;  // below the bf16 clock: bf16 GEMMs run at the lock, fp8 keeps its lower one
  CHECK(gpu.tensor_clock_factor(Dtype::kBf16) == doctest::Approx(1200.0 / 2000));
  CHECK(gpu.sustained_clock_mhz(Dtype::kFp8) == 1000);
  gpu.clocks.memory_bound_power_w = 200;  // GEMMs beside memory-bound kernels clock up to the lock, no further
  CHECK(gpu.shared_power_clock_boost(Dtype::kFp8, 1, 100) == doctest::Approx(1.2));
  GpuSpec unmeasured = round_gpu();  // peaks taken as sustained at the clock they imply
  const double implied_mhz = unmeasured.peak_clock_hz() / 1e6;
  unmeasured.locked_clock_mhz = implied_mhz / 2;
  CHECK(unmeasured.tensor_clock_factor(Dtype::kBf16) == doctest::Approx(0.5));
  CHECK(unmeasured.attention_clock_factor(Dtype::kBf16) == doctest::Approx(0.5));
  unmeasured.locked_clock_mhz = implied_mhz * 2;
  CHECK(unmeasured.tensor_clock_factor(Dtype::kBf16) == 1.0);
}

TEST_CASE("GEMMs beside memory-bound kernels clock up as far as the average power allows") {
  GpuSpec gpu = clocked_gpu();  // 500 W rated, 100 W static: 400 W of dynamic power at 1,500 MHz in bf16
  CHECK(gpu.shared_power_clock_boost(Dtype::kBf16, 1, 1) == 1.0);  // unmeasured memory-bound power
  gpu.clocks.memory_bound_power_w = 200;                            // a quarter of the dynamic power
  CHECK(gpu.shared_power_clock_boost(Dtype::kBf16, 1, 0) == doctest::Approx(1.0));  // GEMMs alone: the sustained clock
  CHECK(gpu.shared_power_clock_boost(Dtype::kBf16, 1, 100) == doctest::Approx(2100.0 / 1500));  // mostly memory: boost
  // Half GEMMs, half memory-bound: x^3 - 0.75 x - 1 = 0, and the average power is the limit.
  const double x = gpu.shared_power_clock_boost(Dtype::kBf16, 1, 1);
  CHECK(x * x * x - 0.75 * x - 1 == doctest::Approx(0).epsilon(1e-9));
  const double energy = (1 / x) * 400 * x * x * x + 1 * 100;  // dynamic joules per unit of work
  CHECK(energy / (1 / x + 1) == doctest::Approx(400));
  // Three real roots of the cubic (4 a^3 >= 27): the trigonometric form.
  const double y = gpu.shared_power_clock_boost(Dtype::kFp8, 1, 3);  // a = 2.25, fp8 at 1,000 MHz: up to 2.1x
  CHECK(y * y * y - 2.25 * y - 1 == doctest::Approx(0).epsilon(1e-9));
}

// The export-control variants are their parents' silicon with NVLink cut to 400 GB/s
// bidirectional: the same peaks, HBM, measured clocks and kernels, the parents' error bands.
TEST_CASE("the H800 and A800 are the H100 and A100 with narrower NVLink") {
  for (const auto& names : {std::pair{"h800", "h100_sxm"}, std::pair{"a800_sxm_80gb", "a100_sxm_80gb"}}) {
    const std::string variant = names.first;  // not a structured binding: clang before 16 cannot capture one
    CAPTURE(variant);
    const GpuSpec v = *find_builtin_gpu(variant), p = *find_builtin_gpu(names.second);
    CHECK(v.peak_flops == p.peak_flops);
    CHECK(v.memory_bandwidth == p.memory_bandwidth);
    CHECK(v.memory_bytes == p.memory_bytes);
    CHECK(v.sustained_clock_mhz(Dtype::kBf16) == p.sustained_clock_mhz(Dtype::kBf16));
    CHECK(v.efficiency.gemm == p.efficiency.gemm);
    CHECK(v.scale_up_bandwidth == doctest::Approx(200e9));  // 400 GB/s bidirectional
    CHECK(gpu_family(v) == gpu_family(p));
    // A GPU described by the parent's datasheet figures still takes the parent's measurements:
    // the variant shares them, so the figures are not ambiguous.
    GpuSpec described = p;
    described.name = "my_gpu";
    CHECK(measured_gpu_with_figures(described) == names.second);
  }
}

TEST_CASE("Blackwell's sustained clocks come from the public matmul benchmark; attention pays them too") {
  // stas00/ml-engineering's table: B200 1,745.0 of 2,250 TFLOP/s in bf16, 3,432.5 of 4,500 in
  // fp8; its peaks at 8,192 FLOP per SM per clock over 148 SMs; boost 1,980 MHz.
  const GpuSpec b200 = *find_builtin_gpu("b200");
  const double tensor_mhz = 2250e12 / (148 * 8192) / 1e6;
  CHECK(b200.clocks.tensor_clock_mhz == doctest::Approx(1855.7).epsilon(1e-4));
  CHECK(b200.sustained_clock_mhz(Dtype::kBf16) == doctest::Approx(1745.0 / 2250 * tensor_mhz));
  CHECK(b200.tensor_clock_factor(Dtype::kBf16) == doctest::Approx(1745.0 / 2250));
  CHECK(b200.tensor_clock_factor(Dtype::kFp8) == doctest::Approx(3432.5 / 4500));
  // Long GEMMs: Hopper's 0.90 of the clock-scaled peak, within 1% of the earlier 0.90 x the
  // benchmark's fraction averaged over the dtypes.
  const double bf16_share = b200.efficiency.gemm * b200.tensor_clock_factor(Dtype::kBf16);
  CHECK(bf16_share == doctest::Approx(0.90 * (1745.0 / 2250 + 3432.5 / 4500) / 2).epsilon(0.01));
  // Attention: the generic fraction, measured near the boost clock, at the sustained one.
  CHECK(b200.attention_clock_factor(Dtype::kBf16) == doctest::Approx(1745.0 / 2250 * tensor_mhz / 1980));
  const RooflineModel model(flat());
  Op op;
  op.kind = OpClass::kAttention;
  op.dtype = Dtype::kBf16;
  op.flops = 1e12;
  const GpuSpec unclocked = [&] {
    GpuSpec gpu = b200;
    gpu.clocks = {};
    return gpu;
  }();
  const double slowdown = to_seconds(model.estimate(op, b200).duration - from_seconds(2e-6)) /
                          to_seconds(model.estimate(op, unclocked).duration - from_seconds(2e-6));
  CHECK(slowdown == doctest::Approx(1 / b200.attention_clock_factor(Dtype::kBf16)).epsilon(1e-6));
}

namespace {
GpuSpec gpu_from(const nlohmann::json& object, Diagnostics& diagnostics) {
  const nlohmann::json scenario = {{"gpu", object}};
  ObjectReader reader(scenario, "hardware", diagnostics);
  return read_gpu(reader, "gpu");
}

// An RTX 4090 as a user describes it from NVIDIA's whitepaper.
nlohmann::json described_rtx_4090(const std::string& name) {
  return {{"name", name}, {"bf16_tflops", 165.2}, {"memory_gb", 24}, {"memory_bandwidth_tbps", 1.008}, {"sm_count", 128},
          {"scale_up_gbps", 32}};
}
}  // namespace

TEST_CASE("a GPU's name spells out the measured catalog GPU it is, however it is written") {
  CHECK(measured_gpu_named_by("rtx_4090") == "rtx_4090");
  CHECK(measured_gpu_named_by("NVIDIA GeForce RTX 4090 24GB") == "rtx_4090");
  CHECK(measured_gpu_named_by("RTX4090") == "rtx_4090");
  CHECK(measured_gpu_named_by("RTX PRO 6000 Blackwell Server Edition") == "rtx_pro_6000");
  CHECK(measured_gpu_named_by("H100 SXM5 80GB") == "h100_sxm");
  CHECK(measured_gpu_named_by("A100") == "");           // SXM or PCIe, 40 or 80 GB: not said
  CHECK(measured_gpu_named_by("l40s") == "");           // in the catalog, but nothing of it measured
  CHECK(measured_gpu_named_by("rtx_40900") == "");      // 40900 is not 4090
  CHECK(measured_gpu_named_by("h100_sxm or h200_sxm") == "");  // two, equally well
}

TEST_CASE("consumer GPUs described by their datasheets run at what their users measure") {
  Diagnostics diagnostics("s.json");
  const GpuSpec described = gpu_from(described_rtx_4090("RTX 4090"), diagnostics);
  CHECK(diagnostics.problems().empty());
  CHECK(described.efficiency_from == "rtx_4090");
  CHECK(described.measured_kernels_note() == " with rtx_4090's measured kernels");
  // GeForce runs long GEMMs past its datasheet peak (the median of five units, 170.1 of
  // 165.2 TFLOP/s) where an H100's fall 28% short of its own, and streams 0.91 of its memory.
  const RooflineModel model({});
  Op gemm = square_gemm(Dtype::kBf16, 8192);
  gemm.gemm = {8192, 8192, 8192, 1};  // 4,096 tiles: 32 full waves of 128 SMs
  gemm.flops = 2.0 * 8192 * 8192 * 8192;
  const double tflops = gemm.flops / to_seconds(model.estimate(gemm, described).duration) / 1e12;
  MESSAGE("RTX 4090, 8192^3 bf16: " << tflops << " TFLOP/s of 165.2 (measured 162.4-175.1)");
  CHECK(tflops == doctest::Approx(170.1).epsilon(0.01));
  CHECK(described.efficiency.memory == doctest::Approx(0.9115).epsilon(0.001));

  CHECK(gpu_from(described_rtx_4090("my_gpu"), diagnostics).efficiency_from == "rtx_4090");  // by its figures
  nlohmann::json unknown = described_rtx_4090("my_gpu");
  unknown["memory_bandwidth_tbps"] = 1.2;  // no catalog GPU's figures
  const GpuSpec generic = gpu_from(unknown, diagnostics);
  CHECK(generic.efficiency_from.empty());
  CHECK(gemm.flops / to_seconds(model.estimate(gemm, generic).duration) / 1e12 < 0.8 * tflops);

  nlohmann::json opted_out = described_rtx_4090("RTX 4090");
  opted_out["efficiency_from"] = "none";
  CHECK(gpu_from(opted_out, diagnostics).efficiency.gemm == 0);
  nlohmann::json overridden = described_rtx_4090("RTX 4090");
  overridden["gemm_efficiency"] = 0.9;
  CHECK(gpu_from(overridden, diagnostics).efficiency.gemm == 0.9);  // the object's own figure wins
  nlohmann::json borrowed = described_rtx_4090("my_gpu");
  borrowed["efficiency_from"] = "rtx_5090";
  CHECK(gpu_from(borrowed, diagnostics).efficiency.gemm == doctest::Approx(235.4 / 209.5));
  const GpuSpec locked = gpu_from({{"base", "b200"}, {"locked_clock_mhz", 1665}}, diagnostics);  // nvidia-smi -lgc 1665,1665
  CHECK(locked.locked_clock_mhz == 1665);
  CHECK(locked.sustained_clock_mhz(Dtype::kBf16) == doctest::Approx(1745.0 / 2250 * 2250e12 / (148 * 8192) / 1e6));
  CHECK(diagnostics.problems().empty());

  borrowed["efficiency_from"] = "rtx_4909";
  gpu_from(borrowed, diagnostics);
  REQUIRE(diagnostics.problems().size() == 1);
  CHECK(diagnostics.problems()[0].path == "hardware.gpu.efficiency_from");
  CHECK(diagnostics.problems()[0].message.find("rtx_4090") != std::string::npos);
}

TEST_CASE("the GPU family's measured efficiency, with a fixed cost per output tile") {
  const RooflineModel model(flat());
  GpuSpec gpu = round_gpu();
  gpu.efficiency.gemm = 0.8;
  gpu.efficiency.gemm_tile_overhead_k = 256;
  // k = 4096: 0.8 x 4096 / (4096 + 256) of 100 TFLOP/s.
  Op op = square_gemm(Dtype::kBf16, 4096);
  CHECK(to_seconds(model.estimate(op, gpu).duration) ==
        doctest::Approx(op.flops / (100e12 * 0.8 * 4096 / 4352) + 2e-6).epsilon(1e-9));
  // A dtype twice as fast covers twice the reduction steps in the same fixed time.
  gpu.peak_flops[static_cast<std::size_t>(Dtype::kFp8)] = 200e12;
  op = square_gemm(Dtype::kFp8, 4096);
  CHECK(to_seconds(model.estimate(op, gpu).duration) ==
        doctest::Approx(op.flops / (200e12 * 0.8 * 4096 / 4608) + 2e-6).epsilon(1e-9));
  // A scenario that sets the curve's own fraction wins over the GPU's, tile cost included.
  RooflineParameters forced = flat();
  forced.gemm.overrides_gpu = true;
  op = square_gemm(Dtype::kBf16, 4096);
  CHECK(RooflineModel(forced).estimate(op, gpu).duration == from_seconds(op.flops / 50e12 + 2e-6));
}

TEST_CASE("attention runs at the family's FlashAttention-2 or warp-specialized fraction") {
  const RooflineModel model(flat());
  GpuSpec gpu = round_gpu();
  gpu.efficiency.flash_forward = 0.3;
  gpu.efficiency.flash3_forward = 0.6;
  Op op;
  op.kind = OpClass::kAttention;
  op.flops = 1e12;
  CHECK(model.estimate(op, gpu).duration == from_seconds(1e12 / 30e12 + 2e-6));
  op.attention.warp_specialized = true;
  CHECK(model.estimate(op, gpu).duration == from_seconds(1e12 / 60e12 + 2e-6));
  gpu.efficiency.flash3_forward = 0;  // no such kernels on this family: FlashAttention-2's fraction
  CHECK(model.estimate(op, gpu).duration == from_seconds(1e12 / 30e12 + 2e-6));
  // A fixed cost per query tile of 256 keys: causal 4,096 x 4,096 meets 2,048 keys per
  // query on average, so 2,048 / 2,304 of the fraction; split over 2 ring steps, 1,024 a kernel.
  gpu.efficiency.attention_overhead_kv_forward = 256;
  op.attention = {1, 8, 8, 4096, 4096, 128, true, false, 1};
  op.flops = 4.0 * 8 * 4096 * 2048 * 128;
  CHECK(to_seconds(model.estimate(op, gpu).duration) == doctest::Approx(op.flops / (30e12 * 2048 / 2304) + 2e-6).epsilon(1e-9));
  op.attention.kv_steps = 2;
  CHECK(to_seconds(model.estimate(op, gpu).duration) == doctest::Approx(op.flops / (30e12 * 1024 / 1280) + 2e-6).epsilon(1e-9));
}

TEST_CASE("warp-specialized attention takes its own cost per query tile where the family has one") {
  const RooflineModel model(flat());
  GpuSpec gpu = round_gpu();
  gpu.efficiency.flash_forward = 0.3;
  gpu.efficiency.flash3_forward = 0.6;
  gpu.efficiency.attention_overhead_kv_forward = 256;
  Op op;
  op.kind = OpClass::kAttention;
  op.attention = {1, 8, 8, 4096, 4096, 128, true, true, 1};
  op.flops = 4.0 * 8 * 4096 * 2048 * 128;
  // No figure of its own: FlashAttention-2's 256 keys, 2,048 / 2,304 of the fraction.
  CHECK(to_seconds(model.estimate(op, gpu).duration) == doctest::Approx(op.flops / (60e12 * 2048 / 2304) + 2e-6).epsilon(1e-9));
  gpu.efficiency.flash3_overhead_kv_forward = 2048;  // its own: half the fraction at 2,048 keys
  CHECK(to_seconds(model.estimate(op, gpu).duration) == doctest::Approx(op.flops / (60e12 * 0.5) + 2e-6).epsilon(1e-9));
  op.attention.warp_specialized = false;  // FlashAttention-2-class kernels keep theirs
  CHECK(to_seconds(model.estimate(op, gpu).duration) == doctest::Approx(op.flops / (30e12 * 2048 / 2304) + 2e-6).epsilon(1e-9));
}

TEST_CASE("attention below head dim 128 pays each score's exponential beside less tensor work") {
  // Closed forms: e, the head dim whose tensor work per score equals one exponential at 16
  // per SM per clock, is FLOPs per SM per clock / (4 x 16) forward and / (10 x 16) backward.
  const RooflineModel model(RooflineParameters{});
  Op op;
  op.kind = OpClass::kAttention;
  op.attention.head_dim = 64;
  op.attention.warp_specialized = true;
  const GpuSpec& b200 = *find_builtin_gpu("b200");      // 8,192 FLOPs per SM per clock: e = 128
  const GpuSpec& h100 = *find_builtin_gpu("h100_sxm");  // 4,096: e = 64
  const auto rate = [](double d, double e, double tensor_per_dim = 1) { return d / (tensor_per_dim * d + e); };
  CHECK(model.attention_head_dim_share(op, b200) == doctest::Approx(rate(64, 128) / rate(128, 128)));
  CHECK(model.attention_head_dim_share(op, h100) == doctest::Approx(rate(64, 64) / rate(128, 64)));
  op.phase = Phase::kBackwardInput;
  CHECK(model.attention_head_dim_share(op, h100) == doctest::Approx(rate(64, 25.6) / rate(128, 25.6)));
  // FlashAttention-2 on Hopper: 0.36 of peak at 128 leaves (128 / 0.36 - 64) / 128 of ideal
  // tensor time per head dim; the exponentials run at their own rate beside it.
  op.phase = Phase::kForward;
  op.attention.warp_specialized = false;
  const double fa2 = (128 / 0.36 - 64) / 128;
  CHECK(model.attention_head_dim_share(op, h100) == doctest::Approx(rate(64, 64, fa2) / rate(128, 64, fa2)));
  op.attention.head_dim = 256;  // no gain above the head dim the fractions were measured at
  CHECK(model.attention_head_dim_share(op, h100) == 1.0);
  op.attention.head_dim = 128;
  CHECK(model.attention_head_dim_share(op, b200) == 1.0);
  // FP8 doubles the tensor rate, not the exponentials': Hopper's FA3 in fp8 balances at 128.
  op.attention.head_dim = 64;
  op.attention.warp_specialized = true;
  op.dtype = Dtype::kFp8;
  CHECK(model.attention_head_dim_share(op, h100) == doctest::Approx(rate(64, 128) / rate(128, 128)));
}

TEST_CASE("Blackwell Ultra's doubled exponentials: Blackwell's measured kernels with half their exponential time") {
  // Its fractions were measured on a B200, whose exponentials (16 per SM per clock) take as
  // long as the matmuls at head dim 128 (e = 128 forward, 51.2 backward); at 32 they take
  // half as long (e = 64 and 25.6).
  const RooflineModel model(RooflineParameters{});
  Op op;
  op.kind = OpClass::kAttention;
  op.attention.head_dim = 128;
  op.attention.warp_specialized = true;
  const GpuSpec& gb300 = *find_builtin_gpu("gb300");
  CHECK(gb300.exp_per_sm_clock == 32);
  CHECK(model.attention_head_dim_share(op, gb300) == doctest::Approx((128.0 + 128) / (128 + 64)));
  op.phase = Phase::kBackwardInput;
  CHECK(model.attention_head_dim_share(op, gb300) == doctest::Approx((128 + 51.2) / (128 + 25.6)));
  // Head dim 64 meets the smaller share of Ultra's own rate, against the B200's reference.
  op.phase = Phase::kForward;
  op.attention.head_dim = 64;
  CHECK(model.attention_head_dim_share(op, gb300) == doctest::Approx((64.0 / (64 + 64)) / (128.0 / (128 + 128))));
  // A GPU measured on itself gains nothing.
  GpuSpec own = gb300;
  own.efficiency.attention_exp_per_sm_clock = 0;
  op.attention.head_dim = 128;
  CHECK(model.attention_head_dim_share(op, own) == 1.0);
}

TEST_CASE("the registry creates models by name and lists them") {
  CostModelRegistry registry;
  register_builtin_cost_models(registry);
  CHECK(registry.names() == std::vector<std::string>{"roofline"});
  Diagnostics diagnostics("s.json");
  const nlohmann::json empty = nlohmann::json::object();
  ObjectReader r(empty, "cost_model", diagnostics);
  CHECK(registry.create("roofline", r)->name() == "roofline");
}
