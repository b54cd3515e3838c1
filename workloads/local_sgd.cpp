#include "workloads/local_sgd.hpp"

#include <cmath>

namespace foresight {
namespace {
Op outer_pass(const char* name, double flops, double bytes) {
  Op op;
  op.name = name;
  op.kind = OpClass::kOptimizer;
  op.phase = Phase::kOptimizer;
  op.dtype = Dtype::kFp32;
  op.flops = flops;
  op.bytes = bytes;
  return op;
}
}  // namespace

Op outer_gradient_op(double parameters, Dtype sync_dtype) {
  return outer_pass("local_sgd.outer_gradient", parameters, (4 + 4 + dtype_bytes(sync_dtype)) * parameters);
}

Op outer_optimizer_op(double parameters, Dtype sync_dtype) {
  return outer_pass("local_sgd.outer_nesterov", 6 * parameters, (dtype_bytes(sync_dtype) + 4 + 4 + 4 + 4 + 4 + 2) * parameters);
}

Time local_sgd_mean_step(Time inner_step, Time syncing_step, std::int64_t period) {
  const double extra = static_cast<double>(syncing_step - inner_step) / static_cast<double>(period);
  return inner_step + static_cast<Time>(std::llround(extra));
}

}  // namespace foresight
