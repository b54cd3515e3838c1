#include "workloads/serving_simulation.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <list>
#include <optional>
#include <unordered_map>
#include <utility>
#include <memory>

#include "sim/engine.hpp"
#include "workloads/log_histogram.hpp"
#include "workloads/serving_caches.hpp"

namespace foresight {
namespace {
// What every replica writes to.
struct Shared {
  Shared(const ServingConfig& c, const std::vector<Request>& r, IterationCostModel& m)
      : config(c), requests(r), cost(m), records(r.size()), generated(r.size(), 0), last_token(r.size(), 0), kv_ready(r.size(), 0),
        swapped(r.size(), 0) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      records[i].arrival = r[i].arrival;
      records[i].prompt_tokens = r[i].prompt_tokens;
      records[i].output_tokens = r[i].output_tokens;
    }
  }
  const ServingConfig& config;
  const std::vector<Request>& requests;
  IterationCostModel& cost;
  std::function<void()> every_arrival_block;  // progress, every kArrivalBlock arrivals
  std::vector<RequestRecord> records;
  std::vector<std::int32_t> generated;  // per request, kept across preemptions
  std::vector<Time> last_token;         // per request: when it emitted its latest token
  std::vector<std::int32_t> kv_ready;   // per request: tokens of KV cache a decode replica received
  std::vector<std::int32_t> swapped;    // per request: tokens of KV cache swapped to host memory (0: none)
  std::vector<SeriesSample> series;
  bool record_iterations = false;
  std::vector<IterationRecord> iteration_log;
  std::int64_t swaps = 0;
  std::int64_t adapter_loads = 0;
  double tokens_processed = 0;  // prefill chunks and decodes, over all iterations
  double kv_tokens_read = 0;    // cached tokens decode attention read
  class Handoff* handoff = nullptr;     // disaggregation: carries prefilled requests to the decode pool
  Time transfer_time = 0;               // summed over handoffs
  std::int64_t transfers = 0;
  LogHistogram tbt;
  std::int64_t iterations = 0;
  std::int64_t preemptions = 0;
  double kv_peak = 0;
  std::int64_t prefix_tokens = 0;         // prompt tokens in shared prefixes, over admissions
  std::int64_t prefix_tokens_cached = 0;  // of those, found in the cache
  std::int64_t prefix_evictions = 0;
};

struct Sequence {
  std::int32_t request = 0;
  std::int32_t target = 0;   // tokens to prefill: the prompt and, after a preemption, what it had generated
  std::int32_t context = 0;  // tokens whose keys and values are cached
  std::int32_t blocks = 0;   // blocks of its own
  std::int32_t shared = 0;   // leading blocks it references in the prefix cache
  bool done = false;
  bool prefilling() const { return context < target; }
  std::int32_t all_blocks() const { return blocks + shared; }
};

enum class Role { kBoth, kPrefill, kDecode };
enum class Scheduler { kStatic, kVllm, kSarathi };
enum class Routing { kRoundRobin, kLeastOutstanding, kKvAware, kPrefixAware };

// The configuration's names, resolved once rather than compared on every iteration.
Scheduler scheduler_of(const std::string& name) {
  return name == "sarathi" ? Scheduler::kSarathi : name == "static" ? Scheduler::kStatic : Scheduler::kVllm;
}
Routing routing_of(const std::string& name) {
  return name == "least_outstanding" ? Routing::kLeastOutstanding
         : name == "kv_aware"        ? Routing::kKvAware
         : name == "prefix_aware"    ? Routing::kPrefixAware
                                     : Routing::kRoundRobin;
}

// A replica's pipeline stages, shared by its virtual engines: each stage runs one
// iteration at a time, in the order iterations reach it.
struct Pipeline {
  std::vector<Time> free_at;  // per stage
};

class Handoff;

