#include "workloads/local_sgd.hpp"

#include <cmath>

#include "models/transformer_ops.hpp"

namespace foresight {

Op outer_gradient_op(double parameters, Dtype sync_dtype) {
  return optimizer_pass("local_sgd.outer_gradient", Dtype::kFp32, parameters, (4 + 4 + dtype_bytes(sync_dtype)) * parameters);
}

Op outer_optimizer_op(double parameters, Dtype sync_dtype) {
  return optimizer_pass("local_sgd.outer_nesterov", Dtype::kFp32, 6 * parameters, (dtype_bytes(sync_dtype) + 4 + 4 + 4 + 4 + 4 + 2) * parameters);
}

Time local_sgd_mean_step(Time inner_step, Time syncing_step, std::int64_t period) {
  const double extra = static_cast<double>(syncing_step - inner_step) / static_cast<double>(period);
  return inner_step + static_cast<Time>(std::llround(extra));
}

}  // namespace foresight
