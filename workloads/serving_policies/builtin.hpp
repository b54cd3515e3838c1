#pragma once
// The built-in serving policies' factories, one per file in this folder; registered by
// name in builtin.cpp.
#include <memory>

#include "workloads/serving_policy.hpp"

namespace foresight {

std::unique_ptr<BatchScheduler> make_static_scheduler();
std::unique_ptr<BatchScheduler> make_vllm_scheduler();
std::unique_ptr<BatchScheduler> make_sarathi_scheduler();
std::unique_ptr<BatchScheduler> make_adaptive_scheduler();

std::unique_ptr<AdmissionOrder> make_first_come_first_served();
std::unique_ptr<AdmissionOrder> make_longest_prefix_match();
std::unique_ptr<AdmissionOrder> make_shortest_prompt_first();

std::unique_ptr<PreemptionPolicy> make_newest_preempted(bool swaps);

std::unique_ptr<EvictionOrder> make_least_recently_used();
std::unique_ptr<EvictionOrder> make_least_frequently_used();

std::unique_ptr<RequestRouter> make_round_robin_router();
std::unique_ptr<RequestRouter> make_least_outstanding_router();
std::unique_ptr<RequestRouter> make_kv_aware_router();
std::unique_ptr<RequestRouter> make_prefix_aware_router();

}  // namespace foresight