class Replica : public EventHandler {
 public:
  // With pipeline stages, a replica runs pp virtual engines (`pipeline` shared by them),
  // each with 1/pp of the KV cache and host memory; `id` is the physical replica.
  Replica(std::int32_t id, Role role, Shared& shared, Pipeline& pipeline)
      : id_(id), role_(role), scheduler_(scheduler_of(shared.config.scheduler)), swaps_(shared.config.preemption == "swap"),
        shared_(shared), config_(shared.config), total_blocks_(shared.cost.kv_blocks() / shared.config.pp),
        free_blocks_(total_blocks_), host_free_blocks_(shared.cost.host_blocks() / shared.config.pp),
        adapters_(static_cast<std::size_t>(shared.config.max_loras)), pipeline_(pipeline) {}

  std::int32_t id() const { return id_; }

  std::int64_t outstanding() const { return static_cast<std::int64_t>(waiting_.size() + running_.size()); }
  // The cache in use plus what the waiting requests' prompts will take, as a share of it.
  double kv_load() const {
    const double used = static_cast<double>(total_blocks_ - free_blocks_) * static_cast<double>(config_.block_size);
    return (used + static_cast<double>(waiting_tokens_)) / (static_cast<double>(total_blocks_ * config_.block_size) + 1);
  }

  void enqueue(Engine& engine, std::int32_t request) {
    engine_ = &engine;
    shared_.records[static_cast<std::size_t>(request)].replica = id_;
    waiting_.push_back(request);
    waiting_tokens_ += demand(request);
    if (!busy_) start(engine);
  }

  void handle_event(Engine& engine, std::uint64_t) override {
    engine_ = &engine;
    complete(engine.now());
    busy_ = false;
    start(engine);
  }

 private:
  void sample(Time now, double kv_used) {
    if (config_.series_interval_seconds <= 0 || now < next_sample_) return;
    shared_.series.push_back({to_seconds(now), id_, static_cast<std::int32_t>(running_.size()), static_cast<std::int32_t>(waiting_.size()), kv_used});
    next_sample_ = now + from_seconds(config_.series_interval_seconds);
  }

  // Without stages, the iteration runs at once. With pp stages, after its CPU overhead it
  // enters each stage when the stage is free and the previous stage's activations have
  // arrived, spending a pp-th of the model's work in each.
  Time iteration_end(Time now, const BatchShape& shape) {
    if (config_.pp == 1) return now + shared_.cost.iteration(shape);
    const Time work = shared_.cost.stage_work(shape), hop = shared_.cost.stage_transfer(shape.tokens);
    Time ready = now + shared_.cost.overhead(shape);
    for (std::size_t k = 0; k < pipeline_.free_at.size(); ++k) {
      const Time start = std::max(ready + (k > 0 ? hop : 0), pipeline_.free_at[k]);
      pipeline_.free_at[k] = start + work;
      ready = start + work;
    }
    return ready;
  }

  // Tokens a waiting request will put in the cache when admitted.
  std::int64_t demand(std::int32_t request) const {
    return shared_.requests[static_cast<std::size_t>(request)].prompt_tokens + shared_.generated[static_cast<std::size_t>(request)];
  }

  std::int32_t blocks_for(std::int64_t tokens) const {
    return static_cast<std::int32_t>((tokens + config_.block_size - 1) / config_.block_size);
  }

  // The first waiting request, within a short lookahead, whose LoRA adapter is resident
  // or can be loaded (S-LoRA's adapter-aware batching); requests without one always can.
  std::optional<std::size_t> next_admissible() const {
    constexpr std::size_t kLookahead = 64;
    for (std::size_t i = 0; i < std::min(waiting_.size(), kLookahead); ++i) {
      const std::int32_t adapter = shared_.requests[static_cast<std::size_t>(waiting_[i])].adapter;
      if (config_.lora_rank == 0 || adapter < 0 || adapters_.resident(adapter) || adapters_.can_load()) return i;
    }
    return std::nullopt;
  }

