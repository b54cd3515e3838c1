#include "workloads/serving_policies/builtin.hpp"

namespace foresight {

void register_builtin_serving_policies(ServingPolicyRegistry& registry) {
  auto& schedulers = registry.schedulers;
  schedulers.add("static", "a batch of prompts is prefilled together and decodes until its last sequence ends, FasterTransformer", make_static_scheduler);
  schedulers.add("vllm", "continuous batching, prefills first in iterations of their own, vLLM V0", make_vllm_scheduler);
  schedulers.add("sarathi", "chunked prefill under a token budget, decodes first, Sarathi-Serve and vLLM V1", make_sarathi_scheduler);
  schedulers.add("adaptive", "chunked prefill whose chunks shrink as a prompt's context grows, each iteration's prefill within what a "
                 "whole-budget chunk at a prompt's start takes, Medha", make_adaptive_scheduler);

  auto& admissions = registry.admissions;
  admissions.add("fcfs", "first come, first served", make_first_come_first_served);
  admissions.add("lpm", "the request with the longest cached prefix first, SGLang", make_longest_prefix_match);
  admissions.add("shortest_prompt", "the request with the fewest tokens to prefill first, length-aware", make_shortest_prompt_first);

  auto& preemptions = registry.preemptions;
  preemptions.add("recompute", "the latest admitted sequence frees its blocks and is prefilled again later, vLLM",
                  [] { return make_newest_preempted(false); });
  preemptions.add("swap", "the latest admitted sequence's blocks are copied to host memory and back, or recomputed when host memory is full",
                  [] { return make_newest_preempted(true); });

  auto& evictions = registry.evictions;
  evictions.add("lru", "the block idle longest first, vLLM and SGLang", make_least_recently_used);
  evictions.add("lfu", "the block used by the fewest sequences since it was cached first, the longest idle among equals, SGLang's",
                make_least_frequently_used);

  auto& routers = registry.routers;
  routers.add("round_robin", "each replica in turn", make_round_robin_router);
  routers.add("least_outstanding", "the replica with the fewest waiting and running requests", make_least_outstanding_router);
  routers.add("kv_aware", "the smallest share of KV cache in use or claimed by waiting prompts", make_kv_aware_router);
  routers.add("prefix_aware", "a prefix group's requests to one replica while it is not much busier than the least busy",
              make_prefix_aware_router);
}

}  // namespace foresight
