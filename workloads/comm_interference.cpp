#include "workloads/comm_interference.hpp"

#include <algorithm>
#include <cmath>

namespace foresight {

CommInterference::CommInterference(const GpuSpec& gpu, int ranks, const std::vector<InterferenceKind>& kinds,
                                   const std::vector<int>& rank_of_op, LoadOf load_of)
    : gpu_(gpu), kinds_(kinds), rank_of_op_(rank_of_op), load_of_(std::move(load_of)),
      load_(static_cast<std::size_t>(ranks)), added_(static_cast<std::size_t>(ranks), 0) {}

void CommInterference::change_load(OpId collective, int sign) {
  if (kinds_[collective] != InterferenceKind::kCollective) return;
  const CollectiveLoad taken = load_of_(collective);
  for (int rank : taken.members) {
    if (rank < 0 || static_cast<std::size_t>(rank) >= load_.size()) continue;
    Load& load = load_[static_cast<std::size_t>(rank)];
    load.collectives += sign;
    load.sms += sign * taken.sms;
    load.hbm_bytes_per_second += sign * taken.hbm_bytes_per_second;
  }
}

void CommInterference::on_op_start(const OpGraph&, OpId op, Time) { change_load(op, +1); }
void CommInterference::on_op_end(const OpGraph&, OpId op, Time, Time) { change_load(op, -1); }

Time CommInterference::duration_at_start(OpId op, Time nominal) {
  const InterferenceKind kind = kinds_[op];
  const bool tensor = kind == InterferenceKind::kTensorCompute;
  if (!tensor && kind != InterferenceKind::kMemoryCompute) return nominal;
  const int rank = rank_of_op_[op];
  if (rank < 0) return nominal;
  const Load& load = load_[static_cast<std::size_t>(rank)];
  if (load.collectives == 0) return nominal;
  double taken = 0;
  if (tensor) {
    taken = gpu_.sm_count > 0 ? static_cast<double>(load.sms) / gpu_.sm_count : 0;
  } else {
    taken = gpu_.memory_bandwidth > 0 ? load.hbm_bytes_per_second / gpu_.memory_bandwidth : 0;
  }
  taken = std::min(taken, 0.5);
  const auto stretched = static_cast<Time>(std::llround(static_cast<double>(nominal) / (1.0 - taken)));
  added_[static_cast<std::size_t>(rank)] += stretched - nominal;
  return stretched;
}

}  // namespace foresight
