#pragma once
// The time of one serving iteration on a replica, from the op cost model: every layer's
// token-wise kernels (GEMMs, norms, activations and the TP all-reduces) for all tokens of
// the batch, the attention of each prefill chunk against its context, one batched decode
// attention over the cached keys and values, and the output head for the sequences that
// emit a token. Results are cached by shape, since a simulation asks millions of times.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <string>
#include <vector>

#include "models/cost_model.hpp"
#include "models/model_arch.hpp"
#include "topologies/node_fabric.hpp"
#include "workloads/serving_config.hpp"

namespace foresight {

class CollectiveTuner;
class Router;
class Topology;

// One attention rank's share of a batch under data-parallel attention: its own sequences'
// prefill chunks and decodes.
struct RankLoad {
  std::int64_t tokens = 0;          // prefill chunk tokens plus one per decode
  std::int64_t decodes = 0;
  std::int64_t decode_context = 0;
  std::int64_t decode_window_context = 0;
  Time prefill_attention = 0;       // per layer
};

struct BatchShape {
  std::int64_t tokens = 0;          // prefill chunk tokens plus one per decode
  std::int64_t decodes = 0;         // sequences decoding one token
  std::int64_t decode_context = 0;  // keys and values those decodes read, summed (tokens)
  std::int64_t decode_window_context = 0;  // the same in a sliding-window layer: each at most the window
  std::int64_t outputs = 0;         // sequences that emit a token this iteration
  Time prefill_attention = 0;       // per layer, summed over the batch's prefill chunks
  Time host_copies = 0;             // swapping blocks out and in before the iteration's kernels
  std::int64_t lora_tokens = 0;     // tokens of sequences running with a LoRA adapter
  std::int64_t lora_rank_tokens = 0;  // those tokens times the rank each runs at
  std::int64_t lora_decode_tokens = 0;       // the decodes among lora_tokens
  std::int64_t lora_decode_rank_tokens = 0;  // and their share of lora_rank_tokens
  std::int64_t sequences = 0;       // sequences in the batch (prefill chunks and decodes), for the host's per-sequence work
  // With data-parallel attention, each rank's share (empty: spread evenly over the ranks).
  std::vector<RankLoad> ranks;
};

class IterationCostModel {
 public:
  IterationCostModel(const ModelArch& model, const GpuSpec& gpu, const NodeFabric& fabric, const ServingConfig& config,
                     const OpCostModel& cost_model);
  ~IterationCostModel();
  IterationCostModel(const IterationCostModel&) = delete;
  IterationCostModel& operator=(const IterationCostModel&) = delete;

  // The whole iteration on a replica without pipeline stages: the host's CPU work, host
  // copies and every layer's kernels, launched eagerly or replayed from a CUDA graph.
  // `steps` decode steps per scheduler call (multi-step): the CPU work is paid once.
  Time iteration(const BatchShape& shape, std::int64_t steps = 1);
  // The GPU's part: its kernels, or the host's launches when they take longer.
  Time device_time(const BatchShape& shape);
  // Speculative decoding's drafter: its passes over the batch's decoding sequences, one per
  // drafted token (0 without speculation or decodes).
  Time draft_time(const BatchShape& shape);
  // Kernels the host launches one by one for this batch (those outside CUDA graphs).
  std::int64_t eager_launches(const BatchShape& shape) const;
  bool replays_graph(const BatchShape& shape) const;
  // The host's CPU work per scheduler call.
  Time cpu_time(const BatchShape& shape) const;
  // With pp stages: what one stage computes (its share of the layers and of the head) and
  // the activations' send/recv to the next stage.
  Time stage_work(const BatchShape& shape);
  Time stage_transfer(std::int64_t tokens) const;
  Time overhead(const BatchShape& shape) const;  // CPU time and host copies before the kernels
  double non_torch_bytes() const { return non_torch_bytes_; }        // per rank: NCCL, cuBLAS and driver buffers
  // One layer's attention for `chunk` new tokens of a sequence with `context` tokens cached
  // (with sliding-window layers, the average over the layers).
  Time prefill_attention(std::int64_t chunk, std::int64_t context);
  // One layer's time on a prefill chunk alone: its token-wise kernels and its attention.
  Time chunk_layer_time(std::int64_t chunk, std::int64_t context);
  // The keys a sliding-window layer reads for a sequence of `context` tokens.
  std::int64_t windowed(std::int64_t context) const {
    return model_.sliding_window > 0 ? std::min(context, model_.sliding_window) : context;
  }

