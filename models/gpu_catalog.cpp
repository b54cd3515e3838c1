#include <algorithm>
#include <cmath>
#include <numbers>

#include <nlohmann/json.hpp>

#include "models/gpu_spec.hpp"
#include "sim/input/object_reader.hpp"

namespace foresight {
namespace {
constexpr double kTera = 1e12;
constexpr double kGiga = 1e9;

// Copies between an H200 and pinned host memory over PCIe Gen5 x16 (64 GB/s a direction)
// reach 52 GB/s both ways (Azure/AI-benchmarking-guide, ND H200 v5 results, nvbandwidth's
// host-to-device and device-to-host rows): other GPUs on a PCIe host link are taken to reach
// the same share of theirs (unmeasured).
constexpr double kHostCopyShareOfLink = 52.0 / 64.0;
// A GB200's copies over NVLink-C2C to its Grace reach 201 GB/s to the device and 193 GB/s
// from it one GPU at a time (the same guide's ND GB200 v6 results), under half the link's
// 450 GB/s a direction, and 176 GB/s with every GPU of the tray copying at once, as training
// offloads (a Megatron-Core developer's measurement in NVIDIA/Megatron-LM issue 6491; its
// GB300 nvbandwidth runs, the same C2C: 182-184 GB/s all to host, 169-175 from host).
constexpr double kGb200HostCopyGbps = 176;

GpuSpec with_host_copy(GpuSpec gpu, double gbps) {
  gpu.host_copy_bandwidth = gbps * kGiga;
  return gpu;
}

GpuSpec make_gpu(std::string name, std::string description,
                 std::array<double, 5> tflops_fp32_tf32_bf16_fp16_fp8, double memory_gb,
                 double hbm_tbps, int sms, double l2_mb, double scale_up_gbps, double pcie_gbps,
                 std::string source) {
  GpuSpec gpu;
  gpu.name = std::move(name);
  gpu.description = std::move(description);
  for (std::size_t i = 0; i < gpu.peak_flops.size(); ++i) {
    gpu.peak_flops[i] = tflops_fp32_tf32_bf16_fp16_fp8[i] * kTera;
  }
  gpu.memory_bytes = memory_gb * kGiB;  // the vendors' "GB" of device memory are GiB
  gpu.memory_reserved_bytes = default_memory_reserved_gib(memory_gb) * kGiB;
  gpu.memory_bandwidth = hbm_tbps * kTera;
  gpu.sm_count = sms;
  gpu.l2_bytes = l2_mb * 1e6;
  gpu.scale_up_bandwidth = scale_up_gbps * kGiga;
  gpu.pcie_bandwidth = pcie_gbps * kGiga;
  gpu.host_copy_bandwidth = kHostCopyShareOfLink * gpu.pcie_bandwidth;
  gpu.source = std::move(source);
  return gpu;
}

// Sustained clocks measured on an H200 (calibration/profiles/h200_sxm.json, its two
// `sustained` runs: 12 s of back-to-back 8192^3 GEMMs settle at 1,485 MHz in bf16 and
// 1,335 MHz in fp8 at 692 W of a 700 W limit; 78 W idle in the run's telemetry). The H100
// SXM is the same GH100 die with 132 SMs and the same 700 W limit (its HBM3 draws somewhat
// less than the H200's HBM3e, so it may hold a little more clock: unmeasured). Both quote
// their tensor peaks at 1,830 MHz (H100 whitepaper, table 3: 4,096 dense FLOP per SM per
// clock x 132 SMs x 1.83 GHz = 989.4 TFLOP/s).
SustainedClocks hopper_sxm_clocks() {
  // Memory-bound decode on an H200 draws 137-300 W of its 700 W (Ma et al., "The Illusion of
  // Power Capping in LLM Decode", arXiv 2605.11999, four attention architectures at
  // production batch sizes); the top of that range, the most HBM-saturating, is taken.
  return {1830, 1980, 1485, 1335, 700, 78, 300};
}

// GEMMs: measured FLOP/s over 4,096 (8,192 in fp8) FLOP per SM per clock, at the SM clock
// sampled beside each of the H200 profile's 1,993 bf16 and fp8 GEMMs of at least 1e10
// FLOP, rises with k as a fixed per-tile cost is spread over more reduction steps:
// 0.61 at k = 512, 0.83 at 4,096, 0.87 at 16,384 in bf16, lower in fp8 at the same k.
// 0.90 x k / (k + 240), with 480 steps in fp8 (the same time), and wave quantization fits
// them with median |error| 3.1% (scripts/fit_gemm_efficiency.py). Vidur's H100 table, kept
// out of the fit, comes within 7.3% median (2,322 fp16 GEMMs of 1e11-1e13 FLOP), 7% slow:
// a profiler's short runs hold higher clocks than sustained training.
// Attention: PyTorch 2.11's FlashAttention-2 backend on the H200 (the profile's 33 causal
// cases per pass, head dim 128, 1k-16k tokens) reaches 0.22-0.34 of peak forward and
// 0.14-0.31 backward, as the FA3 paper says of FA2 on H100 ("35% utilization"); 0.36 and
// 0.34 x kv / (kv + 300 and 750 keys) fit them with median |error| 4.2% and 3.6%
// (scripts/fit_gemm_efficiency.py; kv: the keys a query meets, half the sequence when
// causal). FA3 forward at head dim 128 on H100 (pytorch/benchmark PR 2391, non-causal):
// 430-621 TFLOP/s from 512 to 16k tokens, which 0.62-0.64 x kv / (kv + 250) fits; its
// backward is 1.5-1.75x FA2's (FA3 paper): 0.53, with FA2's per-tile costs assumed.
// The FA2 cases ran at 1,905-1,980 MHz (calibration/runs/2026-11-30-h200/telemetry.csv,
// 01:34:41-45: 630-684 W, under the 700 W limit), so their fractions hold at 1,965 MHz; the
// FA3 benchmark's clock is not stated and taken as the same. Memory streaming is set below.
KernelEfficiency hopper_efficiency() {
  KernelEfficiency e{0.90, 240, 0.36, 0.34, 0.62, 0.53, 300, 750};
  e.attention_clock_mhz = 1965;
  return e;
}

// The A100 holds 1,305 MHz under HPL at its 400 W limit (NVIDIA's Rpeak convention, as
// recorded on glennklockwood.com "peak FLOPS"); no bf16 GEMM trace of it is in the repo.
// Its training-size fp16 GEMMs in Vidur's table reach 0.71 of the 1,410 MHz peak, so
// 0.71 x 1,410 / 1,305 = 0.77 per clock. FlashAttention-2 reaches 50-73% of A100 peak
// forward (FA2 paper); the generic 0.55 / 0.45 sit at its causal, 2k-token end. The static
// power is nvidia-smi's typical idle draw of an A100 SXM (not measured here).
SustainedClocks a100_clocks() {
  return {1410, 1410, 1305, 0, 400, 55};
}
KernelEfficiency a100_efficiency() {
  return {0.77, 0, 0.55, 0.45, 0, 0, 0, 0};
}

// The A40's fp16 GEMMs of training size reach 0.76 of its datasheet peak in Vidur's table,
// at whatever clock that run held: no clock trace, so the figure is taken per datasheet.
KernelEfficiency a40_efficiency() { return {0.76, 0, 0, 0, 0, 0, 0, 0}; }

// GPUs we have no clock trace or kernel profile of, but that one public benchmark measured as
// it measured the H100: the best PyTorch matmul over a search of large shapes, 100 runs each
// (stas00/ml-engineering, compute/accelerator/README.md, "Maximum Achievable Matmul FLOPS
// comparison table"): H100 SXM 794.5 TFLOP/s in bf16 (80.3% of peak) and 1,402.6 in fp8
// (70.9%); B200 1,745.0 and 3,432.5; GB200 1,822.0 and 3,615.6; MI300X 668.4 in bf16,
// MI325X 784.9, MI355X 1,565.0 (no fp8 figures for AMD). Such short runs hold higher clocks
// than training does: the H100 model above, at full waves and k = 16,384, sustains 0.72 of
// its bf16 peak and 0.64 of fp8, 0.90 of those figures in both dtypes. These GPUs are taken
// to keep that ratio: long GEMMs at 0.90 x the benchmark's fraction of the catalog's peak
// (the mean over the dtypes measured), with no tile cost (unmeasured).
KernelEfficiency matmul_benchmark_efficiency(double bf16_fraction, double fp8_fraction) {
  return {0.90 * (bf16_fraction + fp8_fraction) / 2, 0, 0, 0, 0, 0, 0, 0};
}

// Blackwell's clocks, from the same benchmark. On Hopper its fraction of peak times the tensor
// clock comes within 1-3% of the clock an H200 held under sustained GEMMs (0.803 x 1,830 =
// 1,470 MHz against 1,485 measured in bf16; 0.709 x 1,830 = 1,297 against 1,335 in fp8), so
// Blackwell's sustained clocks are read the same way, and its long GEMMs run at Hopper's 0.90
// of the clock-scaled peak (what matmul_benchmark_efficiency gives, within 1%). The tensor
// clock is the one behind the datasheet peak, 8,192 dense 16-bit FLOP per SM per clock (B200:
// 2,250 TFLOP/s over 148 SMs, 1,856 MHz; GB200: 2,500, 2,062 MHz); the boost clocks are the
// published spec sheets' (B200 1,980 MHz, GB200 2,110 MHz; hmc-tech.com's NVIDIA spec
// tables), and GB200's power 1,200 W a GPU (its superchip's 2,700 W less Grace's 300).
// Beyond the GEMMs this matters for attention: its fractions come from short benchmarks
// near the boost clock, as on Hopper, and a power-limited training step runs it at the
// sustained clock. Unmeasured: the power that does not scale with the clock.
// Blackwell's GEMMs also pay Hopper's fixed cost per output tile, 240 steps of a 16-bit main
// loop (480 in fp8). XLA's measured B200 matmul table (calibration/data/xla, 72 shapes of
// 2e9-1.4e11 FLOP) falls with k at fixed m and n as that cost says: at m = n = 4,096, bf16
// reaches 0.23, 0.36, 0.48, 0.57 and 0.63 of peak from k = 256 to 4,096. With the table's
// own fixed time per kernel and its clock taken out, 240 steps fit its bf16 shapes within
// 6.2% (none: 7.5%; the best fit, 200 steps, 6.1%) and its held-out fp8 shapes within 5.8%
// (none: 7.6%; tests/kernel_validation_test.cpp).
SustainedClocks benchmark_clocks(double tensor_mhz, double max_mhz, double bf16_fraction, double fp8_fraction, double power_w) {
  return {tensor_mhz, max_mhz, bf16_fraction * tensor_mhz, fp8_fraction * tensor_mhz, power_w, 0, 0};
}

// GeForce and workstation parts, measured as a user's own benchmark measures them. Their
// datasheet boost clock is not a ceiling and their power limits leave headroom: bf16 matmuls
// of 1k-10k squares reach the datasheet peak or more, and a 120 s run of 8192^3 GEMMs on an
// RTX 4090 (binbinsh/gpu-bench, results/4090.json: 175.1 TFLOP/s) holds what the short runs
// reach, where a power-limited H100 falls 10% below its short runs. Long GEMMs are taken at the
// median bf16 figure of the units measured, over the datasheet peak (clocks unmeasured: the
// fraction holds clock and kernel together): RTX 4090 175.1 (gpu-bench) and 173.3, 170.1,
// 163.1, 162.4 (zzc0721/torch-performance-test-data, database.md, 24 GB cards), median 170.1
// of 165.2, 1.03; RTX 5090 236.0 and 242.2, 5090 D 234.8 (gpu-bench) and 232.2 (the same
// GB202 and clocks; its cut is in FP8/FP4), median 235.4 of 209.5, 1.12; RTX PRO 6000 418.0
// (Workstation) and 409.4, 417.3 (Server Edition, the same 188 SMs at 600 W) and 368.4 (a
// second Workstation unit, zzc0721 issue 160), median 413.4 of 503.8, 0.82 (unlike GeForce it
// accumulates in fp32 at the full tensor rate: twice the work per clock, likely why it falls short).
// Memory streaming: device-to-device copies reach 918.8 GB/s of the 4090's 1,008 (gpu-bench;
// xytpai/nvbench's read kernels 904-922), 0.91, and llama.cpp's whole decode step of Llama 3
// 8B in f16 streams 0.874 of it (XiongjieDai/GPU-Benchmarks-on-LLM-Inference, tg512: 54.84
// tokens/s of 16.06 GB), so its weight-streaming kernels lose little to the copy; the 5090 D
// copies 1,528.8 GB/s of 1,792, 0.853, which the RTX PRO 6000 shares (the same GB202
// 512-bit GDDR7 at 28 Gbps). Fused attention stays on the generic curves (unmeasured).
// The H20 is measured the same way (one unit in zzc0721's table: 141.9 TFLOP/s of its 148):
// its tensor rate is held far below what its 78 SMs could do at its clock, so GEMMs meet that
// cap, not the power limit. Its memory streaming is unmeasured (0: generic).
KernelEfficiency user_benchmark_efficiency(double gemm_fraction, double memory_fraction) {
  KernelEfficiency e{gemm_fraction, 0, 0, 0, 0, 0, 0, 0};
  e.memory = memory_fraction;
  e.memory_ramp_us = memory_fraction > 0 ? 1.0 : 0.0;  // the generic curve's fixed cost (unmeasured)
  return e;
}
// Blackwell's attention, at the boost clock it was measured near. FlashAttention-2-class
// kernels (PyTorch SDPA's flash backend, flash-attn 2) issue Ampere's warp-level mma.sync,
// which Blackwell runs at Hopper's rate per SM and clock, half its own tcgen05 peak: Hopper's
// FA2 figures, halved (0.18 and 0.17 with 300 and 750 keys a tile). Unfitted, they come within
// 2% of cuDNN-frontend's measured B200 FA2 forward from 8k to 128k tokens and 7-11% fast in
// backward. Its cuDNN 9.10 kernels (tcgen05) over 4k-32k tokens (head dim 128, 128 / 8 heads,
// causal; runs of up to 80 ms, before the power limit slows them) fit 0.72 forward and 0.58
// backward x kv / (kv + 1,750 keys), median |error| 2% (NVIDIA/cudnn-frontend
// benchmark/sdpa_benchmark_training/artifacts/sdpa_bf16_benchmark_results_NVIDIA_B200.csv).
// The GB200 takes the same fractions of its own datasheet peak: its cuDNN 9.19 kernels,
// measured, fit 0.70 and 0.57 (docs/training.md). `per_clock` scales them for a part whose
// boost clock stands further above its datasheet clock than theirs (Blackwell Ultra, below).
KernelEfficiency benchmark_clock_efficiency(double attention_clock_mhz, double per_clock = 1) {
  KernelEfficiency e{0.90, 240, per_clock * 0.36 / 2, per_clock * 0.34 / 2, per_clock * 0.72, per_clock * 0.58, 300, 750};
  e.flash3_overhead_kv_forward = 1750;
  e.flash3_overhead_kv_backward = 1750;
  e.attention_clock_mhz = attention_clock_mhz;
  return e;
}

// Blackwell Ultra (B300, GB300): 160 SMs at Blackwell's 8,192 dense 16-bit FLOPs per SM and
// clock, so the datasheet peaks (B300 2,250 TFLOP/s, GB300 2,500; the per-GPU table of Verda's
// "GB300 NVL72 architecture" post) assume 1,717 and 1,907 MHz; and twice Blackwell's
// exponentials for attention, 10.7 TeraExponentials/s (the same table), 32 per SM and clock
// at 2,090 MHz, taken as the boost clock. The B300's sustained clocks are read from
// stas00/ml-engineering's matmul benchmark as the B200's are (1,769.0 TFLOP/s in bf16,
// 3,353.3 in fp8), at its 1,100 W (Verda's table). Its attention runs the B200's measured
// kernels (unmeasured on Ultra: an assumption) at the same work per SM and clock: the B200's
// fractions are of its peak at 1,856 MHz, measured near 1,980, so an Ultra part at 2,090
// reaches them times 1,856 / 1,980 x 2,090 / its own tensor clock; and their exponentials at
// the doubled rate (KernelEfficiency::attention_exp_per_sm_clock).
constexpr double kBlackwellUltraBoostMhz = 2090;
constexpr double kB200TensorClockMhz = 2250e12 / (148 * 8192) / 1e6, kB200AttentionClockMhz = 1980;

SustainedClocks blackwell_ultra_clocks(double datasheet_bf16_tflops) {
  const double tensor_mhz = datasheet_bf16_tflops * 1e12 / (160 * 8192) / 1e6;
  const double b300_tensor_mhz = 2250e12 / (160 * 8192) / 1e6;
  return {tensor_mhz, kBlackwellUltraBoostMhz, 1769.0 / 2250 * b300_tensor_mhz, 3353.3 / 4500 * b300_tensor_mhz, 1100, 0, 0};
}

KernelEfficiency blackwell_ultra_efficiency(double tensor_clock_mhz) {
  const double per_clock = kB200TensorClockMhz / kB200AttentionClockMhz * kBlackwellUltraBoostMhz / tensor_clock_mhz;
  KernelEfficiency e = benchmark_clock_efficiency(kBlackwellUltraBoostMhz, per_clock);
  e.attention_exp_per_sm_clock = 16;  // measured on the B200
  return e;
}

// The same B300 silicon in a GB300 NVL72 tray at 1,400 W a GPU (NVIDIA's GB300 rack-planning
// example): the B300's clocks at 1,100 W, raised as the cube root of the power (no GB300
// matmul benchmark is published; an assumption). Its host link is GB200's NVLink-C2C.
GpuSpec blackwell_ultra(GpuSpec gpu, double power_w) {
  gpu.exp_per_sm_clock = 32;
  gpu.power_limit_w = power_w;
  return gpu;
}

GpuSpec with_sustained(GpuSpec gpu, SustainedClocks clocks, KernelEfficiency efficiency) {
  gpu.clocks = clocks;
  gpu.efficiency = efficiency;
  return gpu;
}

// Memory-bound GEMMs (decode's skinny ones) against (bytes / bandwidth + ramp) / fraction
// plus the launch gap, fitted by weighted least squares on relative error
// (scripts/fit_memory_efficiency.py): H100, A100 and A40 on Vidur's Llama-2-7B/70B
// projections at 1-8 tokens and TP 1-8 (128 GEMMs each; median |error| 4.7%, 3.4%, 2.7%),
// the H200 on our profile's 128 bf16 GEMMs with m <= 8 (7.3%). Decode of a large model
// streams its weights at 0.87 of the H100's HBM bandwidth but 0.79 of the A100's.
GpuSpec with_memory_streaming(GpuSpec gpu, double fraction, double ramp_us) {
  gpu.efficiency.memory = fraction;
  gpu.efficiency.memory_ramp_us = ramp_us;
  return gpu;
}
}  // namespace

double default_memory_reserved_gib(double capacity_gib) { return 0.25 + 0.0075 * capacity_gib; }

double GpuSpec::peak_clock_hz() const {
  if (clocks.tensor_clock_mhz > 0) return clocks.tensor_clock_mhz * 1e6;
  return sm_count > 0 ? peak(Dtype::kFp32) / (2.0 * 128 * sm_count) : 0;
}

double GpuSpec::tensor_flops_per_sm_clock(Dtype dtype) const {
  const double clock = peak_clock_hz();
  const double rate = dtype == Dtype::kBf16 && peak(dtype) <= 0 ? peak(Dtype::kFp16) : peak(dtype);
  return clock > 0 && sm_count > 0 ? rate / (sm_count * clock) : 0;
}

double GpuSpec::rated_clock_mhz(Dtype dtype) const {
  return dtype == Dtype::kFp8 && clocks.fp8_mhz > 0 ? clocks.fp8_mhz : clocks.bf16_mhz;
}

double GpuSpec::top_clock_mhz() const {
  if (locked_clock_mhz > 0 && (clocks.max_clock_mhz <= 0 || locked_clock_mhz < clocks.max_clock_mhz)) return locked_clock_mhz;
  return clocks.max_clock_mhz;
}

double GpuSpec::sustained_clock_mhz(Dtype dtype) const {
  const double rated = rated_clock_mhz(dtype);
  if (rated <= 0) return 0;
  double clock = rated;
  if (power_limit_w > 0 && clocks.rated_power_w > 0 && power_limit_w != clocks.rated_power_w) {
    const double headroom = (power_limit_w - clocks.static_power_w) / (clocks.rated_power_w - clocks.static_power_w);
    clock = rated * std::cbrt(std::max(headroom, 0.0));
  }
  const double top = top_clock_mhz();
  return top > 0 ? std::min(clock, top) : clock;
}

// Without measured clocks the peaks are taken as sustained, at the clock they imply; a lock
// below that clock scales them down.
double GpuSpec::unmeasured_lock_factor() const {
  const double peak_mhz = peak_clock_hz() / 1e6;
  return locked_clock_mhz > 0 && peak_mhz > locked_clock_mhz ? locked_clock_mhz / peak_mhz : 1.0;
}

double GpuSpec::tensor_clock_factor(Dtype dtype) const {
  const double clock = sustained_clock_mhz(dtype);
  if (clock <= 0 || clocks.tensor_clock_mhz <= 0) return unmeasured_lock_factor();
  return clock / clocks.tensor_clock_mhz;
}

double expected_max_of_normals(int n) {
  if (n <= 1) return 0;
  // E[max] = integral of x n phi(x) Phi(x)^(n-1) dx, by the midpoint rule on [-10, 10].
  constexpr int kSteps = 4000;
  constexpr double kLow = -10, kHigh = 10, kWidth = (kHigh - kLow) / kSteps;
  double sum = 0;
  for (int i = 0; i < kSteps; ++i) {
    const double x = kLow + (i + 0.5) * kWidth;
    const double density = std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi);
    const double below = 0.5 * std::erfc(-x / std::sqrt(2.0));
    sum += x * n * density * std::pow(below, n - 1) * kWidth;
  }
  return sum;
}

