#include "calibration/layer_validation.hpp"

#include <stdexcept>

#include "models/transformer_ops.hpp"

namespace foresight {

std::vector<Op> measured_layer_ops(const ModelArch& model, std::int64_t tokens, std::int64_t tp) {
  ShapeConfig shape;
  shape.micro_batch = 1;
  shape.sequence = tokens;
  shape.tp = tp;
  shape.dtype = Dtype::kBf16;
  shape.attention = AttentionKernel::kUnfused;
  std::vector<Op> ops = build_model_ops(model, shape).layer_forward;
  std::erase_if(ops, [](const Op& op) { return op.kind == OpClass::kCollective; });
  return ops;
}

double predict_layer(const LayerMeasurement& layer, const OpCostModel& model, const GpuSpec& gpu) {
  const ModelArch* arch = find_builtin_model(layer.model);
  if (arch == nullptr) throw std::invalid_argument("no catalog model " + layer.model);
  Time total = 0;
  for (const Op& op : measured_layer_ops(*arch, layer.tokens, layer.tp)) total += model.estimate(op, gpu).duration;
  return to_seconds(total);
}

}  // namespace foresight
