#include "workloads/comm_interference.hpp"

#include <algorithm>
#include <cmath>

namespace foresight {

CommInterference::CommInterference(const GpuSpec& gpu, int ranks, const std::vector<InterferenceKind>& kinds,
                                   const std::vector<int>& rank_of_op, LoadOf load_of, MoveEnd move_end)
    : gpu_(gpu), kinds_(kinds), rank_of_op_(rank_of_op), load_of_(std::move(load_of)), move_end_(std::move(move_end)),
      load_(static_cast<std::size_t>(ranks)), running_(static_cast<std::size_t>(ranks)), added_(static_cast<std::size_t>(ranks), 0) {}

double CommInterference::rate_of(OpId kernel, int rank) const {
  const Load& load = load_[static_cast<std::size_t>(rank)];
  if (load.collectives == 0) return 1.0;
  double taken = 0;
  if (kinds_[kernel] == InterferenceKind::kTensorCompute) {
    taken = gpu_.sm_count > 0 ? static_cast<double>(load.sms) / gpu_.sm_count : 0;
  } else {
    taken = gpu_.memory_bandwidth > 0 ? load.hbm_bytes_per_second / gpu_.memory_bandwidth : 0;
  }
  return 1.0 - std::min(taken, 0.5);
}

// The members' kernels in flight run on at the new rate from `now`.
void CommInterference::change_load(OpId collective, int sign, Time now) {
  if (kinds_[collective] != InterferenceKind::kCollective) return;
  const CollectiveLoad taken = load_of_(collective);
  for (int rank : taken.members) {
    if (rank < 0 || static_cast<std::size_t>(rank) >= load_.size()) continue;
    Load& load = load_[static_cast<std::size_t>(rank)];
    load.collectives += sign;
    load.sms += sign * taken.sms;
    load.hbm_bytes_per_second += sign * taken.hbm_bytes_per_second;
    for (Running& k : running_[static_cast<std::size_t>(rank)]) {
      const double rate = rate_of(k.op, rank);
      k.remaining = std::max(0.0, k.remaining - static_cast<double>(now - k.since) * k.rate);
      k.since = now;
      if (rate == k.rate) continue;
      k.rate = rate;
      move_end_(k.op, now + static_cast<Time>(std::llround(k.remaining / rate)));
    }
  }
}

void CommInterference::on_op_start(const OpGraph&, OpId op, Time start) { change_load(op, +1, start); }

void CommInterference::on_op_end(const OpGraph&, OpId op, Time start, Time end) {
  change_load(op, -1, end);
  const int rank = rank_of_op_[op];
  if (rank < 0 || kinds_[op] == InterferenceKind::kCollective) return;
  auto& running = running_[static_cast<std::size_t>(rank)];
  const auto it = std::find_if(running.begin(), running.end(), [op](const Running& k) { return k.op == op; });
  if (it == running.end()) return;
  added_[static_cast<std::size_t>(rank)] += (end - start) - it->nominal;
  running.erase(it);
}

Time CommInterference::duration_at_start(OpId op, Time now, Time nominal) {
  const InterferenceKind kind = kinds_[op];
  if (kind != InterferenceKind::kTensorCompute && kind != InterferenceKind::kMemoryCompute) return nominal;
  const int rank = rank_of_op_[op];
  if (rank < 0) return nominal;
  const double rate = rate_of(op, rank);
  running_[static_cast<std::size_t>(rank)].push_back({op, nominal, now, static_cast<double>(nominal), rate});
  return static_cast<Time>(std::llround(static_cast<double>(nominal) / rate));
}

}  // namespace foresight
