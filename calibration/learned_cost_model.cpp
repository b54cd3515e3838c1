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
  // Keyed by the file's modification time too, so that a refitted model is read again.
  static std::mutex mutex;
  static std::map<std::pair<std::string, std::filesystem::file_time_type>, std::shared_ptr<const KernelPredictor>> loaded;
  std::error_code missing;  // a missing file is load_json_file's to report
  const auto key = std::pair{path, std::filesystem::last_write_time(path, missing)};
  const std::lock_guard lock(mutex);
  if (const auto found = loaded.find(key); found != loaded.end()) return found->second;
  auto predictor = std::make_shared<const KernelPredictor>(KernelPredictor::from_json(load_json_file(path), path));
  loaded.emplace(key, predictor);
  return predictor;
}

}  // namespace foresight
