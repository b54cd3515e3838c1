#include "workloads/memory_footprint.hpp"

#include <algorithm>
#include <cmath>

#include "workloads/activation_offload.hpp"
#include "workloads/local_sgd.hpp"
#include "workloads/onebit_adam.hpp"

namespace foresight {

std::int64_t layers_on_stage(const ModelArch& model, const TrainingConfig& config, int stage) {
  const std::vector<std::int64_t> split = config.layers_per_virtual_stage(model.layers);
  std::int64_t layers = 0;
  for (int chunk = 0; chunk < config.virtual_stages; ++chunk) {
    const auto v = static_cast<std::size_t>(config.position(stage, chunk));
    if (v < split.size()) layers += split[v];
  }
  return layers;
}

namespace {
// Calls f(first, count) with the decoder layers of each of the stage's chunks, counted over
// the whole model: the layers differ where an MoE model's first ones are dense.
template <typename F>
void for_each_chunk_of_stage(const ModelArch& model, const TrainingConfig& config, int stage, F f) {
  if (config.pp == 1) return f(std::int64_t{0}, model.layers);
  const std::vector<std::int64_t> split = config.layers_per_virtual_stage(model.layers);
  std::vector<std::int64_t> first(split.size() + 1, 0);
  for (std::size_t v = 0; v < split.size(); ++v) first[v + 1] = first[v] + split[v];
  for (int chunk = 0; chunk < config.virtual_stages; ++chunk) {
    const auto v = static_cast<std::size_t>(config.position(stage, chunk));
    if (v < split.size()) f(first[v], split[v]);
  }
}
}  // namespace

std::int64_t dense_layers_on_stage(const ModelArch& model, const TrainingConfig& config, int stage) {
  std::int64_t dense = 0;
  for_each_chunk_of_stage(model, config, stage, [&](std::int64_t first, std::int64_t count) { dense += model.dense_layers_in(first, count); });
  return dense;
}

double mtp_projection_parameters(const ModelArch& model) {
  const auto h = static_cast<double>(model.hidden);
  return 2 * h * h + 3 * h;
}

namespace {
// What multi-token prediction adds to the last position: per depth a decoder layer of the
// model's and its projection, and with pp > 1 the last stage's copy of the embedding.
bool holds_mtp(const TrainingConfig& config, int stage) {
  return config.mtp_layers > 0 && config.holds_position(stage, static_cast<int>(config.positions()) - 1);
}

double mtp_decoder_parameters(const ModelArch& model, const TrainingConfig& config, const ParameterCount& params) {
  return static_cast<double>(config.mtp_layers) * (params.per_layer + mtp_projection_parameters(model));
}
}  // namespace

double parameters_on_stage(const ModelArch& model, const TrainingConfig& config, int stage) {
  const ParameterCount params = count_parameters(model);
  const double mtp = holds_mtp(config, stage) ? mtp_decoder_parameters(model, config, params) + (config.pp > 1 ? params.embedding : 0) : 0;
  if (config.pp == 1) return params.total + mtp;
  double held = mtp;
  for_each_chunk_of_stage(model, config, stage, [&](std::int64_t first, std::int64_t count) { held += layer_parameters(model, params, first, count); });
  const int last = static_cast<int>(config.positions()) - 1;
  if (config.holds_position(stage, 0)) held += params.embedding;
  if (config.holds_position(stage, last)) held += params.lm_head + params.final_norms;
  return held;
}

double decoder_parameters_on_stage(const ModelArch& model, const TrainingConfig& config, int stage) {
  const ParameterCount params = count_parameters(model);
  // Multi-token prediction's layers and projections, not the embedding's copy.
  double held = holds_mtp(config, stage) ? mtp_decoder_parameters(model, config, params) : 0;
  for_each_chunk_of_stage(model, config, stage, [&](std::int64_t first, std::int64_t count) { held += layer_parameters(model, params, first, count); });
  return held;
}

LayerParameters bf16_layer_parameters_on_stage(const ModelArch& model, const TrainingConfig& config, int stage) {
  LayerParameters held;
  if (!config.has_bf16_layers()) return held;
  const ParameterCount params = count_parameters(model);
  const std::int64_t end_begin = model.layers - config.bf16_layers_at_end;
  for_each_chunk_of_stage(model, config, stage, [&](std::int64_t first, std::int64_t count) {
    for (const auto& [from, to] : {std::pair{std::int64_t{0}, config.bf16_layers_at_start}, std::pair{end_begin, model.layers}}) {
      const std::int64_t begin = std::max(first, from), end = std::min(first + count, to);
      if (end <= begin) continue;
      held.all += layer_parameters(model, params, begin, end - begin);
      held.experts += layer_expert_parameters(model, params, begin, end - begin);
    }
  });
  return held;
}

double expert_parameters_on_stage(const ModelArch& model, const TrainingConfig& config, int stage) {
  const ParameterCount params = count_parameters(model);
  double experts = holds_mtp(config, stage) ? static_cast<double>(config.mtp_layers) * params.per_layer_experts : 0;
  for_each_chunk_of_stage(model, config, stage,
                          [&](std::int64_t first, std::int64_t count) { experts += layer_expert_parameters(model, params, first, count); });
  return experts;
}

double parameters_on_rank(const ModelArch& model, const TrainingConfig& config, int stage) {
  const double experts = expert_parameters_on_stage(model, config, stage);
  const double dense = parameters_on_stage(model, config, stage) - experts;
  if (config.experts_folded()) return dense / static_cast<double>(config.tp) + experts / static_cast<double>(config.ep);  // whole experts
  return (dense + experts / static_cast<double>(config.ep)) / static_cast<double>(config.tp);
}

double trainable_parameters_on_stage(const ModelArch& model, const TrainingConfig& config, int stage) {
  if (!config.lora.on()) return parameters_on_stage(model, config, stage);
  const auto layers = static_cast<double>(config.pp == 1 ? model.layers : layers_on_stage(model, config, stage));
  // Layers whose MLP is dense: every layer of a dense model, an MoE model's leading ones.
  const auto dense_mlp = model.is_moe() ? static_cast<double>(dense_layers_on_stage(model, config, stage)) : layers;
  return dense_mlp * lora_layer_parameters(model, config.lora, true) + (layers - dense_mlp) * lora_layer_parameters(model, config.lora, false);
}

double trainable_parameters_on_rank(const ModelArch& model, const TrainingConfig& config, int stage) {
  if (!config.lora.on()) return parameters_on_rank(model, config, stage);
  return trainable_parameters_on_stage(model, config, stage) / static_cast<double>(config.tp);
}

namespace {
MemoryFootprint stage_memory(const ModelArch& model, const ModelOps& ops, const TrainingConfig& c, int stage,
                             double in_flight) {
  const double local_params = parameters_on_rank(model, c, stage);
  // ZeRO shards over DP x CP (a local SGD replica's) and a bidirectional pipeline's two
  // copies, which hold the same weights.
  const double dp = static_cast<double>(c.gradient_ranks() * c.pipeline_copies());
  // Each expert is held by dp x cp / ep ranks, so sharded state is the stage's total over
  // all dp x cp x tp ranks of the stage, dense and expert alike.
  const double all_params = parameters_on_stage(model, c, stage) / static_cast<double>(c.tp);
  const double weight_bytes = dtype_bytes(c.weight_dtype());

  MemoryFootprint m;
  m.stage = stage;
  // ZeRO-3 keeps a shard, plus two units gathered at a time (the one running, the one
  // prefetched); a layer gathers its dense weights and this rank's experts.
  // Folded (expert_tp 1), its experts are whole, not TP slices.
  const ParameterCount params = count_parameters(model);
  const double tp = static_cast<double>(c.tp), ep = static_cast<double>(c.ep);
  const double layer_dense = params.per_layer - params.per_layer_experts;
  const double gathered_layer = layer_dense / tp + params.per_layer_experts / (c.experts_folded() ? ep : ep * tp);
  const double largest_unit = std::max({gathered_layer, params.per_encoder_layer / tp, params.embedding / tp, params.lm_head / tp});
  const bool sharded_weights = c.zero_stage == 3 && dp > 1;
  // With pipeline stages, GPipe and breadth-first runs keep a chunk's weights gathered
  // through its run of micro-batches, and gradients build up unsharded until each chunk's
  // last backward (emit_unit).
  const bool pipelined = c.pp > 1;
  const bool chunk_runs = c.schedule == "gpipe" || c.schedule == "breadth_first";
  const double gathered = pipelined && chunk_runs ? std::max(largest_unit, local_params / static_cast<double>(c.virtual_stages)) : 2 * largest_unit;
  // ZeRO++'s hpZ: a second copy of the weights in 16 bits, sharded over the partition only.
  const double secondary = sharded_weights && c.zero_hpz_partition_size > 1
                               ? all_params / static_cast<double>(c.zero_hpz_partition_size) * 2 : 0;
  m.weights = (sharded_weights ? all_params / dp + gathered : local_params) * weight_bytes + secondary;
  // Only what trains has gradients and optimizer state (under LoRA, the adapters).
  const double trained_local = trainable_parameters_on_rank(model, c, stage);
  const double trained_all = c.lora.on() ? trained_local : all_params;
  m.gradients = (c.zero_stage >= 2 && !(sharded_weights && pipelined) ? trained_all / dp : trained_local) * dtype_bytes(c.grad_dtype);
  m.optimizer = (c.zero_stage >= 1 ? trained_all / dp : trained_local) * c.optimizer_state_bytes();
  // DiLoCo's shared weights and outer momentum, for the parameters this rank updates.
  const double updated = c.zero_stage >= 1 ? all_params / dp : local_params;
  if (c.local_sgd()) m.optimizer += updated * kOuterStateBytes;
  // Streaming DiLoCo's fragment in flight: its outer gradient, kept until the merge.
  if (c.local_sgd_overlapped()) m.optimizer += updated / static_cast<double>(c.local_sgd_fragments) * c.local_sgd_sync_bytes();
  if (c.onebit_adam) m.optimizer += local_params * kWorkerErrorBytes * (1 + 1 / dp);  // worker and server error feedback

  // A multi-token prediction depth keeps what a layer of the model's keeps, and its
  // projection's, embedding's and head's.
  const double mtp = holds_mtp(c, stage) ? static_cast<double>(c.mtp_layers) : 0;
  const double layers = static_cast<double>(c.pp == 1 ? model.layers : layers_on_stage(model, c, stage)) + mtp;
  const double encoder_layers = static_cast<double>(model.encoder_layers);  // pp = 1 only
  // What a layer keeps, on average over the stage's (an MoE model's leading dense layers keep
  // less than its expert layers).
  const double dense_share = layers > 0 ? static_cast<double>(dense_layers_on_stage(model, c, stage)) / layers : 0;
  const double layer = (1 - dense_share) * total_saved_bytes(ops.layer_forward) + dense_share * total_saved_bytes(ops.dense_layer.forward);
  const double encoder_layer = total_saved_bytes(ops.encoder_layer_forward);
  double ends = 0;
  if (c.holds_position(stage, 0)) ends += total_saved_bytes(ops.embedding_forward);
  if (c.holds_position(stage, static_cast<int>(c.positions()) - 1)) ends += total_saved_bytes(ops.head_forward);
  ends += mtp * (total_saved_bytes(ops.embedding_forward) + total_saved_bytes(ops.mtp_forward) + total_saved_bytes(ops.head_forward));
  if (c.recompute == Recompute::kFull) {
    // Each micro-batch in flight keeps its layer inputs; the one layer being recomputed
    // holds its full working set, and only one layer is recomputed at a time.
    const double tokens = static_cast<double>(c.micro_batch * c.sequence / c.cp);
    const double shard = c.sequence_parallel ? static_cast<double>(c.tp) : 1;
    const double layer_input = tokens * static_cast<double>(model.hidden) * 2 / shard;
    // Every recompute_every-th layer is rerun; the others keep all they save.
    const double rerun = std::floor(layers / static_cast<double>(c.recompute_every));
    const double per_micro_batch = (rerun + encoder_layers) * layer_input + (layers - rerun) * layer + ends;
    m.activations = per_micro_batch * in_flight + std::max(layer, encoder_layer);
  } else if (c.recompute == Recompute::kSelectiveOp) {
    // What the policy keeps of each layer, and what it reruns of the one layer in backward.
    const double kept = (1 - dense_share) * ops.layer_op_saved_bytes + dense_share * ops.dense_layer.op_saved_bytes;
    m.activations = (layers * kept + ends) * in_flight + std::max(0.0, layer - kept);
  } else {
    m.activations = (layers * layer + encoder_layers * encoder_layer + ends) * in_flight;
    // The device holds them all but the last at the forward's end: its copy ends there.
    m.offloaded = offloaded_activations(model, ops, c.offload_layers);
    if (c.offload_layers > 0) m.activations -= m.offloaded - saved_by_layer(model, ops, c.offload_layers - 1);
  }
  m.reserved = c.reserved_bytes;
  return m;
}
}  // namespace

MemoryFootprint training_memory(const ModelArch& model, const ModelOps& ops, const TrainingConfig& c,
                                double capacity_bytes, const std::vector<double>& in_flight) {
  MemoryFootprint worst;
  for (int stage = 0; stage < c.pp; ++stage) {
    const double alive = static_cast<std::size_t>(stage) < in_flight.size() ? in_flight[static_cast<std::size_t>(stage)] : 1.0;
    const MemoryFootprint m = stage_memory(model, ops, c, stage, alive);
    if (stage == 0 || m.total() > worst.total()) worst = m;
  }
  worst.capacity = capacity_bytes;
  return worst;
}

}  // namespace foresight