double GpuSpec::slowest_of(int gpus) const { return 1.0 + speed_spread * expected_max_of_normals(gpus); }

double GpuSpec::shared_power_clock_boost(Dtype dtype, double clocked, double unclocked) const {
  const double sustained = sustained_clock_mhz(dtype);
  const double limit = power_limit_w > 0 ? power_limit_w : clocks.rated_power_w;
  const double top = top_clock_mhz();
  if (sustained <= 0 || top <= sustained || clocks.memory_bound_power_w <= 0 || limit <= clocks.static_power_w || clocked <= 0) {
    return 1.0;
  }
  // At x times the sustained clock the GEMMs take clocked / x at x^3 of the dynamic power
  // that the sustained clock spends at the limit; the average over the stretch must fit:
  // clocked x^2 + share unclocked <= clocked / x + unclocked, that is x^3 - a x - 1 <= 0
  // with a = (1 - share) unclocked / clocked. Its one positive root (Cardano, or the
  // trigonometric form when the cubic has three real roots) is at least 1.
  const double share = std::clamp((clocks.memory_bound_power_w - clocks.static_power_w) / (limit - clocks.static_power_w), 0.0, 1.0);
  const double a = (1 - share) * unclocked / clocked;
  double root = 1;
  if (4 * a * a * a < 27) {
    const double d = std::sqrt(0.25 - a * a * a / 27);
    root = std::cbrt(0.5 + d) + std::cbrt(0.5 - d);
  } else {
    root = 2 * std::sqrt(a / 3) * std::cos(std::acos(1.5 / a * std::sqrt(3 / a)) / 3);
  }
  return std::clamp(root, 1.0, top / sustained);
}

