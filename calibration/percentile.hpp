#pragma once
// The nearest-rank percentile used for every error table: the smallest value with at least
// a fraction q of the values at or below it.
#include <algorithm>
#include <cmath>
#include <vector>

namespace foresight {

inline double percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const auto at = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::max<std::size_t>(at, 1) - 1];
}

}  // namespace foresight
