#include "workloads/serving_simulation.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <list>
#include <optional>
#include <unordered_map>
#include <utility>
#include <memory>

#include "sim/engine/engine.hpp"
#include "sim/input/input_error.hpp"
#include "workloads/draft_tree.hpp"
#include "workloads/log_histogram.hpp"
#include "workloads/serving_caches.hpp"
#include "workloads/serving_policy.hpp"

namespace foresight {
namespace {
// A request's output so far. Every decoded token updates it, so it is kept apart from the
// larger RequestRecord: one cache line a token instead of four arrays' (a third of a
// million-request run's time went to those misses).
struct Progress {
  Time last_token = 0;             // when it emitted its latest token
  std::int32_t generated = 0;
  std::int32_t held = 0;           // tokens generated but not yet streamed (stream_interval)
  std::int32_t output_tokens = 0;  // the request's
  bool started = false;            // its first token is out
};

// What every replica writes to.
struct Shared {
  Shared(const ServingConfig& c, const std::vector<Request>& r, IterationCostModel& m, const ServingPolicyRegistry& p)
      : config(c), requests(r), cost(m), policies(p), records(r.size()), progress(r.size()),
        intake_streamed(c.host.request_seconds > 0 && c.host.chunk_seconds > 0 ? r.size() : 0, 0), kv_ready(r.size(), 0),
        enqueued(r.size(), 0),
        swapped(r.size(), 0), parked_from(r.size(), -1), parked(r.size(), 0), prefetches(c.disk_prefetch ? r.size() : 0) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      records[i].arrival = r[i].arrival;
      records[i].prompt_tokens = r[i].prompt_tokens;
      records[i].output_tokens = r[i].output_tokens;
      progress[i].output_tokens = r[i].output_tokens;
    }
  }
  const ServingConfig& config;
  const std::vector<Request>& requests;
  IterationCostModel& cost;
  const ServingPolicyRegistry& policies;
  std::function<void()> every_arrival_block;  // progress, every kArrivalBlock arrivals
  std::vector<RequestRecord> records;
  std::vector<Progress> progress;       // per request, kept across preemptions
  std::vector<Time> intake_streamed;    // per request: its API server's Frontend::streamed when its intake was last due (empty: chunks cost nothing)
  std::vector<std::int32_t> kv_ready;   // per request: tokens of KV cache a decode replica received
  std::vector<Time> enqueued;           // per request: when it last joined a replica's waiting queue
  std::vector<std::int32_t> swapped;    // per request: tokens of KV cache swapped to host memory (0: none)
  // Per request preempted with prefix caching on: its full blocks from parked_from on stay
  // in the replica's cache (parked of them) until evicted or taken back.
  std::vector<std::int32_t> parked_from;
  std::vector<std::int32_t> parked;
  // Per request with disk_prefetch: its prefix tokens read from disk into host memory while
  // it waited, and when the read ends (empty without disk_prefetch).
  struct Prefetch {
    Time done = 0;
    std::int32_t tokens = 0;
  };
  std::vector<Prefetch> prefetches;
  std::int64_t recompute_tokens = 0;         // tokens preempted sequences had cached
  std::int64_t recompute_tokens_kept = 0;    // of those, found in the cache on readmission
  std::vector<SeriesSample> series;
  bool record_iterations = false;
  std::vector<IterationRecord> iteration_log;
  std::int64_t swaps = 0;
  std::int64_t adapter_loads = 0;
  std::int64_t adapter_evictions = 0;  // unified paging: adapters unloaded for blocks
  double tokens_processed = 0;  // prefill chunks and decodes, over all iterations
  double kv_tokens_read = 0;    // cached tokens decode attention read
  double weight_bytes_read = 0; // per GPU, over all iterations and decode steps (an MoE batch reads only its experts)
  class Handoff* handoff = nullptr;     // disaggregation: carries prefilled requests to the decode pool
  class Arrivals* client = nullptr;     // told when a request is answered (closed-loop clients)
  Time transfer_time = 0;               // summed over handoffs
  std::int64_t transfers = 0;
  std::int64_t local_prefills = 0;      // conditional disaggregation: prompts a decode replica prefilled
  std::int64_t kept_decodes = 0;        // mixed pool: prefilled requests a prefill replica decoded itself
  LogHistogram itl;  // inter-token latencies
  std::int64_t iterations = 0;
  std::int64_t preemptions = 0;
  std::int64_t verify_passes = 0;
  std::int64_t verified_tokens = 0;
  double kv_peak = 0;
  std::int64_t prefix_tokens = 0;         // prompt tokens in shared prefixes, over admissions
  std::int64_t prefix_tokens_cached = 0;  // of those, found in the cache
  std::int64_t prefix_tokens_offloaded = 0;  // found in host memory instead, copied back
  std::int64_t prefix_tokens_from_disk = 0;  // found on disk below it, read and copied back
  std::int64_t disk_blocks_written = 0;      // prefix blocks host memory dropped, written to disk
  std::int64_t prefix_evictions = 0;
};

struct Sequence {
  std::int32_t request = 0;
  std::int32_t target = 0;   // tokens to prefill: the prompt and, after a preemption, what it had generated
  std::int32_t context = 0;  // tokens whose keys and values are cached
  std::int32_t blocks = 0;   // blocks of its own
  std::int32_t shared = 0;   // leading blocks it references in the prefix cache
  std::int32_t rank = 0;     // the attention rank it runs on (data-parallel attention)
  bool done = false;
  bool prefilling() const { return context < target; }
  std::int32_t all_blocks() const { return blocks + shared; }
};

// A preempted request's own blocks live in the prefix cache under a group of their own,
// apart from the non-negative prefix groups.
std::int32_t own_group(std::int32_t request) { return -2 - request; }

// Tells a closed-loop client that one of its requests is answered, when the answer's last
// chunk reaches it (defined below Arrivals).
void answered(Shared& shared, Engine& engine, Time when);

enum class Role { kBoth, kPrefill, kDecode };

// A replica's pipeline stages, shared by its virtual engines: each stage runs one
// iteration at a time, in the order iterations reach it.
struct Pipeline {
  std::vector<Time> free_at;  // per stage
};

// A replica's API server: one thread that takes in each request (HTTP, tokenization,
// request setup) and streams every output chunk back. Streaming goes first: vLLM's API
// server handles the engine's outputs in a task of its own, while a request's intake is a
// chain of awaits (its tokenization in a worker thread), so a burst of arrivals does not
// hold up the tokens of requests already running. Each chunk streamed while requests wait
// to be taken in delays their intake instead, by its cost.
struct Frontend {
  Time intake_free_at = 0;  // when the requests queued for intake are all in
  Time stream_free_at = 0;  // when the chunks queued for streaming are all out
  Time streamed = 0;        // streaming time spent while requests waited for intake, summed
  Time take_in(Time now, Time cost) { return intake_free_at = std::max(now, intake_free_at) + cost; }
  // A chunk generated at `now` reaches the client once the server has streamed it (`cost`:
  // its detokenization and response); tokens of a chunk already streamed cost nothing more.
  Time deliver(Time now, Time cost) {
    if (cost == 0) return std::max(now, stream_free_at);
    if (intake_free_at > now) {
      intake_free_at += cost;
      streamed += cost;
    }
    return stream_free_at = std::max(now, stream_free_at) + cost;
  }
};

class Handoff;

// A replica's policies, made from the configuration's names.
struct Policies {
  Policies(const ServingConfig& c, const ServingPolicyRegistry& registry)
      : scheduler(registry.schedulers.make(c.scheduler)),
        admission(registry.admissions.make(c.engine.admission)),
        preemption(registry.preemptions.make(c.preemption)) {}
  std::unique_ptr<BatchScheduler> scheduler;
  std::unique_ptr<AdmissionOrder> admission;
  std::unique_ptr<PreemptionPolicy> preemption;
};

