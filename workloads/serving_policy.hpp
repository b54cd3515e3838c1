#pragma once
// Serving policies as plug-ins: how a replica batches (scheduler), in which order it
// admits waiting requests (admission), which sequence it gives up when KV blocks run out
// (preemption), which cached prefix blocks it evicts first (eviction), and which replica a
// request goes to (router). Each policy is a small class
// behind one of the interfaces below, in a file of its own under workloads/serving_policies/,
// registered by name with one line in builtin_serving_policies.cpp. The replica loop
// (serving_simulation.cpp) sees only these interfaces, so a new policy does not touch it.
//
// Policies decide; the replica keeps the state (queues, blocks, caches) and carries the
// decisions out. The views below are what a policy may read and do.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/engine/time.hpp"

namespace foresight {

struct Request;
struct ServingConfig;

// A waiting request the replica could admit next, and its prompt's size in tokens
// (with what it had generated before a preemption).
struct AdmissionCandidate {
  std::size_t position = 0;  // in the waiting queue
  std::int64_t demand = 0;
};

// One replica, as a scheduler plans its next iteration. Running sequences are indexed in
// admission order; a newly admitted one goes last.
class BatchPlan {
 public:
  virtual ~BatchPlan() = default;
  virtual const ServingConfig& config() const = 0;
  virtual std::size_t running() const = 0;
  // Tokens of the running sequence's prompt still to prefill (0 once it decodes).
  virtual std::int64_t prompt_left(std::size_t index) const = 0;
  // Tokens of the running sequence already cached: where its next prefill chunk starts.
  virtual std::int64_t cached(std::size_t index) const = 0;
  // One layer's time on a prefill chunk of `tokens` after `context` cached tokens: its
  // token-wise kernels and its attention.
  virtual Time chunk_layer_time(std::int64_t tokens, std::int64_t context) = 0;
  // The waiting request the admission policy picks, if any may be admitted now.
  virtual std::optional<AdmissionCandidate> next_candidate() const = 0;
  // Admits it if its blocks (and adapter) are available; its index among the running.
  virtual std::optional<std::size_t> admit(const AdmissionCandidate& candidate) = 0;
  // Puts `tokens` of the running sequence's prompt in this iteration.
  virtual void prefill(std::size_t index, std::int64_t tokens) = 0;
  virtual std::size_t prefills() const = 0;
  // Every decoding sequence decodes in this iteration (`steps` tokens each: multi-step
  // scheduling), preempting sequences while blocks run short. Returns how many decode.
  virtual std::size_t decode_all(std::int64_t steps) = 0;
  // Tokens each decode puts through the model (more than one with speculative decoding).
  virtual std::int64_t tokens_per_decode() const = 0;
  // A disaggregated prefill replica, which never decodes.
  virtual bool prefill_only() const = 0;
  // Decode steps since the last iteration with a prefill in it.
  virtual std::int64_t decodes_since_prefill() const = 0;
};

class BatchScheduler {
 public:
  virtual ~BatchScheduler() = default;
  // Chooses the next iteration's prefill chunks and decodes; nothing planned means idle.
  virtual void plan(BatchPlan& replica) const = 0;
};

// The replica's waiting queue, as an admission policy sees it: the first `size()`
// requests (a bounded lookahead), of which only the `admissible` may be picked.
class WaitingQueue {
 public:
  virtual ~WaitingQueue() = default;
  virtual std::size_t size() const = 0;
  // Its LoRA adapter (if any) is resident or can be loaded.
  virtual bool admissible(std::size_t position) const = 0;
  virtual const Request& request(std::size_t position) const = 0;
  // Tokens it will put in the cache: its prompt and what it generated before a preemption.
  virtual std::int64_t demand(std::size_t position) const = 0;
  // Leading blocks of its shared prefix already in the replica's prefix cache.
  virtual std::int32_t cached_prefix_blocks(std::size_t position) const = 0;
};

class AdmissionOrder {
 public:
  virtual ~AdmissionOrder() = default;
  virtual std::optional<std::size_t> pick(const WaitingQueue& waiting) const = 0;
};

// A running sequence, as a preemption policy sees it.
struct RunningSequence {
  std::int32_t request = 0;
  std::int64_t context = 0;    // tokens cached
  std::int64_t generated = 0;  // output tokens so far
  bool prefilling = false;
};

class PreemptionPolicy {
 public:
  virtual ~PreemptionPolicy() = default;
  // The sequence (index into `running`, admission order, never empty) to give up.
  virtual std::size_t victim(std::span<const RunningSequence> running) const = 0;
  // Its cache goes to host memory when there is room (else it is recomputed).
  virtual bool swaps() const = 0;
};

// The order in which a replica's prefix cache gives up blocks no running sequence uses,
// when it needs room. The cache tells it which blocks become evictable and which stop being;
// `idle` returns a slot the cache keeps with the block and hands back in `busy` and
// `forget`, so that an order need not look the key up again.
class EvictionOrder {
 public:
  virtual ~EvictionOrder() = default;
  // The block just lost its last user (or was parked): it may be evicted.
  virtual std::uint64_t idle(std::uint64_t key) = 0;
  // A sequence uses it again: not evictable until idle again.
  virtual void busy(std::uint64_t key, std::uint64_t slot) = 0;
  // It leaves the cache other than by eviction (a preempted request took it back).
  virtual void forget(std::uint64_t key, std::uint64_t slot) = 0;
  // The evictable block to give up next, removed from the order; none when none is evictable.
  virtual std::optional<std::uint64_t> evict() = 0;
};

// A replica, as a router sees it.
class RouteTarget {
 public:
  virtual ~RouteTarget() = default;
  virtual std::int64_t outstanding() const = 0;  // waiting and running requests
  // The cache in use plus what waiting prompts will take, as a share of it.
  virtual double kv_load() const = 0;
};

class RequestRouter {
 public:
  virtual ~RequestRouter() = default;
  // Index into `pool` (never empty) of the replica that takes `request`. Not const: a
  // router may keep state (round robin's turn); each simulation makes its own.
  virtual std::size_t route(const Request& request, std::span<const RouteTarget* const> pool) = 0;
};

// The first replica with the fewest outstanding requests.
std::size_t least_outstanding(std::span<const RouteTarget* const> pool);

// Named policies of each kind, with a one-line description for documentation and errors.
class ServingPolicyRegistry {
 public:
  template <typename Policy>
  struct Kind {
    struct Entry {
      std::string name;
      std::string description;
      std::function<std::unique_ptr<Policy>()> make;
    };
    std::vector<Entry> entries;
    void add(std::string name, std::string description, std::function<std::unique_ptr<Policy>()> make) {
      entries.push_back({std::move(name), std::move(description), std::move(make)});
    }
    std::vector<std::string> names() const;
    // One "name (description)" per policy, joined by "; ", for key documentation.
    std::string described() const;
    // Throws std::invalid_argument for a name not registered (input readers check first).
    std::unique_ptr<Policy> make(std::string_view name) const;
  };
  Kind<BatchScheduler> schedulers;
  Kind<AdmissionOrder> admissions;
  Kind<PreemptionPolicy> preemptions;
  Kind<EvictionOrder> evictions;
  Kind<RequestRouter> routers;
};

void register_builtin_serving_policies(ServingPolicyRegistry& registry);
// The built-in policies, registered once (immutable).
const ServingPolicyRegistry& builtin_serving_policies();

}  // namespace foresight
