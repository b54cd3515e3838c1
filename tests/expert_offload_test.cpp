// Offloaded MoE experts against closed forms: the experts' pick probabilities, the hit rate
// of a pinned placement and of a cache under independent routing (where LRU does no better
// than the cache's share, as SpecMD and h39s/mlsys measured LRU near random eviction), the
// copies' time when nothing hides them, a prefetch that hides all but the first layer's, the
// CPU's time per missed expert, and the memory the offloaded experts give to the KV cache.
#include <doctest/doctest.h>

#include <cmath>
#include <numeric>

#include "serving_support.hpp"
#include "test_support.hpp"
#include "workloads/expert_offload.hpp"

using namespace foresight;

namespace {
const ModelArch& mixtral() { return *find_builtin_model("mixtral_8x7b"); }

ExpertTransfer transfer() {
  ExpertTransfer t;
  t.expert_bytes = 100e6;
  t.host_bandwidth = 25e9;  // 4 ms an expert
  t.expert_flops_per_row = 2 * 176e6;
  t.activation_bytes_per_row = 8192;
  return t;
}

// Mean time beyond all experts resident, per iteration of `tokens`, over `n` iterations.
double mean_extra(ExpertOffload& o, std::int64_t tokens, const ExpertLayerCosts& costs, int n) {
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += static_cast<double>(o.iteration(tokens, costs));
  return sum / n;
}

double hit_rate(const ExpertOffload& o) { return o.stats().hits / o.stats().reached; }
}  // namespace

TEST_CASE("expert pick probabilities: k / E each without skew, Zipf's shares capped at one token's every pick") {
  const std::vector<double> even = expert_pick_probabilities(8, 2, 0);
  for (const double p : even) CHECK(p == doctest::Approx(0.25));
  // s = 1 over 8 experts: 2 / (i H_8), the first 0.736.
  const std::vector<double> zipf = expert_pick_probabilities(8, 2, 1);
  CHECK(zipf[0] == doctest::Approx(2 / 2.717857));
  CHECK(std::accumulate(zipf.begin(), zipf.end(), 0.0) == doctest::Approx(2));
  // s = 3: the first would be picked 1.66 times a token; it is capped at 1 and the other
  // seven share the second pick in proportion to 1 / i^3.
  const std::vector<double> steep = expert_pick_probabilities(8, 2, 3);
  CHECK(steep[0] == 1);
  double rest = 0;
  for (int i = 2; i <= 8; ++i) rest += std::pow(i, -3.0);
  CHECK(steep[1] == doctest::Approx(std::pow(2, -3.0) / rest));
  CHECK(std::accumulate(steep.begin(), steep.end(), 0.0) == doctest::Approx(2));
}

TEST_CASE("hit rates: a pinned placement keeps the popular experts' share, a cache under independent routing its own share") {
  ExpertOffloadConfig c;
  c.enabled = true;
  c.gpu_experts = 4;
  c.popularity = 1;
  c.policy = "static";
  ExpertOffload pinned(mixtral(), c, transfer(), 1);
  mean_extra(pinned, 1, {}, 4000);
  // One token: hits are the top four's picks, (1 + 1/2 + 1/3 + 1/4) / H_8 of them.
  CHECK(hit_rate(pinned) == doctest::Approx((1 + 0.5 + 1 / 3.0 + 0.25) / 2.717857).epsilon(0.01));
  c.popularity = 0;
  c.policy = "lru";
  ExpertOffload lru(mixtral(), c, transfer(), 2);
  mean_extra(lru, 1, {}, 4000);
  CHECK(hit_rate(lru) == doctest::Approx(0.5).epsilon(0.02));
  // A batch of 64 tokens reaches all 8 experts in every layer: half of them are misses.
  ExpertOffload batch(mixtral(), c, transfer(), 3);
  mean_extra(batch, 64, {}, 200);
  CHECK(batch.stats().reached == doctest::Approx(200.0 * 32 * 8));
  CHECK(hit_rate(batch) == doctest::Approx(0.5));
}