class Replica : public EventHandler, public RouteTarget, private BatchPlan {
 public:
  // With pipeline stages, a replica runs pp virtual engines (`pipeline` shared by them),
  // each with 1/pp of the KV cache and host memory; `id` is the physical replica.
  Replica(std::int32_t id, Role role, Shared& shared, Pipeline& pipeline, Frontend& frontend)
      : id_(id), role_(role), policies_(shared.config, shared.policies), swaps_(policies_.preemption->swaps()),
        no_evict_(shared.config.engine.guaranteed_no_evict), peak_admission_(shared.config.engine.peak_admission),
        shared_(shared), config_(role == Role::kDecode && shared.config.decode_pool ? shared.cost.decode_pool().config() : shared.config),
        cost_(role == Role::kDecode ? shared.cost.decode_pool() : shared.cost),
        total_blocks_(cost_.kv_blocks() / config_.pp), free_blocks_(total_blocks_), host_free_blocks_(cost_.host_blocks() / config_.pp),
        cache_(shared.policies.evictions.make(shared.config.eviction_policy)), offload_(cost_.offload_blocks() / config_.pp, cost_.disk_blocks() / config_.pp), adapters_(shared.config.lora_unified ? SIZE_MAX : static_cast<std::size_t>(shared.config.max_loras)), pipeline_(pipeline), frontend_(frontend),
        ingest_(from_seconds(shared.config.host.request_seconds)), stream_(from_seconds(shared.config.host.chunk_seconds)) {
    // Each replica draws its own experts, from a stream of its own.
    if (config_.expert_offload.enabled) {
      experts_.emplace(cost_.model(), config_.expert_offload, cost_.expert_transfer(), 0x5eed0000ULL + static_cast<std::uint64_t>(id),
                       config_.expert_parallel ? config_.tp : 1);
    }
    const SpeculativeConfig& spec = config_.speculative;
    if (spec.on() && spec.grows_tree()) draft_tree_.emplace(spec.acceptance_by_rank, spec.tokens, spec.topk, spec.verified_tokens());
  }

  const ExpertOffload* expert_offload() const { return experts_ ? &*experts_ : nullptr; }

  std::int32_t id() const { return id_; }
  // Requests queued for the engine, not yet admitted (a prefill pool's queue).
  std::size_t waiting_requests() const { return waiting_.size(); }
  // Prompt tokens of `r` this replica's prefix cache holds now.
  std::int64_t cached_prompt_tokens(const Request& r) const {
    if (!config_.prefix_caching || r.prefix_group < 0) return 0;
    const auto block = static_cast<std::int32_t>(config_.block_size);
    return static_cast<std::int64_t>(cache_.cached(chain_of(r), r.prefix_tokens / block)) * block;
  }

  std::int64_t outstanding() const override { return static_cast<std::int64_t>(waiting_.size() + running_.size()); }
  double kv_load() const override {
    const double used = static_cast<double>(total_blocks_ - free_blocks_) * static_cast<double>(config_.block_size);
    return (used + static_cast<double>(waiting_tokens_)) / (static_cast<double>(total_blocks_ * config_.block_size) + 1);
  }

  // A client's request reaches the replica's API server, which hands it to the engine
  // once taken in.
  void arrive(Engine& engine, std::int32_t request) {
    if (ingest_ == 0) {
      enqueue(engine, request);
      return;
    }
    if (!shared_.intake_streamed.empty()) shared_.intake_streamed[static_cast<std::size_t>(request)] = frontend_.streamed;
    engine.schedule_at(frontend_.take_in(engine.now(), ingest_), *this, static_cast<std::uint64_t>(request) + 1);
  }

  // The API server's intake of `request` comes due; chunks it streamed meanwhile put it off.
  void take_in(Engine& engine, std::int32_t request) {
    if (!shared_.intake_streamed.empty()) {
      Time& seen = shared_.intake_streamed[static_cast<std::size_t>(request)];
      if (frontend_.streamed > seen) {
        const Time delay = frontend_.streamed - seen;
        seen = frontend_.streamed;
        engine.schedule_at(engine.now() + delay, *this, static_cast<std::uint64_t>(request) + 1);
        return;
      }
    }
    enqueue(engine, request);
  }

  // The request joins the engine's waiting queue (from the API server, or from a prefill
  // replica with its KV cache).
  void enqueue(Engine& engine, std::int32_t request) {
    engine_ = &engine;
    shared_.records[static_cast<std::size_t>(request)].replica = id_;
    prefetch_from_disk(engine.now(), request);
    shared_.enqueued[static_cast<std::size_t>(request)] = engine.now();
    waiting_.push_back(request);
    waiting_tokens_ += demand(request);
    if (!busy_) start(engine);
  }

  // Tag 0: the running iteration ends; kResume: the API server let the engine loop go on;
  // tag r + 1: request r has been taken in.
  void handle_event(Engine& engine, std::uint64_t tag) override {
    if (tag == kResume) {
      busy_ = false;
      start(engine);
      return;
    }
    if (tag > 0) {
      take_in(engine, static_cast<std::int32_t>(tag - 1));
      return;
    }
    engine_ = &engine;
    complete(engine.now());
    busy_ = false;
    // An engine that schedules one step ahead planned the next iteration when this one
    // began: what joined the queue since waits for the one after.
    start(engine, config_.host.async_scheduling ? iteration_began_ : engine.now());
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
    if (config_.pp == 1) return now + cost_.iteration(shape, steps_) + expert_wait(shape.tokens);
    const Time work = cost_.stage_work(shape), hop = cost_.stage_transfer(shape.tokens);
    Time ready = now + cost_.overhead(shape);
    for (std::size_t k = 0; k < pipeline_.free_at.size(); ++k) {
      const Time start = std::max(ready + (k > 0 ? hop : 0), pipeline_.free_at[k]);
      pipeline_.free_at[k] = start + work;
      ready = start + work;
    }
    return ready;
  }

  // Offloaded experts: what fetching or CPU-running this iteration's missed experts adds.
  Time expert_wait(std::int64_t tokens) {
    return experts_ ? experts_->iteration(tokens, cost_.expert_layer_costs(tokens)) : 0;
  }

  // The keys of a request's leading blocks in the prefix cache: its group's, or its contents'.
  PrefixChain chain_of(const Request& r) const {
    if (r.block_hashes.empty()) return {r.prefix_group};
    return {r.prefix_group, &r.block_hashes, static_cast<std::int32_t>(config_.traffic.hash_block_tokens / config_.block_size)};
  }
  // A preempted request's own blocks, parked in the cache.
  static PrefixChain own_chain(std::int32_t request) { return {own_group(request)}; }

  // Tokens a waiting request will put in the cache when admitted.
  std::int64_t demand(std::int32_t request) const {
    return shared_.requests[static_cast<std::size_t>(request)].prompt_tokens + shared_.progress[static_cast<std::size_t>(request)].generated;
  }

  std::int32_t blocks_for(std::int64_t tokens) const {
    return static_cast<std::int32_t>((tokens + config_.block_size - 1) / config_.block_size);
  }

  // The waiting queue as the admission policy sees it: a short lookahead, since S-LoRA's
  // adapter-aware batching looks only so far past requests whose adapters cannot load.
  class Waiting final : public WaitingQueue {
   public:
    explicit Waiting(const Replica& replica) : r_(replica) {}
    std::size_t size() const override { return std::min<std::size_t>(r_.waiting_.size(), 64); }
    bool admissible(std::size_t position) const override {
      const Request& r = request(position);
      if (r_.shared_.enqueued[static_cast<std::size_t>(r_.waiting_[position])] > r_.visible_until_) return false;
      return r_.config_.lora_rank <= 0 || r.adapter < 0 || r_.adapters_.resident(r.adapter) || r_.adapters_.can_load();
    }
    const Request& request(std::size_t position) const override {
      return r_.shared_.requests[static_cast<std::size_t>(r_.waiting_[position])];
    }
    std::int64_t demand(std::size_t position) const override { return r_.demand(r_.waiting_[position]); }
    std::int32_t cached_prefix_blocks(std::size_t position) const override {
      const Request& r = request(position);
      if (!r_.config_.prefix_caching || r.prefix_group < 0) return 0;
      return r_.cache_.cached(r_.chain_of(r), r.prefix_tokens / static_cast<std::int32_t>(r_.config_.block_size));
    }