  // Admits the waiting request at `position` if its prompt's blocks are free; returns its
  // index in running_, or -1.
  std::int32_t admit(Time now, std::size_t position) {
    const std::int32_t request = waiting_[position];
    const Request& r = shared_.requests[static_cast<std::size_t>(request)];
    Sequence s;
    s.request = request;
    s.target = r.prompt_tokens + shared_.generated[static_cast<std::size_t>(request)];
    // Where its cache comes from: a prefill replica (disaggregation: only the newest token
    // is not cached), host memory (swapped out while decoding), or, for its shared prefix,
    // the prefix cache; otherwise it is prefilled in full.
    std::int32_t& received = shared_.kv_ready[static_cast<std::size_t>(request)];
    const std::int32_t swapped = shared_.swapped[static_cast<std::size_t>(request)];
    const bool fresh = received == 0 && swapped == 0;
    if (received > 0) {
      s.target = s.context = received;
    } else if (swapped > 0) {
      s.target = s.context = swapped;
    } else if (config_.prefix_caching && r.prefix_group >= 0) {
      s.shared = cache_.acquire(r.prefix_group, r.prefix_tokens / static_cast<std::int32_t>(config_.block_size));
      s.context = std::min(s.shared * static_cast<std::int32_t>(config_.block_size), s.target - 1);  // the last token is always computed
    }
    s.blocks = blocks_for(s.target) - s.shared;
    // Its adapter must be resident or loadable (admission waits for a slot, in order).
    const bool adapter = config_.lora_rank > 0 && r.adapter >= 0;
    if ((adapter && !adapters_.resident(r.adapter) && !adapters_.can_load()) || !take_blocks(s.blocks)) {
      if (s.shared > 0) cache_.release(r.prefix_group, s.shared);
      return -1;
    }
    if (adapter) {
      if (!adapters_.resident(r.adapter)) {
        adapters_.load(r.adapter);
        host_copies_ += shared_.cost.adapter_load();
        ++shared_.adapter_loads;
      }
      adapters_.use(r.adapter);
    }
    received = 0;
    if (swapped > 0) {
      shared_.swapped[static_cast<std::size_t>(request)] = 0;
      host_free_blocks_ += blocks_for(swapped);
      host_copies_ += shared_.cost.host_copy(swapped);
    }
    if (fresh && r.prefix_group >= 0) {
      shared_.prefix_tokens += r.prefix_tokens;
      shared_.prefix_tokens_cached += std::min<std::int64_t>(s.context, r.prefix_tokens);
    }
    waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(position));
    waiting_tokens_ -= demand(request);
    RequestRecord& record = shared_.records[static_cast<std::size_t>(request)];
    if (record.scheduled < 0) record.scheduled = now;
    running_.push_back(s);
    return static_cast<std::int32_t>(running_.size() - 1);
  }

  // Takes `count` free blocks, evicting idle cached prefixes for them if needed.
  bool take_blocks(std::int64_t count) {
    if (count > free_blocks_) free_blocks_ += cache_.evict(count - free_blocks_);
    if (count > free_blocks_) return false;
    free_blocks_ -= count;
    return true;
  }

  // A sequence leaves (finished or preempted): its own blocks are freed, its references
  // to cached prefix blocks dropped (the blocks stay cached).
  void release(const Sequence& s) {
    const Request& r = shared_.requests[static_cast<std::size_t>(s.request)];
    free_blocks_ += s.blocks;
    if (s.shared > 0) cache_.release(r.prefix_group, s.shared);
    if (config_.lora_rank > 0 && r.adapter >= 0) adapters_.release(r.adapter);
  }

  // Moves the sequence's full blocks up to `tokens` into the cache (those not there yet),
  // so that it references them instead of owning them.
  void cache_blocks(Sequence& s, std::int32_t tokens) {
    const Request& r = shared_.requests[static_cast<std::size_t>(s.request)];
    if (!config_.prefix_caching || r.prefix_group < 0) return;
    const std::int32_t end = cache_.insert(r.prefix_group, s.shared, tokens / static_cast<std::int32_t>(config_.block_size));
    s.blocks -= std::max(0, end - s.shared);
    s.shared = std::max(s.shared, end);
  }
  // Once a prompt is prefilled, its shared prefix is cached for the group's other requests.
  void cache_prefix(Sequence& s) { cache_blocks(s, shared_.requests[static_cast<std::size_t>(s.request)].prefix_tokens); }
  // When a request ends, its whole context stays cached: a session's next turn, whose
  // prefix is this turn's prompt and answer, finds it there.
  void cache_context(Sequence& s) { cache_blocks(s, s.context); }

  // Every decoding sequence whose next token starts a block gets one; while blocks run
  // short, the latest admitted sequence gives all of its back and waits to be recomputed.
  void reserve_decode_blocks() {
    for (;;) {
      std::int64_t needed = 0;
      for (const Sequence& s : running_) needed += !s.prefilling() && blocks_for(s.context + 1) > s.all_blocks() ? 1 : 0;
      if (needed > free_blocks_) free_blocks_ += cache_.evict(needed - free_blocks_);
      if (needed <= free_blocks_ || running_.empty()) break;
      const Sequence victim = running_.back();
      running_.pop_back();
      release(victim);
      // Swap keeps a decoding sequence's cache in host memory, if there is room for all of it.
      const std::int32_t all = blocks_for(victim.context);
      if (swaps_ && !victim.prefilling() && all <= host_free_blocks_) {
        host_free_blocks_ -= all;
        shared_.swapped[static_cast<std::size_t>(victim.request)] = victim.context;
        host_copies_ += shared_.cost.host_copy(victim.context);
        ++shared_.swaps;
      }
      waiting_.push_front(victim.request);
      waiting_tokens_ += demand(victim.request);
      ++shared_.records[static_cast<std::size_t>(victim.request)].preemptions;
      ++shared_.preemptions;
    }
    for (Sequence& s : running_) {
      if (!s.prefilling() && blocks_for(s.context + 1) > s.all_blocks()) {
        ++s.blocks;
        --free_blocks_;
      }
    }
  }

  void decode_all() {
    reserve_decode_blocks();
    for (std::size_t i = 0; i < running_.size(); ++i) {
      if (!running_[i].prefilling()) decodes_.push_back(static_cast<std::int32_t>(i));
    }
  }

  // vLLM (v0): prefills first, as many waiting prompts as the token and sequence limits
  // and the free blocks allow, in a batch of their own; otherwise every running sequence
  // decodes one token.
  void plan_vllm(Time now) {
    std::int64_t tokens = 0;
    while (!waiting_.empty() && static_cast<std::int64_t>(running_.size()) < config_.max_num_seqs) {
      const std::optional<std::size_t> position = next_admissible();
      if (!position) break;
      const std::int64_t target = demand(waiting_[*position]);
      if (tokens > 0 && tokens + target > config_.max_batched_tokens) break;
      const std::int32_t index = admit(now, *position);
      if (index < 0) break;
      const Sequence& s = running_[static_cast<std::size_t>(index)];
      prefills_.push_back({index, s.target - s.context});
      tokens += s.target - s.context;
    }
    if (prefills_.empty() && role_ != Role::kPrefill) decode_all();
  }

  // Sarathi-Serve: decodes first, then chunks of prompts under the iteration's token
  // budget (chunk_size): those partly prefilled, then new ones.
  void plan_sarathi(Time now) {
    decode_all();
    std::int64_t budget = config_.chunk_size - static_cast<std::int64_t>(decodes_.size());
    for (std::size_t i = 0; i < running_.size() && budget > 0; ++i) {
      Sequence& s = running_[i];
      if (!s.prefilling()) continue;
      const auto chunk = static_cast<std::int32_t>(std::min<std::int64_t>(budget, s.target - s.context));
      prefills_.push_back({static_cast<std::int32_t>(i), chunk});
      budget -= chunk;
    }
    while (budget > 0 && !waiting_.empty() && static_cast<std::int64_t>(running_.size()) < config_.max_num_seqs) {
      const std::optional<std::size_t> position = next_admissible();
      if (!position) break;
      const std::int32_t index = admit(now, *position);
      if (index < 0) break;
      const Sequence& s = running_[static_cast<std::size_t>(index)];
      const auto chunk = static_cast<std::int32_t>(std::min<std::int64_t>(budget, s.target - s.context));
      prefills_.push_back({index, chunk});
      budget -= chunk;
    }
  }

  // Static batching: a batch of up to max_num_seqs prompts is prefilled together, then
  // decodes until its last sequence ends; only then is the next batch formed.
  void plan_static(Time now) {
    if (running_.empty()) {
      while (!waiting_.empty() && static_cast<std::int64_t>(running_.size()) < config_.max_num_seqs) {
        const std::optional<std::size_t> position = next_admissible();
        if (!position) break;
        const std::int32_t index = admit(now, *position);
        if (index < 0) break;
        const Sequence& s = running_[static_cast<std::size_t>(index)];
        prefills_.push_back({index, s.target - s.context});
      }
      if (!prefills_.empty()) return;
    }
    decode_all();
  }

  void start(Engine& engine) {
    prefills_.clear();
    decodes_.clear();
    switch (scheduler_) {
      case Scheduler::kSarathi: plan_sarathi(engine.now()); break;
      case Scheduler::kStatic: plan_static(engine.now()); break;
      case Scheduler::kVllm: plan_vllm(engine.now()); break;
    }
    if (prefills_.empty() && decodes_.empty()) {
      drop_unservable();
      return;
    }
    BatchShape shape;
    const auto with_adapter = [&](const Sequence& s) {
      return config_.lora_rank > 0 && shared_.requests[static_cast<std::size_t>(s.request)].adapter >= 0;
    };
    for (const auto& [index, chunk] : prefills_) {
      const Sequence& s = running_[static_cast<std::size_t>(index)];
      shape.tokens += chunk;
      shape.lora_tokens += with_adapter(s) ? chunk : 0;
      shape.prefill_attention += shared_.cost.prefill_attention(chunk, s.context);
      shape.outputs += s.context + chunk >= s.target ? 1 : 0;
    }
    for (std::int32_t index : decodes_) {
      const Sequence& s = running_[static_cast<std::size_t>(index)];
      shape.decode_context += s.context + 1;
      shape.lora_tokens += with_adapter(s) ? 1 : 0;
    }
    shape.host_copies = std::exchange(host_copies_, 0);
    shape.decodes = static_cast<std::int64_t>(decodes_.size());
    shape.tokens += shape.decodes;
    shape.outputs += shape.decodes;
    shared_.tokens_processed += static_cast<double>(shape.tokens);
    shared_.kv_tokens_read += static_cast<double>(shape.decode_context);
    // In use: what sequences hold, cached prefixes included.
    const double used = static_cast<double>(total_blocks_ - free_blocks_) / static_cast<double>(std::max<std::int64_t>(1, total_blocks_));
    shared_.kv_peak = std::max(shared_.kv_peak, used);
    sample(engine.now(), used);
    ++shared_.iterations;
    busy_ = true;
    const Time end = iteration_end(engine.now(), shape);
    if (shared_.record_iterations) {
      shared_.iteration_log.push_back({engine.now(), end - engine.now(), id_, static_cast<std::int32_t>(shape.tokens - shape.decodes),
                                       static_cast<std::int32_t>(shape.decodes)});
    }
    engine.schedule_at(end, *this, 0);
  }

  // A request whose prompt needs more blocks than the whole cache can never run: it is
  // left unfinished (finish < 0) and counted by the results.
  void drop_unservable() {
    while (running_.empty() && !waiting_.empty()) {
      const std::int32_t request = waiting_.front();
      const Request& r = shared_.requests[static_cast<std::size_t>(request)];
      if (blocks_for(r.prompt_tokens + shared_.generated[static_cast<std::size_t>(request)]) <= total_blocks_) return;
      waiting_.pop_front();
      waiting_tokens_ -= demand(request);
    }
  }

  void emit_token(Sequence& s, Time now) {
    RequestRecord& record = shared_.records[static_cast<std::size_t>(s.request)];
    std::int32_t& generated = shared_.generated[static_cast<std::size_t>(s.request)];
    Time& last = shared_.last_token[static_cast<std::size_t>(s.request)];
    if (record.first_token < 0) {
      record.first_token = now;
    } else {
      shared_.tbt.add(now - last);  // a preemption's wait included
    }
    last = now;
    if (++generated >= record.output_tokens) {
      record.finish = now;
      s.done = true;
      cache_context(s);
      release(s);
    }
  }

  void complete(Time now) {
    for (const auto& [index, chunk] : prefills_) {
      Sequence& s = running_[static_cast<std::size_t>(index)];
      s.context += chunk;
      if (s.prefilling()) continue;
      cache_prefix(s);
      emit_token(s, now);
      if (role_ == Role::kPrefill && !s.done) hand_off(s);
    }
    for (std::int32_t index : decodes_) {
      Sequence& s = running_[static_cast<std::size_t>(index)];
      ++s.context;
      emit_token(s, now);
    }
    std::erase_if(running_, [](const Sequence& s) { return s.done; });
  }

  // Disaggregation: the prefilled sequence leaves for the decode pool with its KV cache
  // (every cached token; the token just emitted is computed there). Its blocks here are
  // freed as the transfer starts, as a layer-by-layer transfer would have sent them.
  void hand_off(Sequence& s);

  std::int32_t id_;
  Role role_;
  Scheduler scheduler_;
  bool swaps_;  // preemption swaps to host memory (else recomputes)
  Engine* engine_ = nullptr;
  Shared& shared_;
  const ServingConfig& config_;
  std::int64_t total_blocks_;
  std::int64_t free_blocks_;
  std::int64_t host_free_blocks_;
  Time host_copies_ = 0;  // swaps decided while planning, paid by the next iteration
  Time next_sample_ = 0;
  std::deque<std::int32_t> waiting_;
  std::int64_t waiting_tokens_ = 0;  // demand() summed over waiting_
  std::vector<Sequence> running_;  // in admission order
  std::vector<std::pair<std::int32_t, std::int32_t>> prefills_;  // running index, chunk
  std::vector<std::int32_t> decodes_;
  PrefixCache cache_;
  AdapterSlots adapters_;
  Pipeline& pipeline_;
  bool busy_ = false;

 public:
  std::int64_t prefix_evictions() const { return cache_.evictions(); }
};