TEST_CASE("fetching: with nothing to hide them, a token's misses cost their copies, one layer after another") {
  ExpertOffloadConfig c;
  c.enabled = true;
  c.gpu_experts = 2;
  c.policy = "static";
  ExpertOffload o(mixtral(), c, transfer(), 4);
  // k (1 - C / E) = 1.5 misses a layer, 4 ms each, over 32 layers: 192 ms a token.
  const double extra = mean_extra(o, 1, {}, 3000);
  CHECK(extra == doctest::Approx(32 * 1.5 * 4e9).epsilon(0.03));
  CHECK(o.stats().fetched_bytes == doctest::Approx(o.stats().fetched * 100e6));
}

TEST_CASE("expert parallelism: each GPU fetches its own experts' misses, and a layer waits for the GPU with the most") {
  // Nothing resident, one token: each of Mixtral's 8 experts is reached with probability
  // 1/4, on its own (expert 0 when none is). Over TP 2 every GPU fetches its half of every
  // reached expert, N of them: N x 2 ms a layer. Over EP 2 each GPU holds 4 whole experts
  // (e mod 2) and fetches the reached ones, X_0 and X_1 of them: max(X_0, X_1) x 4 ms a layer.
  ExpertOffloadConfig c;
  c.enabled = true;
  c.gpu_experts = 0;
  ExpertTransfer slice = transfer();
  slice.expert_bytes /= 2;
  ExpertOffload tp(mixtral(), c, slice, 4, 1), ep(mixtral(), c, transfer(), 4, 2);
  const auto binomial = [](int n, int k) { return std::tgamma(n + 1) / std::tgamma(k + 1) / std::tgamma(n - k + 1) * std::pow(0.25, k) * std::pow(0.75, n - k); };
  const double none = std::pow(0.75, 8);  // then expert 0: one expert
  double most = 0;
  for (int x0 = 0; x0 <= 4; ++x0) {
    for (int x1 = 0; x1 <= 4; ++x1) most += binomial(4, x0) * binomial(4, x1) * std::max(x0, x1);
  }
  const double tp_expected = 32 * (2 + none) * 2e9, ep_expected = 32 * (most + none) * 4e9;
  const double tp_extra = mean_extra(tp, 1, {}, 3000), ep_extra = mean_extra(ep, 1, {}, 3000);
  MESSAGE("a token's copies: TP 2 " << tp_extra / 1e9 << " ms (closed form " << tp_expected / 1e9 << "), EP 2 " << ep_extra / 1e9
                                    << " ms (" << ep_expected / 1e9 << ")");
  CHECK(tp_extra == doctest::Approx(tp_expected).epsilon(0.03));
  CHECK(ep_extra == doctest::Approx(ep_expected).epsilon(0.03));
  // The same bytes cross the links either way; each EP GPU carries half of them.
  CHECK(ep.stats().fetched_bytes == doctest::Approx(ep.stats().fetched * 100e6 / 2));
  // When every expert is reached each EP GPU fetches as much as each TP GPU: the same time.
  ExpertOffload tp_all(mixtral(), c, slice, 5, 1), ep_all(mixtral(), c, transfer(), 5, 2);
  CHECK(mean_extra(ep_all, 4096, {}, 10) == doctest::Approx(mean_extra(tp_all, 4096, {}, 10)).epsilon(1e-9));
}

TEST_CASE("prefetching: a layer long enough to hide the next layer's copies leaves only the first layer's") {
  ExpertOffloadConfig c;
  c.enabled = true;
  c.gpu_experts = 2;
  c.policy = "static";
  c.prefetch = 1;
  ExpertOffload o(mixtral(), c, transfer(), 5);
  // 40 ms before each layer's experts covers even eight 4 ms copies; the first layer's 1.5
  // misses are not guessed.
  const double extra = mean_extra(o, 1, {from_seconds(40e-3), 0}, 3000);
  CHECK(extra == doctest::Approx(1.5 * 4e9).epsilon(0.05));
  // Every miss is copied once, as a guess, and the first layer's on demand.
  CHECK(o.stats().fetched / 3000 == doctest::Approx(32 * 1.5).epsilon(0.03));
  // Half the guesses right: the wrong half is copied as well, and the rest of each layer's
  // misses wait for the copies behind them.
  c.prefetch = 0.5;
  ExpertOffload half(mixtral(), c, transfer(), 6);
  mean_extra(half, 1, {from_seconds(40e-3), 0}, 3000);
  CHECK(half.stats().fetched / 3000 == doctest::Approx(31 * 1.5 * 1.5 + 1.5).epsilon(0.05));
}