   private:
    const Replica& r_;
  };

  // Data-parallel attention: a new sequence joins the rank running the fewest (TensorRT-LLM
  // balances its attention ranks by active requests), the lowest such rank on ties.
  std::int32_t least_loaded_rank() const {
    const std::int64_t ranks = config_.attention_ranks();
    if (ranks <= 1) return 0;
    std::vector<std::int32_t> running(static_cast<std::size_t>(ranks), 0);
    for (const Sequence& s : running_) {
      if (!s.done) ++running[static_cast<std::size_t>(s.rank)];
    }
    return static_cast<std::int32_t>(std::min_element(running.begin(), running.end()) - running.begin());
  }

  // Admits the waiting request at `position` if its prompt's blocks are free; returns its
  // index in running_, or -1.
  std::int32_t admit_at(Time now, std::size_t position) {
    const std::int32_t request = waiting_[position];
    const Request& r = shared_.requests[static_cast<std::size_t>(request)];
    Sequence s;
    s.request = request;
    s.rank = least_loaded_rank();
    s.target = r.prompt_tokens + shared_.progress[static_cast<std::size_t>(request)].generated;
    HostKvTier::Run loaded;  // blocks copied back from host memory, and read from disk first
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
      const PrefixChain chain = chain_of(r);
      const std::int32_t limit = r.prefix_tokens / static_cast<std::int32_t>(config_.block_size);
      s.shared = cache_.acquire(chain, limit);
      // The blocks after those that host memory holds are copied back rather than prefilled;
      // a preempted request's own parked blocks come first.
      if (shared_.parked[static_cast<std::size_t>(request)] == 0) loaded = offload_.take_run(chain, s.shared, limit);
      s.context = std::min((s.shared + loaded.host + loaded.disk) * static_cast<std::int32_t>(config_.block_size), s.target - 1);  // the last token is always computed
    }
    s.blocks = blocks_for(s.target) - s.shared;
    // Its adapter must be resident or loadable (admission waits for a slot, in order; under
    // unified paging for the blocks it takes); TensorRT-LLM's no-evict admission also wants
    // room for its whole output.
    const bool adapter = config_.lora_rank > 0 && r.adapter >= 0;
    const bool loads = adapter && !adapters_.resident(r.adapter);
    const std::int64_t adapter_blocks = loads && config_.lora_unified ? cost_.adapter_blocks(config_.adapter_rank(r.adapter)) : 0;
    const std::int64_t final_blocks = blocks_for(r.prompt_tokens + r.output_tokens);
    const bool room = no_evict_ ? committed_blocks_ + final_blocks <= total_blocks_ : !peak_admission_ || peak_need_fits(r);
    const std::int32_t kept = room && fresh ? reclaim_parked(request, s) : 0;
    // Under unified paging a resident adapter is held while blocks are found, so that they
    // are not found by unloading it.
    const bool pinned = adapter && !loads && config_.lora_unified;
    if (pinned) adapters_.use(r.adapter);
    if ((loads && !adapters_.can_load()) || !room || !take_blocks(s.blocks - kept + adapter_blocks)) {
      if (pinned) adapters_.release(r.adapter);
      if (s.shared > 0) cache_.release(chain_of(r), s.shared);
      if (kept > 0) {
        cache_.park(own_chain(request), s.shared, s.shared + kept);
        shared_.parked[static_cast<std::size_t>(request)] = kept;
        shared_.parked_from[static_cast<std::size_t>(request)] = s.shared;
      }
      return -1;
    }
    if (kept > 0) {
      shared_.parked[static_cast<std::size_t>(request)] = 0;
      shared_.parked_from[static_cast<std::size_t>(request)] = -1;
      shared_.recompute_tokens_kept += kept * static_cast<std::int64_t>(config_.block_size);
    }
    if (no_evict_) committed_blocks_ += final_blocks;
    if (adapter) {
      if (loads) {
        adapters_.load(r.adapter);
        host_copies_ += cost_.adapter_load(config_.adapter_rank(r.adapter));
        ++shared_.adapter_loads;
      }
      if (!pinned) adapters_.use(r.adapter);
    }
    received = 0;
    if (swapped > 0) {
      shared_.swapped[static_cast<std::size_t>(request)] = 0;
      host_free_blocks_ += blocks_for(swapped);
      host_copies_ += cost_.host_copy(swapped);
    }
    if (fresh && r.prefix_group >= 0) {
      const auto block = static_cast<std::int32_t>(config_.block_size);
      // Copied to the GPU: what host memory held, and what was read into it from disk first.
      const std::int32_t copied = loaded.host + loaded.disk > 0 ? s.context - std::min(s.context, s.shared * block) : 0;
      const std::int32_t from_disk = loaded.disk > 0 ? s.context - std::min(s.context, (s.shared + loaded.host) * block) : 0;
      shared_.prefix_tokens += r.prefix_tokens;
      shared_.prefix_tokens_cached += std::min<std::int64_t>(s.context, r.prefix_tokens) - copied;
      // Tokens read ahead came from disk too, though admission finds them in host memory.
      const Shared::Prefetch ahead = take_prefetch(request);
      const std::int32_t read_ahead = std::min(ahead.tokens, copied - from_disk);
      shared_.prefix_tokens_offloaded += copied - from_disk - read_ahead;
      shared_.prefix_tokens_from_disk += from_disk + read_ahead;
      host_copies_ += cost_.host_copy(copied);
      // The iteration waits for its reads: those read ahead, and the rest, read now behind
      // whatever the disk has queued.
      disk_wait_until_ = std::max(disk_wait_until_, ahead.done);
      if (from_disk > 0) disk_wait_until_ = std::max(disk_wait_until_, queue_on_disk(now, cost_.disk_read(from_disk)));
    }
    queue_disk_writes(now);
    waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(position));
    waiting_tokens_ -= demand(request);
    RequestRecord& record = shared_.records[static_cast<std::size_t>(request)];
    if (record.scheduled < 0) record.scheduled = now;
    running_.push_back(s);
    return static_cast<std::int32_t>(running_.size() - 1);
  }

  // With disk_prefetch, a prompt's prefix blocks found on disk (after those on the GPU and in
  // host memory) are read into host memory when it joins the queue, one read after another
  // on the replica's disk.
  void prefetch_from_disk(Time now, std::int32_t request) {
    if (shared_.prefetches.empty() || !config_.prefix_caching) return;
    const auto i = static_cast<std::size_t>(request);
    const Request& r = shared_.requests[i];
    if (r.prefix_group < 0 || shared_.kv_ready[i] > 0 || shared_.swapped[i] > 0 || shared_.parked[i] > 0) return;
    const PrefixChain chain = chain_of(r);
    const auto block = static_cast<std::int32_t>(config_.block_size);
    const std::int32_t limit = r.prefix_tokens / block;
    const std::int32_t from = cache_.cached(chain, limit);
    const HostKvTier::Run run = offload_.take_run(chain, from, limit);
    if (run.disk == 0) return;
    // As admission counts them: the prompt's last token is always computed, never loaded.
    const std::int32_t last = r.prompt_tokens - 1;
    const std::int32_t tokens = std::min((from + run.host + run.disk) * block, last) - std::min((from + run.host) * block, last);
    shared_.prefetches[i] = {queue_on_disk(now, cost_.disk_read(tokens)), shared_.prefetches[i].tokens + tokens};
    queue_disk_writes(now);  // the blocks read in pushed others out of host memory
  }

  // The replica's disk does one transfer after another: one of `duration` queued at `now`
  // ends at the returned time.
  Time queue_on_disk(Time now, Time duration) { return disk_free_at_ = std::max(now, disk_free_at_) + duration; }
  // Blocks host memory dropped to disk since the last call are written now, after the reads
  // queued at the same moment (the writes run in the background, as LMCache's and
  // HiCache's do: only reads queued after them wait for them).
  void queue_disk_writes(Time now) {
    const std::int64_t blocks = offload_.take_disk_writes();
    if (blocks == 0) return;
    shared_.disk_blocks_written += blocks;
    queue_on_disk(now, cost_.disk_write(blocks * config_.block_size));
  }
  // What was read ahead for the request being admitted; nothing is left for it after.
  Shared::Prefetch take_prefetch(std::int32_t request) {
    if (shared_.prefetches.empty()) return {};
    return std::exchange(shared_.prefetches[static_cast<std::size_t>(request)], {});
  }

  // A recomputed request takes back the blocks it parked when preempted, if its prefix
  // blocks before them are still cached: its context then starts after them. Returns
  // how many blocks came back (they count among s.blocks without taking free ones).
  std::int32_t reclaim_parked(std::int32_t request, Sequence& s) {
    std::int32_t& parked = shared_.parked[static_cast<std::size_t>(request)];
    std::int32_t& from = shared_.parked_from[static_cast<std::size_t>(request)];
    if (parked == 0) return 0;
    std::int64_t dropped = 0;
    std::int32_t taken = cache_.take(own_chain(request), from, parked, dropped);
    if (from != s.shared) {  // behind a prefix block evicted since: unreachable
      dropped += taken;
      taken = 0;
    }
    free_blocks_ += dropped;
    parked = 0;
    from = -1;
    if (taken > 0) s.context = std::min((s.shared + taken) * static_cast<std::int32_t>(config_.block_size), s.target - 1);
    return taken;
  }

  // A preempted sequence to be recomputed, with prefix caching on, keeps its full blocks
  // cached under its own group: its recompute then costs only what was evicted meanwhile.
  void park(const Sequence& victim) {
    const std::int32_t full = std::min(victim.context / static_cast<std::int32_t>(config_.block_size), victim.all_blocks());
    const std::int32_t parked = std::max(0, full - victim.shared);
    release(victim);
    free_blocks_ -= parked;
    cache_.park(own_chain(victim.request), victim.shared, victim.shared + parked);
    shared_.parked[static_cast<std::size_t>(victim.request)] = parked;
    shared_.parked_from[static_cast<std::size_t>(victim.request)] = victim.shared;
    shared_.recompute_tokens += victim.context;
  }

  // Evicts up to `wanted` idle cached blocks, in the eviction policy's order, into host memory
  // when it keeps offloaded blocks; returns how many were freed.
  std::int64_t evict_cached(std::int64_t wanted) {
    if (!offload_.on()) return cache_.evict(wanted);
    evicted_.clear();
    const std::int64_t freed = cache_.evict(wanted, &evicted_);
    for (std::uint64_t key : evicted_) offload_.store(key);
    return freed;
  }

  // LightLLM's router (S-LoRA's too): every running request keeps its tokens until its last
  // output token, then frees them all. Ordered by tokens still to come, the i-th of them
  // ends with the cache at its fullest so far: the i requests with the most to come each
  // hold what they hold now plus the i-th one's tokens to come. `candidate` joins only if
  // that peak, over every i, fits beside the blocks of the adapters running requests use
  // (its own among them). Blocks are counted as tokens over the block size, rounded up, plus
  // one for each request but one (its last block partly filled): a lone request needs
  // exactly its blocks.
  bool peak_need_fits(const Request& candidate) {
    peak_.clear();
    adapters_in_use_.clear();
    const auto add = [&](const Request& q, std::int64_t held) {
      peak_.emplace_back(q.prompt_tokens + q.output_tokens - held, held);
      if (config_.lora_unified && config_.lora_rank > 0 && q.adapter >= 0) adapters_in_use_.push_back(q.adapter);
    };
    for (const Sequence& s : running_) {
      if (!s.done) add(shared_.requests[static_cast<std::size_t>(s.request)], std::max(s.context, s.target));
    }
    add(candidate, candidate.prompt_tokens);
    std::sort(adapters_in_use_.begin(), adapters_in_use_.end());
    adapters_in_use_.erase(std::unique(adapters_in_use_.begin(), adapters_in_use_.end()), adapters_in_use_.end());
    std::int64_t adapter_blocks = 0;
    for (std::int32_t adapter : adapters_in_use_) adapter_blocks += cost_.adapter_blocks(config_.adapter_rank(adapter));
    std::sort(peak_.begin(), peak_.end(), std::greater<>());
    std::int64_t held = 0, peak = 0, count = 0;
    for (const auto& [to_come, now] : peak_) {
      held += now;
      ++count;
      peak = std::max(peak, (held + count * to_come + config_.block_size - 1) / config_.block_size + count - 1);
    }
    return peak + adapter_blocks <= total_blocks_;
  }

  // Under unified paging, unloads adapters no running request uses, least recently used
  // first, until `wanted` blocks are freed or none is idle; returns how many were freed.
  std::int64_t evict_idle_adapters(std::int64_t wanted) {
    if (!config_.lora_unified) return 0;
    std::int64_t freed = 0;
    while (freed < wanted) {
      const std::optional<std::int32_t> adapter = adapters_.evict_idle();
      if (!adapter) break;
      freed += cost_.adapter_blocks(config_.adapter_rank(*adapter));
      ++shared_.adapter_evictions;
    }
    return freed;
  }

  // Takes `count` free blocks, evicting idle cached prefixes, then idle adapters, for them
  // if needed.
  bool take_blocks(std::int64_t count) {
    if (count > free_blocks_) free_blocks_ += evict_cached(count - free_blocks_);
    if (count > free_blocks_) free_blocks_ += evict_idle_adapters(count - free_blocks_);
    if (count > free_blocks_) return false;
    free_blocks_ -= count;
    return true;
  }

  // A sequence leaves (finished or preempted): its own blocks are freed, its references
  // to cached prefix blocks dropped (the blocks stay cached).
  void release(const Sequence& s) {
    const Request& r = shared_.requests[static_cast<std::size_t>(s.request)];
    free_blocks_ += s.blocks;
    if (no_evict_) committed_blocks_ -= blocks_for(r.prompt_tokens + r.output_tokens);
    if (s.shared > 0) cache_.release(chain_of(r), s.shared);
    if (config_.lora_rank > 0 && r.adapter >= 0) adapters_.release(r.adapter);
  }

  // Moves the sequence's full blocks up to `tokens` into the cache (those not there yet),
  // so that it references them instead of owning them.
  void cache_blocks(Sequence& s, std::int32_t tokens) {
    const Request& r = shared_.requests[static_cast<std::size_t>(s.request)];
    if (!config_.prefix_caching || r.prefix_group < 0) return;
    // Content ids end with the prompt: nothing after it could be found by them.
    if (!r.block_hashes.empty()) tokens = std::min(tokens, r.prefix_tokens);
    const std::int32_t end = cache_.insert(chain_of(r), s.shared, tokens / static_cast<std::int32_t>(config_.block_size));
    s.blocks -= std::max(0, end - s.shared);
    s.shared = std::max(s.shared, end);
  }
  // Once a prompt is prefilled, its shared prefix is cached for the group's other requests.
  void cache_prefix(Sequence& s) { cache_blocks(s, shared_.requests[static_cast<std::size_t>(s.request)].prefix_tokens); }
  // When a request ends, its whole context stays cached: a session's next turn, whose
  // prefix is this turn's prompt and answer, finds it there.
  void cache_context(Sequence& s) { cache_blocks(s, s.context); }

  // Blocks a decoding sequence lacks for its next `steps` tokens.
  std::int32_t lacking(const Sequence& s, std::int64_t steps) const {
    if (s.prefilling()) return 0;
    // Most decodes stay inside their last block: checked without blocks_for's division,
    // since every running sequence is asked at every iteration.
    const std::int64_t tokens = s.context + steps;
    if (tokens <= static_cast<std::int64_t>(s.all_blocks()) * config_.block_size) return 0;
    return blocks_for(tokens) - s.all_blocks();
  }

  // Every decoding sequence gets the blocks its next `steps` tokens need; while blocks
  // run short, the latest admitted sequence gives its back and waits to be recomputed
  // (with prefix caching its full blocks stay cached) or, with swap, to be copied back.
  void reserve_decode_blocks(std::int64_t steps) {
    for (;;) {
      std::int64_t needed = 0;
      for (const Sequence& s : running_) needed += lacking(s, steps);
      if (needed > free_blocks_) free_blocks_ += evict_cached(needed - free_blocks_);
      if (needed > free_blocks_) free_blocks_ += evict_idle_adapters(needed - free_blocks_);
      if (needed <= free_blocks_ || running_.empty()) break;
      const std::size_t chosen = policies_.preemption->victim(running_view());
      const Sequence victim = running_[chosen];
      running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(chosen));
      // Swap keeps a decoding sequence's cache in host memory, if there is room for all of it.
      const std::int32_t all = blocks_for(victim.context);
      if (swaps_ && !victim.prefilling() && all <= host_free_blocks_) {
        release(victim);
        host_free_blocks_ -= all;
        shared_.swapped[static_cast<std::size_t>(victim.request)] = victim.context;
        host_copies_ += cost_.host_copy(victim.context);
        ++shared_.swaps;
      } else if (config_.prefix_caching) {
        park(victim);
      } else {
        release(victim);
      }
      waiting_.push_front(victim.request);
      waiting_tokens_ += demand(victim.request);
      ++shared_.records[static_cast<std::size_t>(victim.request)].preemptions;
      ++shared_.preemptions;
    }
    for (Sequence& s : running_) {
      const std::int32_t more = lacking(s, steps);
      s.blocks += more;
      free_blocks_ -= more;
    }
  }

  std::vector<RunningSequence> running_view() const {
    std::vector<RunningSequence> view;
    view.reserve(running_.size());
    for (const Sequence& s : running_) {
      view.push_back({s.request, s.context, shared_.progress[static_cast<std::size_t>(s.request)].generated, s.prefilling()});
    }
    return view;
  }

  // What the scheduler sees and does (BatchPlan).
  const ServingConfig& config() const override { return config_; }
  std::size_t running() const override { return running_.size(); }
  // A decoding sequence's context has grown past its target.
  std::int64_t prompt_left(std::size_t index) const override {
    return std::max(0, running_[index].target - running_[index].context);
  }
  std::int64_t cached(std::size_t index) const override { return running_[index].context; }
  Time chunk_layer_time(std::int64_t tokens, std::int64_t context) override { return cost_.chunk_layer_time(tokens, context); }
  std::optional<AdmissionCandidate> next_candidate() const override {
    const std::optional<std::size_t> position = policies_.admission->pick(Waiting(*this));
    if (!position) return std::nullopt;
    return AdmissionCandidate{*position, demand(waiting_[*position])};
  }
  std::optional<std::size_t> admit(const AdmissionCandidate& candidate) override {
    const std::int32_t index = admit_at(planning_at_, candidate.position);
    if (index < 0) return std::nullopt;
    return static_cast<std::size_t>(index);
  }
  void prefill(std::size_t index, std::int64_t tokens) override {
    prefills_.push_back({static_cast<std::int32_t>(index), static_cast<std::int32_t>(tokens)});
  }
  std::size_t prefills() const override { return prefills_.size(); }
  // Tokens a decoding sequence puts through the model per iteration: its next token, or
  // with speculative decoding the drafted ones and one more, verified in one pass.
  std::int64_t tokens_per_decode() const override { return config_.speculative.on() ? config_.speculative.verified_tokens() : 1; }
  std::size_t decode_all(std::int64_t steps) override {
    steps_ = steps;
    reserve_decode_blocks(std::max(steps, tokens_per_decode()));
    for (std::size_t i = 0; i < running_.size(); ++i) {
      if (!running_[i].prefilling()) decodes_.push_back(static_cast<std::int32_t>(i));
    }
    return decodes_.size();
  }
  // A prefill replica of a mixed pool decodes the requests it keeps.
  bool prefill_only() const override { return role_ == Role::kPrefill && !config_.mixed_pool_kv_load; }
  std::int64_t decodes_since_prefill() const override { return decodes_since_prefill_; }

  void start(Engine& engine) { start(engine, engine.now()); }
  void start(Engine& engine, Time visible_until) {
    visible_until_ = visible_until;
    // With frontend_blocks_engine (vLLM 0.6, as LambdaLabs' runs show), the API server takes
    // in every pending request before the engine schedules its next iteration.
    if (config_.host.frontend_blocks_engine && frontend_.intake_free_at > engine.now()) {
      busy_ = true;
      engine.schedule_at(frontend_.intake_free_at, *this, kResume);
      return;
    }
    prefills_.clear();
    decodes_.clear();
    steps_ = 1;
    planning_at_ = engine.now();
    policies_.scheduler->plan(*this);
    queue_disk_writes(planning_at_);  // what the plan's evictions pushed out of host memory
    if (!prefills_.empty()) {
      decodes_since_prefill_ = 0;
    } else if (!decodes_.empty()) {
      decodes_since_prefill_ += steps_;
    }
    if (prefills_.empty() && decodes_.empty()) {
      // Nothing was planned ahead: the idle engine schedules what is queued now.
      if (visible_until < engine.now() && !waiting_.empty()) return start(engine, engine.now());
      drop_unservable();
      return;
    }
    BatchShape shape;
    // The rank a sequence's tokens run their adapter at (0: none).
    const auto adapter_rank = [&](const Sequence& s) -> std::int64_t {
      if (config_.lora_rank <= 0) return 0;
      const std::int32_t adapter = shared_.requests[static_cast<std::size_t>(s.request)].adapter;
      return adapter >= 0 ? config_.computed_rank(adapter) : 0;
    };
    const auto add_lora = [&](const Sequence& s, std::int64_t tokens, bool decode) {
      const std::int64_t rank = adapter_rank(s);
      if (rank == 0) return;
      shape.lora_tokens += tokens;
      shape.lora_rank_tokens += tokens * rank;
      if (!decode) return;
      shape.lora_decode_tokens += tokens;
      shape.lora_decode_rank_tokens += tokens * rank;
    };
    if (config_.attention_ranks() > 1) shape.ranks.resize(static_cast<std::size_t>(config_.attention_ranks()));
    for (const auto& [index, chunk] : prefills_) {
      const Sequence& s = running_[static_cast<std::size_t>(index)];
      const Time attention = cost_.prefill_attention(chunk, s.context);
      shape.tokens += chunk;
      add_lora(s, chunk, false);
      shape.prefill_attention += attention;
      shape.outputs += s.context + chunk >= s.target ? 1 : 0;
      if (!shape.ranks.empty()) {
        RankLoad& rank = shape.ranks[static_cast<std::size_t>(s.rank)];
        rank.tokens += chunk;
        rank.prefill_attention += attention;
      }
    }
    const std::int64_t per_decode = tokens_per_decode();
    for (std::int32_t index : decodes_) {
      const Sequence& s = running_[static_cast<std::size_t>(index)];
      shape.decode_context += s.context + per_decode;
      shape.decode_window_context += cost_.windowed(s.context + per_decode);
      add_lora(s, per_decode, true);
      if (!shape.ranks.empty()) {
        RankLoad& rank = shape.ranks[static_cast<std::size_t>(s.rank)];
        rank.tokens += per_decode;
        ++rank.decodes;
        rank.decode_context += s.context + per_decode;
        rank.decode_window_context += cost_.windowed(s.context + per_decode);
      }
    }
    shape.host_copies = std::exchange(host_copies_, 0) + std::max<Time>(0, std::exchange(disk_wait_until_, 0) - engine.now());
    shape.decodes = static_cast<std::int64_t>(decodes_.size());
    shape.sequences = static_cast<std::int64_t>(prefills_.size()) + shape.decodes;
    shape.tokens += shape.decodes * per_decode;
    shape.outputs += shape.decodes * per_decode;
    shared_.tokens_processed += static_cast<double>(shape.tokens + (steps_ - 1) * shape.decodes);
    shared_.kv_tokens_read += static_cast<double>(shape.decode_context * steps_);
    shared_.weight_bytes_read += cost_.weights_read(shape.tokens) * static_cast<double>(steps_);
    // In use: what sequences hold, cached prefixes included.
    const double used = static_cast<double>(total_blocks_ - free_blocks_) / static_cast<double>(std::max<std::int64_t>(1, total_blocks_));
    shared_.kv_peak = std::max(shared_.kv_peak, used);
    sample(engine.now(), used);
    ++shared_.iterations;
    busy_ = true;
    iteration_began_ = engine.now();
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
      if (blocks_for(r.prompt_tokens + shared_.progress[static_cast<std::size_t>(request)].generated) <= total_blocks_) return;
      waiting_.pop_front();
      waiting_tokens_ -= demand(request);
      answered(shared_, *engine_, engine_->now());
    }
  }

  // `new_chunk`: the first token of a multi-step call's burst (or of a single step), which
  // the API server streams; the burst's other tokens travel with it.
  // With stream_interval n, a token after the first waits until n tokens are held (or the
  // answer ends) and travels in that chunk.
  void emit_token(Sequence& s, Time generated_at, bool new_chunk) {
    Progress& p = shared_.progress[static_cast<std::size_t>(s.request)];
    if (steps_ == 1 && p.started && p.generated + 1 < p.output_tokens && ++p.held < config_.engine.stream_interval) {
      ++p.generated;
      return;
    }
    p.held = 0;
    const Time now = frontend_.deliver(generated_at, new_chunk ? stream_ : 0);  // when the client receives it
    Time& last = p.last_token;
    if (!p.started) {
      p.started = true;
      shared_.records[static_cast<std::size_t>(s.request)].first_token = now;
    } else if (now > last) {
      // One latency per streamed chunk, as vLLM's and SGLang's benchmarks count them: tokens
      // a multi-step run emits together arrive as one chunk. A preemption's wait is included.
      shared_.itl.add(now - last);
    }
    last = now;
    if (++p.generated >= p.output_tokens) {
      shared_.records[static_cast<std::size_t>(s.request)].finish = now;
      s.done = true;
      cache_context(s);
      release(s);
      answered(shared_, *engine_, now);
    }
  }

  void complete(Time now) {
    for (const auto& [index, chunk] : prefills_) {
      Sequence& s = running_[static_cast<std::size_t>(index)];
      s.context += chunk;
      if (s.prefilling()) continue;
      cache_prefix(s);
      emit_token(s, now, true);
      if (role_ == Role::kPrefill && !s.done) {
        if (keeps_decode()) {
          ++shared_.kept_decodes;
        } else {
          hand_off(s);
        }
      }
    }
    // A multi-step run streams its tokens together at its end, and so does a verification
    // pass the tokens it accepted.
    for (std::int32_t index : decodes_) {
      Sequence& s = running_[static_cast<std::size_t>(index)];
      const std::int64_t emitted = config_.speculative.on() ? verified(s) : steps_;
      for (std::int64_t k = 0; k < emitted && !s.done; ++k) {
        ++s.context;
        emit_token(s, now, k == 0);
      }
    }
    std::erase_if(running_, [](const Sequence& s) { return s.done; });
  }

  // Tokens a verification pass emits: the drafted ones accepted in turn, each with its
  // position's probability once those before it are (or, in a grown tree, while the rank the
  // model's token takes was drafted), and the model's own next token. The draws are a fixed
  // function of the request and its position, so they do not depend on batching.
  std::int64_t verified(const Sequence& s) {
    const SpeculativeConfig& spec = config_.speculative;
    const auto position = static_cast<std::uint64_t>(shared_.progress[static_cast<std::size_t>(s.request)].generated);
    std::uint64_t state = (static_cast<std::uint64_t>(s.request) << 32) ^ position;
    std::int64_t tokens = 1;
    if (draft_tree_) {
      tokens = draft_tree_->sample_tokens([&state] { return uniform(state); });
    } else {
      while (tokens <= spec.tokens && uniform(state) < spec.acceptance_at(tokens - 1)) ++tokens;
    }
    ++shared_.verify_passes;
    shared_.verified_tokens += tokens;
    return tokens;
  }

  // SplitMix64 (Steele et al. 2014): the next uniform in [0, 1) from `state`.
  static double uniform(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
  }

  // Disaggregation: the prefilled sequence leaves for the decode pool with its KV cache
  // (every cached token; the token just emitted is computed there). Its blocks here are
  // freed as the transfer starts, as a layer-by-layer transfer would have sent them.
  void hand_off(Sequence& s);
  // Splitwise's mixed pool: the decode pool has no room to spare.
  bool keeps_decode() const;

  static constexpr std::uint64_t kResume = ~std::uint64_t{0};

  std::int32_t id_;
  Role role_;
  Policies policies_;
  bool swaps_;  // preemption swaps to host memory (else recomputes)
  bool no_evict_;  // TensorRT-LLM's GUARANTEED_NO_EVICT admission
  bool peak_admission_;  // LightLLM's and S-LoRA's: the running requests' peak need must fit
  std::int64_t decodes_since_prefill_ = 0;
  Engine* engine_ = nullptr;
  Shared& shared_;
  const ServingConfig& config_;
  IterationCostModel& cost_;  // the decode pool's for a decode replica of another GPU type
  std::optional<ExpertOffload> experts_;  // serving.expert_offload: this replica's expert caches
  std::optional<DraftTree> draft_tree_;   // serving.speculative.acceptance_by_rank: the tree EAGLE-2 grows
  std::int64_t total_blocks_;
  std::int64_t free_blocks_;
  std::int64_t host_free_blocks_;
  Time host_copies_ = 0;  // swaps decided while planning, paid by the next iteration
  Time disk_free_at_ = 0;    // when the reads and writes queued on this replica's disk are done
  Time disk_wait_until_ = 0;  // the disk reads the iteration being planned waits for end then
  std::int64_t committed_blocks_ = 0;  // with no_evict_: blocks the running sequences will hold at their last token
  std::vector<std::pair<std::int64_t, std::int64_t>> peak_;  // peak_need_fits' scratch: tokens to come, tokens held
  std::vector<std::int32_t> adapters_in_use_;                // and the adapters the running requests use
  std::int64_t steps_ = 1;  // decode steps of the current iteration (multi-step scheduling)
  Time planning_at_ = 0;    // when the iteration being planned starts
  Time iteration_began_ = 0;  // when the running (or last) iteration started
  // The newest waiting requests the plan may admit: those queued by then (async scheduling
  // plans an iteration while the one before it runs).
  Time visible_until_ = 0;
  Time next_sample_ = 0;
  std::deque<std::int32_t> waiting_;
  std::int64_t waiting_tokens_ = 0;  // demand() summed over waiting_
  std::vector<Sequence> running_;  // in admission order
  std::vector<std::pair<std::int32_t, std::int32_t>> prefills_;  // running index, chunk
  std::vector<std::int32_t> decodes_;
  PrefixCache cache_;
  HostKvTier offload_;
  std::vector<std::uint64_t> evicted_;  // scratch: keys the last eviction dropped
  AdapterSlots adapters_;
  Pipeline& pipeline_;
  Frontend& frontend_;
  Time ingest_;  // the API server's time per request taken in
  Time stream_;  // and per chunk it streams back
  bool busy_ = false;

 public:
  std::int64_t prefix_evictions() const { return cache_.evictions(); }
};