Replica* least_outstanding(const std::vector<Replica*>& pool) {
  Replica* best = pool.front();
  for (Replica* r : pool) {
    if (r->outstanding() < best->outstanding()) best = r;
  }
  return best;
}

// Carries a prefilled request's KV cache to the least busy decode replica; the request
// joins that replica's queue when the transfer ends.
class Handoff : public EventHandler {
 public:
  Handoff(Shared& shared, std::vector<Replica*> decoders) : shared_(shared), decoders_(std::move(decoders)) {}

  void send(Engine& engine, std::int32_t request, std::int32_t tokens, std::int32_t from) {
    Replica* to = least_outstanding(decoders_);
    const Time transfer = shared_.cost.kv_transfer(tokens, from, to->id());
    shared_.kv_ready[static_cast<std::size_t>(request)] = tokens;
    shared_.transfer_time += transfer;
    ++shared_.transfers;
    destination_.push_back(to);
    engine.schedule_in(transfer, *this, (static_cast<std::uint64_t>(destination_.size() - 1) << 32) | static_cast<std::uint32_t>(request));
  }

  void handle_event(Engine& engine, std::uint64_t tag) override {
    destination_[tag >> 32]->enqueue(engine, static_cast<std::int32_t>(tag & 0xffffffffu));
  }

