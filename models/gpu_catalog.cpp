#include <nlohmann/json.hpp>

#include "models/gpu_spec.hpp"
#include "sim/object_reader.hpp"

namespace foresight {
namespace {
constexpr double kTera = 1e12;
constexpr double kGiga = 1e9;

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
  gpu.memory_bytes = memory_gb * kGiga;
  gpu.memory_bandwidth = hbm_tbps * kTera;
  gpu.sm_count = sms;
  gpu.l2_bytes = l2_mb * 1e6;
  gpu.scale_up_bandwidth = scale_up_gbps * kGiga;
  gpu.pcie_bandwidth = pcie_gbps * kGiga;
  gpu.source = std::move(source);
  return gpu;
}
}  // namespace

// Dense tensor-core peaks from the vendors' datasheets (the table in
// shared/validation/published-cases.md for bf16/fp8, memory, HBM and NVLink; the
// datasheets for fp32, tf32, L2 and PCIe). NVLink figures in datasheets are bidirectional:
// the per-direction bandwidth stored here is half.
const std::vector<GpuSpec>& builtin_gpus() {
  static const std::vector<GpuSpec> kGpus = {
      make_gpu("h100_sxm", "NVIDIA H100 SXM5 80GB", {66.9, 494.7, 989.4, 989.4, 1978.9}, 80, 3.35,
               132, 50, 450, 64, "NVIDIA H100 datasheet (dense); NVLink4 900 GB/s bidirectional"),
      make_gpu("h100_pcie", "NVIDIA H100 PCIe 80GB", {51.2, 378, 756, 756, 1513}, 80, 2.0, 114, 50,
               300, 64, "NVIDIA H100 datasheet (dense); NVLink bridge 600 GB/s bidirectional"),
      make_gpu("h200_sxm", "NVIDIA H200 SXM 141GB", {66.9, 494.7, 989.4, 989.4, 1978.9}, 141, 4.8,
               132, 50, 450, 64, "NVIDIA H200 datasheet (dense); NVLink4 900 GB/s bidirectional"),
      make_gpu("a100_sxm_80gb", "NVIDIA A100 SXM4 80GB", {19.5, 156, 312, 312, 0}, 80, 2.039, 108,
               40, 300, 32, "NVIDIA A100 datasheet (dense); NVLink3 600 GB/s bidirectional; no fp8"),
      make_gpu("b200", "NVIDIA B200 180GB", {75, 1100, 2250, 2250, 4500}, 180, 8.0, 148, 126, 900,
               64, "NVIDIA DGX B200 datasheet per GPU (dense); NVLink5 1.8 TB/s bidirectional"),
      make_gpu("a40", "NVIDIA A40 48GB", {37.4, 74.8, 149.7, 149.7, 0}, 48, 0.696, 84, 6, 56, 32,
               "NVIDIA A40 datasheet (dense); NVLink bridge 112.5 GB/s bidirectional; no fp8"),
      make_gpu("l40s", "NVIDIA L40S 48GB", {91.6, 183, 362, 362, 733}, 48, 0.864, 142, 96, 32, 32,
               "NVIDIA L40S datasheet (dense); no NVLink: peers talk over PCIe Gen4"),
      make_gpu("mi300x", "AMD Instinct MI300X 192GB", {163.4, 653.7, 1307.4, 1307.4, 2614.9}, 192,
               5.3, 304, 256, 448, 64,
               "AMD MI300X datasheet (dense; CUs as SMs, Infinity Cache as L2); 7 xGMI links x 64 GB/s"),
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
  gpu.memory_bytes = figure("memory_gb", gpu.memory_bytes, kGiga,
                            {"Device memory.", "GB (1e9 bytes)", {}, {}, true}, true);
  gpu.memory_bandwidth = figure("memory_bandwidth_tbps", gpu.memory_bandwidth, kTera,
                                {"Device memory bandwidth.", "TB/s", {}, {}, true}, true);
  gpu.sm_count = static_cast<int>(reader.integer(
      "sm_count", gpu.sm_count, {"Streaming multiprocessors (CUs on AMD).", "", 0.0}));
  gpu.l2_bytes = figure("l2_mb", gpu.l2_bytes, 1e6, {"Last-level on-chip cache.", "MB", 0.0}, false);
  gpu.scale_up_bandwidth = figure(
      "scale_up_gbps", gpu.scale_up_bandwidth, kGiga,
      {"Per-direction bandwidth into the node fabric (NVLink, xGMI).", "GB/s", {}, {}, true}, true);
  gpu.pcie_bandwidth = figure("pcie_gbps", gpu.pcie_bandwidth, kGiga,
                              {"Per-direction bandwidth to the host.", "GB/s", {}, {}, true}, false);
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