// The pool's replicas as routing sees them, in the pool's order.
std::vector<const RouteTarget*> route_targets(const std::vector<Replica*>& pool) {
  return {pool.begin(), pool.end()};
}

// Carries a prefilled request's KV cache to the least busy decode replica; the request
// joins that replica's queue when the transfer ends. Transfers share links: each replica's
// ranks send one cache at a time and receive one at a time, in the order the transfers
// are issued (a sender's port and a receiver's port each serve one transfer at a time).
// Sent layer by layer, a cache's transfer runs beside the prefill that produces it, and
// only what the last layer adds, or what the link could not keep up with, comes after.
class Handoff : public EventHandler {
 public:
  Handoff(Shared& shared, std::vector<Replica*> decoders)
      : shared_(shared), decoders_(std::move(decoders)), targets_(route_targets(decoders_)),
        sending_free_(static_cast<std::size_t>(shared.config.replicas), 0), receiving_free_(sending_free_) {}

  // `prefill_start`: when the iteration that prefilled it began (it ends now).
  void send(Engine& engine, std::int32_t request, std::int32_t tokens, std::int32_t from, Time prefill_start) {
    Replica* to = decoders_[least_outstanding(targets_)];
    const Time transfer = shared_.cost.kv_transfer(tokens, from, to->id());
    const bool layerwise = shared_.config.kv_transfer == "layerwise";
    Time& sender = sending_free_[static_cast<std::size_t>(from)];
    Time& receiver = receiving_free_[static_cast<std::size_t>(to->id())];
    const Time start = std::max({layerwise ? prefill_start : engine.now(), sender, receiver});
    const Time last_layer = transfer / std::max<std::int64_t>(1, shared_.cost.model().layers);
    const Time end = std::max(start + transfer, layerwise ? engine.now() + last_layer : start + transfer);
    sender = receiver = end;
    shared_.kv_ready[static_cast<std::size_t>(request)] = tokens;
    shared_.transfer_time += end - engine.now();
    ++shared_.transfers;
    destination_.push_back(to);
    engine.schedule_at(end, *this, (static_cast<std::uint64_t>(destination_.size() - 1) << 32) | static_cast<std::uint32_t>(request));
  }