TEST_CASE("CPU experts: each miss streams its weights from host memory, or runs its rows' matmuls, whichever is longer") {
  ExpertOffloadConfig c;
  c.enabled = true;
  c.gpu_experts = 0;
  c.miss = "cpu";
  c.cpu_bandwidth = 100e9;  // 1 ms an expert
  c.cpu_flops = 1e12;       // 0.352 ms a row
  ExpertOffload o(mixtral(), c, transfer(), 7);
  // One token: two experts a layer, each 1 ms of streaming plus its hidden state there and back.
  const double per_expert = 1e-3 + 2 * 8192 / 25e9;
  const double extra = mean_extra(o, 1, {}, 2000);
  CHECK(extra == doctest::Approx(32 * 2.1 * per_expert * 1e12).epsilon(0.03));  // 2 + 0.75^8 reached a layer
  CHECK(o.stats().fetched == 0);
  // 64 tokens reach all 8 experts, 16 rows each: 5.6 ms of matmuls an expert.
  ExpertOffload batch(mixtral(), c, transfer(), 8);
  const double rows = 64 * 2 / 8.0;
  CHECK(mean_extra(batch, 64, {}, 50) == doctest::Approx(32 * 8 * (rows * 2 * 176e6 / 1e12 + rows * 2 * 8192 / 25e9) * 1e12).epsilon(1e-6));
}

TEST_CASE("offloaded experts free GPU memory for the KV cache; a fetched layer's worth waits on the GPU") {
  testing::ServingBench b;
  b.model = mixtral();
  b.config.tp = 2;
  const IterationCostModel resident(b.model, b.gpu, b.fabric, b.config, b.roofline);
  b.config.expert_offload.enabled = true;
  b.config.expert_offload.gpu_experts = 2;
  const IterationCostModel offloaded(b.model, b.gpu, b.fabric, b.config, b.roofline);
  const double experts = count_parameters(b.model).per_layer_experts * 32 * 2 / 2;  // bf16 over two GPUs
  CHECK(offloaded.weight_bytes() == doctest::Approx(resident.weight_bytes() - experts * 6 / 8 + experts * 6 / 8 / 32));
  CHECK(offloaded.kv_blocks() > resident.kv_blocks());
  CHECK(offloaded.expert_transfer().expert_bytes == doctest::Approx(experts / 32 / 8));
  // The link: the GPU's measured host copy rate unless the scenario gives one.
  CHECK(offloaded.host_bandwidth() == b.gpu.host_copy_bandwidth);
}

TEST_CASE("serving with offloaded experts: slower decode, a pinned placement of skewed experts beats a cache, same seed same run") {
  testing::ServingBench b;
  b.model = mixtral();
  b.config.tp = 2;
  b.config.traffic.requests = 12;
  b.config.traffic.rate = 0.5;  // mostly one sequence decoding: few experts reached per layer
  b.config.traffic.prompt = {64, 64};
  b.config.traffic.output = {128, 128};
  const auto run = [&] {
    IterationCostModel cost(b.model, b.gpu, b.fabric, b.config, b.roofline);
    return simulate_serving(b.config, make_requests(b.config.traffic, 3), cost);
  };
  const ServingResult resident = run();
  CHECK_FALSE(resident.expert_offload);
  b.config.expert_offload.enabled = true;
  b.config.expert_offload.gpu_experts = 4;
  b.config.expert_offload.popularity = 1.2;
  const ServingResult lru = run();
  REQUIRE(lru.expert_offload);
  CHECK(lru.tpot.mean > resident.tpot.mean * 1.5);
  CHECK(lru.expert_offload->waiting > 0);
  b.config.expert_offload.policy = "static";
  const ServingResult pinned = run();
  CHECK(pinned.expert_offload->hits / pinned.expert_offload->reached > lru.expert_offload->hits / lru.expert_offload->reached);
  CHECK(pinned.tpot.mean < lru.tpot.mean);
  const ServingResult again = run();
  CHECK(again.makespan == pinned.makespan);
  CHECK(again.expert_offload->fetched == pinned.expert_offload->fetched);
}
