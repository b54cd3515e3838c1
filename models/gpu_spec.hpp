#pragma once
// What the cost models need to know about a GPU. Peak figures are dense tensor-core
// rates (fp32 is the non-tensor vector rate); bandwidths are per direction.
#include <array>
#include <string>
#include <vector>

#include "models/dtype.hpp"

namespace foresight {

class ObjectReader;

// Datasheet tensor peaks assume `tensor_clock_mhz`. Under sustained dense tensor load a
// GPU holds a lower SM clock, set by its power limit: the measured clock at
// `rated_power_w`, and at another limit the clock whose dynamic power fits it, with
// dynamic power growing as clock cubed (voltage scales with clock) above the power that
// does not scale with it. Zero clocks mean unmeasured: peaks are taken as they are.
struct SustainedClocks {
  double tensor_clock_mhz = 0;  // the clock behind the datasheet tensor peaks
  double max_clock_mhz = 0;     // the highest boost clock
  double bf16_mhz = 0;          // held under back-to-back 16-bit tensor GEMMs at rated_power_w
  double fp8_mhz = 0;           // the same for FP8 GEMMs, which draw more power per clock
  double rated_power_w = 0;     // the power limit those clocks were measured at
  double static_power_w = 0;    // power that does not scale with SM clock
  // Board power while memory-bound kernels (decode) saturate HBM: what they leave of the
  // limit lets the kernels beside them clock up. 0: unmeasured (GEMMs keep the sustained clock).
  double memory_bound_power_w = 0;
  bool operator==(const SustainedClocks&) const = default;
};

// What well-tuned kernels sustain on this GPU family, measured; zero means unmeasured and
// the cost model's generic curves apply.
struct KernelEfficiency {
  double gemm = 0;  // fraction of the clock-scaled tensor peak long-k GEMMs reach
  // Each output tile's fixed cost (pipeline fill, epilogue) in reduction steps of a 16-bit
  // main loop: a GEMM runs at gemm x k / (k + gemm_tile_overhead_k) of its roof; a faster
  // dtype's main loop covers proportionally more steps in that time.
  double gemm_tile_overhead_k = 0;
  // Fractions of the datasheet peak fused attention reaches at long sequences, for
  // FlashAttention-2-class kernels and for Hopper's warp-specialized ones (FA3, cuDNN 9).
  double flash_forward = 0, flash_backward = 0;
  double flash3_forward = 0, flash3_backward = 0;
  // Each query tile's fixed cost in keys: attention runs at its fraction x kv / (kv +
  // overhead), kv being the keys a query meets in one kernel (half the sequence when
  // causal; one K/V chunk per ring step).
  double attention_overhead_kv_forward = 0, attention_overhead_kv_backward = 0;
  // The same for the warp-specialized kernels, where they differ (0: the FA2-class figures).
  double flash3_overhead_kv_forward = 0, flash3_overhead_kv_backward = 0;
  // Device-memory streaming: the fraction of HBM bandwidth long memory-bound kernels reach,
  // and the fixed cost (us of ideal time) that makes short ones slower: a kernel moving
  // bytes B takes (B / bandwidth + ramp) / memory. 0: the cost model's generic curve.
  double memory = 0, memory_ramp_us = 0;
  // The SM clock the attention fractions were measured at: short kernels run near the boost
  // clock, while under a sustained load they share the power-limited clock (0: the tensor clock).
  double attention_clock_mhz = 0;
  // The exponentials per SM per clock of the GPU the attention fractions were measured on,
  // whose share of a score's time they include (0: this GPU's own rate).
  double attention_exp_per_sm_clock = 0;
  bool operator==(const KernelEfficiency&) const = default;
};

struct GpuSpec {
  std::string name;         // catalog key, "h100_sxm"
  std::string description;  // "NVIDIA H100 SXM5 80GB"
  std::array<double, kAllDtypes.size()> peak_flops{};  // FLOP/s by Dtype; 0 = unsupported
  // Device memory as vendors count it: an "80 GB" part has 80 GiB.
  double memory_bytes = 0;
  // What the driver keeps for itself: CUDA reports less than the capacity as total memory.
  double memory_reserved_bytes = 0;
  double memory_bandwidth = 0;     // bytes/s
  int sm_count = 0;                // SMs (CUs on AMD)
  double l2_bytes = 0;             // last-level on-chip cache
  double scale_up_bandwidth = 0;   // bytes/s per direction into the node fabric (NVLink, xGMI)
  double pcie_bandwidth = 0;       // bytes/s per direction to the host
  // What copies between device and pinned host memory reach per direction (nvbandwidth's
  // host_to_device / device_to_host_memcpy_ce), for activation offloading.
  double host_copy_bandwidth = 0;
  // Exponentials the special-function units return per SM per clock: 16 on every NVIDIA GPU
  // since Maxwell, 32 on Blackwell Ultra (B300, GB300), which doubled them for attention.
  double exp_per_sm_clock = 16;
  std::string source;              // where the figures come from
  SustainedClocks clocks;
  // The catalog GPU whose measured clocks and kernels a scenario's own GPU took (the catalog
  // GPU its name spells out, or `efficiency_from`); empty when they are its own or generic.
  std::string efficiency_from;
  double power_limit_w = 0;        // the limit this run's GPUs are held to; 0 = clocks.rated_power_w
  // An SM clock locked with nvidia-smi -lgc (0: not locked). It bounds every clock from
  // above; it does not lift the power limit, which still holds tensor-heavy kernels to their
  // sustained clock where that is lower (NVML's locked clocks are a min-max range that power
  // capping, the SwPowerCap throttle reason, still acts within).
  double locked_clock_mhz = 0;
  KernelEfficiency efficiency;
  // Spread (standard deviation, as a fraction) of sustained compute speed among GPUs of one
  // SKU under power management: Sinha et al. (SC'22, "Not all GPUs are created equal") find
  // the slowest and fastest GPUs of a cluster 8% apart on average, about +-3.3 standard
  // deviations among a few thousand GPUs, so 1.2%.
  double speed_spread = 0.012;

