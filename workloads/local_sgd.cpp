#include "workloads/local_sgd.hpp"

#include <algorithm>
#include <cmath>

#include "models/transformer_ops.hpp"

namespace foresight {

Op outer_gradient_op(double parameters, double sync_bytes) {
  return optimizer_pass("local_sgd.outer_gradient", Dtype::kFp32, parameters, (4 + 4 + sync_bytes) * parameters);
}

Op outer_optimizer_op(double parameters, double sync_bytes) {
  return optimizer_pass("local_sgd.outer_nesterov", Dtype::kFp32, 6 * parameters, (sync_bytes + 4 + 4 + 4 + 4 + 4 + 2) * parameters);
}

Time local_sgd_mean_step(Time inner_step, Time syncing_step, std::int64_t interval) {
  const double extra = static_cast<double>(syncing_step - inner_step) / static_cast<double>(interval);
  return inner_step + static_cast<Time>(std::llround(extra));
}

StreamingAverage streaming_average(Time plain_inner, Time contended_work, Time step_end, Time average_end, std::int64_t overlap_steps,
                                   std::int64_t interval) {
  const double work = static_cast<double>(std::max(contended_work, plain_inner));
  const double later_steps = static_cast<double>(overlap_steps - 1) * work;
  const double tail = static_cast<double>(std::max<Time>(0, average_end - step_end));
  const double covered = std::min(tail, later_steps);
  const double slowed = work > 0 ? covered * (1 - static_cast<double>(plain_inner) / work) : 0;
  StreamingAverage s;
  s.wait = static_cast<Time>(std::llround(std::max(0.0, tail - later_steps)));
  s.syncing_step = step_end + s.wait;
  const double extra = static_cast<double>(step_end - plain_inner) + slowed + static_cast<double>(s.wait);
  s.mean_step = plain_inner + static_cast<Time>(std::llround(extra / static_cast<double>(interval)));
  return s;
}

AverageEnds::AverageEnds(std::size_t ops, const std::vector<OpId>& averages) : is_average_(ops, false) {
  for (OpId op : averages) is_average_[op] = true;
}

void AverageEnds::on_op_end(const OpGraph&, OpId op, Time, Time end) {
  Time& latest = is_average_[op] ? average_end_ : step_end_;
  latest = std::max(latest, end);
}

}  // namespace foresight