 private:
  Shared& shared_;
  std::vector<Replica*> decoders_;
  std::vector<Replica*> destination_;  // per transfer
};

void Replica::hand_off(Sequence& s) {
  s.done = true;
  release(s);
  shared_.handoff->send(*engine_, s.request, s.context, id_);
}

// Delivers each request at its arrival time to the replica of `pool` (the prefill pool
// when disaggregated) that the router picks.
class Arrivals : public EventHandler {
 public:
  Arrivals(Shared& shared, std::vector<Replica*> pool)
      : shared_(shared), routing_(routing_of(shared.config.router)), pool_(std::move(pool)) {}

  void handle_event(Engine& engine, std::uint64_t tag) override {
    const auto request = static_cast<std::int32_t>(tag);
    pick(shared_.requests[tag])->enqueue(engine, request);
    if ((tag + 1) % kArrivalBlock == 0 && shared_.every_arrival_block) shared_.every_arrival_block();
    const std::size_t next = tag + 1;
    if (next < shared_.requests.size()) engine.schedule_at(shared_.requests[next].arrival, *this, next, -1);
  }

 private:
  Replica* pick(const Request& request) {
    switch (routing_) {
      case Routing::kLeastOutstanding: return least_outstanding(pool_);
      case Routing::kKvAware: {
        Replica* best = pool_.front();
        for (Replica* r : pool_) {
          if (r->kv_load() < best->kv_load()) best = r;
        }
        return best;
      }
      case Routing::kPrefixAware: {
        // A prefix group's home replica, unless it is much busier than the least busy.
        Replica* best = least_outstanding(pool_);
        if (request.prefix_group < 0) return best;
        Replica* home = pool_[static_cast<std::size_t>(request.prefix_group) % pool_.size()];
        return home->outstanding() <= 2 * best->outstanding() + 4 ? home : best;
      }
      case Routing::kRoundRobin: break;
    }
    return pool_[next_++ % pool_.size()];
  }

