#pragma once
// The `profile` cost model: interpolation in a measured calibration profile. An op is
// timed as the baseline (calibration/kernel_predictor.hpp) times the measured-to-baseline
// ratio of the nearest measured shapes of its family and element width, averaged in log
// space with inverse-distance weights over log-scaled dimensions; a measured shape gets
// its measurement back. Families the profile did not measure fall back to the roofline.
#include <array>
#include <memory>
#include <vector>

#include "calibration/estimate_cache.hpp"
#include "calibration/kernel_predictor.hpp"
#include "calibration/profile.hpp"
#include "models/roofline_model.hpp"

namespace foresight {

class ProfileCostModel : public OpCostModel {
 public:
  // `gpu` is the scenario's GPU, which the profile must have been measured on;
  // `fallback` also supplies the launch gap added to every kernel.
  ProfileCostModel(const CalibrationProfile& profile, const GpuSpec& gpu, RooflineParameters fallback, int neighbours);
  std::string_view name() const override { return "profile"; }
  CostEstimate estimate(const Op& op, const GpuSpec& gpu) const override;

 private:
  struct Point {
    FeatureVector x;
    double log_ratio;
  };
  struct Group {  // one family at one element width
    std::vector<Point> points;
    FeatureVector low, high;
  };
  CostEstimate interpolate(const Op& op, const GpuSpec& gpu) const;
  const Group* group_of(const Op& op) const;

  std::array<std::array<Group, 3>, kKernelFamilies.size()> groups_;  // by family, then 1, 2 or 4-byte elements
  RooflineModel fallback_;
  double launch_seconds_;
  int neighbours_;
  EstimateCache cache_;
};

}  // namespace foresight
