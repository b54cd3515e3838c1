// Serving policies as plug-ins (workloads/serving_policy.hpp): every built-in is registered
// by name, scenarios may name only registered ones, a policy registered beside them runs
// without a change to the replica loop, and length-aware admission reorders a queue.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "serving_support.hpp"
#include "test_support.hpp"

using namespace foresight;
using foresight::testing::run_cli;

namespace {
// One replica serving one request at a time, each answered by its prefill's token, so that
// a request's time to first token is the sum of the prefills admitted before it and its own.
struct OneAtATime : foresight::testing::ServingBench {
  OneAtATime() { config.max_num_seqs = 1; }
  // Two long prompts, then a short one, all arriving at once, each answered in one token.
  static std::vector<Request> requests() {
    std::vector<Request> out(3);
    for (Request& r : out) r.output_tokens = 1;
    out[0].prompt_tokens = out[1].prompt_tokens = 4096;
    out[2].prompt_tokens = 128;
    return out;
  }
  ServingResult run(const ServingPolicyRegistry& policies = builtin_serving_policies()) {
    IterationCostModel cost(model, gpu, fabric, config, roofline);
    return simulate_serving(config, requests(), cost, false, {}, policies);
  }
};

// Longest prompt first: the opposite of the built-in length-aware order, as a user would
// add it, in a registry of its own.
class LongestPromptFirst final : public AdmissionOrder {
 public:
  std::optional<std::size_t> pick(const WaitingQueue& waiting) const override {
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      if (waiting.admissible(i) && (!best || waiting.demand(i) > waiting.demand(*best))) best = i;
    }
    return best;
  }
};

// Every request to the last replica.
class LastReplica final : public RequestRouter {
 public:
  std::size_t route(const Request&, std::span<const RouteTarget* const> pool) override { return pool.size() - 1; }
};

std::vector<Time> first_tokens(const ServingResult& r) {
  std::vector<Time> out;
  for (const RequestRecord& q : r.records) out.push_back(q.first_token);
  return out;
}
}  // namespace

TEST_CASE("every built-in serving policy is registered by name, in the order the documentation lists them") {
  const ServingPolicyRegistry& p = builtin_serving_policies();
  CHECK(p.schedulers.names() == std::vector<std::string>{"static", "vllm", "sarathi", "adaptive"});
  CHECK(p.admissions.names() == std::vector<std::string>{"fcfs", "lpm", "shortest_prompt"});
  CHECK(p.preemptions.names() == std::vector<std::string>{"recompute", "swap"});
  CHECK(p.evictions.names() == std::vector<std::string>{"lru", "lfu"});
  CHECK(p.routers.names() == std::vector<std::string>{"round_robin", "least_outstanding", "kv_aware", "prefix_aware"});
  CHECK(p.preemptions.make("swap")->swaps());
  CHECK_FALSE(p.preemptions.make("recompute")->swaps());
  CHECK_THROWS_AS(p.schedulers.make("orca"), std::invalid_argument);
  CHECK(p.admissions.described().find("shortest_prompt (") != std::string::npos);
}

TEST_CASE("a scenario names only registered policies: a misspelt one is exit 2 with the names it could have meant") {
  const std::string scenario = foresight::testing::source_path("scenarios/llama3_70b_serving_azure_conv.json");
  const auto r = run_cli({"validate", scenario, "--set", "serving.schedule_policy=shortest_promt"});
  CHECK(r.status == 2);
  CHECK(r.err.find("serving.schedule_policy") != std::string::npos);
  CHECK(r.err.find("shortest_prompt") != std::string::npos);
  const auto listed = run_cli({"list", "serving-policies"});
  CHECK(listed.status == 0);
  CHECK(listed.out.find("serving.router\n  round_robin") != std::string::npos);
}

TEST_CASE("length-aware admission: a short prompt waiting behind a long one goes first, and the work is the same") {
  // First come, first served: the first tokens come at t0, t0 + a, t0 + a + b, where a is
  // a 4,096-token prefill's iteration and b a 128-token one's. Shortest prompt first admits
  // the short prompt once the first long one is done: t0 + b for it, t0 + b + a for the
  // second long one.
  OneAtATime bench;
  const std::vector<Time> fcfs = first_tokens(bench.run());
  bench.config.engine.admission = "shortest_prompt";
  const std::vector<Time> shortest = first_tokens(bench.run());
  const Time t0 = fcfs[0], a = fcfs[1] - fcfs[0], b = fcfs[2] - fcfs[1];
  CHECK(a > 10 * b);
  CHECK(shortest[0] == t0);
  CHECK(shortest[2] == t0 + b);
  CHECK(shortest[1] == t0 + b + a);  // the same makespan: no work is added or lost
  const auto mean_ms = [](const std::vector<Time>& t) { return to_seconds(t[0] + t[1] + t[2]) / 3 * 1e3; };
  MESSAGE("mean time to first token: fcfs " << mean_ms(fcfs) << " ms, shortest_prompt " << mean_ms(shortest) << " ms");
  CHECK(mean_ms(shortest) < mean_ms(fcfs));
}

TEST_CASE("a policy registered beside the built-ins runs without a change to the replica loop") {
  ServingPolicyRegistry registry = builtin_serving_policies();
  registry.admissions.add("longest_prompt", "the longest prompt first", [] { return std::make_unique<LongestPromptFirst>(); });
  registry.routers.add("last_replica", "every request to the last replica", [] { return std::make_unique<LastReplica>(); });

  OneAtATime bench;
  bench.config.engine.admission = "shortest_prompt";
  const std::vector<Time> shortest = first_tokens(bench.run(registry));
  bench.config.engine.admission = "longest_prompt";
  const std::vector<Time> longest = first_tokens(bench.run(registry));
  CHECK(shortest[2] < shortest[1]);  // the short prompt before the second long one
  CHECK(longest[2] > longest[1]);    // and after it

  bench.config.replicas = 3;
  bench.config.router = "last_replica";
  const ServingResult routed = bench.run(registry);
  CHECK(std::all_of(routed.records.begin(), routed.records.end(), [](const RequestRecord& q) { return q.replica == 2; }));
}
