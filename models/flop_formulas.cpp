#include "models/flop_formulas.hpp"

namespace foresight {

double training_flops_per_token(const ModelArch& model, double sequence) {
  const ParameterCount params = count_parameters(model);
  const double attention_layers = static_cast<double>(model.layers + model.encoder_layers);
  return 6 * params.matmul_active +
         12 * attention_layers * static_cast<double>(model.attention_width()) * sequence;
}

}  // namespace foresight