  // Sending `tokens` tokens of KV cache from one replica to another, each TP rank its own
  // share in parallel: over NVLink inside a node, over the NICs between nodes. To a decode
  // pool of its own machines: over the NICs, as many ranks in parallel as the smaller TP.
  Time kv_transfer(std::int64_t tokens, std::int64_t from_replica, std::int64_t to_replica) const;

  // The decode pool's replicas when they run on another GPU type and TP (serving.decode_pool);
  // otherwise this model.
  IterationCostModel& decode_pool() { return decode_pool_ ? *decode_pool_ : *this; }
  const IterationCostModel& decode_pool() const { return decode_pool_ ? *decode_pool_ : *this; }
  bool has_decode_pool() const { return decode_pool_ != nullptr; }

  // Offloaded experts (serving.expert_offload): one MoE layer's GPU time for an iteration
  // of `tokens` tokens, split into the work before its experts and one reached expert's,
  // and what moving or CPU-running an expert costs.
  ExpertLayerCosts expert_layer_costs(std::int64_t tokens);
  ExpertTransfer expert_transfer() const;
  double host_bandwidth() const { return host_bandwidth_; }  // bytes/s per GPU to and from host memory

  // Copying `tokens` tokens of KV cache between device and host memory (each rank its share).
  Time host_copy(std::int64_t tokens) const;
  // One LoRA adapter's weights on one GPU (its TP share), and loading it from host memory.
  double adapter_bytes() const { return adapter_bytes_; }  // an adapter of lora_rank, per GPU
  double adapter_bytes(std::int64_t rank) const;
  double reserved_adapter_bytes() const;  // per GPU: the slots set aside outside the KV cache
  Time adapter_load() const;
  Time adapter_load(std::int64_t rank) const;
  std::int64_t adapter_blocks(std::int64_t rank) const;  // KV blocks it takes under unified paging
  // Blocks of host memory a replica may swap to.
  std::int64_t host_blocks() const;
  // Blocks of host memory a replica keeps offloaded prefix blocks in, and of disk below it.
  std::int64_t offload_blocks() const;
  std::int64_t disk_blocks() const;
  // Reading `tokens` tokens of KV cache from that disk (each rank its share).
  Time disk_read(std::int64_t tokens) const;
  Time disk_write(std::int64_t tokens) const;
  double disk_write_bandwidth() const;  // bytes/s per GPU; 0: writes cost nothing

  double kv_bytes_per_token() const { return kv_bytes_per_token_; }  // per rank (a cp-th of each token's with context parallelism)
  const ModelArch& model() const { return model_; }
  const GpuSpec& gpu() const { return gpu_; }
  // The configuration these iterations are of (a decode pool's: its GPU's TP and limits).
  const ServingConfig& config() const { return config_; }
  double weight_bytes() const { return weight_bytes_; }              // per rank
  // Per rank, the weights an iteration of `tokens` tokens reads: all but the experts none
  // of them reached.
  double weights_read(std::int64_t tokens) const;
  double activation_bytes() const { return activation_bytes_; }      // per rank, the profiled peak
  std::int64_t kv_blocks() const { return kv_blocks_; }              // per replica
  // Why this configuration cannot serve: no room for the KV cache, or a max_total_tokens
  // that does not fit in memory ("" when it can).
  std::string kv_room_problem() const;

  // The time of kernels, and the part of it compute-bound tensor-core work (GEMMs, prefill
  // attention) takes at the sustained clock: beside memory-bound kernels it clocks up
  // within the power limit.
  struct Work {
    Time total = 0;
    Time clocked = 0;
    Work& operator+=(const Work& w) {
      total += w.total;
      clocked += w.clocked;
      return *this;
    }
  };

