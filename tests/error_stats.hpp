#pragma once
// Absolute percentage errors of predictions against measurements, for validation tables.
#include <algorithm>
#include <cmath>
#include <vector>

#include "calibration/percentile.hpp"

namespace foresight::testing {

struct ErrorStats {
  double sum_pct = 0;
  double sum_abs_pct = 0;
  double worst = 0;
  int n = 0;
  std::vector<double> abs_pct;

  // Returns the signed percentage error of this row.
  double add(double predicted, double measured) {
    const double pct = (predicted - measured) / measured * 100;
    sum_pct += pct;
    sum_abs_pct += std::fabs(pct);
    worst = std::max(worst, std::fabs(pct));
    abs_pct.push_back(std::fabs(pct));
    ++n;
    return pct;
  }
  double mape() const { return n ? sum_abs_pct / n : 0; }
  double bias() const { return n ? sum_pct / n : 0; }  // mean signed error: > 0 predicts high
  double median_abs() const { return n ? percentile(abs_pct, 0.5) : 0; }
};

}  // namespace foresight::testing