  void handle_event(Engine& engine, std::uint64_t tag) override {
    destination_[tag >> 32]->enqueue(engine, static_cast<std::int32_t>(tag & 0xffffffffu));
  }

  // The emptiest decode replica's KV load (blocks in use or claimed, over its blocks).
  double least_kv_load() const {
    double least = std::numeric_limits<double>::infinity();
    for (const RouteTarget* target : targets_) least = std::min(least, target->kv_load());
    return least;
  }

 private:
  Shared& shared_;
  std::vector<Replica*> decoders_;
  std::vector<const RouteTarget*> targets_;
  std::vector<Time> sending_free_, receiving_free_;  // per replica: when its ranks' ports are next free
  std::vector<Replica*> destination_;  // per transfer
};

bool Replica::keeps_decode() const {
  return config_.mixed_pool_kv_load && shared_.handoff->least_kv_load() >= *config_.mixed_pool_kv_load;
}

void Replica::hand_off(Sequence& s) {
  s.done = true;
  release(s);
  shared_.handoff->send(*engine_, s.request, s.context, id_, planning_at_);
}

// Delivers each request at its arrival time to the replica of `pool` (the prefill pool
// when disaggregated) that the router picks, or, under conditional disaggregation, to the
// least busy of `decoders` when it prefills there.
class Arrivals : public EventHandler {
 public:
  Arrivals(Shared& shared, std::vector<Replica*> pool, std::vector<Replica*> decoders)
      : shared_(shared), router_(shared.policies.routers.make(shared.config.router)), pool_(std::move(pool)),
        targets_(route_targets(pool_)), decoders_(std::move(decoders)), decoder_targets_(route_targets(decoders_)) {}