 private:
  Work model_work(const BatchShape& shape);  // every layer and the head
  Work spread_layer_work(const BatchShape& shape);   // one layer, the batch spread evenly over the attention ranks
  Work busiest_rank_layer_work(const BatchShape& shape);  // one layer at the pace of its busiest attention rank
  Work tokenwise(std::int64_t tokens);
  Work routed_expert_work(std::int64_t tokens);  // the routed experts' part of tokenwise(tokens)
  std::vector<Op> routed_expert_ops(std::int64_t tokens) const;  // one MoE layer's routed expert GEMMs
  Time decode_attention(std::int64_t decodes, std::int64_t context);
  Time prefill_attention_of(std::int64_t chunk, std::int64_t context, std::int64_t window);
  std::int64_t rank_kv_heads() const;
  std::int64_t machine_of(std::int64_t replica) const;  // with a decode pool; -1: spans machines, or on the pool's own
  std::int64_t rank_heads() const;  // attention heads one GPU runs
  Work head(std::int64_t outputs);
  Time lora(std::int64_t tokens, std::int64_t rank_tokens);  // per layer: the adapters' shrink and expand GEMMs
  Time lora_gather(std::int64_t tokens);  // per layer: BGMV's gather GEMVs at lora_rank
  Time lora_work(const BatchShape& shape);  // per layer: every adapted token's LoRA kernels
  std::int64_t lora_kernels(const BatchShape& shape) const;  // per layer, launched
  // Context parallelism: every group's `bytes` (per GPU) passed to every other group around
  // a ring of the cp groups; one layer's attention over a chunk split across them; and the
  // gather of the decodes' partial attention outputs.
  Time cp_ring(double bytes) const;
  Time cp_prefill_attention(std::int64_t chunk, std::int64_t context, Time attention) const;
  Time cp_decode_combine(std::int64_t decodes) const;
  std::int64_t local_tokens(std::int64_t prefill_tokens, std::int64_t decodes) const;  // the tokens one CP group runs
  Work ops_time(const std::vector<Op>& ops, bool skip_attention);
  Dtype gemm_dtype() const;

  ModelArch model_;
  GpuSpec gpu_;
  NodeFabric fabric_;
  ServingConfig config_;
  const OpCostModel& cost_model_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<CollectiveTuner> tuner_;       // TP all-reduces: ring or NVLS
  std::unique_ptr<CollectiveTuner> all_to_all_;  // expert parallelism's dispatch and combine
  std::unique_ptr<IterationCostModel> draft_;    // speculative decoding's drafter, on the same GPUs
  std::unique_ptr<IterationCostModel> decode_pool_;  // serving.decode_pool's replicas
  double kv_bytes_per_token_ = 0;
  double kv_layer_bytes_ = 0;  // a token's cache in one layer on this GPU (the target model's)
  double weight_bytes_ = 0;
  double expert_weight_bytes_ = 0;  // per rank, the routed experts' weights in its layers (resident or not)
  double host_bandwidth_ = 0;
  double all_weight_bytes_ = 0;  // per rank, every expert counted: what iterations read (resident or fetched)
  std::int64_t local_experts_ = 0;  // experts a rank holds (a TP slice of each, or whole ones)
  double activation_bytes_ = 0;
  double pool_overflow_bytes_ = 0;  // per rank: how far a max_total_tokens pool overflows memory
  std::vector<std::int64_t> replica_first_gpus_;  // with a decode pool: where each replica starts on the cluster
  double adapter_bytes_ = 0;
  double non_torch_bytes_ = 0;
  std::int64_t layer_kernels_ = 0;  // kernels one layer launches (collectives included)
  std::int64_t head_kernels_ = 0;
  std::int64_t kv_blocks_ = 0;
  std::vector<Work> tokenwise_;  // by token count; total -1 until computed
  std::unordered_map<std::int64_t, Work> tokenwise_large_;
  std::unordered_map<std::uint64_t, Time> decode_attention_, prefill_attention_;
  std::vector<Work> head_;
  std::unordered_map<std::uint64_t, Time> lora_;  // by tokens and rank
  std::unordered_map<std::uint64_t, Time> lora_gather_;  // by tokens
  std::unordered_map<std::int64_t, Time> routed_experts_;  // one layer's expert GEMMs, by tokens
  std::unordered_map<std::int64_t, Work> routed_expert_work_;  // the same as layers average them, by tokens
  // Only the roofline times GEMMs at the sustained clock; the learned and profile models
  // carry the clocks their measurements ran at.
  bool clocks_up_beside_memory_bound_ = false;
};

}  // namespace foresight
