#include "workloads/comm_interference.hpp"

#include <algorithm>
#include <cmath>

namespace foresight {

CommInterference::CommInterference(const GpuSpec& gpu, InterferenceSettings settings, int ranks, RoleOf role_of,
                                   MembersOf members_of)
    : gpu_(gpu), settings_(settings), role_of_(std::move(role_of)), members_of_(std::move(members_of)),
      load_(static_cast<std::size_t>(ranks)), added_(static_cast<std::size_t>(ranks), 0) {}

void CommInterference::change_load(OpId collective, int sign) {
  const InterferenceRole role = role_of_(collective);
  if (role.kind != InterferenceRole::Kind::kCollective) return;
  for (int rank : members_of_(collective)) {
    if (rank < 0 || static_cast<std::size_t>(rank) >= load_.size()) continue;
    Load& load = load_[static_cast<std::size_t>(rank)];
    load.collectives += sign;
    load.sms += sign * role.sms;
    load.hbm_bytes_per_second += sign * role.hbm_bytes_per_second;
  }
}

void CommInterference::on_op_start(const OpGraph&, OpId op, Time) { change_load(op, +1); }
void CommInterference::on_op_end(const OpGraph&, OpId op, Time, Time) { change_load(op, -1); }

Time CommInterference::duration_at_start(OpId op, Time nominal) {
  const InterferenceRole role = role_of_(op);
  const bool tensor = role.kind == InterferenceRole::Kind::kTensorCompute;
  if ((!tensor && role.kind != InterferenceRole::Kind::kMemoryCompute) || role.rank < 0) return nominal;
  const Load& load = load_[static_cast<std::size_t>(role.rank)];
  if (load.collectives == 0) return nominal;
  double taken = 0;
  if (tensor) {
    taken = gpu_.sm_count > 0 ? static_cast<double>(load.sms) / gpu_.sm_count : 0;
  } else {
    taken = gpu_.memory_bandwidth > 0 ? load.hbm_bytes_per_second / gpu_.memory_bandwidth : 0;
  }
  taken = std::min(taken, 0.5);
  const auto stretched = static_cast<Time>(std::llround(static_cast<double>(nominal) / (1.0 - taken)));
  added_[static_cast<std::size_t>(role.rank)] += stretched - nominal;
  return stretched;
}

}  // namespace foresight
