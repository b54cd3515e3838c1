#include "calibration/learned_cost_model.hpp"

#include <filesystem>
#include <map>
#include <mutex>

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
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const KernelPredictor>> loaded;
  const std::lock_guard lock(mutex);
  if (const auto found = loaded.find(path); found != loaded.end()) return found->second;
  auto predictor = std::make_shared<const KernelPredictor>(KernelPredictor::from_json(load_json_file(path), path));
  loaded.emplace(path, predictor);
  return predictor;
}

}  // namespace foresight