double GpuSpec::attention_clock_factor(Dtype dtype) const {
  const double sustained = sustained_clock_mhz(dtype);
  const double measured = efficiency.attention_clock_mhz > 0 ? efficiency.attention_clock_mhz : clocks.tensor_clock_mhz;
  if (sustained <= 0 || measured <= 0) return rated_clock_mhz(dtype) > 0 ? power_cap_factor(dtype) : unmeasured_lock_factor();
  return sustained / measured;
}

double GpuSpec::power_cap_factor(Dtype dtype) const {
  const double rated = rated_clock_mhz(dtype);
  const double clock = sustained_clock_mhz(dtype);
  return rated > 0 && clock > 0 ? clock / rated : 1.0;
}

// Dense tensor-core peaks from the vendors' datasheets (the table in
// shared/validation/published-cases.md for bf16/fp8, memory, HBM and NVLink; the
// datasheets for fp32, tf32, L2 and PCIe). NVLink figures in datasheets are bidirectional:
// the per-direction bandwidth stored here is half. Sustained clocks and kernel efficiencies
// are per family, from the measurements named above (B200, GB200 and AMD's Instinct parts:
// their GEMMs only; the RTX parts: GEMMs and memory streaming; the H20: GEMMs); GPUs without
// them (L40S, L4) use the cost model's generic curves at their datasheet peaks.
const std::vector<GpuSpec>& builtin_gpus() {
  // The H100 PCIe quotes its peak at 1,620 MHz (whitepaper table 3) under a 350 W limit;
  // its sustained clocks are assumed to keep the SXM's ratio to the tensor clock (unmeasured).
  const SustainedClocks sxm = hopper_sxm_clocks();
  const SustainedClocks pcie{1620, 1755, 1620 * sxm.bf16_mhz / sxm.tensor_clock_mhz, 1620 * sxm.fp8_mhz / sxm.tensor_clock_mhz,
                             350, 78};
  static const std::vector<GpuSpec> kGpus = {
      with_memory_streaming(with_sustained(make_gpu("h100_sxm", "NVIDIA H100 SXM5 80GB", {66.9, 494.7, 989.4, 989.4, 1978.9}, 80,
                                                    3.35, 132, 50, 450, 64, "NVIDIA H100 datasheet (dense); NVLink4 900 GB/s bidirectional"),
                                           hopper_sxm_clocks(), hopper_efficiency()),
                            0.865, 1.6),
      with_sustained(make_gpu("h100_pcie", "NVIDIA H100 PCIe 80GB", {51.2, 378, 756, 756, 1513}, 80, 2.0, 114, 50,
                              300, 64, "NVIDIA H100 datasheet (dense); NVLink bridge 600 GB/s bidirectional"),
                     pcie, hopper_efficiency()),
      // The export-control variant: H100 SXM5's silicon, clocks and HBM3, NVLink cut to 400 GB/s
      // bidirectional; DeepSeek-V3's report (arXiv 2412.19437, section 3.2.2) has NVLink
      // delivering 160 GB/s on its H800s, what NCCL's fitted efficiency gives of 200 a direction.
      with_memory_streaming(with_sustained(make_gpu("h800", "NVIDIA H800 SXM5 80GB", {66.9, 494.7, 989.4, 989.4, 1978.9}, 80, 3.35, 132,
                                                    50, 200, 64,
                                                    "NVIDIA H800: H100 SXM5's compute and HBM3 (dense), NVLink 400 GB/s bidirectional, "
                                                    "FP64 cut to 1 TFLOP/s (not modelled)"),
                                           hopper_sxm_clocks(), hopper_efficiency()),
                            0.865, 1.6),
      with_memory_streaming(with_sustained(make_gpu("h200_sxm", "NVIDIA H200 SXM 141GB", {66.9, 494.7, 989.4, 989.4, 1978.9}, 141,
                                                    4.8, 132, 50, 450, 64, "NVIDIA H200 datasheet (dense); NVLink4 900 GB/s bidirectional"),
                                           hopper_sxm_clocks(), hopper_efficiency()),
                            0.817, 5.8),
      with_memory_streaming(with_sustained(make_gpu("a100_sxm_80gb", "NVIDIA A100 SXM4 80GB", {19.5, 156, 312, 312, 0}, 80, 2.039,
                                                    108, 40, 300, 32, "NVIDIA A100 datasheet (dense); NVLink3 600 GB/s bidirectional; no fp8"),
                                           a100_clocks(), a100_efficiency()),
                            0.789, 2.4),
      // The A100's export-control variant: its compute and HBM2e, NVLink cut to 400 GB/s bidirectional.
      with_memory_streaming(with_sustained(make_gpu("a800_sxm_80gb", "NVIDIA A800 SXM4 80GB", {19.5, 156, 312, 312, 0}, 80, 2.039,
                                                    108, 40, 200, 32, "NVIDIA A800: A100 SXM4 80GB's compute and HBM2e (dense), "
                                                                      "NVLink 400 GB/s bidirectional; no fp8"),
                                           a100_clocks(), a100_efficiency()),
                            0.789, 2.4),
      with_memory_streaming(with_sustained(make_gpu("a100_sxm_40gb", "NVIDIA A100 SXM4 40GB", {19.5, 156, 312, 312, 0}, 40, 1.555,
                                                    108, 40, 300, 32,
                                                    "NVIDIA A100 datasheet (dense); HBM2 1,555 GB/s; NVLink3 600 GB/s bidirectional; no fp8"),
                                           a100_clocks(), a100_efficiency()),
                            0.789, 2.4),
      with_sustained(make_gpu("b200", "NVIDIA B200 180GB", {75, 1100, 2250, 2250, 4500}, 180, 7.672, 148, 126, 900,
                              64, "NVIDIA DGX B200 datasheet per GPU (dense); HBM3e 7.67 TB/s, not the datasheet's 8: the driver "
                                  "reports a 7,680-bit bus at 3,996 MHz (pytorch/ao PR 4002); NVLink5 1.8 TB/s bidirectional"),
                     benchmark_clocks(2250e12 / (148 * 8192) / 1e6, 1980, 1745.0 / 2250, 3432.5 / 4500, 1000),
                     benchmark_clock_efficiency(1980)),
      with_memory_streaming(with_sustained(make_gpu("a40", "NVIDIA A40 48GB", {37.4, 74.8, 149.7, 149.7, 0}, 48, 0.696, 84, 6, 56, 32,
                                                    "NVIDIA A40 datasheet (dense); NVLink bridge 112.5 GB/s bidirectional; no fp8"),
                                           {}, a40_efficiency()),
                            0.787, 1.1),
      make_gpu("l40s", "NVIDIA L40S 48GB", {91.6, 183, 362, 362, 733}, 48, 0.864, 142, 96, 32, 32,
               "NVIDIA L40S datasheet (dense); no NVLink: peers talk over PCIe Gen4"),
      with_sustained(make_gpu("mi300x", "AMD Instinct MI300X 192GB", {163.4, 653.7, 1307.4, 1307.4, 2614.9}, 192,
                              5.3, 304, 256, 448, 64,
                              "AMD MI300X datasheet (dense; CUs as SMs, Infinity Cache as L2); 7 xGMI links x 64 GB/s"),
                     {}, matmul_benchmark_efficiency(668.4 / 1307.4, 668.4 / 1307.4)),
      with_sustained(make_gpu("mi325x", "AMD Instinct MI325X 256GB", {163.4, 653.7, 1307.4, 1307.4, 2614.9}, 256, 6.0, 304, 256,
                              448, 64, "AMD MI325X datasheet (dense; MI300X's compute with 256 GB of HBM3E at 6 TB/s); 7 xGMI links x 64 GB/s"),
                     {}, matmul_benchmark_efficiency(784.9 / 1307.4, 784.9 / 1307.4)),
      with_host_copy(with_sustained(make_gpu("gb200", "NVIDIA GB200 (one Blackwell GPU of an NVL72 rack) 186GB", {80, 1250, 2500, 2500, 5000}, 186, 8.0,
                              148, 126, 900, 450,
                              "NVIDIA GB200 NVL72 datasheet divided by its 72 GPUs (dense: half the sparse figures); NVLink5 1.8 TB/s "
                              "bidirectional; the host link is NVLink-C2C to Grace, 900 GB/s bidirectional; SMs and L2 as B200's"),
                     benchmark_clocks(2500e12 / (148 * 8192) / 1e6, 2110, 1822.0 / 2500, 3615.6 / 5000, 1200),
                     benchmark_clock_efficiency(2110)), kGb200HostCopyGbps),
      blackwell_ultra(with_sustained(make_gpu("b300", "NVIDIA B300 (Blackwell Ultra) 270GB", {75, 1100, 2250, 2250, 4500}, 270, 7.672,
                                              160, 126, 900, 64,
                                              "Verda's GB300 NVL72 architecture post, per-GPU table (dense); HGX B300's 2.1 TB over 8 "
                                              "GPUs; HBM3e on B200's 7,680-bit bus; NVLink5 1.8 TB/s bidirectional; L2 and PCIe as B200's"),
                                     blackwell_ultra_clocks(2250), blackwell_ultra_efficiency(2250e12 / (160 * 8192) / 1e6)),
                      1100),
      with_host_copy(blackwell_ultra(with_sustained(make_gpu("gb300", "NVIDIA GB300 (one Blackwell Ultra GPU of an NVL72 rack) 288GB",
                                                             {80, 1250, 2500, 2500, 5000}, 288, 8.0, 160, 126, 900, 450,
                                                             "Verda's GB300 NVL72 architecture post, per-GPU table (dense); NVIDIA's "
                                                             "GB300 NVL72 HBM3e, 288 GB a GPU; NVLink5 1.8 TB/s bidirectional; the host "
                                                             "link is NVLink-C2C to Grace, as GB200's; L2 as B200's"),
                                                    blackwell_ultra_clocks(2500), blackwell_ultra_efficiency(2500e12 / (160 * 8192) / 1e6)),
                                     1400),
                     kGb200HostCopyGbps),
      with_sustained(make_gpu("h20", "NVIDIA H20 96GB", {44, 74, 148, 148, 296}, 96, 4.0, 78, 60, 450, 64,
                              "NVIDIA H20 specifications (dense; a Hopper GH100 with 78 SMs at 400 W); NVLink4 900 GB/s bidirectional"),
                     {}, user_benchmark_efficiency(141.86 / 148, 0)),
      make_gpu("l4", "NVIDIA L4 24GB", {30.3, 60, 121, 121, 242.5}, 24, 0.3, 58, 48, 32, 32,
               "NVIDIA L4 datasheet (dense: half the sparse figures); GDDR6 300 GB/s; no NVLink: PCIe Gen4 x16"),
      with_sustained(make_gpu("rtx_4090", "NVIDIA GeForce RTX 4090 24GB", {82.6, 82.6, 165.2, 165.2, 330.3}, 24, 1.008, 128, 72, 32, 32,
                              "NVIDIA Ada Lovelace whitepaper (dense, FP32 accumulate: GeForce runs it at half the FP16-accumulate "
                              "rate, at the 2,520 MHz boost clock); GDDR6X 1,008 GB/s; no NVLink: PCIe Gen4 x16"),
                     {}, user_benchmark_efficiency(170.1 / 165.2, 918.8 / 1008)),
      with_sustained(make_gpu("rtx_5090", "NVIDIA GeForce RTX 5090 32GB", {104.8, 104.8, 209.5, 209.5, 419}, 32, 1.792, 170, 96, 64, 64,
                              "NVIDIA RTX Blackwell whitepaper (dense, FP32 accumulate, as for the RTX 4090); GDDR7 1,792 GB/s; no "
                              "NVLink: PCIe Gen5 x16"),
                     {}, user_benchmark_efficiency(235.4 / 209.5, 1528.8 / 1792)),
      with_sustained(make_gpu("rtx_pro_6000", "NVIDIA RTX PRO 6000 Blackwell 96GB", {125.95, 251.9, 503.8, 503.8, 1007.6}, 96, 1.792, 188,
                              128, 64, 64,
                              "NVIDIA RTX PRO 6000 Blackwell Workstation Edition datasheet (dense; unlike GeForce, FP32 accumulate "
                              "at the full rate: 4,000 AI TOPS is sparse FP4); 188 SMs, GDDR7 1,792 GB/s, 128 MB L2, 600 W; no "
                              "NVLink: PCIe Gen5 x16"),
                     {}, user_benchmark_efficiency(413.4 / 503.8, 1528.8 / 1792)),
      with_sustained(make_gpu("mi355x", "AMD Instinct MI355X 288GB", {157.3, 0, 2516.6, 2516.6, 5033.2}, 288, 8.0, 256, 256,
                              537.6, 64,
                              "AMD Instinct MI355X specifications (dense; 256 CUs at 2,400 MHz, 8,192 FP8 FLOPs per CU per clock, "
                              "ISSCC 2026; no TF32; CUs as SMs, Infinity Cache as L2; 1,400 W); HBM3E 8 TB/s; 7 Infinity Fabric "
                              "links x 153.6 GB/s bidirectional"),
                     {}, matmul_benchmark_efficiency(1565.0 / 2516.6, 1565.0 / 2516.6)),
  };
  return kGpus;
}

