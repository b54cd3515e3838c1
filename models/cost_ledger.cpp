#include "models/cost_ledger.hpp"

#include <algorithm>

namespace foresight {

CostEstimate CostLedger::estimate(const Op& op, const GpuSpec& gpu) const {
  const CostEstimate cost = inner_->estimate(op, gpu);
  const std::lock_guard lock(mutex_);
  Tally& t = tallies_[static_cast<std::size_t>(op.kind)];
  ++t.estimates;
  if (std::find(t.models.begin(), t.models.end(), cost.model) == t.models.end()) t.models.push_back(cost.model);
  if (cost.out_of_range > 0) {
    ++t.outside_range;
    if (cost.out_of_range > t.worst_out_of_range) {
      t.worst_out_of_range = cost.out_of_range;
      t.worst_feature = cost.out_of_range_feature;
    }
  }
  return cost;
}

std::vector<ClassCostRecord> CostLedger::records() const {
  const std::lock_guard lock(mutex_);
  std::vector<ClassCostRecord> records;
  for (std::size_t i = 0; i < tallies_.size(); ++i) {
    const Tally& t = tallies_[i];
    if (t.estimates == 0) continue;
    ClassCostRecord r{static_cast<OpClass>(i), "", t.estimates, t.outside_range, t.worst_out_of_range, std::string(t.worst_feature)};
    for (std::string_view model : t.models) r.models += (r.models.empty() ? "" : ", ") + std::string(model);
    records.push_back(std::move(r));
  }
  return records;
}

}  // namespace foresight
