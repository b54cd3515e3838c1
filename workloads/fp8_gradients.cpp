#include "workloads/fp8_gradients.hpp"

namespace foresight {
namespace {
Op gradient_pass(const char* name, double elements, double flops_per_element, double bytes) {
  return elementwise_pass(name, Phase::kBackwardWeight, flops_per_element * elements, bytes);
}
}  // namespace

Op fp8_gradient_amax_op(double parameters, double grad_bytes) {
  return gradient_pass("fp8_grad.amax", parameters, 1, parameters * grad_bytes);
}

Op fp8_gradient_cast_op(double parameters, double grad_bytes) {
  return gradient_pass("fp8_grad.cast", parameters, 2, parameters * (grad_bytes + kFp8GradientBytes));
}

Op fp8_gradient_restore_op(double received, double grad_bytes) {
  return gradient_pass("fp8_grad.restore", received, 1, received * (kFp8GradientBytes + grad_bytes));
}

}  // namespace foresight