  Shared& shared_;
  Routing routing_;
  std::vector<Replica*> pool_;
  std::size_t next_ = 0;
};

Percentiles percentiles(std::vector<double> values) {
  Percentiles p;
  if (values.empty()) return p;
  std::sort(values.begin(), values.end());
  const auto at = [&](double q) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
    return values[std::max<std::size_t>(rank, 1) - 1];
  };
  double sum = 0;
  for (double v : values) sum += v;
  p.mean = sum / static_cast<double>(values.size());
  p.p50 = at(0.5);
  p.p90 = at(0.9);
  p.p99 = at(0.99);
  return p;
}

// Utilization over the run, every GPU of every replica counted: model FLOPs of 2 N per
// token (attention left out) against the dense peak; weights read once per iteration (of
// every virtual engine, by every GPU of the replica) and the cached keys and values that
// decodes read, against HBM bandwidth.
void set_utilization(const Shared& shared, double span, ServingResult& result) {
  const ServingConfig& c = shared.config;
  const IterationCostModel& cost = shared.cost;
  const double per_replica = static_cast<double>(c.gpus_per_replica());
  const double gpus = static_cast<double>(c.replicas) * per_replica;
  const double flops = 2 * count_parameters(cost.model()).active_per_token * shared.tokens_processed;
  result.mfu = flops / (span * gpus * cost.gpu().peak(c.dtype));
  const double bytes = (static_cast<double>(shared.iterations) * cost.weight_bytes() + shared.kv_tokens_read * cost.kv_bytes_per_token()) *
                       per_replica;
  result.memory_bandwidth_utilization = bytes / (span * gpus * cost.gpu().memory_bandwidth);
}

