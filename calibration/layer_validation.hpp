#pragma once
// A decoder layer measured whole on a GPU (a profile's "layer" entries) against the
// simulator's prediction of it. Both sides take their op list from measured_layer_ops:
// kernels/layer_plan.cpp runs it, predict_layer times it, one op after another on one
// stream, as it ran.
#include <cstdint>
#include <vector>

#include "calibration/profile.hpp"
#include "models/cost_model.hpp"
#include "models/model_arch.hpp"

namespace foresight {

// A layer's forward ops without collectives, in bf16 with unfused attention (QK^T and PV
// as batched GEMMs around a softmax, which needs no FlashAttention library).
std::vector<Op> measured_layer_ops(const ModelArch& model, std::int64_t tokens, std::int64_t tp);

// Seconds. Throws std::invalid_argument for a model the catalog does not have.
double predict_layer(const LayerMeasurement& layer, const OpCostModel& model, const GpuSpec& gpu);

}  // namespace foresight
