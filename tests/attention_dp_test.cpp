// Data-parallel attention with expert-parallel MoE layers (SGLang's enable_dp_attention,
// TensorRT-LLM's enable_attention_dp) against what it changes by construction: each GPU keeps
// every KV head of its own sequences (no replication when KV heads < GPUs), holds attention
// and the head whole and an eighth of the experts, and runs its share of the tokens without
// TP all-reduces, exchanging them with the experts' GPUs by all-to-all.
#include <doctest/doctest.h>

#include <algorithm>

#include "serving_support.hpp"
#include "sim/runner/scenario.hpp"
#include "test_support.hpp"

using namespace foresight;

namespace {
struct Bench : testing::ServingBench {
  Bench() {
    model = *find_builtin_model("qwen3_235b_a22b");  // 4 KV heads
    gpu = *find_builtin_gpu("h200_sxm");
    config.tp = 8;
    config.dtype = Dtype::kFp8;
    config.expert_parallel = true;
  }
};
}  // namespace

TEST_CASE("data-parallel attention: whole KV heads per GPU, attention and head replicated, experts spread") {
  Bench b;
  const IterationCostModel tp(b.model, b.gpu, b.fabric, b.config, b.roofline);
  b.config.attention_dp = true;
  const IterationCostModel dp(b.model, b.gpu, b.fabric, b.config, b.roofline);
  // TP 8 over 4 KV heads keeps each head on two GPUs: 94 x 2 x 128 bf16 elements a token on
  // each, for every sequence. Data-parallel, a GPU keeps its own sequences' 4 heads, an
  // eighth of the sequences each on average.
  CHECK(tp.kv_bytes_per_token() == doctest::Approx(94.0 * 2 * 128 * 2));
  CHECK(dp.kv_bytes_per_token() == doctest::Approx(94.0 * 2 * 4 * 128 * 2 / 8));
  // Everything but the experts is whole on every GPU.
  const double experts = tp.expert_transfer().expert_bytes * 16 * 94;  // a GPU's 16 whole experts a layer, fp8
  CHECK(dp.weight_bytes() == doctest::Approx(tp.weight_bytes() * 8 - experts * 7));
  CHECK(dp.expert_transfer().expert_bytes == doctest::Approx(tp.expert_transfer().expert_bytes));
}

TEST_CASE("data-parallel attention: a GPU's kernels are its share of the tokens, no TP all-reduce, all-to-alls to the experts") {
  Bench b;
  b.config.attention_dp = true;
  IterationCostModel dp(b.model, b.gpu, b.fabric, b.config, b.roofline);
  BatchShape decode;
  decode.tokens = decode.decodes = decode.outputs = decode.sequences = 256;
  decode.decode_context = 256 * 1024;
  // 256 decodes over 8 GPUs: each runs 32 of them with all 64 query heads.
  b.config.attention_dp = false;
  b.config.tp = 1;
  b.config.expert_parallel = false;
  IterationCostModel one(b.model, b.gpu, b.fabric, b.config, b.roofline);
  BatchShape share = decode;
  share.tokens = share.decodes = share.outputs = share.sequences = 32;
  share.decode_context = 32 * 1024;
  // The same attention work as one GPU running 32 of the decodes; the MoE layers differ
  // (an eighth of the experts, with every GPU's rows, and the all-to-alls).
  const Time dp_time = dp.device_time(decode);
  const Time alone = one.device_time(share);
  CHECK(dp_time > 0);
  CHECK(dp_time < alone);  // a GPU reads an eighth of the experts' weights
}

TEST_CASE("data-parallel attention: limits are each GPU's; refused without experts to spread") {
  const std::string scenario = testing::source_path("scenarios/validation/trtllm_perf_overview_moe/qwen3_235b_a22b_h200_tp8_1000_1000.json");
  const Scenario s = load_scenario(scenario, {});
  CHECK(s.serving.attention_dp);
  CHECK(s.serving.expert_parallel);
  const Scenario tp = load_scenario(scenario, {"serving.enable_attention_dp=false"});
  CHECK(s.serving.max_num_seqs == 8 * tp.serving.max_num_seqs);
  CHECK(s.serving.max_batched_tokens == 8 * tp.serving.max_batched_tokens);
  const auto dense = testing::run_cli({"run", scenario, "--set", "model=llama3_70b"});
  CHECK(dense.status == 2);
  CHECK(dense.err.find("attention_dp") != std::string::npos);
}

