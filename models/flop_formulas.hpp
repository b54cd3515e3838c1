#pragma once
#include "models/model_arch.hpp"

namespace foresight {

// Model FLOPs per trained token, as PaLM counts them for MFU (Chowdhery et al. 2022,
// Appendix B): 6N + 12·L·H·Q·T, where N is the parameters a token is multiplied through
// (projections, router and output head; for MoE only the routed experts), L layers,
// H heads, Q head width and T the sequence length. The attention term counts the full
// square although causal attention needs half of it, and recomputation is not counted:
// MFU measures useful work, not executed work.
double training_flops_per_token(const ModelArch& model, double sequence);

// The same under LoRA, the model's weights frozen: 4N for the frozen weights (forward and
// input gradients; no weight gradients), 6 per adapter parameter (`adapters`, all told) and
// the same attention term; NeMo's LoRA figures count the frozen weights so.
double lora_training_flops_per_token(const ModelArch& model, double sequence, double adapters);

}  // namespace foresight
