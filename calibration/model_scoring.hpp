#pragma once
// Cost models scored against kernels measured on a GPU, grouped by what the kernel does
// (GEMMs per dtype, decode and prefill attention, each memory-bound kind): the mean and
// 90th percentile of the absolute error, and the median signed error, which says whether
// a model is too optimistic (negative: it predicts too little time) or too pessimistic.
// Used on a profile's held-out shapes (`foresight fit --score`) and by the validation tests.
#include <string>
#include <vector>

#include "calibration/profile.hpp"
#include "models/cost_model.hpp"
#include "models/roofline_model.hpp"

namespace foresight {

// Cost-model parameters without the gap between kernels: measured kernel times hold none.
RooflineParameters without_launch_gap();

struct NamedModel {
  std::string name;
  const OpCostModel* model;
};

struct ModelScore {
  double mape = 0, p90 = 0, median_error = 0;  // percent; median_error signed (predicted / measured - 1)
};

struct GroupScore {
  std::string group;  // "gemm bf16", "decode attention bf16", "norm bf16"
  int rows = 0;
  std::vector<ModelScore> by_model;  // in the order of the models given
};

// Every kernel of `measured`, timed by each model on the profile's GPU.
std::vector<GroupScore> score_cost_models(const std::vector<NamedModel>& models, const CalibrationProfile& measured);
std::string format_group_scores(const std::vector<NamedModel>& models, const std::vector<GroupScore>& groups);

// Each measured decoder layer beside each model's prediction of it.
std::string format_layer_predictions(const std::vector<NamedModel>& models, const CalibrationProfile& profile);

// The group a measured kernel belongs to.
std::string kernel_group(const Op& op);

}  // namespace foresight