const GpuSpec* find_builtin_gpu(const std::string& name) {
  for (const GpuSpec& gpu : builtin_gpus()) {
    if (gpu.name == name) return &gpu;
  }
  return nullptr;
}

std::vector<std::string> builtin_gpu_names() {
  std::vector<std::string> names;
  for (const GpuSpec& gpu : builtin_gpus()) names.push_back(gpu.name);
  return names;
}

namespace {
void read_sustained_throughput(ObjectReader& reader, GpuSpec& gpu) {
  SustainedClocks& c = gpu.clocks;
  gpu.power_limit_w = reader.number("power_limit_w", gpu.power_limit_w > 0 ? gpu.power_limit_w : c.rated_power_w,
      {"Board power limit the GPUs run at (nvidia-smi -pl); below the rated limit the sustained tensor clocks fall "
       "as the cube root of the dynamic power left.", "W", 0.0});
  gpu.locked_clock_mhz = reader.number("locked_clock_mhz", gpu.locked_clock_mhz,
      {"SM clock locked with nvidia-smi -lgc (both bounds the same): no kernel runs faster, and the power limit still holds "
       "tensor-heavy kernels to their sustained clock where that is lower (0 = not locked).", "MHz", 0.0});
  c.tensor_clock_mhz = reader.number("tensor_clock_mhz", c.tensor_clock_mhz,
      {"SM clock the datasheet tensor peaks assume (0 = take peaks as sustained).", "MHz", 0.0});
  c.max_clock_mhz = reader.number("max_clock_mhz", c.max_clock_mhz, {"Highest boost clock.", "MHz", 0.0});
  c.bf16_mhz = reader.number("sustained_clock_mhz", c.bf16_mhz,
      {"SM clock held under sustained 16-bit tensor GEMMs at rated_power_w (0 = unmeasured).", "MHz", 0.0});
  c.fp8_mhz = reader.number("fp8_sustained_clock_mhz", c.fp8_mhz,
      {"SM clock held under sustained FP8 GEMMs at rated_power_w (0 = as 16-bit).", "MHz", 0.0});
  c.rated_power_w = reader.number("rated_power_w", c.rated_power_w,
      {"Power limit the sustained clocks were measured at.", "W", 0.0});
  c.static_power_w = reader.number("static_power_w", c.static_power_w,
      {"Power that does not scale with the SM clock (idle draw).", "W", 0.0});
  c.memory_bound_power_w = reader.number("memory_bound_power_w", c.memory_bound_power_w,
      {"Board power while memory-bound kernels saturate the HBM (LLM decode); serving iterations whose GEMMs share the "
       "time with them clock those GEMMs up within the power limit (0 = unmeasured: GEMMs at the sustained clock).", "W", 0.0});
  KernelEfficiency& e = gpu.efficiency;
  e.gemm = reader.number("gemm_efficiency", e.gemm,
      {"Fraction of the clock-scaled tensor peak training-size GEMMs reach (0 = the cost model's generic curve); above 1 "
       "where GPUs run past the clock behind their datasheet peak, as GeForce parts do.", "", 0.0, 1.5});
  e.gemm_tile_overhead_k = reader.number("gemm_tile_overhead_k", e.gemm_tile_overhead_k,
      {"Fixed cost of each GEMM output tile in 16-bit reduction steps (0 = none).", "", 0.0});
  e.flash_forward = reader.number("flash_forward_efficiency", e.flash_forward,
      {"Fraction of the tensor peak FlashAttention-2-class forward reaches at long sequences (0 = generic).", "", 0.0, 1.0});
  e.flash_backward = reader.number("flash_backward_efficiency", e.flash_backward,
      {"The same for the backward pass.", "", 0.0, 1.0});
  e.flash3_forward = reader.number("flash3_forward_efficiency", e.flash3_forward,
      {"Fraction of the tensor peak warp-specialized attention (FA3, cuDNN 9) forward reaches (0 = as FlashAttention-2).", "", 0.0, 1.0});
  e.flash3_backward = reader.number("flash3_backward_efficiency", e.flash3_backward,
      {"The same for the backward pass.", "", 0.0, 1.0});
  e.attention_clock_mhz = reader.number("attention_clock_mhz", e.attention_clock_mhz,
      {"SM clock the attention efficiencies were measured at; under a sustained load attention runs at the power-limited "
       "clock instead (0 = the tensor clock).", "MHz", 0.0});
  e.attention_overhead_kv_forward = reader.number("attention_overhead_kv_forward", e.attention_overhead_kv_forward,
      {"Fixed cost of each attention query tile, forward, in keys (0 = none).", "keys", 0.0});
  e.attention_overhead_kv_backward = reader.number("attention_overhead_kv_backward", e.attention_overhead_kv_backward,
      {"The same for the backward pass.", "keys", 0.0});
  e.flash3_overhead_kv_forward = reader.number("flash3_overhead_kv_forward", e.flash3_overhead_kv_forward,
      {"Fixed cost of each warp-specialized attention query tile (FA3, cuDNN 9), forward, in keys (0 = as "
       "FlashAttention-2's).", "keys", 0.0});
  e.flash3_overhead_kv_backward = reader.number("flash3_overhead_kv_backward", e.flash3_overhead_kv_backward,
      {"The same for the backward pass.", "keys", 0.0});
  e.memory = reader.number("memory_efficiency", e.memory,
      {"Fraction of memory bandwidth long memory-bound kernels (decode's weight reads) reach (0 = generic).", "", 0.0, 1.0});
  e.memory_ramp_us = reader.number("memory_ramp_us", e.memory_ramp_us,
      {"Fixed cost of a memory-bound kernel in microseconds of ideal time.", "us", 0.0});
  gpu.speed_spread = reader.number("speed_spread", gpu.speed_spread,
      {"Standard deviation of sustained compute speed among GPUs of this SKU, as a fraction (0.012: Sinha et al. SC'22); "
       "synchronous training waits for the slowest of its GPUs.", "", 0.0, 0.5});
  if (!reader.is_documenting() && gpu.power_limit_w > 0 && gpu.power_limit_w <= c.static_power_w) {
    reader.error("power_limit_w", "must exceed the GPU's static power (" + std::to_string(static_cast<int>(c.static_power_w)) + " W)");
  }
}

// A GPU described by its datasheet figures is often one whose kernels we have measured, and
// its name, its description or its figures say so: those clocks and kernel efficiencies then
// apply to the figures given (efficiency keys in the same object still win).
void adopt_measurements(ObjectReader& reader, GpuSpec& gpu, bool new_gpu) {
  std::string named;
  if (new_gpu) named = measured_gpu_named_by(gpu.name);
  if (new_gpu && named.empty()) named = measured_gpu_named_by(gpu.description);
  if (new_gpu && named.empty()) named = measured_gpu_with_figures(gpu);
  const std::string from = reader.string("efficiency_from", named,
      {"Catalog GPU whose measured clocks and kernel efficiencies apply to this one, or \"none\" for the cost model's "
       "generic curves (default: for a new GPU, the measured catalog GPU its name or description spells out, as "
       "\"RTX 4090\" does rtx_4090, or else whose bf16 peak, memory bandwidth and capacity it repeats within 2%; "
       "with `base`, the base's)."});
  if (from.empty()) return;
  if (from == "none") {
    gpu.clocks = {};
    gpu.efficiency = {};
    gpu.efficiency_from.clear();
    return;
  }
  const GpuSpec* measured = find_builtin_gpu(from);
  if (measured == nullptr) {
    reader.error("efficiency_from", "unknown GPU \"" + from + "\"" + did_you_mean(from, builtin_gpu_names()) +
                                        "; see `foresight list gpus`, or \"none\"");
    return;
  }
  gpu.clocks = measured->clocks;
  gpu.efficiency = measured->efficiency;
  gpu.efficiency_from = from;
}

void read_gpu_figures(ObjectReader& reader, GpuSpec& gpu, bool new_gpu) {
  gpu.description = reader.string("description", gpu.description, {"Human-readable name."});
  // A new GPU must give the figures every prediction needs; a GPU based on a catalog
  // entry inherits whatever it does not override.
  const auto figure = [&](const char* key, double current, double scale, const FieldInfo& info,
                          bool required) {
    if (required && new_gpu && !reader.is_documenting()) return reader.required_number(key, info) * scale;
    return reader.number(key, current / scale, info) * scale;
  };
  const char* dtype_keys[] = {"fp32_tflops", "tf32_tflops", "bf16_tflops", "fp16_tflops", "fp8_tflops"};
  const FieldInfo peak_info{"Dense peak for this dtype (0 = unsupported).", "TFLOP/s", 0.0};
  for (std::size_t i = 0; i < gpu.peak_flops.size(); ++i) {
    const bool required = i == static_cast<std::size_t>(Dtype::kBf16);
    gpu.peak_flops[i] = figure(dtype_keys[i], gpu.peak_flops[i], kTera, peak_info, required);
  }
  const double capacity_before = gpu.memory_bytes;
  gpu.memory_bytes = figure("memory_gb", gpu.memory_bytes, kGiB,
                            {"Device memory as the vendor names it: an \"80 GB\" part has 80 GiB (2^30 bytes each).", "GiB",
                             {}, {}, true}, true);
  const double reserved = gpu.memory_bytes == capacity_before ? gpu.memory_reserved_bytes
                                                               : default_memory_reserved_gib(gpu.memory_bytes / kGiB) * kGiB;
  gpu.memory_reserved_bytes = figure("memory_reserved_gib", reserved, kGiB,
      {"Memory the driver keeps: CUDA reports the capacity less this as total (default 0.25 GiB + 0.75% of the capacity, "
       "from vLLM's logged totals on 24 GB and 80 GB parts).", "GiB", 0.0}, false);
  gpu.memory_bandwidth = figure("memory_bandwidth_tbps", gpu.memory_bandwidth, kTera,
                                {"Device memory bandwidth.", "TB/s", {}, {}, true}, true);
  gpu.sm_count = static_cast<int>(reader.integer(
      "sm_count", gpu.sm_count, {"Streaming multiprocessors (CUs on AMD).", "", 0.0}));
  gpu.exp_per_sm_clock = reader.number("exp_per_sm_clock", gpu.exp_per_sm_clock,
      {"Exponentials the special-function units return per SM per clock, which attention's softmax needs one of per "
       "score: 16 on NVIDIA GPUs since Maxwell, 32 on Blackwell Ultra.", "", 1.0, 1024.0});
  gpu.l2_bytes = figure("l2_mb", gpu.l2_bytes, 1e6, {"Last-level on-chip cache.", "MB", 0.0}, false);
  gpu.scale_up_bandwidth = figure(
      "scale_up_gbps", gpu.scale_up_bandwidth, kGiga,
      {"Per-direction bandwidth into the node fabric (NVLink, xGMI).", "GB/s", {}, {}, true}, true);
  const double link_before = gpu.pcie_bandwidth;
  gpu.pcie_bandwidth = figure("pcie_gbps", gpu.pcie_bandwidth, kGiga,
                              {"Per-direction bandwidth to the host.", "GB/s", {}, {}, true}, false);
  const double host_copy = gpu.pcie_bandwidth == link_before && gpu.host_copy_bandwidth > 0 ? gpu.host_copy_bandwidth
                                                                                             : kHostCopyShareOfLink * gpu.pcie_bandwidth;
  gpu.host_copy_bandwidth = figure("host_copy_gbps", host_copy, kGiga,
      {"What copies between device and pinned host memory reach a direction, for activation offloading (nvbandwidth's "
       "memcpy_ce rows; default: a GB200's measured 176 GB/s over NVLink-C2C with all its tray's GPUs copying, and 52/64 of "
       "pcie_gbps on PCIe hosts, an H200's measured share of Gen5 x16).", "GB/s", {}, {}, true}, false);
  adopt_measurements(reader, gpu, new_gpu);
  read_sustained_throughput(reader, gpu);
}
}  // namespace