  // Request `tag` is due: sent now, or, with a closed-loop client at its limit, when a
  // request is answered.
  static constexpr std::uint64_t kAnswered = ~std::uint64_t{0};  // the tag of a late answer

  void handle_event(Engine& engine, std::uint64_t tag) override {
    if (tag == kAnswered) {
      answered(engine);
      return;
    }
    if (limit_ > 0 && unanswered_ >= limit_) {
      blocked_ = static_cast<std::int64_t>(tag);
      return;
    }
    send(engine, tag);
  }

  // A request finished (or was dropped): a blocked client sends its next one.
  void answered(Engine& engine) {
    --unanswered_;
    if (blocked_ < 0) return;
    const auto tag = static_cast<std::uint64_t>(std::exchange(blocked_, -1));
    send(engine, tag);
  }

 private:
  Replica* pick(const Request& request) {
    if (shared_.config.conditional_disagg) {
      // As Dynamo does, the decode replica is chosen first and decides where to prefill.
      Replica* decoder = decoders_[least_outstanding(decoder_targets_)];
      if (!prefills_remotely(request, *decoder)) {
        ++shared_.local_prefills;
        return decoder;
      }
    }
    return pool_[router_->route(request, targets_)];
  }

  // Dynamo's disaggregated router: remotely when the prompt, less what the decode replica's
  // prefix cache holds, is long and the prefill pool's queue short.
  bool prefills_remotely(const Request& request, const Replica& decoder) const {
    const ServingConfig::ConditionalDisagg& rule = *shared_.config.conditional_disagg;
    if (request.prompt_tokens - decoder.cached_prompt_tokens(request) <= rule.max_local_prefill_length) return false;
    std::size_t queued = 0;
    for (const Replica* replica : pool_) queued += replica->waiting_requests();
    return static_cast<std::int64_t>(queued) < rule.max_prefill_queue_size;
  }