  double peak(Dtype dtype) const { return peak_flops[static_cast<std::size_t>(dtype)]; }
  // The SM clock behind the datasheet peaks: clocks.tensor_clock_mhz, or, unmeasured, the
  // clock the fp32 peak implies with 128 FP32 lanes per SM (Hopper, Ada, Blackwell; CDNA3
  // counts its packed fp32 the same way). 0 without an SM count.
  double peak_clock_hz() const;
  // Dense tensor FLOPs per SM per clock in `dtype` (16-bit: H100 4,096, B200 8,192; fp8
  // twice that). 0 if unknown.
  double tensor_flops_per_sm_clock(Dtype dtype = Dtype::kBf16) const;
  // " with rtx_4090's measured kernels" where efficiency_from is set, for summaries.
  std::string measured_kernels_note() const { return efficiency_from.empty() ? "" : " with " + efficiency_from + "'s measured kernels"; }
  // The memory CUDA reports as total (torch.cuda.mem_get_info), which engines size against.
  double usable_memory_bytes() const { return memory_bytes - memory_reserved_bytes; }
  // The SM clock sustained under dense tensor load of `dtype` at clocks.rated_power_w; 0 if unmeasured.
  double rated_clock_mhz(Dtype dtype) const;
  // The SM clock sustained under dense tensor load of `dtype` at power_limit_w, at most the
  // locked clock; 0 if unmeasured.
  double sustained_clock_mhz(Dtype dtype) const;
  // The highest clock any kernel reaches: the boost clock, or the locked clock below it.
  double top_clock_mhz() const;
  // sustained clock / tensor clock: the share of the datasheet peak the clock allows.
  double tensor_clock_factor(Dtype dtype) const;
  // Clocks unmeasured: the locked clock over the clock the peaks imply, at most 1.
  double unmeasured_lock_factor() const;
  // sustained clock at power_limit_w / at the rated limit: 1 unless the power is capped.
  double power_cap_factor(Dtype dtype) const;
  // sustained clock / the clock the attention fractions were measured at: fused attention
  // under a sustained load runs at the clock the power limit leaves, as GEMMs do. Without a
  // measured sustained clock, power_cap_factor.
  double attention_clock_factor(Dtype dtype) const;
  // How much faster than the sustained clock `dtype` compute-bound kernels (GEMMs,
  // attention) run when they take `clocked` of a stretch of work whose `unclocked` rest is
  // memory-bound, the board's average power held to its limit (dynamic power as clock
  // cubed; the memory-bound rest drawing clocks.memory_bound_power_w); at most the boost
  // clock. 1 when unmeasured.
  double shared_power_clock_boost(Dtype dtype, double clocked, double unclocked) const;
  // How much slower than the median the slowest of `gpus` GPUs computes, in expectation:
  // 1 + speed_spread x E[max of `gpus` standard normals]. Synchronous training runs at the
  // pace of its slowest GPU.
  double slowest_of(int gpus) const;
};

// The expected largest of n independent standard normal draws (0 for n <= 1).
double expected_max_of_normals(int n);

inline constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
// The driver's reservation on a part of `capacity_gib`: 0.25 GiB plus 0.75% of the capacity,
// through vLLM's logged total_gpu_memory on 80 GB parts (79.11-79.33 GiB on A100/H100) and
// 24 GB parts (23.55-23.58 GiB on RTX 3090/4090).
double default_memory_reserved_gib(double capacity_gib);

const std::vector<GpuSpec>& builtin_gpus();
const GpuSpec* find_builtin_gpu(const std::string& name);
std::vector<std::string> builtin_gpu_names();
// The catalog GPU with measured clocks or kernels whose name `name` spells out ("NVIDIA
// GeForce RTX 4090", "RTX4090" and "rtx_4090" name rtx_4090; "H100 SXM5" names h100_sxm);
// empty when none does, or two equally well.
std::string measured_gpu_named_by(const std::string& name);
// Whether the GPU has measured sustained clocks or kernel efficiencies (else the generic curves apply).
bool has_measurements(const GpuSpec& gpu);
// The catalog GPU with measurements whose datasheet figures `described` repeats (bf16 peak,
// memory bandwidth and capacity within 2%); empty when none, or more than one, does.
std::string measured_gpu_with_figures(const GpuSpec& described);

// Reads the scenario's "gpu" value: a catalog name, or an object that either names a
// "base" GPU and overrides some figures or gives every figure for a new GPU.
GpuSpec read_gpu(ObjectReader& parent, const char* key);

}  // namespace foresight
