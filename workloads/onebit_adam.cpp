#include "workloads/onebit_adam.hpp"

#include "models/transformer_ops.hpp"

namespace foresight {

Op onebit_compress_op(double parameters, Dtype grad_dtype) {
  return optimizer_pass("onebit_adam.compress", Dtype::kFp32, 6 * parameters,
                          (dtype_bytes(grad_dtype) + 4 + kWorkerErrorBytes + 4 + kWorkerErrorBytes + kSignBytes) * parameters);
}

Op onebit_server_op(double parameters, double ranks) {
  const double chunk = parameters / ranks;
  return optimizer_pass("onebit_adam.server_average", Dtype::kFp32, 4 * chunk * ranks, ranks * chunk * kSignBytes + 4 * chunk + 4 * chunk + kSignBytes * chunk);
}

Op onebit_update_op(double parameters) {
  return optimizer_pass("onebit_adam.update", Dtype::kFp32, 8 * parameters, (kSignBytes + 4 + 4 + 4 + 4 + 4 + 2) * parameters);
}

}  // namespace foresight
