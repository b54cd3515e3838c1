#pragma once
// Held-out error of the learned predictor, per op family: on the same devices (every
// fifth sample held out, fitted on the rest), across devices (every sample of one GPU
// held out, fitted on the other GPUs' samples) and across sources (every sample of one
// source held out, fitted on the others').
#include <string>
#include <vector>

#include "calibration/kernel_predictor.hpp"

namespace foresight {

struct ErrorSummary {
  std::string group;  // the op class and dtype: "gemm fp16", "norm fp32"
  int rows = 0;
  double mape = 0, p90 = 0;  // absolute percentage error: mean and 90th percentile
};

struct PredictorError {
  KernelFamily family;
  std::string evaluation;  // "same devices, held-out shapes" or "leave out <gpu>"
  int rows = 0;
  double mape = 0, p90 = 0;  // absolute percentage error: mean and 90th percentile
  double baseline_mape = 0;  // the analytic baseline alone
  std::vector<ErrorSummary> by_class;  // the same split by op class and dtype
};

// `leave_out`: GPUs to hold out one at a time, each matched as a substring of the
// devices' descriptions ("H100" holds out every H100 the data has). A family measured on
// that GPU alone, or not at all, gets no cross-device row.
// Progress goes to stderr unless `quiet`.
std::vector<PredictorError> evaluate_kernel_predictor(const MeasuredKernels& kernels, const std::vector<std::string>& leave_out,
                                                      const BoostingOptions& options = {}, bool quiet = false);

// The rows as an aligned table, with a header line; each row is followed by its split by
// op class and dtype when there is more than one.
std::string format_predictor_errors(const std::vector<PredictorError>& errors);

}  // namespace foresight