  void send(Engine& engine, std::uint64_t tag) {
    const auto request = static_cast<std::int32_t>(tag);
    ++unanswered_;
    if (limit_ > 0) shared_.records[tag].arrival = engine.now();  // the benchmark's clock starts when it sends
    pick(shared_.requests[tag])->arrive(engine, request);
    if ((tag + 1) % kArrivalBlock == 0 && shared_.every_arrival_block) shared_.every_arrival_block();
    const std::size_t next = tag + 1;
    if (next < shared_.requests.size()) engine.schedule_at(std::max(shared_.requests[next].arrival, engine.now()), *this, next, -1);
  }

  Shared& shared_;
  std::unique_ptr<RequestRouter> router_;
  std::vector<Replica*> pool_;
  std::vector<const RouteTarget*> targets_;
  std::vector<Replica*> decoders_;
  std::vector<const RouteTarget*> decoder_targets_;
  std::int64_t limit_ = shared_.config.traffic.max_concurrency;
  std::int64_t unanswered_ = 0;
  std::int64_t blocked_ = -1;  // the request a closed-loop client holds back
};

void answered(Shared& shared, Engine& engine, Time when) {
  if (shared.client == nullptr) return;
  if (when > engine.now()) {
    engine.schedule_at(when, *shared.client, Arrivals::kAnswered);
  } else {
    shared.client->answered(engine);
  }
}

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
// token (attention left out) against the dense peak; weights read once per iteration and
// decode step (of every virtual engine, by every GPU of the replica; an MoE batch's experts
// only) and the cached keys and values that decodes read, against HBM bandwidth.
void set_utilization(const Shared& shared, double span, ServingResult& result) {
  const ServingConfig& c = shared.config;
  const IterationCostModel& cost = shared.cost;
  const double per_replica = static_cast<double>(c.gpus_per_replica());
  // A decode pool of its own GPU type adds its GPUs' peaks.
  const GpuSpec& decode_gpu = cost.decode_pool().gpu();
  const double decode_gpus = c.decode_pool ? static_cast<double>(c.serving_gpus() - c.prefill_replicas * c.gpus_per_replica()) : 0;
  const double gpus = static_cast<double>(c.serving_gpus()) - decode_gpus;
  const double flops = 2 * count_parameters(cost.model()).active_per_token * shared.tokens_processed;
  const double peak_flops = span * (gpus * cost.gpu().peak(c.dtype) + decode_gpus * decode_gpu.peak(c.dtype));
  const double peak_bytes = span * (gpus * cost.gpu().memory_bandwidth + decode_gpus * decode_gpu.memory_bandwidth);
  result.mfu = peak_flops > 0 ? flops / peak_flops : 0.0;
  const double bytes = (shared.weight_bytes_read + shared.kv_tokens_read * cost.kv_bytes_per_token()) * per_replica;
  result.memory_bandwidth_utilization = peak_bytes > 0 ? bytes / peak_bytes : 0.0;
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
    if (r.output_tokens > 1) tpot.push_back(r.tpot());  // a one-token answer has no time per output token
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
  // Rates over the run's span; a run in which no time passed has no rate (0), not 1e12.
  const double span = to_seconds(result.makespan - first_arrival);
  const auto per_second = [span](double count) { return span > 0 ? count / span : 0.0; };
  result.request_throughput = per_second(static_cast<double>(result.requests));
  result.output_token_throughput = per_second(output_tokens);
  result.total_token_throughput = per_second(prompt_tokens + output_tokens);
  result.ttft = percentiles(std::move(ttft));
  result.tpot = percentiles(std::move(tpot));
  result.e2e = percentiles(std::move(e2e));
  result.queueing = percentiles(std::move(queueing));
  result.itl = {shared.itl.mean(), shared.itl.percentile(0.5), shared.itl.percentile(0.9), shared.itl.percentile(0.99)};
  const auto all = static_cast<double>(shared.records.size());
  result.slo_attainment = all > 0 ? static_cast<double>(within_slo) / all : 0.0;
  result.goodput = per_second(static_cast<double>(within_slo));
  set_utilization(shared, span, result);
}
}  // namespace

