#include "kernels/layer_plan.hpp"

#include "calibration/layer_validation.hpp"

namespace foresight::kernels {
namespace {
bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The benchmark kernel standing for one of the layer's ops: GEMMs by their shape, norms as
// RMSNorm over the hidden size, the softmax over each head's scores, the gated activation,
// residual adds, and any other elementwise op as a copy of its bytes.
PlannedKernel kernel_for(const Op& op, const ModelArch& m, std::int64_t tokens) {
  PlannedKernel k{op.name, op.kind == OpClass::kGemm, {}, {}};
  if (k.is_gemm) {
    k.gemm = {"bf16", op.gemm.m, op.gemm.n, op.gemm.k, op.gemm.batch};
  } else if (op.kind == OpClass::kNorm) {
    k.memory = {"rmsnorm", tokens, m.hidden};
  } else if (ends_with(op.name, "softmax")) {
    k.memory = {"softmax", m.heads * tokens, tokens};
  } else if (ends_with(op.name, "act")) {
    k.memory = {"silu_mul", tokens, m.ffn_hidden};
  } else if (ends_with(op.name, "residual")) {
    k.memory = {"add", tokens, m.hidden};
  } else {
    k.memory = {"copy", 1, static_cast<std::int64_t>(op.bytes / 2)};  // a copy moves twice its size
  }
  return k;
}
}  // namespace

std::vector<LayerCase> layer_cases(bool quick) {
  std::vector<LayerCase> cases;
  const ModelArch& model = *find_builtin_model("llama2_7b");
  for (std::int64_t tokens : quick ? std::vector<std::int64_t>{2048} : std::vector<std::int64_t>{512, 2048, 4096}) {
    LayerCase layer{model.name, tokens, {}};
    for (const Op& op : measured_layer_ops(model, tokens, 1)) layer.kernels.push_back(kernel_for(op, model, tokens));
    cases.push_back(std::move(layer));
  }
  return cases;
}

}  // namespace foresight::kernels