GpuSpec read_gpu(ObjectReader& parent, const char* key) {
  const nlohmann::json* value = parent.raw(
      key, "string or object",
      "A catalog GPU name (`foresight list gpus`), or an object: `base` plus figures to "
      "override, or `name` and every figure for a new GPU.");
  if (parent.is_documenting()) {
    auto documenting = parent.documenting_child(key, "[object form] ");
    GpuSpec gpu = builtin_gpus().front();
    documenting.string("base", "", {"Catalog GPU to start from."});
    documenting.string("name", "", {"Name for a new GPU (required without `base`)."});
    read_gpu_figures(documenting, gpu, false);
    return gpu;
  }
  const GpuSpec fallback = builtin_gpus().front();
  if (value == nullptr) return fallback;
  if (value->is_string()) {
    const std::string name = value->get<std::string>();
    if (const GpuSpec* gpu = find_builtin_gpu(name)) return *gpu;
    parent.error(key, "unknown GPU \"" + name + "\"" + did_you_mean(name, builtin_gpu_names()) +
                          "; see `foresight list gpus`, or describe it as an object");
    return fallback;
  }
  if (!value->is_object()) {
    parent.error(key, std::string("expected a GPU name or an object, got ") + value->type_name());
    return fallback;
  }
  ObjectReader reader(*value, parent.child_path(key), parent.diagnostics());
  const std::string base = reader.string("base", "", {"Catalog GPU to start from."});
  GpuSpec gpu;
  if (!base.empty()) {
    if (const GpuSpec* found = find_builtin_gpu(base)) {
      gpu = *found;
    } else {
      reader.error("base", "unknown GPU \"" + base + "\"" + did_you_mean(base, builtin_gpu_names()) +
                               "; see `foresight list gpus`");
      gpu = fallback;
    }
  }
  gpu.name = reader.string("name", base.empty() ? std::string() : base + "_custom",
                           {"Name for a new GPU (required without `base`)."});
  if (base.empty() && gpu.name.empty()) reader.error("name", "is required when no `base` GPU is given");
  gpu.source = base.empty() ? "scenario" : "scenario, based on " + base;
  read_gpu_figures(reader, gpu, base.empty());
  return gpu;
}

}  // namespace foresight
