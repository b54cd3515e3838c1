#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <vector>

#include "models/gpu_spec.hpp"

namespace foresight {
namespace {
// "NVIDIA GeForce RTX 4090" and "rtx_4090" both read as ... rtx 4090: lowercase runs of
// letters or of digits, so that "RTX4090" and "RTX 4090" compare equal.
std::vector<std::string> name_tokens(const std::string& name) {
  std::vector<std::string> tokens;
  std::string current;
  const auto kind = [](unsigned char c) { return std::isdigit(c) ? 1 : std::isalpha(c) ? 2 : 0; };
  int current_kind = 0;
  for (const char raw : name) {
    const auto c = static_cast<unsigned char>(raw);
    const int k = kind(c);
    if (k != current_kind && !current.empty()) tokens.push_back(std::move(current)), current.clear();
    current_kind = k;
    if (k != 0) current.push_back(static_cast<char>(std::tolower(c)));
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  return tokens;
}

bool contains_run(const std::vector<std::string>& haystack, const std::vector<std::string>& needle) {
  return !needle.empty() && std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) != haystack.end();
}

}  // namespace

bool has_measurements(const GpuSpec& gpu) {
  const KernelEfficiency& e = gpu.efficiency;
  return gpu.clocks.bf16_mhz > 0 || e.gemm > 0 || e.memory > 0 || e.flash_forward > 0 || e.flash3_forward > 0;
}

std::string measured_gpu_named_by(const std::string& name) {
  const std::vector<std::string> tokens = name_tokens(name);
  std::string best;
  std::size_t best_length = 0;
  bool tied = false;
  for (const GpuSpec& gpu : builtin_gpus()) {
    const std::vector<std::string> key = name_tokens(gpu.name);
    if (!has_measurements(gpu) || !contains_run(tokens, key)) continue;
    if (key.size() == best_length) tied = true;
    if (key.size() > best_length) best = gpu.name, best_length = key.size(), tied = false;
  }
  return tied ? std::string() : best;
}

std::string measured_gpu_with_figures(const GpuSpec& described) {
  const auto near = [](double a, double b) { return b > 0 && std::abs(a / b - 1) < 0.02; };
  std::string found;
  for (const GpuSpec& gpu : builtin_gpus()) {
    if (!has_measurements(gpu) || !near(described.peak(Dtype::kBf16), gpu.peak(Dtype::kBf16)) ||
        !near(described.memory_bandwidth, gpu.memory_bandwidth) || !near(described.memory_bytes, gpu.memory_bytes)) {
      continue;
    }
    if (found.empty()) {
      found = gpu.name;
      continue;
    }
    // Two catalog GPUs share these figures (the H100 SXM and the H200 do not): ambiguous, unless
    // they are one silicon measured once (the H100 SXM and its H800 variant).
    const GpuSpec& first = *find_builtin_gpu(found);
    if (!(first.clocks == gpu.clocks && first.efficiency == gpu.efficiency)) return "";
  }
  return found;
}

}  // namespace foresight