void summarize(const Shared& shared, ServingResult& result) {
  const ServingConfig& c = shared.config;
  std::vector<double> ttft, tpot, e2e, queueing;
  double prompt_tokens = 0, output_tokens = 0;
  std::int64_t within_slo = 0;
  Time first_arrival = shared.requests.front().arrival;
  for (const RequestRecord& r : shared.records) {
    if (r.finish < 0) continue;
    ttft.push_back(r.ttft());
    tpot.push_back(r.tpot());
    e2e.push_back(r.e2e());
    queueing.push_back(r.queueing());
    prompt_tokens += r.prompt_tokens;
    output_tokens += r.output_tokens;
    result.makespan = std::max(result.makespan, r.finish);
    const bool ttft_ok = c.ttft_slo_seconds <= 0 || r.ttft() <= c.ttft_slo_seconds;
    const bool tpot_ok = c.tpot_slo_seconds <= 0 || r.tpot() <= c.tpot_slo_seconds;
    within_slo += ttft_ok && tpot_ok ? 1 : 0;
  }
  result.requests = static_cast<std::int64_t>(ttft.size());
  const double span = std::max(1e-12, to_seconds(result.makespan - first_arrival));
  result.request_throughput = static_cast<double>(result.requests) / span;
  result.output_token_throughput = output_tokens / span;
  result.total_token_throughput = (prompt_tokens + output_tokens) / span;
  result.ttft = percentiles(std::move(ttft));
  result.tpot = percentiles(std::move(tpot));
  result.e2e = percentiles(std::move(e2e));
  result.queueing = percentiles(std::move(queueing));
  result.tbt = {shared.tbt.mean(), shared.tbt.percentile(0.5), shared.tbt.percentile(0.9), shared.tbt.percentile(0.99)};
  const auto all = static_cast<double>(shared.records.size());
  result.slo_attainment = static_cast<double>(within_slo) / all;
  result.goodput = static_cast<double>(within_slo) / span;
  set_utilization(shared, span, result);
}
}  // namespace

