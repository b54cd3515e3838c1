#pragma once
// The requests a serving simulation replays: synthetic arrivals and lengths drawn from
// the scenario's seed, or rows of a trace file.
#include <cstdint>
#include <vector>

#include "sim/engine/time.hpp"
#include "workloads/serving_config.hpp"

namespace foresight {

struct Request {
  Time arrival = 0;
  std::int32_t prompt_tokens = 0;
  std::int32_t output_tokens = 0;  // generated tokens, the first (from the prefill) included
  std::int32_t prefix_group = -1;  // requests of one group share their first prefix_tokens; -1: none
  std::int32_t prefix_tokens = 0;
  std::int32_t adapter = -1;       // the LoRA adapter it runs with; -1: the base model
  // The prompt's contents as a trace gives them (Mooncake's hash_ids): one id per
  // hash_block_tokens tokens, equal ids for equal contents including everything before
  // them. Requests that share a leading run of ids share those blocks' KV cache, so
  // prefixes may branch (a system prompt, then different few-shot examples or turns).
  // With them, prefix_tokens is the tokens they cover and prefix_group the first id.
  std::vector<std::uint64_t> block_hashes;
};

// Sorted by arrival. Throws InputError naming the trace file, line and column for a bad
// trace, and for traffic that yields no request.
std::vector<Request> make_requests(const TrafficConfig& traffic, std::uint64_t seed);

}  // namespace foresight
