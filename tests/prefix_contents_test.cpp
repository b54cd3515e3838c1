// Prefixes by content (a trace's hash_ids, as Mooncake's traces give them): prompts share
// exactly the leading blocks whose contents agree, so prefixes may branch; the reader takes
// Mooncake's lines and refuses malformed ones with the line named.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "serving_support.hpp"
#include "sim/input/input_error.hpp"
#include "test_support.hpp"
#include "workloads/serving_caches.hpp"
#include "workloads/serving_policies/builtin.hpp"

using namespace foresight;

namespace {
std::string write_trace(const std::string& name, const std::string& lines) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << lines;
  return path;
}

Request prompt_of(std::vector<std::uint64_t> hashes, std::int32_t tokens, double arrival_seconds) {
  Request r;
  r.arrival = from_seconds(arrival_seconds);
  r.prompt_tokens = r.prefix_tokens = tokens;
  r.output_tokens = 2;
  r.prefix_group = static_cast<std::int32_t>(hashes.front());
  r.block_hashes = std::move(hashes);
  return r;
}

// A 4,096-token prompt, then enough other 4,096-token prompts to evict it twice over from
// a cache of `cache_tokens`, then the first prompt again; 100 s apart, so one at a time.
std::vector<Request> evict_then_repeat(std::int64_t cache_tokens) {
  std::vector<Request> requests = {prompt_of({1, 2, 3, 4, 5, 6, 7, 8}, 4096, 0)};
  const auto fillers = static_cast<std::uint64_t>(2 * cache_tokens / 4096 + 1);
  for (std::uint64_t i = 0; i < fillers; ++i) {
    requests.push_back(prompt_of({100 + 8 * i, 101 + 8 * i, 102 + 8 * i, 103 + 8 * i, 104 + 8 * i, 105 + 8 * i, 106 + 8 * i, 107 + 8 * i}, 4096,
                                 100.0 * static_cast<double>(i + 1)));
  }
  requests.push_back(prompt_of({1, 2, 3, 4, 5, 6, 7, 8}, 4096, 100.0 * static_cast<double>(fillers + 1)));
  return requests;
}
}  // namespace

TEST_CASE("prompts share exactly the leading blocks whose contents agree: a system prompt, then branches") {
  // 32 tokens per id and 16-token KV blocks: each id is two blocks. One request at a time
  // (100 s apart) into a cache that never fills, so every earlier prompt's full blocks are
  // cached. Cached tokens per request (the last prompt token is always computed):
  //   [1 2 3] 96 tokens: nothing before it                                   0
  //   [1 2 4] 96: ids 1 and 2 as the first prompt's                           64
  //   [1 5]   64: id 1                                                        32
  //   [1 2 4] 96: all of it, as the second, less the last token               95
  //   [6 2 3] 96: its first id is new, so nothing, though 2 and 3 are cached   0
  // Hit rate: 191 of the 448 tokens the ids cover.
  foresight::testing::ServingBench bench;
  bench.config.prefix_caching = true;
  bench.config.block_size = 16;
  bench.config.traffic.hash_block_tokens = 32;
  const std::vector<Request> requests = {prompt_of({1, 2, 3}, 96, 0), prompt_of({1, 2, 4}, 96, 100), prompt_of({1, 5}, 64, 200),
                                         prompt_of({1, 2, 4}, 96, 300), prompt_of({6, 2, 3}, 96, 400)};
  IterationCostModel cost(bench.model, bench.gpu, bench.fabric, bench.config, bench.roofline);
  const ServingResult r = simulate_serving(bench.config, requests, cost);
  CHECK(r.requests == 5);
  CHECK(r.prefix_hit_rate == doctest::Approx(191.0 / 448.0).epsilon(1e-12));
  // What a prefix group could not say: the branch [1 5] costs less to prefill than [6 2 3],
  // which is longer by a block but shares nothing.
  CHECK(r.records[2].ttft() < r.records[4].ttft());
}

