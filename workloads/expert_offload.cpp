#include "workloads/expert_offload.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "models/model_arch.hpp"

namespace foresight {

std::vector<double> expert_pick_probabilities(std::int64_t experts, std::int64_t per_token, double zipf) {
  std::vector<double> weight(static_cast<std::size_t>(experts));
  for (std::size_t i = 0; i < weight.size(); ++i) weight[i] = std::pow(static_cast<double>(i + 1), -zipf);
  // Water-filling: an expert cannot be picked by more than every token, so those that would
  // be are capped at 1 and the rest share what remains of k.
  std::vector<double> p(weight.size(), 0);
  double remaining = static_cast<double>(per_token);
  std::size_t capped = 0;
  while (capped < p.size()) {
    const double rest = std::accumulate(weight.begin() + static_cast<std::ptrdiff_t>(capped), weight.end(), 0.0);
    const double top = remaining * weight[capped] / rest;
    if (top < 1) {
      for (std::size_t i = capped; i < p.size(); ++i) p[i] = remaining * weight[i] / rest;
      break;
    }
    p[capped++] = 1;
    remaining -= 1;
  }
  return p;
}

ExpertOffload::ExpertOffload(const ModelArch& model, const ExpertOffloadConfig& config, const ExpertTransfer& transfer, std::uint64_t seed,
                             std::int64_t gpus)
    : config_(config), transfer_(transfer), experts_(model.experts), per_token_(model.experts_per_token), gpus_(std::max<std::int64_t>(1, gpus)),
      picked_(expert_pick_probabilities(model.experts, model.experts_per_token, config.popularity)),
      layers_(static_cast<std::size_t>(model.layers - model.dense_layers)), reached_(layers_.size()), random_(seed) {
  // Every cache starts with the most popular experts, where a pinned placement keeps them
  // (each GPU its share under expert parallelism: experts are dealt round-robin).
  for (Layer& layer : layers_) {
    layer.resident.assign(static_cast<std::size_t>(experts_), 0);
    layer.last_reached.assign(static_cast<std::size_t>(experts_), 0);
    layer.times_reached.assign(static_cast<std::size_t>(experts_), 0);
    for (std::int64_t e = 0; e < config_.gpu_experts; ++e) layer.resident[static_cast<std::size_t>(e)] = 1;
  }
}

// Expert e is reached by at least one of n tokens with probability 1 - (1 - pi_e)^n.
void ExpertOffload::draw(std::int64_t tokens) {
  std::vector<double> reach(picked_.size());
  for (std::size_t e = 0; e < reach.size(); ++e) reach[e] = 1 - std::pow(1 - picked_[e], static_cast<double>(tokens));
  std::uniform_real_distribution<double> uniform(0, 1);
  for (auto& layer : reached_) {
    layer.clear();
    for (std::size_t e = 0; e < reach.size(); ++e) {
      if (reach[e] >= 1 || uniform(random_) < reach[e]) layer.push_back(static_cast<std::int64_t>(e));
    }
    if (layer.empty()) layer.push_back(0);  // every token reaches some expert
  }
}

// Fetched experts take the slots of those reached longest ago (lru) or least often (lfu) on
// the same GPU, never one this iteration still needs; a pinned placement keeps its experts.
void ExpertOffload::admit(Layer& layer, const std::vector<std::int64_t>& missed) {
  if (config_.policy == "static" || config_.gpu_experts == 0) return;
  const std::vector<std::int64_t>& age = config_.policy == "lfu" ? layer.times_reached : layer.last_reached;
  for (const std::int64_t expert : missed) {
    std::int64_t victim = -1;
    for (std::int64_t e = expert % gpus_; e < experts_; e += gpus_) {
      const auto i = static_cast<std::size_t>(e);
      if (!layer.resident[i] || layer.last_reached[i] == clock_ + 1) continue;
      if (victim < 0 || age[i] < age[static_cast<std::size_t>(victim)]) victim = e;
    }
    if (victim < 0) return;  // every slot holds an expert this iteration reached
    layer.resident[static_cast<std::size_t>(victim)] = 0;
    layer.resident[static_cast<std::size_t>(expert)] = 1;
  }
}

// The host runs each missed expert on the rows routed to it: its weights streamed from
// host memory or its matmuls, whichever takes longer, plus the rows' hidden states there
// and back over PCIe.
Time ExpertOffload::cpu_time(std::int64_t missed, double rows) const {
  const double stream = transfer_.expert_bytes / config_.cpu_bandwidth;
  const double math = transfer_.expert_flops_per_row * rows / config_.cpu_flops;
  const double moved = 2 * rows * transfer_.activation_bytes_per_row / transfer_.host_bandwidth;
  return from_seconds(static_cast<double>(missed) * (std::max(stream, math) + moved));
}

Time ExpertOffload::iteration(std::int64_t tokens, const ExpertLayerCosts& costs) {
  draw(tokens);
  const Time fetch_one = from_seconds(transfer_.expert_bytes / transfer_.host_bandwidth);
  const bool on_cpu = config_.miss == "cpu";
  const auto gpus = static_cast<std::size_t>(gpus_);
  Time now = 0, resident_time = 0;
  // Per GPU: when its queued copies are done, and the correct guesses already on their way
  // for the next layer.
  std::vector<Time> copies_done(gpus, 0);
  std::vector<double> prefetched_next(gpus, 0);
  std::vector<std::int64_t> reached_on(gpus), missed_on(gpus), next_missed_on(gpus);
  std::vector<std::int64_t> missed;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    Layer& layer = layers_[l];
    const auto& reached = reached_[l];
    missed.clear();
    std::fill(reached_on.begin(), reached_on.end(), 0);
    std::fill(missed_on.begin(), missed_on.end(), 0);
    for (const std::int64_t e : reached) {
      const auto i = static_cast<std::size_t>(e);
      ++reached_on[i % gpus];
      if (!layer.resident[i]) {
        missed.push_back(e);
        ++missed_on[i % gpus];
      }
      layer.last_reached[i] = clock_ + 1;
      ++layer.times_reached[i];
    }
    const auto hits = static_cast<std::int64_t>(reached.size() - missed.size());
    const auto misses = static_cast<std::int64_t>(missed.size());
    stats_.reached += static_cast<double>(reached.size());
    stats_.hits += static_cast<double>(hits);
    const Time routed = now + costs.before_experts;
    // All resident, the layer's experts take as long as the GPU that reached the most.
    resident_time += costs.before_experts + *std::max_element(reached_on.begin(), reached_on.end()) * costs.per_expert;
    if (on_cpu) {
      const double rows = static_cast<double>(tokens * per_token_) / static_cast<double>(reached.size());
      const Time cpu = cpu_time(misses, rows);
      stats_.cpu_busy += cpu;
      now = routed + std::max<Time>(hits * costs.per_expert, cpu);
      continue;
    }
    // On each GPU the misses the prefetcher did not guess are copied once the router has
    // chosen, after whatever copies are queued; its experts wait for them, its hits run
    // meanwhile. Copies are counted in expected experts: a prefetch share of a layer's
    // misses is a fraction of an expert on average, not a rounded count.
    if (l + 1 < layers_.size() && config_.prefetch > 0) {
      std::fill(next_missed_on.begin(), next_missed_on.end(), 0);
      for (const std::int64_t e : reached_[l + 1]) {
        const auto i = static_cast<std::size_t>(e);
        next_missed_on[i % gpus] += layers_[l + 1].resident[i] ? 0 : 1;
      }
    }
    Time layer_end = routed;
    for (std::size_t g = 0; g < gpus; ++g) {
      const double demanded = static_cast<double>(missed_on[g]) - prefetched_next[g];
      copies_done[g] = std::max(copies_done[g], routed) + static_cast<Time>(std::llround(demanded * static_cast<double>(fetch_one)));
      const std::int64_t hits_on = reached_on[g] - missed_on[g];
      layer_end = std::max(layer_end, std::max(routed + hits_on * costs.per_expert, copies_done[g]) + missed_on[g] * costs.per_expert);
      stats_.fetched += demanded;
      prefetched_next[g] = 0;
      if (l + 1 < layers_.size() && config_.prefetch > 0) {
        // The next layer's guesses, as many as it will miss, queue behind these copies.
        prefetched_next[g] = config_.prefetch * static_cast<double>(next_missed_on[g]);
        copies_done[g] += next_missed_on[g] * fetch_one;
        stats_.fetched += static_cast<double>(next_missed_on[g]);
      }
    }
    now = layer_end;
    admit(layer, missed);
  }
  ++clock_;
  stats_.fetched_bytes = stats_.fetched * transfer_.expert_bytes / static_cast<double>(gpus_);  // per GPU: EP spreads them
  const Time extra = now - resident_time;
  stats_.waiting += extra;
  return extra;
}

}  // namespace foresight
