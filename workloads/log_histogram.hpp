#pragma once
// A histogram of durations in log-spaced bins 0.5% wide: percentiles over hundreds of
// millions of samples in fixed memory, each within half a bin (0.25%) of the exact value.
#include <cmath>
#include <cstdint>
#include <vector>

#include "sim/engine/time.hpp"

namespace foresight {

class LogHistogram {
 public:
  void add(Time t) {
    const std::size_t bin = bin_of(t);
    if (bin >= bins_.size()) bins_.resize(bin + 1, 0);
    ++bins_[bin];
    ++count_;
    sum_seconds_ += to_seconds(t);
  }
  double mean() const { return count_ ? sum_seconds_ / static_cast<double>(count_) : 0; }
  double percentile(double q) const {
    if (count_ == 0) return 0;
    const auto rank = static_cast<std::int64_t>(std::ceil(q * static_cast<double>(count_)));
    std::int64_t seen = 0;
    for (std::size_t bin = 0; bin < bins_.size(); ++bin) {
      seen += bins_[bin];
      if (seen >= rank) return bin == 0 ? 0.5e-9 : std::exp((static_cast<double>(bin) - 0.5) * kLogRatio) * 1e-9;
    }
    return 0;
  }

 private:
  // The tokens of one iteration mostly share one latency, so the last bin is remembered:
  // a serving run adds hundreds of millions of samples and the logarithm dominated it.
  std::size_t bin_of(Time t) {
    if (t != last_time_) {
      const double ns = static_cast<double>(t) / 1e3;
      last_bin_ = ns < 1 ? 0 : 1 + static_cast<std::size_t>(std::log(ns) / kLogRatio);
      last_time_ = t;
    }
    return last_bin_;
  }

  static constexpr double kLogRatio = 0.00498754151103897;  // ln(1.005)
  std::vector<std::int64_t> bins_;
  std::int64_t count_ = 0;
  double sum_seconds_ = 0;
  Time last_time_ = -1;
  std::size_t last_bin_ = 0;
};

}  // namespace foresight
