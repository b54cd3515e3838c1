#pragma once
// A cost model that passes every estimate through to another and keeps account, per op
// class, of which model timed the class's ops and how far they lay outside the
// measurements behind those models, so that a result can say how much of it rests on
// measurement and how much on extrapolation. Safe to share between threads.
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "models/cost_model.hpp"

namespace foresight {

struct ClassCostRecord {
  OpClass kind = OpClass::kGemm;
  std::string models;              // "learned", or "learned, roofline" when several timed the class
  std::int64_t estimates = 0;      // distinct ops timed (the workloads time each shape once)
  std::int64_t outside_range = 0;  // of them, how many lay outside the measured range
  double worst_out_of_range = 0;   // CostEstimate::out_of_range, the largest
  std::string worst_feature;
};

class CostLedger : public OpCostModel {
 public:
  explicit CostLedger(std::unique_ptr<OpCostModel> inner) : inner_(std::move(inner)) {}
  std::string_view name() const override { return inner_->name(); }
  CostEstimate estimate(const Op& op, const GpuSpec& gpu) const override;
  // Classes that were timed, in OpClass order.
  std::vector<ClassCostRecord> records() const;

 private:
  struct Tally {
    std::vector<std::string_view> models;  // static storage, as CostEstimate's
    std::int64_t estimates = 0, outside_range = 0;
    double worst_out_of_range = 0;
    std::string_view worst_feature;
  };
  std::unique_ptr<OpCostModel> inner_;
  mutable std::mutex mutex_;
  mutable std::array<Tally, static_cast<std::size_t>(OpClass::kCollective) + 1> tallies_{};
};

}  // namespace foresight
