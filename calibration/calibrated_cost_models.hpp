#pragma once
// Registers the cost models built on measurements beside the roofline: `learned` (the
// fitted kernel predictor) and `profile` (interpolation in a calibration profile).
#include "models/cost_model.hpp"

namespace foresight {

void register_calibrated_cost_models(CostModelRegistry& registry);

// The model `foresight fit` makes from calibration/data, shipped in the source tree.
std::string shipped_kernel_model_path();

}  // namespace foresight