void require_kv_room(const IterationCostModel& cost, const std::string& scenario_source) {
  const std::string problem = cost.kv_room_problem();
  if (problem.empty()) return;
  if (cost.config().max_total_tokens > 0) {
    throw InputError(scenario_source, "serving.max_total_tokens",
                     problem + (cost.kv_blocks() >= 1 ? "; give a smaller pool" : "; give a larger pool"));
  }
  throw InputError(scenario_source, "serving.tp", problem + "; use a larger tp or a larger gpu_memory_utilization");
}

void require_servable(const ServingConfig& c, const IterationCostModel& cost, const std::vector<Request>& requests,
                      const std::string& scenario_source) {
  const std::int64_t cache_tokens =
      std::min(cost.kv_blocks() / c.pp, cost.decode_pool().kv_blocks() / cost.decode_pool().config().pp) * c.block_size;
  const std::string where = c.traffic.trace.empty() ? "serving.traffic" : "serving.traffic.trace";
  const std::string source = c.traffic.trace.empty() ? scenario_source : c.traffic.trace;

  for (const Request& r : requests) {
    const std::int64_t tokens = std::int64_t{r.prompt_tokens} + r.output_tokens;
    const bool too_long = c.max_model_len > 0 && tokens > c.max_model_len;
    if (!too_long && tokens <= cache_tokens) continue;
    throw InputError(source, where,
                     "the request arriving at " + format_duration(r.arrival) + " (" + std::to_string(r.prompt_tokens) + " prompt and " +
                         std::to_string(r.output_tokens) + " output tokens) can never finish: " +
                         (too_long ? "it is longer than max_model_len, " + std::to_string(c.max_model_len) + " tokens"
                                   : "it needs more than the " + std::to_string(cache_tokens) + " tokens of KV cache a replica holds") +
                         "; shorten or drop it, or serve it on a larger layout");
  }
}

namespace {
// A KV block must lie within one of a trace's content ids to be keyed by it.
void require_hash_blocks_fit(const ServingConfig& c, const std::vector<Request>& requests) {
  const bool hashed = std::any_of(requests.begin(), requests.end(), [](const Request& r) { return !r.block_hashes.empty(); });
  if (!hashed || c.traffic.hash_block_tokens % c.block_size == 0) return;
  throw InputError(c.traffic.trace, "serving.traffic.hash_block_tokens",
                   "the trace's hash_ids stand for " + std::to_string(c.traffic.hash_block_tokens) + " tokens each, not a multiple of "
                   "block_size (" + std::to_string(c.block_size) + "): a cached block would straddle two of them");
}
ExpertOffloadStats summed_expert_offload(const std::vector<std::unique_ptr<Replica>>& replicas) {
  ExpertOffloadStats sum;
  for (const auto& r : replicas) {
    const ExpertOffload* o = r->expert_offload();
    if (o == nullptr) continue;
    const ExpertOffloadStats& s = o->stats();
    sum.reached += s.reached;
    sum.hits += s.hits;
    sum.fetched += s.fetched;
    sum.fetched_bytes += s.fetched_bytes;
    sum.waiting += s.waiting;
    sum.cpu_busy += s.cpu_busy;
  }
  return sum;
}
}  // namespace

ServingResult simulate_serving(const ServingConfig& config, const std::vector<Request>& requests, IterationCostModel& cost,
                               bool record_iterations, std::function<void()> every_arrival_block,
                               const ServingPolicyRegistry& policies) {
  require_hash_blocks_fit(config, requests);
  Shared shared(config, requests, cost, policies);
  shared.record_iterations = record_iterations;
  shared.every_arrival_block = std::move(every_arrival_block);
  // Virtual engines in engine-major order, so that routing in turn spreads over replicas first;
  // a decode pool's replicas have stages of their own.
  const auto role_of = [&](std::int64_t r) {
    return config.prefill_replicas == 0 ? Role::kBoth : r < config.prefill_replicas ? Role::kPrefill : Role::kDecode;
  };
  const auto stages_of = [&](std::int64_t r) { return role_of(r) == Role::kDecode ? cost.decode_pool().config().pp : config.pp; };
  std::vector<Pipeline> pipelines;
  for (std::int64_t r = 0; r < config.replicas; ++r) pipelines.push_back({std::vector<Time>(static_cast<std::size_t>(stages_of(r)), 0)});
  std::vector<Frontend> frontends(static_cast<std::size_t>(config.replicas));
  std::vector<std::unique_ptr<Replica>> replicas;
  std::vector<Replica*> entry, decoders;
  const std::int64_t most_stages = std::max(config.pp, cost.decode_pool().config().pp);
  for (std::int64_t engine = 0; engine < most_stages; ++engine) {
    for (std::int64_t r = 0; r < config.replicas; ++r) {
      if (engine >= stages_of(r)) continue;
      const Role role = role_of(r);
      replicas.push_back(std::make_unique<Replica>(static_cast<std::int32_t>(r), role, shared, pipelines[static_cast<std::size_t>(r)],
                                                   frontends[static_cast<std::size_t>(r)]));
      (role == Role::kDecode ? decoders : entry).push_back(replicas.back().get());
    }
  }
  std::unique_ptr<Handoff> handoff = decoders.empty() ? nullptr : std::make_unique<Handoff>(shared, decoders);
  shared.handoff = handoff.get();
  Arrivals arrivals(shared, entry, decoders);
  shared.client = &arrivals;
  Engine engine;
  engine.schedule_at(requests.front().arrival, arrivals, 0, -1);
  engine.run();

  ServingResult result;
  summarize(shared, result);
  result.iterations = shared.iterations;
  result.preemptions = shared.preemptions;
  result.swaps = shared.swaps;
  result.verify_passes = shared.verify_passes;
  result.verified_tokens = shared.verified_tokens;
  result.adapter_loads = shared.adapter_loads;
  result.adapter_evictions = shared.adapter_evictions;
  result.kv_blocks = cost.kv_blocks();
  result.kv_peak_utilization = shared.kv_peak;
  result.events = engine.events_processed();
  result.kv_transfers = shared.transfers;
  result.local_prefills = shared.local_prefills;
  result.kept_decodes = shared.kept_decodes;
  result.kv_transfer_mean = shared.transfers > 0 ? to_seconds(shared.transfer_time) / static_cast<double>(shared.transfers) : 0;
  result.recompute_kept = shared.recompute_tokens > 0
                              ? static_cast<double>(shared.recompute_tokens_kept) / static_cast<double>(shared.recompute_tokens) : 0;
  result.prefix_hit_rate = shared.prefix_tokens > 0 ? static_cast<double>(shared.prefix_tokens_cached) / static_cast<double>(shared.prefix_tokens) : 0;
  result.offload_hit_rate = shared.prefix_tokens > 0 ? static_cast<double>(shared.prefix_tokens_offloaded) / static_cast<double>(shared.prefix_tokens) : 0;
  result.disk_hit_rate = shared.prefix_tokens > 0 ? static_cast<double>(shared.prefix_tokens_from_disk) / static_cast<double>(shared.prefix_tokens) : 0;
  result.disk_blocks_written = shared.disk_blocks_written;
  for (const auto& r : replicas) result.prefix_evictions += r->prefix_evictions();
  if (config.expert_offload.enabled) result.expert_offload = summed_expert_offload(replicas);
  result.records = std::move(shared.records);
  result.series = std::move(shared.series);
  result.iteration_log = std::move(shared.iteration_log);
  return result;
}

}  // namespace foresight
