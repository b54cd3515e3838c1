#pragma once
// Serving a mixture of experts whose experts do not all fit in GPU memory: each MoE layer
// keeps `gpu_experts` of its experts resident and the rest in host memory
// (Mixtral-offloading, MoE-Infinity, DeepSpeed's ZeRO-Inference; Fiddler, KTransformers and
// llama.cpp's --n-cpu-moe run the host's experts on its CPU instead). Every iteration draws,
// for each MoE layer, the experts its tokens reach; a resident one is a hit, any other a miss
// that is fetched over PCIe (and may enter the cache) or run on the CPU. Draws are
// independent from one iteration to the next: measured expert traces show little temporal
// locality, which is why LRU and LFU caches gain little over random eviction (SpecMD,
// arXiv 2602.03921; h39s/mlsys on Mixtral-offloading), so the cache's value comes from
// skewed popularity (`popularity`), which a pinned placement of the hottest experts
// (`policy: static`) exploits best.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sim/engine/time.hpp"

namespace foresight {

struct ModelArch;

struct ExpertOffloadConfig {
  bool enabled = false;
  std::int64_t gpu_experts = 0;  // experts per MoE layer resident in GPU memory
  std::string policy = "lru";    // lru, lfu, static (the most popular experts pinned)
  std::string miss = "fetch";    // fetch: copy the expert's weights to the GPU; cpu: run its tokens on the host's CPU
  // Share of a layer's misses loaded during the layer before (Mixtral-offloading's
  // speculative loading: the next layer's router applied to this layer's hidden state);
  // the prefetcher fetches as many guesses as there will be misses, so the wrong ones
  // cost copies too.
  double prefetch = 0;
  // Zipf exponent of the experts' popularity within a layer: the i-th most popular is
  // picked in proportion to 1 / i^popularity (0: all alike, as under a balanced router).
  double popularity = 0;
  double cpu_bandwidth = 0;  // bytes/s the host streams an expert's weights at (miss: cpu)
  double cpu_flops = 0;      // the host's sustained FLOP/s on the experts' matmuls (miss: cpu)
};

// What the GPU spends on one MoE layer of an iteration, from the op cost model.
struct ExpertLayerCosts {
  Time before_experts = 0;  // attention, norms, router, shared expert: the layer's other kernels
  Time per_expert = 0;      // one reached expert's GEMMs on the GPU
};

// The copies and CPU work an offloaded expert costs, per GPU.
struct ExpertTransfer {
  double expert_bytes = 0;      // one expert's weights on a GPU (its TP slice, or whole)
  double host_bandwidth = 0;    // bytes/s between host and GPU
  double expert_flops_per_row = 0;  // 2 x the expert's parameters: one token's matmuls
  double activation_bytes_per_row = 0;  // a token's hidden state, sent to the CPU and back
};

struct ExpertOffloadStats {
  double reached = 0;      // experts reached, summed over layers and iterations
  double hits = 0;
  double fetched = 0;      // experts copied to the GPU (prefetch guesses included)
  double fetched_bytes = 0;  // per GPU
  Time waiting = 0;        // iteration time beyond all experts resident
  Time cpu_busy = 0;       // the host's time running experts (miss: cpu)
};

class ExpertOffload {
 public:
  // `gpus`: with expert parallelism, the replica's GPUs, each holding whole experts (expert e
  // on GPU e mod gpus, so that popularity spreads over them), its share of gpu_experts
  // resident, its misses fetched over its own link; a layer waits for the GPU that finishes
  // last. 1: every GPU holds a TP slice of every expert and they fetch in step.
  ExpertOffload(const ModelArch& model, const ExpertOffloadConfig& config, const ExpertTransfer& transfer, std::uint64_t seed,
                std::int64_t gpus = 1);

  // One forward pass of `tokens` tokens through every MoE layer: draws the experts they
  // reach, runs the hits, fetches or CPU-runs the misses, updates the cache, and returns
  // the time this costs beyond all experts resident (negative only when the CPU runs
  // misses faster than the GPU would).
  Time iteration(std::int64_t tokens, const ExpertLayerCosts& costs);

  const ExpertOffloadStats& stats() const { return stats_; }

 private:
  struct Layer {
    std::vector<char> resident;
    std::vector<std::int64_t> last_reached;  // the iteration (counted from 1) that last reached it
    std::vector<std::int64_t> times_reached;
  };
  void draw(std::int64_t tokens);
  void admit(Layer& layer, const std::vector<std::int64_t>& missed);
  Time cpu_time(std::int64_t missed, double rows) const;

  ExpertOffloadConfig config_;
  ExpertTransfer transfer_;
  std::int64_t experts_ = 0, per_token_ = 0, gpus_ = 1;
  std::vector<double> picked_;  // each expert's chance to be picked by a token, most popular first (sums to k)
  std::vector<Layer> layers_;
  std::vector<std::vector<std::int64_t>> reached_;  // this iteration's, per layer
  std::mt19937_64 random_;
  std::int64_t clock_ = 0;
  ExpertOffloadStats stats_;
};

// Inclusion probabilities of E experts under Zipf popularity of exponent s when each token
// picks k distinct ones: k x p_i, capped at 1 with the excess spread over the rest.
std::vector<double> expert_pick_probabilities(std::int64_t experts, std::int64_t per_token, double zipf);

}  // namespace foresight
