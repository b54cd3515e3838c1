#include "models/flop_formulas.hpp"

namespace foresight {

namespace {
double attention_flops_per_token(const ModelArch& model, double sequence) {
  const double attention_layers = static_cast<double>(model.layers + model.encoder_layers);
  return 12 * attention_layers * static_cast<double>(model.attention_width()) * sequence;
}
}  // namespace

double training_flops_per_token(const ModelArch& model, double sequence) {
  return 6 * count_parameters(model).matmul_active + attention_flops_per_token(model, sequence);
}

double lora_training_flops_per_token(const ModelArch& model, double sequence, double adapters) {
  return 4 * count_parameters(model).matmul_active + 6 * adapters + attention_flops_per_token(model, sequence);
}

}  // namespace foresight