TEST_CASE("experts spread over GPUs: the busiest GPU's load sets the MoE layers' pace; a TP slice of every expert has none") {
  Bench b;
  b.config.attention_dp = true;
  IterationCostModel even(b.model, b.gpu, b.fabric, b.config, b.roofline);
  b.config.expert_load = 1.5;
  IterationCostModel skewed(b.model, b.gpu, b.fabric, b.config, b.roofline);
  BatchShape prefill;
  prefill.tokens = prefill.sequences = 8 * 2048;
  CHECK(skewed.device_time(prefill) > even.device_time(prefill));
  const std::string scenario = testing::source_path("scenarios/validation/trtllm_perf_overview_moe/qwen3_235b_a22b_h200_tp8_1000_1000.json");
  const auto sliced = testing::run_cli({"run", scenario, "--set", "serving.enable_attention_dp=false", "--set", "serving.expert_load=1.5"});
  CHECK(sliced.status == 2);
  CHECK(sliced.err.find("serving.expert_load") != std::string::npos);
}

namespace {
// 256 sequences decoding over 1,024 cached tokens each, and optionally one 4,096-token prompt
// chunk; with `ranks`, each rank's share: 32 decodes, the chunk on rank 0.
BatchShape decodes_and_chunk(IterationCostModel& cost, bool chunk, bool ranks) {
  BatchShape shape;
  shape.tokens = shape.decodes = shape.outputs = shape.sequences = 256;
  shape.decode_context = shape.decode_window_context = 256 * 1024;
  if (ranks) shape.ranks.assign(8, RankLoad{32, 32, 32 * 1024, 32 * 1024, 0});
  if (!chunk) return shape;
  const Time attention = cost.prefill_attention(4096, 0);
  shape.tokens += 4096;
  shape.sequences += 1;
  shape.prefill_attention += attention;
  if (ranks) {
    shape.ranks[0].tokens += 4096;
    shape.ranks[0].prefill_attention += attention;
  }
  return shape;
}
}  // namespace

TEST_CASE("data-parallel attention: each layer runs at the pace of its busiest rank") {
  Bench b;
  b.config.attention_dp = true;
  IterationCostModel dp(b.model, b.gpu, b.fabric, b.config, b.roofline);
  // Evenly loaded ranks cost what the batch spread evenly costs.
  const Time spread = dp.device_time(decodes_and_chunk(dp, false, false));
  CHECK(static_cast<double>(dp.device_time(decodes_and_chunk(dp, false, true))) == doctest::Approx(static_cast<double>(spread)).epsilon(0.002));
  // A prompt chunk on one rank: the others' decodes wait for it at every MoE layer. Spread,
  // it would add an eighth of its attention and token-wise work to each rank.
  const Time spread_chunk = dp.device_time(decodes_and_chunk(dp, true, false));
  const Time one_rank = dp.device_time(decodes_and_chunk(dp, true, true));
  MESSAGE("256 decodes: " << to_seconds(spread) * 1e3 << " ms; with a 4,096-token chunk spread over the ranks "
                          << to_seconds(spread_chunk) * 1e3 << " ms, on one rank " << to_seconds(one_rank) * 1e3 << " ms");
  CHECK(one_rank > spread_chunk);
  // What the chunk adds on one rank is at least its attention over every layer, against an
  // eighth of it spread.
  CHECK(one_rank - spread >= b.model.layers * dp.prefill_attention(4096, 0));
}

TEST_CASE("data-parallel attention: one sequence's prefill chunk is at most its rank's share of the budget") {
  Bench b;
  b.config.attention_dp = true;
  b.config.scheduler = "sarathi";
  b.config.chunk_size = b.config.max_batched_tokens = 8 * 2048;  // 2,048 tokens a rank
  b.config.traffic.requests = 1;
  b.config.traffic.prompt = {10000, 10000};
  b.config.traffic.output = {4, 4};
  IterationCostModel cost(b.model, b.gpu, b.fabric, b.config, b.roofline);
  const ServingResult r = simulate_serving(b.config, make_requests(b.config.traffic, 1), cost, true);
  std::int64_t most = 0, prefilled = 0;
  for (const IterationRecord& it : r.iteration_log) {
    most = std::max<std::int64_t>(most, it.prefill_tokens);
    prefilled += it.prefill_tokens;
  }
  CHECK(most == 2048);
  CHECK(prefilled == 10000);
}
