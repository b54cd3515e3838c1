#include "kernels/holdout.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace foresight::kernels {
namespace {
// Log-uniform in [low, high], rounded to a multiple of `step` (at least `step`).
std::int64_t draw(std::mt19937_64& random, double low, double high, std::int64_t step) {
  const double x = std::exp(std::uniform_real_distribution<double>(std::log(low), std::log(high))(random));
  return std::max<std::int64_t>(step, static_cast<std::int64_t>(std::llround(x / static_cast<double>(step))) * step);
}

void add_gemms(std::vector<GemmCase>& cases, std::mt19937_64& random, const std::string& dtype, int count) {
  const std::int64_t step = dtype == "fp8" ? 16 : 1;  // cuBLASLt's FP8 needs multiples of 16
  while (count > 0) {
    const GemmCase c{dtype, draw(random, static_cast<double>(step), 16384, step), draw(random, 256, 65536, 64), draw(random, 256, 32768, 64), 1};
    if (2.0 * static_cast<double>(c.m) * static_cast<double>(c.n) * static_cast<double>(c.k) > 2e13) continue;  // keep each under ~40 ms
    cases.push_back(c);
    --count;
  }
}
}  // namespace

HoldoutCases holdout_cases(bool fp8) {
  std::mt19937_64 random(13);  // fixed: the held-out set is the same on every run and GPU
  HoldoutCases h;
  add_gemms(h.gemms, random, "bf16", 100);
  add_gemms(h.gemms, random, "fp16", 40);
  add_gemms(h.gemms, random, "tf32", 40);
  if (fp8) add_gemms(h.gemms, random, "fp8", 60);
  const char* kernels[] = {"add", "silu_mul", "rmsnorm", "layernorm", "softmax"};
  for (int i = 0; i < 60; ++i) {
    const char* kernel = kernels[std::uniform_int_distribution<int>(0, 4)(random)];
    const std::int64_t width = draw(random, 512, 16384, 8), rows = std::min<std::int64_t>(draw(random, 1, 65536, 1), (std::int64_t{1} << 30) / width);
    h.memory.push_back({kernel, rows, width});
  }
  const std::int64_t head_pairs[][2] = {{32, 8}, {64, 8}, {8, 1}, {32, 32}, {16, 8}};
  while (h.decode.size() < 40) {
    const auto& heads = head_pairs[std::uniform_int_distribution<int>(0, 4)(random)];
    const DecodeCase c{draw(random, 1, 256, 1), draw(random, 64, 16384, 1), heads[0], heads[1]};
    if (c.sequences * c.context * c.kv_heads > (std::int64_t{1} << 24)) continue;  // a KV cache under 8 GB
    h.decode.push_back(c);
  }
  return h;
}

}  // namespace foresight::kernels
