#pragma once
// Peak memory per GPU for training, by category, on the pipeline stage that needs most.
//
// Parameters and optimizer follow the ZeRO paper's accounting (Rajbhandari et al. 2020,
// Sec. 3.1): low-precision weights, gradients in grad_dtype, and K = 12 bytes/param of
// Adam state (fp32 master weights, momentum, variance), sharded over DP x CP at ZeRO >= 1;
// gradients too at ZeRO >= 2, and weights at ZeRO 3, which also holds two gathered units
// (layer, embedding or head) at a time. A stage holds its share of the layers, the first
// also the embedding and the last the head. Activations are the tensors each forward kernel keeps
// for its backward (Op::saved_bytes), summed over the stage's layers for one micro-batch,
// times the micro-batches the schedule keeps in flight on the stage; with full
// recomputation only each layer's input is kept, plus one layer's working set. Activation
// offloading keeps the offloaded layers' activations on the host, but for the one whose
// copy ends the forward.
#include <vector>

#include "models/transformer_ops.hpp"
#include "workloads/training_config.hpp"

namespace foresight {

struct MemoryFootprint {
  double weights = 0;
  double gradients = 0;
  double optimizer = 0;
  double activations = 0;
  double reserved = 0;
  double offloaded = 0;  // activations in pinned host memory (activation offloading), not in total()
  double capacity = 0;
  int stage = 0;  // the pipeline stage these figures are for

  double total() const { return weights + gradients + optimizer + activations + reserved; }
  bool fits() const { return total() <= capacity; }
};

// Decoder layers held by a pipeline stage, over all its chunks.
std::int64_t layers_on_stage(const ModelArch& model, const TrainingConfig& config, int stage);
// Of those, an MoE model's leading dense layers (ModelArch::dense_layers).
std::int64_t dense_layers_on_stage(const ModelArch& model, const TrainingConfig& config, int stage);
// Parameters of a pipeline stage (all of them when pp = 1), all experts included.
double parameters_on_stage(const ModelArch& model, const TrainingConfig& config, int stage);
// A multi-token prediction depth's own weights beside its decoder layer: the 2h x h projection
// and the norms of the embedding, the hidden states and the output.
double mtp_projection_parameters(const ModelArch& model);
// The experts' share of them.
double expert_parameters_on_stage(const ModelArch& model, const TrainingConfig& config, int stage);
// What one rank of the stage holds: its TP share, with experts / ep of the experts.
double parameters_on_rank(const ModelArch& model, const TrainingConfig& config, int stage);
// The parameters that train: all of parameters_on_stage, or under LoRA only the adapters of
// the stage's decoder layers (multi-token prediction's layers are left unadapted).
double trainable_parameters_on_stage(const ModelArch& model, const TrainingConfig& config, int stage);
// Their share on one rank of the stage (parameters_on_rank's TP and EP split; adapters by TP).
double trainable_parameters_on_rank(const ModelArch& model, const TrainingConfig& config, int stage);
// Of parameters_on_stage, the decoder layers' (all of it but the embedding, the head and
// an encoder's).
double decoder_parameters_on_stage(const ModelArch& model, const TrainingConfig& config, int stage);
// Of those, the layers fp8 training keeps in bf16 (TrainingConfig::bf16_layer), and their experts.
struct LayerParameters {
  double all = 0;
  double experts = 0;
};
LayerParameters bf16_layer_parameters_on_stage(const ModelArch& model, const TrainingConfig& config, int stage);

// `in_flight`: per stage, the micro-batches' worth of stage activations alive at the
// schedule's peak (activations_in_flight in pipeline_schedule.hpp).
MemoryFootprint training_memory(const ModelArch& model, const ModelOps& ops, const TrainingConfig& config,
                                double capacity_bytes, const std::vector<double>& in_flight);

}  // namespace foresight
