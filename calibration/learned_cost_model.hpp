#pragma once
// The `learned` cost model: the fitted kernel predictor (calibration/kernel_predictor.hpp)
// times GEMMs, attention and memory-bound ops; families the model was not fitted on fall
// back to the roofline. Each estimate carries how far the op lay outside the training
// data's range.
#include <memory>
#include <string>

#include "calibration/estimate_cache.hpp"
#include "calibration/kernel_predictor.hpp"
#include "models/roofline_model.hpp"

namespace foresight {

class LearnedCostModel : public OpCostModel {
 public:
  // `fallback` also supplies the launch gap added to every predicted kernel time.
  LearnedCostModel(std::shared_ptr<const KernelPredictor> predictor, RooflineParameters fallback)
      : predictor_(std::move(predictor)), fallback_(fallback), launch_seconds_(fallback.launch_seconds) {}
  std::string_view name() const override { return "learned"; }
  CostEstimate estimate(const Op& op, const GpuSpec& gpu) const override;

 private:
  CostEstimate predict(const Op& op, const GpuSpec& gpu) const;

  std::shared_ptr<const KernelPredictor> predictor_;
  RooflineModel fallback_;
  double launch_seconds_;
  EstimateCache cache_;
};

// Reads a model written by `foresight fit --out`, once per path per process; throws
// InputError naming the file and what is wrong with it.
std::shared_ptr<const KernelPredictor> load_kernel_model(const std::string& path);

}  // namespace foresight
