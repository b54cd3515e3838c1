#include "calibration/learned_cost_model.hpp"

#include "calibration/file_cache.hpp"
#include "sim/input/json_document.hpp"

namespace foresight {

CostEstimate LearnedCostModel::estimate(const Op& op, const GpuSpec& gpu) const {
  return cache_.get(op, gpu, [&] { return predict(op, gpu); });
}

CostEstimate LearnedCostModel::predict(const Op& op, const GpuSpec& gpu) const {
  const auto family = family_of(op.kind);
  if (!family || !predictor_->covers(*family)) return fallback_.estimate(op, gpu);
  const KernelPredictor::Estimate e = predictor_->estimate(op, gpu);
  return {from_seconds(launch_seconds_ + e.seconds), e.baseline.compute >= e.baseline.memory ? Bound::kCompute : Bound::kMemory, name(),
          e.range.distance, e.range.feature};
}

std::shared_ptr<const KernelPredictor> load_kernel_model(const std::string& path) {
  return load_once<KernelPredictor>(path, [](const std::string& file) { return KernelPredictor::from_json(load_json_file(file), file); });
}

}  // namespace foresight
