#include "workloads/stage_balance.hpp"

#include <algorithm>
#include <cmath>

namespace foresight {
namespace {
// How many layers stage v can hold within `limit`.
std::int64_t room(double limit, double extra, double layer, std::int64_t layers) {
  if (limit < extra) return -1;
  return std::min(layers, static_cast<std::int64_t>(std::floor((limit - extra) / layer + 1e-9)));
}
}  // namespace

std::vector<std::int64_t> balanced_stage_layers(std::int64_t layers, std::int64_t stages, double layer, double first, double last) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(std::max<std::int64_t>(stages, 1)), 0);
  if (stages <= 1 || layer <= 0) {
    for (std::int64_t l = 0; l < layers; ++l) ++counts[static_cast<std::size_t>(l % static_cast<std::int64_t>(counts.size()))];
    std::sort(counts.rbegin(), counts.rend());
    return counts;
  }
  const auto extra = [&](std::int64_t v) { return (v == 0 ? first : 0) + (v == stages - 1 ? last : 0); };
  const auto fits = [&](double limit) {
    std::int64_t total = 0;
    for (std::int64_t v = 0; v < stages; ++v) {
      const std::int64_t n = room(limit, extra(v), layer, layers);
      if (n < 0) return false;
      total += n;
    }
    return total >= layers;
  };
  // The longest stage is one of extra(v) + k x layer: search those candidates' limits.
  std::vector<double> limits;
  for (std::int64_t k = 0; k <= layers; ++k) {
    for (const double e : {0.0, first, last, first + last}) limits.push_back(e + static_cast<double>(k) * layer);
  }
  std::sort(limits.begin(), limits.end());
  const double limit = *std::partition_point(limits.begin(), limits.end(), [&](double x) { return !fits(x); });
  // Fill every stage to the limit, then take the spare layers off the longest stages, the
  // later first, so that the rest stay as even as the limit allows.
  std::int64_t spare = -layers;
  for (std::int64_t v = 0; v < stages; ++v) spare += counts[static_cast<std::size_t>(v)] = room(limit, extra(v), layer, layers);
  for (; spare > 0; --spare) {
    std::int64_t longest = stages - 1;
    for (std::int64_t v = stages - 1; v >= 0; --v) {
      const auto time = [&](std::int64_t w) { return extra(w) + static_cast<double>(counts[static_cast<std::size_t>(w)]) * layer; };
      if (counts[static_cast<std::size_t>(v)] > 0 && (counts[static_cast<std::size_t>(longest)] == 0 || time(v) > time(longest))) longest = v;
    }
    --counts[static_cast<std::size_t>(longest)];
  }
  return counts;
}

}  // namespace foresight
