#include "calibration/learned_cost_model.hpp"

#include "calibration/file_cache.hpp"
#include "sim/json_document.hpp"

namespace foresight {

CostEstimate LearnedCostModel::estimate(const Op& op, const GpuSpec& gpu) const {
  return cache_.get(op, gpu, [&] { return predict(op, gpu); });
}

CostEstimate LearnedCostModel::predict(const Op& op, const GpuSpec& gpu) const {
  const auto family = family_of(op.kind);
  if (!family || !predictor_->covers(*family)) return fallback_.estimate(op, gpu);
  const Baseline baseline = kernel_baseline(op, gpu);
  const RangeDistance range = predictor_->range_distance(op, gpu);
  return {from_seconds(launch_seconds_ + predictor_->predict(op, gpu)), baseline.compute >= baseline.memory ? Bound::kCompute : Bound::kMemory,
          name(), range.distance, range.feature};
}

std::shared_ptr<const KernelPredictor> load_kernel_model(const std::string& path) {
  return load_once<KernelPredictor>(path, [](const std::string& file) { return KernelPredictor::from_json(load_json_file(file), file); });
}

}  // namespace foresight