TEST_CASE("Mooncake's trace lines: timestamp in ms, input and output lengths, hash_ids over hash_block_tokens") {
  const std::string path = write_trace("foresight_mooncake.jsonl",
                                       "{\"timestamp\": 3000, \"input_length\": 1200, \"output_length\": 52, \"hash_ids\": [0, 7, 8]}\n"
                                       "{\"timestamp\": 0, \"input_length\": 6955, \"output_length\": 5, \"hash_ids\": [0, 1]}\n");
  TrafficConfig t;
  t.trace = path;
  t.trace_speedup = 2;
  const std::vector<Request> r = make_requests(t, 1);
  REQUIRE(r.size() == 2);
  CHECK(r[0].prompt_tokens == 6955);
  CHECK(r[0].prefix_tokens == 1024);  // two ids of 512 tokens
  CHECK(r[0].block_hashes == std::vector<std::uint64_t>{0, 1});
  CHECK(r[1].arrival == from_seconds(1.5));  // 3,000 ms replayed twice as fast
  CHECK(r[1].prefix_tokens == 1200);         // three ids cover more than the prompt's 1,200 tokens
  CHECK(r[1].output_tokens == 52);
  std::filesystem::remove(path);
}

TEST_CASE("hash_ids that are not an array of integers >= 0, or come with a prefix_id, are refused with the line") {
  TrafficConfig t;
  const auto refused = [&t](const std::string& line) {
    t.trace = write_trace("foresight_bad_hashes.jsonl", "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 5}\n" + line + "\n");
    try {
      make_requests(t, 1);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(refused("{\"timestamp\": 1, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": [0, -1]}").find("line 2, key hash_ids") != std::string::npos);
  CHECK(refused("{\"timestamp\": 1, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": 3}").find("line 2, key hash_ids") != std::string::npos);
  CHECK(refused("{\"timestamp\": 1, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": [1.5]}").find("line 2") != std::string::npos);
  CHECK(refused("{\"timestamp\": 1, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": [1], \"prefix_id\": 2, \"prefix_tokens\": 4}")
            .find("give one") != std::string::npos);
  CHECK(refused("{\"input_length\": 10, \"output_length\": 5}").find("missing \"arrived_at\"") != std::string::npos);
  std::filesystem::remove(t.trace);
}

TEST_CASE("hash ids whose tokens a KV block would straddle are refused, naming hash_block_tokens") {
  foresight::testing::ServingBench bench;
  bench.config.block_size = 16;
  bench.config.traffic.hash_block_tokens = 40;
  IterationCostModel cost(bench.model, bench.gpu, bench.fabric, bench.config, bench.roofline);
  const std::vector<Request> requests = {prompt_of({1, 2}, 80, 0)};
  CHECK_THROWS_WITH_AS(simulate_serving(bench.config, requests, cost), doctest::Contains("hash_block_tokens"), InputError);
}

TEST_CASE("offloaded prefix blocks: evicted from the GPU into host memory, copied back when a prompt asks for them again") {
  // A 4,096-token prompt, then enough other prompts to evict it from a small GPU cache, then
  // the first prompt again; one at a time. With room for everything in host memory its
  // blocks come back over PCIe: 4,095 of its tokens (the last is always computed), none of
  // the others' (each is new). With host memory for two prompts only, later evictions push
  // its blocks out of there too, least recently used first, and it is prefilled again.
  foresight::testing::ServingBench bench;
  bench.config.prefix_caching = true;
  bench.config.gpu_memory_utilization = 0.25;
  const auto run = [&bench](double offload_bytes) {
    bench.config.kv_offload_bytes = offload_bytes;
    IterationCostModel cost(bench.model, bench.gpu, bench.fabric, bench.config, bench.roofline);
    const std::int64_t cache_tokens = cost.kv_blocks() * bench.config.block_size;
    REQUIRE(cache_tokens > 4096);
    const std::vector<Request> requests = evict_then_repeat(cache_tokens);
    const ServingResult r = simulate_serving(bench.config, requests, cost);
    return std::pair{r, 4096.0 * static_cast<double>(requests.size())};
  };
  const auto [none, prompt_tokens] = run(0);
  const auto [ample, ample_tokens] = run(1e12);
  const double bytes_per_token = 2.0 * 32 * 8 * 128 * 2;  // Llama-3-8B's K and V in bf16 on one GPU
  const auto [small, small_tokens] = run(2 * 4096 * bytes_per_token);
  CHECK(none.offload_hit_rate == 0);
  CHECK(ample.offload_hit_rate == doctest::Approx(4095.0 / ample_tokens).epsilon(1e-12));
  CHECK(small.offload_hit_rate == 0);
  CHECK(none.prefix_hit_rate == 0);  // evicted from the GPU each time
  const double last_none = none.records.back().ttft(), last_ample = ample.records.back().ttft();
  MESSAGE("the repeated prompt's TTFT: " << last_none * 1e3 << " ms prefilled again, " << last_ample * 1e3 << " ms copied back from host memory");
  CHECK(last_ample < last_none / 2);
  CHECK(prompt_tokens == ample_tokens);
}

TEST_CASE("a disk below host memory: what host memory drops is read back from disk, at the disk's rate") {
  // The prompt-then-fillers-then-prompt run above, with host memory for two prompts only,
  // which loses the first prompt's blocks: with a disk below it they are read back from
  // there, the same 4,095 tokens, each paying the disk read on top of the copy to the GPU.
  foresight::testing::ServingBench bench;
  bench.config.prefix_caching = true;
  bench.config.gpu_memory_utilization = 0.25;
  const double bytes_per_token = 2.0 * 32 * 8 * 128 * 2;  // Llama-3-8B's K and V in bf16 on one GPU
  bench.config.kv_offload_bytes = 2 * 4096 * bytes_per_token;
  bench.config.disk_bandwidth = 2e9;
  bench.config.disk_write_bandwidth = 0;  // reads alone here; the writes have a test of their own
  const auto run = [&bench](double disk_bytes, double disk_rate) {
    bench.config.kv_disk_bytes = disk_bytes;
    bench.config.disk_bandwidth = disk_rate;
    IterationCostModel cost(bench.model, bench.gpu, bench.fabric, bench.config, bench.roofline);
    const std::vector<Request> requests = evict_then_repeat(cost.kv_blocks() * bench.config.block_size);
    return std::pair{simulate_serving(bench.config, requests, cost), 4096.0 * static_cast<double>(requests.size())};
  };
  const auto [no_disk, tokens] = run(0, 0);
  const auto [fast, fast_tokens] = run(1e12, 8e9);
  const auto [slow, slow_tokens] = run(1e12, 1e9);
  CHECK(no_disk.offload_hit_rate == 0);  // host memory lost it
  CHECK(no_disk.disk_hit_rate == 0);
  CHECK(fast.disk_hit_rate == doctest::Approx(4095.0 / fast_tokens).epsilon(1e-12));
  CHECK(fast.offload_hit_rate == 0);
  // A slower disk costs the repeated prompt exactly the extra read time: 4,095 tokens at 1 and at 8 GB/s.
  const double extra = slow.records.back().ttft() - fast.records.back().ttft();
  const double expected = 4095 * bytes_per_token * (1 / 1e9 - 1 / 8e9);
  MESSAGE("the repeated prompt's TTFT: " << no_disk.records.back().ttft() * 1e3 << " ms prefilled, " << fast.records.back().ttft() * 1e3
                                         << " ms from an 8 GB/s disk, " << slow.records.back().ttft() * 1e3 << " ms from a 1 GB/s one");
  CHECK(extra == doctest::Approx(expected).epsilon(1e-6));
  CHECK(fast.records.back().ttft() < no_disk.records.back().ttft());
  CHECK(tokens == fast_tokens);
}

TEST_CASE("disk prefetch: a prompt that waits is read from disk meanwhile; one admitted at once waits for its read") {
  // The disk run above at 1 GB/s, one sequence at a time, and a request of 16 tokens and
  // 500 outputs that arrives 1 ms before the repeated prompt: the prompt waits for it to
  // finish, longer than its 4,095 tokens take to read. Read ahead, its TTFT drops by exactly
  // that read. Without anything to wait for, reading ahead saves nothing.
  foresight::testing::ServingBench bench;
  bench.config.prefix_caching = true;
  bench.config.gpu_memory_utilization = 0.25;
  bench.config.max_num_seqs = 1;
  const double bytes_per_token = 2.0 * 32 * 8 * 128 * 2;  // Llama-3-8B's K and V in bf16 on one GPU
  bench.config.kv_offload_bytes = 2 * 4096 * bytes_per_token;
  bench.config.kv_disk_bytes = 1e12;
  bench.config.disk_bandwidth = 1e9;
  bench.config.disk_write_bandwidth = 0;  // reads alone here
  const auto run = [&bench](bool prefetch, bool blocker) {
    bench.config.disk_prefetch = prefetch;
    IterationCostModel cost(bench.model, bench.gpu, bench.fabric, bench.config, bench.roofline);
    std::vector<Request> requests = evict_then_repeat(cost.kv_blocks() * bench.config.block_size);
    if (blocker) {
      Request busy;
      busy.arrival = requests.back().arrival - from_seconds(1e-3);
      busy.prompt_tokens = 16;
      busy.output_tokens = 500;
      requests.insert(requests.end() - 1, busy);
    }
    return simulate_serving(bench.config, requests, cost);
  };
  const double read = 4095 * bytes_per_token / 1e9;
  const ServingResult waited = run(false, true), read_ahead = run(true, true);
  const double waited_ttft = waited.records.back().ttft(), ahead_ttft = read_ahead.records.back().ttft();
  MESSAGE("the repeated prompt's TTFT behind a 500-token decode: " << waited_ttft * 1e3 << " ms, " << ahead_ttft * 1e3
                                                                   << " ms read ahead (the read: " << read * 1e3 << " ms)");
  const double waited_for_blocker = waited.records[waited.records.size() - 2].e2e() - 1e-3;
  REQUIRE(waited_for_blocker > read);
  CHECK(waited_ttft - ahead_ttft == doctest::Approx(read).epsilon(1e-6));
  CHECK(read_ahead.disk_hit_rate == waited.disk_hit_rate);  // read ahead, still found on disk
  CHECK(read_ahead.disk_hit_rate > 0);
  CHECK(run(true, false).records.back().ttft() == run(false, false).records.back().ttft());
  // A disk ten times slower: the read outlasts the wait, which is all it saves.
  bench.config.disk_bandwidth = 0.1e9;
  const double saved = run(false, true).records.back().ttft() - run(true, true).records.back().ttft();
  MESSAGE("at 0.1 GB/s reading ahead saves " << saved * 1e3 << " ms of a " << read * 10e3 << " ms read, behind " << waited_for_blocker * 1e3 << " ms of decoding");
  CHECK(saved == doctest::Approx(waited_for_blocker).epsilon(1e-3));
}

TEST_CASE("disk writes: each block host memory drops is written once, and a read waits for the writes queued before it") {
  // The disk run above, its writes at a rate of their own. Host memory holds two prompts
  // (512 blocks of 16 tokens), so of the E blocks the GPU evicts into it, E - 512 go down to
  // disk; the repeated prompt's 256 blocks read back push 256 more out (fillers', new to the
  // disk), while its own blocks, already on disk, are not written again: E - 256 writes.
  // Each filler arrives 100 s after the last and pushes 256 blocks (537 MB) down: at 1 MB/s
  // the disk is still writing when the repeated prompt comes, and its read waits at least
  // for the rest of the last filler's writes, at most for all of them.
  foresight::testing::ServingBench bench;
  bench.config.prefix_caching = true;
  bench.config.gpu_memory_utilization = 0.25;
  const double bytes_per_token = 2.0 * 32 * 8 * 128 * 2;  // Llama-3-8B's K and V in bf16 on one GPU
  bench.config.kv_offload_bytes = 2 * 4096 * bytes_per_token;
  bench.config.kv_disk_bytes = 1e12;
  bench.config.disk_bandwidth = 8e9;
  const auto run = [&bench](double write_rate) {
    bench.config.disk_write_bandwidth = write_rate;
    IterationCostModel cost(bench.model, bench.gpu, bench.fabric, bench.config, bench.roofline);
    return simulate_serving(bench.config, evict_then_repeat(cost.kv_blocks() * bench.config.block_size), cost);
  };
  const ServingResult free_writes = run(0), slow_writes = run(1e6);
  CHECK(free_writes.disk_blocks_written == free_writes.prefix_evictions - 256);
  CHECK(slow_writes.disk_blocks_written == free_writes.disk_blocks_written);
  CHECK(slow_writes.disk_hit_rate == free_writes.disk_hit_rate);
  const double delay = slow_writes.records.back().ttft() - free_writes.records.back().ttft();
  const double block_write = 16 * bytes_per_token / 1e6;
  const double at_least = 256 * block_write - 100, at_most = static_cast<double>(free_writes.disk_blocks_written) * block_write;
  MESSAGE("the repeated prompt's read waits " << delay << " s for writes at 1 MB/s (between " << at_least << " and " << at_most << " s)");
  CHECK(delay >= at_least);
  CHECK(delay <= at_most);
}

TEST_CASE("eviction policies: least frequently used keeps a prefix many requests shared through a burst of one-off prompts") {
  // Five requests share a 1,024-token prefix (ids 1 and 2), then one-off 4,096-token
  // prompts pass through, twice the cache's size in all, then a sixth request with the
  // prefix comes. One at a time. Least recently used has evicted the prefix by then
  // (it was idle longest); least frequently used evicts the one-offs first (used once)
  // and finds all 1,024 tokens.
  foresight::testing::ServingBench bench;
  bench.config.prefix_caching = true;
  bench.config.gpu_memory_utilization = 0.25;
  const auto last_found = [&bench](const std::string& policy) {
    bench.config.eviction_policy = policy;
    IterationCostModel cost(bench.model, bench.gpu, bench.fabric, bench.config, bench.roofline);
    const std::int64_t cache_tokens = cost.kv_blocks() * bench.config.block_size;
    REQUIRE(cache_tokens > 1024 + 4096);
    std::vector<Request> requests;
    double t = 0;
    for (std::uint64_t i = 0; i < 5; ++i) requests.push_back(prompt_of({1, 2, 10 + i}, 1536, t += 100));
    for (std::uint64_t i = 0; i < static_cast<std::uint64_t>(2 * cache_tokens / 4096 + 1); ++i) {
      requests.push_back(prompt_of({1000 + 8 * i, 1001 + 8 * i, 1002 + 8 * i, 1003 + 8 * i, 1004 + 8 * i, 1005 + 8 * i, 1006 + 8 * i, 1007 + 8 * i},
                                   4096, t += 100));
    }
    requests.push_back(prompt_of({1, 2, 99}, 1536, t += 100));
    const ServingResult r = simulate_serving(bench.config, requests, cost, true);
    // The last request prefilled what it did not find, in the last iteration that prefilled.
    const auto last = std::find_if(r.iteration_log.rbegin(), r.iteration_log.rend(), [](const IterationRecord& it) { return it.prefill_tokens > 0; });
    REQUIRE(last != r.iteration_log.rend());
    return 1536 - static_cast<std::int64_t>(last->prefill_tokens);
  };
  CHECK(last_found("lru") == 0);
  CHECK(last_found("lfu") == 1024);
}

// A branching prefix as a radix tree holds it: root block 1, then leaves 2 (one prompt) and
// 3 (another). With every block idle, least-recently-used eviction gives up the leaves before
// the root they hang from, and a chain's tail before its head, so what survives is always a
// prefix some prompt can start from (SGLang's radix eviction; vLLM frees a request's blocks
// last first). Released head first, the root would go first and strand both leaves.
TEST_CASE("the prefix cache evicts a chain's tail and a branch's leaves before the blocks they hang from") {
  PrefixCache cache(make_least_recently_used());
  const std::vector<std::uint64_t> left_ids = {1, 2}, right_ids = {1, 3};
  const PrefixChain left{-1, &left_ids, 1}, right{-1, &right_ids, 1};
  CHECK(cache.insert(left, 0, 2) == 2);  // both blocks new, referenced once
  CHECK(cache.acquire(right, 2) == 1);   // the shared root found
  CHECK(cache.insert(right, 1, 2) == 2);
  cache.release(left, 2);
  cache.release(right, 2);
  std::vector<std::uint64_t> dropped;
  CHECK(cache.evict(2, &dropped) == 2);
  CHECK(dropped == std::vector<std::uint64_t>{left.key(1), right.key(1)});
  CHECK(cache.cached(left, 2) == 1);
  CHECK(cache.cached(right, 2) == 1);
  // One chain of four: the tail goes first, and the head stays findable to the end.
  const std::vector<std::uint64_t> chain_ids = {7, 8, 9, 10};
  const PrefixChain chain{-1, &chain_ids, 1};
  CHECK(cache.insert(chain, 0, 4) == 4);
  cache.release(chain, 4);
  CHECK(cache.evict(1 + 2) == 3);  // the root left over from above, then the tail's two
  CHECK(cache.cached(chain, 4) == 2);
}