ServingResult simulate_serving(const ServingConfig& config, const std::vector<Request>& requests, IterationCostModel& cost,
                               bool record_iterations, std::function<void()> every_arrival_block) {
  Shared shared(config, requests, cost);
  shared.record_iterations = record_iterations;
  shared.every_arrival_block = std::move(every_arrival_block);
  // Virtual engines in engine-major order, so that routing in turn spreads over replicas first.
  std::vector<Pipeline> pipelines(static_cast<std::size_t>(config.replicas), Pipeline{std::vector<Time>(static_cast<std::size_t>(config.pp), 0)});
  std::vector<std::unique_ptr<Replica>> replicas;
  std::vector<Replica*> entry, decoders;
  for (std::int64_t engine = 0; engine < config.pp; ++engine) {
    for (std::int64_t r = 0; r < config.replicas; ++r) {
      const Role role = config.prefill_replicas == 0 ? Role::kBoth : r < config.prefill_replicas ? Role::kPrefill : Role::kDecode;
      replicas.push_back(std::make_unique<Replica>(static_cast<std::int32_t>(r), role, shared, pipelines[static_cast<std::size_t>(r)]));
      (role == Role::kDecode ? decoders : entry).push_back(replicas.back().get());
    }
  }
  std::unique_ptr<Handoff> handoff = decoders.empty() ? nullptr : std::make_unique<Handoff>(shared, decoders);
  shared.handoff = handoff.get();
  Arrivals arrivals(shared, entry);
  Engine engine;
  engine.schedule_at(requests.front().arrival, arrivals, 0, -1);
  engine.run();

  ServingResult result;
  summarize(shared, result);
  result.iterations = shared.iterations;
  result.preemptions = shared.preemptions;
  result.swaps = shared.swaps;
  result.adapter_loads = shared.adapter_loads;
  result.kv_blocks = cost.kv_blocks();
  result.kv_peak_utilization = shared.kv_peak;
  result.events = engine.events_processed();
  result.kv_transfer_mean = shared.transfers > 0 ? to_seconds(shared.transfer_time) / static_cast<double>(shared.transfers) : 0;
  result.prefix_hit_rate = shared.prefix_tokens > 0 ? static_cast<double>(shared.prefix_tokens_cached) / static_cast<double>(shared.prefix_tokens) : 0;
  for (const auto& r : replicas) result.prefix_evictions += r->prefix_evictions();
  result.records = std::move(shared.records);
  result.series = std::move(shared.series);
  result.iteration_log = std::move(shared.iteration_log);
  return result;
}

}  // namespace foresight
