// Serving: the schedulers' batches, the KV cache and preemption, routing, determinism.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "models/transformer_ops.hpp"
#include "serving_support.hpp"
#include "test_support.hpp"
#include "topologies/collective_algorithms.hpp"

using namespace foresight;

namespace {
struct Fixture : foresight::testing::ServingBench {
  Fixture() {
    config.traffic.requests = 400;
    config.traffic.rate = 20;
    config.traffic.prompt = {256, 2048};
    config.traffic.output = {16, 256};
  }
  ServingResult run() {
    IterationCostModel cost(model, gpu, fabric, config, roofline);
    return simulate_serving(config, make_requests(config.traffic, 7), cost);
  }
};
}  // namespace

TEST_CASE("every request finishes, with its tokens in order: arrival <= scheduled <= first token <= finish") {
  for (const char* scheduler : {"static", "vllm", "sarathi"}) {
    CAPTURE(scheduler);
    Fixture f;
    f.config.scheduler = scheduler;
    const ServingResult r = f.run();
    CHECK(r.requests == 400);
    for (const RequestRecord& q : r.records) {
      CHECK(q.arrival <= q.scheduled);
      CHECK(q.scheduled < q.first_token);
      CHECK(q.first_token <= q.finish);
    }
    CHECK(r.ttft.p50 <= r.ttft.p99);
    CHECK(r.e2e.mean >= r.ttft.mean);
  }
}

TEST_CASE("the same seed gives the same run, another seed another") {
  Fixture f;
  const ServingResult a = f.run();
  const ServingResult b = f.run();
  CHECK(a.makespan == b.makespan);
  CHECK(a.iterations == b.iterations);
  f.config.traffic.requests = 401;
  CHECK(f.run().makespan != a.makespan);
}

TEST_CASE("chunked prefill lowers the tail of time between tokens, continuous batching lowers TTFT") {
  // Sarathi-Serve's point (Agrawal et al. OSDI'24): a prefill batch stalls every running
  // decode under vLLM's prefill-first policy; chunks under a token budget do not. The
  // price is a longer time to first token.
  Fixture f;
  f.config.traffic.requests = 1000;
  f.config.traffic.rate = 15;
  f.config.traffic.prompt = {1024, 4096};
  f.config.scheduler = "vllm";
  const ServingResult vllm = f.run();
  f.config.scheduler = "sarathi";
  f.config.chunk_size = 512;
  const ServingResult sarathi = f.run();
  MESSAGE("p99 ITL: vllm " << vllm.itl.p99 * 1e3 << " ms, sarathi " << sarathi.itl.p99 * 1e3 << " ms; mean TTFT: vllm "
                           << vllm.ttft.mean * 1e3 << " ms, sarathi " << sarathi.ttft.mean * 1e3 << " ms");
  CHECK(sarathi.itl.p99 < 0.5 * vllm.itl.p99);
  CHECK(sarathi.ttft.mean > vllm.ttft.mean);
}

TEST_CASE("a small KV cache preempts the latest sequence and recomputes it; all requests still finish") {
  Fixture f;
  f.config.gpu_memory_utilization = 0.25;  // 20 GB: 16 GB of weights, a sliver of cache
  f.config.traffic.requests = 300;
  f.config.traffic.rate = 50;
  f.config.traffic.prompt = {512, 512};
  f.config.traffic.output = {512, 512};
  const ServingResult r = f.run();
  CHECK(r.kv_blocks > 0);
  CHECK(r.kv_blocks < 2000);
  CHECK(r.preemptions > 0);
  CHECK(r.requests == 300);
  CHECK(r.kv_peak_utilization <= 1.0);
  CHECK(r.kv_peak_utilization > 0.9);
  int preempted = 0;
  for (const RequestRecord& q : r.records) preempted += q.preemptions > 0 ? 1 : 0;
  CHECK(preempted > 0);
}

TEST_CASE("the KV cache holds what memory leaves after weights and activations, as each engine sizes it") {
  Fixture f;
  // An "80 GB" H100 has 80 GiB, of which CUDA reports 79.15 GiB as total.
  CHECK(f.gpu.memory_bytes == 80 * kGiB);
  CHECK(f.gpu.usable_memory_bytes() / kGiB == doctest::Approx(79.15));
  IterationCostModel cost(f.model, f.gpu, f.fabric, f.config, f.roofline);
  // Llama-3-8B: 32 layers x 8 KV heads x 128 x (K and V) x 2 bytes = 128 KiB per token.
  CHECK(cost.kv_bytes_per_token() == 32.0 * 8 * 128 * 2 * 2);
  const double usable = f.gpu.usable_memory_bytes();
  const auto blocks = [&](double cache) { return static_cast<std::int64_t>(cache / (cost.kv_bytes_per_token() * 16)); };
  // vLLM: gpu_memory_utilization of the total, less weights, non-torch memory and the profiled activations.
  CHECK(cost.kv_blocks() == blocks(usable * 0.9 - cost.weight_bytes() - cost.non_torch_bytes() - cost.activation_bytes()));
  CHECK(cost.weight_bytes() == doctest::Approx(2 * count_parameters(f.model).total));
  // SGLang: mem_fraction_static of what CUDA and NCCL leave free holds weights and cache.
  f.config.engine.kv_sizing = KvSizing::kStaticFraction;
  f.config.gpu_memory_utilization = 0.88;
  CHECK(IterationCostModel(f.model, f.gpu, f.fabric, f.config, f.roofline).kv_blocks() ==
        blocks((usable - cost.non_torch_bytes()) * 0.88 - cost.weight_bytes()));
  // TensorRT-LLM: kv_cache_free_gpu_mem_fraction of what weights and activations leave.
  f.config.engine.kv_sizing = KvSizing::kFreeFraction;
  f.config.gpu_memory_utilization = 0.9;
  const IterationCostModel trtllm(f.model, f.gpu, f.fabric, f.config, f.roofline);
  CHECK(trtllm.kv_blocks() == blocks((usable - trtllm.weight_bytes() - trtllm.non_torch_bytes() - trtllm.activation_bytes()) * 0.9));
  // Its profile's dummy requests fill max_num_tokens with prompts as long as sequences may
  // be, one logit row each, where vLLM's sampler holds max_num_seqs rows of fp32 logits.
  const std::int64_t max_len = f.config.max_model_len > 0 ? f.config.max_model_len : f.model.max_positions;
  const std::int64_t prompt = std::min(f.config.max_batched_tokens, max_len - 1);
  const std::int64_t dummy_requests = (f.config.max_batched_tokens + prompt - 1) / prompt;
  CAPTURE(dummy_requests);
  CHECK(dummy_requests < f.config.max_num_seqs);
  const double logit_rows = (cost.activation_bytes() - trtllm.activation_bytes()) / (static_cast<double>(f.model.vocab) * 4 * 3);
  CHECK(logit_rows == doctest::Approx(static_cast<double>(f.config.max_num_seqs - dummy_requests)));
}

// SGLang's --max-total-tokens, LightLLM's --max_total_token_num and vLLM's
// num_gpu_blocks_override give the pool's size outright: whole blocks of it, whatever
// gpu_memory_utilization says, and only if the GPU's memory holds it beside the rest.
TEST_CASE("max_total_tokens sizes the KV cache outright, in whole blocks, and must fit beside the weights") {
  Fixture f;
  f.config.gpu_memory_utilization = 0.3;
  f.config.max_total_tokens = 100'007;
  const IterationCostModel sized(f.model, f.gpu, f.fabric, f.config, f.roofline);
  CHECK(sized.kv_blocks() == 100'007 / 16);
  CHECK(sized.kv_room_problem().empty());
  // Llama-3-8B's 128 KiB a token: 600k tokens are 78.6 GB, beside 16 GB of weights on 85 GB.
  f.config.max_total_tokens = 600'000;
  const IterationCostModel too_large(f.model, f.gpu, f.fabric, f.config, f.roofline);
  const std::string problem = too_large.kv_room_problem();
  CAPTURE(problem);
  CHECK(problem.starts_with("max_total_tokens 600000 needs 78.6 GB per GPU beside 16.1 GB of weights"));
  CHECK(problem.find("more than the GPU's 85.0 GB") != std::string::npos);
  // Reserved adapter slots take their room too.
  f.config.max_total_tokens = 440'000;
  CHECK(IterationCostModel(f.model, f.gpu, f.fabric, f.config, f.roofline).kv_room_problem().empty());
  f.config.lora_rank = 64;
  f.config.max_loras = 128;  // 109 MB each
  CHECK_FALSE(IterationCostModel(f.model, f.gpu, f.fabric, f.config, f.roofline).kv_room_problem().empty());
}

// Under data-parallel attention each GPU samples its own sequences and its MoE layer takes
// every rank's tokens, each routed to top-k experts: the profiled peak is one rank's logits
// beside the MoE buffers for all ranks' routed copies (a 1,280-sequence limit per rank once
// reserved eight ranks' logits, 18.7 GB on each GPU for Qwen3-235B). vLLM's fused MoE holds
// two buffers per routed row, one shared by the up- and down-projections' outputs (the
// wider, here the hidden 4,096 over 2 x 1,536) and the activation's, for at most 32,768
// tokens at a time; TensorRT-LLM's keeps all three for every row.
TEST_CASE("with data-parallel attention the profiled activations are one rank's logits and every rank's routed tokens") {
  const ModelArch model = *find_builtin_model("qwen3_235b_a22b");
  const GpuSpec gpu = *find_builtin_gpu("h100_sxm");
  ServingConfig config = engine_defaults("vllm_v1", gpu, model.max_positions);
  config.tp = 8;
  config.max_num_seqs = 256;
  config.max_batched_tokens = 2048;
  config.expert_parallel = true;
  NodeFabric fabric;
  fabric.preset = "nvswitch_node";
  fabric.bandwidth = gpu.scale_up_bandwidth;
  const RooflineModel roofline{RooflineParameters{}};
  const double tp_attention = IterationCostModel(model, gpu, fabric, config, roofline).activation_bytes();
  ServingConfig dp = config;
  dp.attention_dp = true;
  dp.max_num_seqs *= 8;  // as the scenario reader scales each rank's limits to the replica's
  dp.max_batched_tokens *= 8;
  const double dp_attention = IterationCostModel(model, gpu, fabric, dp, roofline).activation_bytes();
  const double logits = 256.0 * static_cast<double>(model.vocab) * 4 * 3;
  const double hidden = static_cast<double>(model.hidden), expert = static_cast<double>(model.ffn_hidden);
  const double routed_row = (std::max(2 * expert, hidden) + expert) * 2;
  const double moe = 2048.0 * 8 * hidden * 2 + 2048.0 * 8 * 8 * routed_row;
  CHECK(dp_attention == doctest::Approx(logits + moe));
  // TP attention: the same logits, and the MoE layer sees the replica's 2,048 tokens.
  CHECK(tp_attention == doctest::Approx(logits + moe / 8));
  // Eight ranks of 8,192 tokens: the gathered input is whole, the buffers hold one chunk.
  ServingConfig wide = dp;
  wide.max_batched_tokens = 8192 * 8;
  const double chunked = IterationCostModel(model, gpu, fabric, wide, roofline).activation_bytes();
  CHECK(chunked == doctest::Approx(logits + 65536.0 * hidden * 2 + 32768.0 * 8 * routed_row));
  // TensorRT-LLM: up-projection, activation and down-projection apart, for every row; its
  // profile samples one logit row per dummy prompt (one prompt of 2,048 tokens a rank).
  ServingConfig trtllm = dp;
  trtllm.engine.kv_sizing = KvSizing::kFreeFraction;
  const double cutlass = IterationCostModel(model, gpu, fabric, trtllm, roofline).activation_bytes();
  CHECK(cutlass == doctest::Approx(static_cast<double>(model.vocab) * 4 * 3 + 16384.0 * hidden * 2 + 16384.0 * 8 * (3 * expert + hidden) * 2));
}

// Latent attention caches one latent of 512 and a rotary key of 64 per token and layer for all
// heads, and every TP rank keeps the whole of it (vLLM's MLA backends): DeepSeek-V3 holds
// 61 x 576 x 2 bytes = 70,272 bytes a token on each GPU at any TP degree, where grouped-query
// attention splits its heads over the ranks. Its decode reads the latent once for all heads.
TEST_CASE("latent attention's cache: one latent per token, whole on every TP rank; its decode reads it once") {
  Fixture f;
  f.model = *find_builtin_model("deepseek_v3");
  f.gpu = *find_builtin_gpu("h200_sxm");
  f.config.dtype = Dtype::kFp8;
  for (const std::int64_t tp : {4, 8}) {
    f.config.tp = tp;
    const IterationCostModel cost(f.model, f.gpu, f.fabric, f.config, f.roofline);
    CHECK(cost.kv_bytes_per_token() == 61.0 * (512 + 64) * 2);
    // FP8 weights: the layers at a byte a parameter, the embedding, the head and the final norm at two.
    const ParameterCount p = count_parameters(f.model);
    const double sixteen_bit = p.embedding + p.lm_head + p.final_norms;
    CHECK(cost.weight_bytes() == doctest::Approx((p.total + sixteen_bit) / static_cast<double>(tp)).epsilon(1e-12));
  }
  const Op decode = latent_decode_attention_op(64, 16, 512, 64, 64 * 4096, Dtype::kBf16, 2);
  CHECK(decode.bytes == doctest::Approx(64.0 * 4096 * 576 * 2 + 64.0 * 16 * (576 + 512) * 2));
  CHECK(decode.flops == doctest::Approx(2.0 * 16 * (576 + 512) * 64 * 4096));
}

// A decode step of one token reads the 2 experts of 8 it picks in each of Mixtral's layers,
// so its iteration reads the attention, the router, the embedding, the head and a quarter of
// the experts' weights; a prefill of 512 tokens reaches all of them.
TEST_CASE("an MoE iteration reads only the experts its tokens reach") {
  Fixture f;
  f.model = *find_builtin_model("mixtral_8x7b");
  for (const bool over_tp : {false, true}) {
    CAPTURE(over_tp);
    f.config.tp = 2;
    f.config.expert_parallel = over_tp;
    const IterationCostModel cost(f.model, f.gpu, f.fabric, f.config, f.roofline);
    const double experts = count_parameters(f.model).per_layer_experts * 32 * 2 / 2;  // bf16, half on each rank
    CHECK(cost.weights_read(512) == doctest::Approx(cost.weight_bytes()));
    // Sliced over TP each rank holds a half of all 8 experts and 2 are read; as whole experts
    // each rank holds 4, of which one token reaches 2 x 4 / 8 = 1.
    const double idle = over_tp ? 3.0 / 4 : 6.0 / 8;
    CHECK(cost.weights_read(1) == doctest::Approx(cost.weight_bytes() - idle * experts));
  }
}

TEST_CASE("least-outstanding and KV-aware routing balance replicas better than round robin under bursts") {
  Fixture f;
  f.config.replicas = 4;
  f.config.traffic.requests = 2000;
  f.config.traffic.rate = 25;
  f.config.traffic.arrival = ArrivalProcess::kGamma;
  f.config.traffic.cv = 4;
  f.config.traffic.prompt = {128, 4096};
  f.config.traffic.output = {8, 512};
  const ServingResult round_robin = f.run();
  f.config.router = "least_outstanding";
  const ServingResult least = f.run();
  f.config.router = "kv_aware";
  const ServingResult kv = f.run();
  MESSAGE("p99 e2e: round robin " << round_robin.e2e.p99 << " s, least outstanding " << least.e2e.p99 << " s, KV-aware "
                                  << kv.e2e.p99 << " s");
  CHECK(least.e2e.p99 < round_robin.e2e.p99);
  CHECK(kv.e2e.p99 < round_robin.e2e.p99);
  std::vector<int> per_replica(4, 0);
  for (const RequestRecord& q : least.records) ++per_replica[static_cast<std::size_t>(q.replica)];
  CHECK(*std::min_element(per_replica.begin(), per_replica.end()) > 0);
}

TEST_CASE("prefix caching skips the prefill of cached shared prefixes; prefix-aware routing keeps them on one replica") {
  Fixture f;
  f.config.replicas = 4;
  f.config.router = "least_outstanding";
  f.config.traffic.requests = 2000;
  f.config.traffic.rate = 40;
  f.config.traffic.prompt = {2048, 2048};
  f.config.traffic.output = {32, 32};
  f.config.traffic.prefix_groups = 8;
  f.config.traffic.prefix_tokens = 1536;
  const ServingResult off = f.run();
  f.config.prefix_caching = true;
  const ServingResult on = f.run();
  f.config.router = "prefix_aware";
  const ServingResult aware = f.run();
  MESSAGE("TTFT mean: off " << off.ttft.mean * 1e3 << " ms, on " << on.ttft.mean * 1e3 << " ms, prefix-aware " << aware.ttft.mean * 1e3
                            << " ms; hit rate on " << on.prefix_hit_rate << ", prefix-aware " << aware.prefix_hit_rate);
  CHECK(off.prefix_hit_rate == 0);
  // Each of 4 replicas prefills each of 8 prefixes about once, so nearly every later
  // request finds its prefix: 1536 of 2048 prompt tokens skipped.
  CHECK(on.prefix_hit_rate > 0.95);
  CHECK(on.ttft.mean < 0.6 * off.ttft.mean);
  CHECK(aware.prefix_hit_rate >= on.prefix_hit_rate);
  CHECK(on.requests == 2000);
}

TEST_CASE("a full cache evicts idle prefixes, least recently used first, and still serves every request") {
  Fixture f;
  f.config.gpu_memory_utilization = 0.25;
  f.config.prefix_caching = true;
  f.config.traffic.requests = 600;
  f.config.traffic.rate = 30;
  f.config.traffic.prompt = {1024, 1024};
  f.config.traffic.output = {64, 64};
  f.config.traffic.prefix_groups = 400;  // more prefixes than the cache holds
  f.config.traffic.prefix_tokens = 512;
  const ServingResult r = f.run();
  CHECK(r.prefix_evictions > 0);
  CHECK(r.prefix_hit_rate > 0);
  CHECK(r.prefix_hit_rate < 0.9);
  CHECK(r.requests == 600);
  CHECK(r.kv_peak_utilization <= 1.0);
}

TEST_CASE("capacity search: a looser SLO or a second replica sustains a higher rate, and the found rate meets the SLO") {
  using foresight::testing::run_cli;
  using foresight::testing::read_json_file;
  const std::string scenario = foresight::testing::source_path("scenarios/llama3_70b_serving_azure_conv.json");
  const auto out = (std::filesystem::temp_directory_path() / "foresight_capacity_test.json").string();
  const auto capacity = [&](const std::string& slo, const std::string& replicas) {
    const auto r = run_cli({"capacity", scenario, "--slo", slo, "--vary", "serving.replicas=" + replicas, "--set",
                            "serving.traffic.requests=600", "--out", out});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return read_json_file(out)["configurations"];
  };
  const auto tight = capacity("ttft_p99=500ms", "1,2");
  const auto loose = capacity("ttft_p99=5s", "1,2");
  const double tight_one = tight[0]["capacity_requests_per_s"], tight_two = tight[1]["capacity_requests_per_s"];
  const double loose_one = loose[0]["capacity_requests_per_s"];
  MESSAGE("capacity, one replica: " << tight_one << " req/s at TTFT p99 500 ms, " << loose_one << " at 5 s; two replicas " << tight_two);
  CHECK(loose_one > tight_one);
  CHECK(tight_two > 1.5 * tight_one);
  CHECK(static_cast<double>(tight[0]["ttft_p99_s"]) <= 0.5);
  std::filesystem::remove(out);
}

TEST_CASE("disaggregation trades time to first token for steadier time between tokens") {
  // Splitwise (Patel et al. ISCA'24) and DistServe (Zhong et al. OSDI'24): decode replicas
  // that never prefill emit tokens at a steady pace; prompts wait for a prefill replica and
  // their KV cache then moves, so the first token comes later at the same GPU count.
  Fixture f;
  f.config.replicas = 2;
  f.config.router = "least_outstanding";
  f.config.traffic.requests = 1500;
  f.config.traffic.rate = 12;
  f.config.traffic.prompt = {1024, 4096};
  f.config.traffic.output = {64, 256};
  const ServingResult together = f.run();
  f.config.prefill_replicas = 1;
  const ServingResult apart = f.run();
  MESSAGE("TTFT mean " << together.ttft.mean * 1e3 << " -> " << apart.ttft.mean * 1e3 << " ms; ITL p99 " << together.itl.p99 * 1e3
                       << " -> " << apart.itl.p99 * 1e3 << " ms; KV transfer " << apart.kv_transfer_mean * 1e3 << " ms");
  CHECK(apart.itl.p99 < 0.5 * together.itl.p99);
  CHECK(apart.ttft.mean > together.ttft.mean);
  CHECK(apart.kv_transfer_mean > 0);
  CHECK(apart.requests == 1500);
  // Every request was decoded on the decode replica (1), prefilled on the prefill one.
  for (const RequestRecord& q : apart.records) CHECK((q.output_tokens == 1 || q.replica == 1));
}

// NVIDIA Dynamo's conditional disaggregation (its disaggregated router, prefill_remote):
// a prompt goes to the prefill pool only when it is longer than max_local_prefill_length
// and fewer than max_prefill_queue_size requests wait there; the decode replica prefills
// the rest itself. Every decision is checked against the rule as the router saw it.
TEST_CASE("conditional disaggregation prefills short prompts, and any while the prefill queue is long, on the decode replica") {
  Fixture f;
  f.config.replicas = 3;
  f.config.prefill_replicas = 1;
  f.config.router = "least_outstanding";
  f.config.traffic.requests = 1500;
  f.config.traffic.rate = 12;
  f.config.traffic.prompt = {256, 4096};
  f.config.traffic.output = {64, 256};
  const ServingResult apart = f.run();

  // A rule that sends everything remotely is plain disaggregation, to the event.
  f.config.conditional_disagg = ServingConfig::ConditionalDisagg{0, 1'000'000'000};
  const ServingResult always = f.run();
  CHECK(always.local_prefills == 0);
  CHECK(always.events == apart.events);
  CHECK(always.ttft.mean == apart.ttft.mean);

  // By length alone: exactly the prompts of at most 1,000 tokens stay on a decode replica,
  // which prefills them with no transfer.
  f.config.conditional_disagg = ServingConfig::ConditionalDisagg{1000, 1'000'000'000};
  const ServingResult by_length = f.run();
  std::int64_t short_prompts = 0;
  for (const Request& r : make_requests(f.config.traffic, 7)) short_prompts += r.prompt_tokens <= 1000 ? 1 : 0;
  CHECK(by_length.local_prefills == short_prompts);
  CHECK(apart.kv_transfers == 1500);
  CHECK(by_length.kv_transfers == 1500 - short_prompts);
  CHECK(short_prompts > 0);
  CHECK(short_prompts < 1500);

  // Dynamo's defaults (1,000 tokens, a queue of 2): long prompts too stay local whenever
  // two requests already wait for the prefill pool, so more stay than by length alone, and
  // their first tokens come sooner than when all queue for the one prefill replica.
  f.config.conditional_disagg = ServingConfig::ConditionalDisagg{};
  const ServingResult dynamo = f.run();
  MESSAGE("prefilled locally: " << by_length.local_prefills << " by length, " << dynamo.local_prefills << " with the queue rule; TTFT mean "
          << apart.ttft.mean * 1e3 << " ms disaggregated, " << dynamo.ttft.mean * 1e3 << " ms conditionally; TPOT mean " << apart.tpot.mean * 1e3
          << " -> " << dynamo.tpot.mean * 1e3 << " ms");
  CHECK(dynamo.local_prefills >= by_length.local_prefills);
  CHECK(dynamo.requests == 1500);
  CHECK(dynamo.ttft.mean < apart.ttft.mean);
  // The decode replicas now run prefills between their decodes.
  CHECK(dynamo.tpot.mean > apart.tpot.mean);
}

// Dynamo discounts what the decode replica's prefix cache already holds: 2,048-token prompts
// of which 1,536 are one of 4 shared prefixes leave 512 to prefill once a decode replica has
// prefilled that prefix, under a 1,000-token rule.
TEST_CASE("conditional disaggregation counts a prompt less what the decode replica's prefix cache holds") {
  Fixture f;
  f.config.replicas = 3;
  f.config.prefill_replicas = 1;
  f.config.traffic.requests = 600;
  f.config.traffic.rate = 10;
  f.config.traffic.prompt = {2048, 2048};
  f.config.traffic.output = {16, 64};
  f.config.traffic.prefix_groups = 4;
  f.config.traffic.prefix_tokens = 1536;
  f.config.conditional_disagg = ServingConfig::ConditionalDisagg{1000, 1'000'000'000};
  const ServingResult uncached = f.run();
  CHECK(uncached.local_prefills == 0);  // prefix caching off: every 2,048-token prompt is long
  f.config.prefix_caching = true;
  const ServingResult cached = f.run();
  // Until a decode replica holds a prefix, its group's prompts go to the prefill pool; the
  // cache sent back fills the decode replica's prefix cache, and from then on the group's
  // prompts there count 512 tokens and stay: all but about one per group and decode replica
  // (2 x 4), and the few that arrive while that first one is still on its way.
  MESSAGE("prefilled on a decode replica with prefix caching: " << cached.local_prefills << " of 600");
  CHECK(cached.local_prefills >= 600 - 2 * 4 - 8);
  CHECK(cached.kv_transfers == 600 - cached.local_prefills);
  CHECK(cached.prefix_hit_rate > 0.9);
}

// Splitwise's mixed pool from the prefill side: a prefill replica keeps decoding what it
// prefilled while every decode replica's KV cache is at least mixed_pool_kv_load full (in
// use or claimed by its queue). At 0 it always keeps: nothing is sent.
TEST_CASE("a mixed pool keeps decodes on the prefill replica while the decode pool is full") {
  Fixture f;
  f.config.replicas = 2;
  f.config.prefill_replicas = 1;
  f.config.traffic.requests = 800;
  f.config.traffic.rate = 20;
  f.config.traffic.prompt = {256, 1024};
  f.config.traffic.output = {64, 256};
  // A decode replica held to 8 sequences at a time falls behind, its queue claiming its cache.
  ServingConfig::DecodePool pool;
  pool.gpu = f.gpu;
  pool.tp = f.config.tp;
  pool.max_num_seqs = 8;
  f.config.decode_pool = pool;
  const ServingResult apart = f.run();
  CHECK(apart.kept_decodes == 0);
  CHECK(apart.kv_transfers == 800);

  f.config.mixed_pool_kv_load = 0.0;
  const ServingResult always = f.run();
  CHECK(always.kept_decodes == 800);
  CHECK(always.kv_transfers == 0);

  f.config.mixed_pool_kv_load = 0.5;
  const ServingResult mixed = f.run();
  MESSAGE("decodes kept on the prefill replica: " << mixed.kept_decodes << " of 800; throughput " << apart.request_throughput << " -> "
          << mixed.request_throughput << " requests/s");
  CHECK(mixed.kept_decodes > 0);
  CHECK(mixed.kept_decodes < 800);
  CHECK(mixed.kept_decodes + mixed.kv_transfers == 800);
  CHECK(mixed.requests == 800);
  CHECK(mixed.request_throughput > apart.request_throughput);
}

TEST_CASE("a KV transfer takes NVLink inside a node and the NIC between nodes") {
  Fixture f;
  f.fabric.nic_bandwidth = 50e9;
  f.config.tp = 4;
  IterationCostModel cost(f.model, f.gpu, f.fabric, f.config, f.roofline);
  const double bytes = 1000 * cost.kv_bytes_per_token();
  const Time nvlink = cost.kv_transfer(1000, 0, 1);   // GPUs 0-3 and 4-7: one node
  const Time nic = cost.kv_transfer(1000, 0, 2);      // GPUs 8-11: the next node
  CHECK(nvlink == kNcclLaunchLatency + from_seconds(f.fabric.hop_latency_seconds + bytes / 450e9));
  CHECK(nic == kNcclLaunchLatency + from_seconds(f.fabric.scale_out_latency_seconds + bytes / 50e9));
}

TEST_CASE("KV transfers share links: a prefill replica sends one cache at a time; layer by layer, most of it beside the prefill") {
  // A prefill replica and a decode replica of TP 8 on two nodes (a 50 GB/s NIC per GPU).
  // A 4,096-token prompt at 0 is prefilled alone; two more arrive during that iteration and
  // are prefilled together in the next. Each cache takes d = kv_transfer(4,096 tokens),
  // far shorter than a prefill. Sent after its prefill: d for the first two, 2d for the
  // third, which waits for the sender's ports (mean 4d/3). Sent layer by layer from the
  // start of its prefill, only the last layer's share, d / L, comes after it, but the third
  // waits for the second: d / L + d (mean (3d / L + d) / 3, L the model's 32 layers).
  Fixture f;
  f.fabric.nic_bandwidth = 50e9;
  f.config.tp = 8;
  f.config.replicas = 2;
  f.config.prefill_replicas = 1;
  std::vector<Request> requests(3);
  for (Request& r : requests) {
    r.arrival = from_seconds(1e-3);
    r.prompt_tokens = 4096;
    r.output_tokens = 4;
  }
  requests[0].arrival = 0;
  IterationCostModel cost(f.model, f.gpu, f.fabric, f.config, f.roofline);
  const double d = to_seconds(cost.kv_transfer(4096, 0, 1));
  const ServingResult after = simulate_serving(f.config, requests, cost);
  CHECK(after.kv_transfer_mean == doctest::Approx(4 * d / 3).epsilon(1e-9));

  f.config.kv_transfer = "layerwise";
  const ServingResult layerwise = simulate_serving(f.config, requests, cost);
  MESSAGE("4,096-token caches over a 50 GB/s NIC: d = " << d * 1e3 << " ms; mean transfer after the prefill: " << after.kv_transfer_mean * 1e3
          << " ms sent after it, " << layerwise.kv_transfer_mean * 1e3 << " ms layer by layer");
  CHECK(layerwise.kv_transfer_mean == doctest::Approx((3 * d / 32 + d) / 3).epsilon(1e-6));
  CHECK(after.records[2].first_token == layerwise.records[2].first_token);  // the prefill pool runs the same either way
}

TEST_CASE("chunked prefill inside the prefill pool: no prefill iteration over the budget, every request decoded in the decode pool") {
  Fixture f;
  f.config.replicas = 2;
  f.config.prefill_replicas = 1;
  f.config.scheduler = "sarathi";
  f.config.chunk_size = 1024;
  f.config.traffic.requests = 200;
  f.config.traffic.prompt = {512, 4096};
  IterationCostModel cost(f.model, f.gpu, f.fabric, f.config, f.roofline);
  const ServingResult r = simulate_serving(f.config, make_requests(f.config.traffic, 7), cost, true);
  CHECK(r.requests == 200);
  int prefill_iterations = 0;
  for (const IterationRecord& it : r.iteration_log) {
    if (it.replica != 0) continue;
    ++prefill_iterations;
    CHECK(it.prefill_tokens <= 1024);
    CHECK(it.decodes == 0);
  }
  std::int64_t prompt_tokens = 0;
  for (const RequestRecord& q : r.records) {
    prompt_tokens += q.prompt_tokens;
    CHECK((q.output_tokens == 1 || q.replica == 1));
  }
  CHECK(prefill_iterations >= prompt_tokens / 1024);  // the prompts went through in pieces of at most the budget
}

// One host's launch of both pools (DistServe's intra-node placement): the decode replicas
// fill the machines after the prefill replicas, none split across two, and a cache crosses
// NVLink where both replicas sit in one machine, the NICs where they do not.
TEST_CASE("a decode pool on the prefill replicas' machines sends KV caches over NVLink inside a machine") {
  Fixture f;
  f.fabric.gpus = 8;
  f.fabric.nic_bandwidth = 50e9;
  f.config.tp = 2;
  f.config.replicas = 4;
  f.config.prefill_replicas = 2;  // GPUs 0-1 and 2-3
  ServingConfig::DecodePool pool;
  pool.gpu = *find_builtin_gpu("h100_sxm");
  pool.tp = 4;
  pool.same_machines = true;
  f.config.decode_pool = pool;
  // The first decode replica takes GPUs 4-7; the second does not fit there and starts the next machine.
  CHECK(replica_first_gpus(f.config, 8) == std::vector<std::int64_t>{0, 2, 4, 8});
  const IterationCostModel cost(f.model, f.gpu, f.fabric, f.config, f.roofline);
  const double bytes = 1000 * cost.kv_bytes_per_token() * 2 / 2;  // a TP 2 replica's cache, two GPUs sending at once
  CHECK(cost.kv_transfer(1000, 0, 2) == kNcclLaunchLatency + from_seconds(f.fabric.hop_latency_seconds + bytes / f.fabric.bandwidth));
  CHECK(cost.kv_transfer(1000, 1, 3) == kNcclLaunchLatency + from_seconds(f.fabric.scale_out_latency_seconds + bytes / 50e9));
  // On machines of its own, every cache crosses the NICs.
  f.config.decode_pool->same_machines = false;
  CHECK(replica_first_gpus(f.config, 8) == std::vector<std::int64_t>{0, 2, -1, -1});
  CHECK(IterationCostModel(f.model, f.gpu, f.fabric, f.config, f.roofline).kv_transfer(1000, 0, 2) == cost.kv_transfer(1000, 1, 3));
}

TEST_CASE("a decode pool of another GPU type: its own iterations and cache, KV caches over the NICs") {
  // Splitwise's heterogeneous pools: prompts on one GPU type, tokens on another, on machines
  // of their own, so every KV cache crosses the NICs, as many ranks at once as the smaller TP.
  Fixture f;
  f.fabric.nic_bandwidth = 50e9;
  f.config.replicas = 2;
  f.config.prefill_replicas = 1;
  f.config.traffic.requests = 400;
  f.config.traffic.rate = 4;
  f.config.traffic.prompt = {512, 2048};
  f.config.traffic.output = {64, 256};
  const ServingResult same = f.run();
  f.config.decode_pool = ServingConfig::DecodePool{*find_builtin_gpu("h100_sxm"), f.config.tp};
  const ServingResult pooled = f.run();
  // The same GPUs: prompts run as before; only the transfer moves to the NICs.
  CHECK(pooled.ttft.mean == same.ttft.mean);
  IterationCostModel cost(f.model, f.gpu, f.fabric, f.config, f.roofline);
  CHECK(cost.kv_transfer(1000, 0, 1) ==
        kNcclLaunchLatency + from_seconds(f.fabric.scale_out_latency_seconds + 1000 * cost.kv_bytes_per_token() / 50e9));
  CHECK(cost.decode_pool().gpu().name == "h100_sxm");
  // A GPU the scenario describes decodes at its own figures: twice the H100's memory bandwidth.
  GpuSpec faster_memory = *find_builtin_gpu("h100_sxm");
  faster_memory.name = "h100_twice_the_bandwidth";
  faster_memory.memory_bandwidth *= 2;
  f.config.decode_pool = ServingConfig::DecodePool{faster_memory, f.config.tp};
  CHECK(IterationCostModel(f.model, f.gpu, f.fabric, f.config, f.roofline).decode_pool().gpu().name == "h100_twice_the_bandwidth");
  CHECK(f.run().tpot.mean < 0.8 * pooled.tpot.mean);
  // The decode replicas' own limits: one sequence at a time, requests queue for it.
  f.config.decode_pool = ServingConfig::DecodePool{*find_builtin_gpu("h100_sxm"), f.config.tp, 1, 0};
  const IterationCostModel one_at_a_time(f.model, f.gpu, f.fabric, f.config, f.roofline);
  CHECK(one_at_a_time.decode_pool().config().max_num_seqs == 1);
  CHECK(one_at_a_time.decode_pool().config().max_batched_tokens == f.config.max_batched_tokens);
  CHECK(one_at_a_time.config().max_num_seqs == f.config.max_num_seqs);  // the prefill replicas keep theirs
  CHECK(f.run().e2e.mean > 2 * pooled.e2e.mean);
  // The decode replicas' own scheduling: planned after each iteration instead of during it,
  // their host time adds to every token's; the prefill replicas keep the engine's.
  const HostCosts host = f.config.host;
  f.config.host.async_scheduling = true;
  f.config.host.iteration_seconds = 2e-3;
  f.config.decode_pool = ServingConfig::DecodePool{*find_builtin_gpu("h100_sxm"), f.config.tp};
  const ServingResult overlapped = f.run();
  f.config.decode_pool->async_scheduling = false;
  const IterationCostModel serial(f.model, f.gpu, f.fabric, f.config, f.roofline);
  CHECK_FALSE(serial.decode_pool().config().host.async_scheduling);
  CHECK(serial.config().host.async_scheduling);
  const ServingResult serial_decodes = f.run();
  CHECK(serial_decodes.tpot.mean > overlapped.tpot.mean + 1.5e-3);
  CHECK(serial_decodes.ttft.mean == overlapped.ttft.mean);
  f.config.host = host;
  // Slower memory decodes slower: the A100's 2.0 TB/s against the H100's 3.35.
  f.config.decode_pool = ServingConfig::DecodePool{*find_builtin_gpu("a100_sxm_80gb"), f.config.tp};
  const ServingResult a100 = f.run();
  MESSAGE("TPOT mean: H100 decode pool " << pooled.tpot.mean * 1e3 << " ms, A100 " << a100.tpot.mean * 1e3 << " ms");
  CHECK(a100.tpot.mean > 1.2 * pooled.tpot.mean);
  CHECK(a100.ttft.mean == same.ttft.mean);
  // A wider decode pool: its ranks take their share of each transfer, at the prefill side's pace.
  f.config.decode_pool = ServingConfig::DecodePool{*find_builtin_gpu("a100_sxm_80gb"), 2 * f.config.tp};
  CHECK(f.config.serving_gpus() == f.config.tp + 2 * f.config.tp);
  // Pipeline stages of the decode pool's own (DistServe picks each phase's parallelism): each
  // GPU holds half the layers and their cache, two batches in flight; each transfer still
  // crosses as many NICs at once as the prefill replica has GPUs.
  const IterationCostModel a100_cost(f.model, f.gpu, f.fabric, [&] {
    ServingConfig c = f.config;
    c.decode_pool = ServingConfig::DecodePool{*find_builtin_gpu("a100_sxm_80gb"), f.config.tp};
    return c;
  }(), f.roofline);
  f.config.decode_pool = ServingConfig::DecodePool{*find_builtin_gpu("a100_sxm_80gb"), f.config.tp, 0, 0, 2};
  CHECK(f.config.serving_gpus() == f.config.tp + 2 * f.config.tp);
  const IterationCostModel staged(f.model, f.gpu, f.fabric, f.config, f.roofline);
  CHECK(staged.decode_pool().config().pp == 2);
  CHECK(staged.config().pp == 1);
  CHECK(staged.decode_pool().kv_bytes_per_token() == doctest::Approx(a100_cost.decode_pool().kv_bytes_per_token() / 2));
  CHECK(staged.kv_transfer(1000, 0, 1) == a100_cost.kv_transfer(1000, 0, 1));
  const ServingResult two_stages = f.run();
  MESSAGE("TPOT mean: A100 decode pool at PP 1 " << a100.tpot.mean * 1e3 << " ms, at PP 2 " << two_stages.tpot.mean * 1e3 << " ms");
  CHECK(two_stages.requests == a100.requests);
  CHECK(two_stages.tpot.mean < a100.tpot.mean);  // each stage's half of the work, two batches in flight
  // Context-parallel groups of its own: each sequence's cache split over two groups of tp GPUs.
  f.config.decode_pool = ServingConfig::DecodePool{*find_builtin_gpu("a100_sxm_80gb"), f.config.tp, 0, 0, 1, 2};
  CHECK(f.config.serving_gpus() == f.config.tp + 2 * f.config.tp);
  const IterationCostModel grouped(f.model, f.gpu, f.fabric, f.config, f.roofline);
  CHECK(grouped.decode_pool().config().cp == 2);
  CHECK(grouped.decode_pool().kv_bytes_per_token() == doctest::Approx(a100_cost.decode_pool().kv_bytes_per_token() / 2));
  CHECK(grouped.kv_transfer(1000, 0, 1) == a100_cost.kv_transfer(1000, 0, 1));
  CHECK(f.run().requests == a100.requests);
  CHECK(two_stages.ttft.mean == same.ttft.mean);
}

// vLLM V1 sizes its limits by the GPU it starts on (8,192 tokens and 1,024 sequences on an
// H100, 2,048 and 256 on an A100), and each pool of a disaggregated deployment is a launch of
// its own: the decode pool takes its GPU's defaults unless the scenario changes the limits.
TEST_CASE("a decode pool of another GPU type takes its engine's limits for that GPU") {
  const auto decode_limits = [](const std::vector<std::string>& sets) {
    const std::string out = foresight::testing::scratch_path("foresight_decode_limits", "results.json");
    std::vector<std::string> args = {"run", foresight::testing::source_path("scenarios/llama3_70b_serving_azure_conv.json"), "--out", out,
                                     "--set", "serving.engine=vllm_v1", "--set", "serving.prefill_replicas=1",
                                     "--set", "serving.traffic.requests=50"};
    for (const std::string& set : sets) args.insert(args.end(), {"--set", set});
    const auto r = foresight::testing::run_cli(args);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return foresight::testing::read_json_file(out)["serving"]["decode_pool"];
  };
  const std::string a100 = "serving.decode_pool={\"gpu\":\"a100_sxm_80gb\",\"tp\":4}";
  // The scenario sets max_num_seqs (256) for both; the token budget is vLLM's default on each GPU.
  auto pool = decode_limits({a100});
  CHECK(pool["max_num_seqs"] == 256);
  CHECK(pool["max_batched_tokens"] == 2048);
  pool = decode_limits({a100, "serving.max_num_seqs=1024"});  // vLLM V1's H100 default: the A100 launch's is 256
  CHECK(pool["max_num_seqs"] == 256);
  pool = decode_limits({a100, "serving.max_num_batched_tokens=4096"});  // given: both launches take it
  CHECK(pool["max_batched_tokens"] == 4096);
  pool = decode_limits({"serving.decode_pool={\"gpu\":\"a100_sxm_80gb\",\"tp\":4,\"max_batched_tokens\":1024}"});
  CHECK(pool["max_batched_tokens"] == 1024);
  pool = decode_limits({"serving.decode_pool={\"gpu\":\"h100_sxm\",\"tp\":4}"});  // the same GPU: the same limits
  CHECK(pool["max_batched_tokens"] == 8192);
}

TEST_CASE("swap preemption keeps a decoding sequence's cache in host memory and copies it back over PCIe") {
  Fixture f;
  f.config.gpu_memory_utilization = 0.25;
  f.config.traffic.requests = 300;
  f.config.traffic.rate = 50;
  f.config.traffic.prompt = {512, 512};
  f.config.traffic.output = {512, 512};
  const ServingResult recompute = f.run();
  f.config.preemption = "swap";
  const ServingResult swap = f.run();
  MESSAGE("preemptions: recompute " << recompute.preemptions << ", swap " << swap.preemptions << " (" << swap.swaps
                                    << " swapped); mean e2e " << recompute.e2e.mean << " s vs " << swap.e2e.mean << " s");
  CHECK(recompute.swaps == 0);
  CHECK(swap.swaps > 0);
  CHECK(swap.swaps <= swap.preemptions);
  CHECK(swap.requests == 300);
  // 4 GB of host memory per GPU holds 4e9 / (16 x 128 KiB) blocks.
  IterationCostModel cost(f.model, f.gpu, f.fabric, f.config, f.roofline);
  CHECK(cost.host_blocks() == static_cast<std::int64_t>(4e9 / (16 * cost.kv_bytes_per_token())));
  CHECK(cost.host_bandwidth() == f.gpu.host_copy_bandwidth);  // 52/64 of PCIe Gen5 x16, an H200's measured share
  CHECK(cost.host_copy(1000) == from_seconds(1000 * cost.kv_bytes_per_token() / cost.host_bandwidth()));
}

TEST_CASE("the time series samples each replica at most once per interval") {
  Fixture f;
  f.config.replicas = 2;
  f.config.series_interval_seconds = 0.5;
  const ServingResult r = f.run();
  REQUIRE(!r.series.empty());
  std::vector<double> last(2, -1);
  for (const SeriesSample& s : r.series) {
    const auto replica = static_cast<std::size_t>(s.replica);
    if (last[replica] >= 0) CHECK(s.time - last[replica] >= 0.5 - 1e-9);
    last[replica] = s.time;
    CHECK(s.running >= 1);  // sampled as an iteration starts
    CHECK(s.kv_used <= 1.0);
  }
  f.config.series_interval_seconds = 0;
  CHECK(f.run().series.empty());
}

TEST_CASE("multi-LoRA: adapters load on demand into a bounded set, and more adapters than slots means more loads") {
  Fixture f;
  f.config.lora_rank = 16;
  f.config.max_loras = 4;
  f.config.traffic.requests = 800;
  f.config.traffic.adapters = 4;
  const ServingResult fits = f.run();
  f.config.traffic.adapters = 64;
  const ServingResult churns = f.run();
  MESSAGE("adapter loads: 4 adapters " << fits.adapter_loads << ", 64 adapters " << churns.adapter_loads << "; mean e2e "
                                       << fits.e2e.mean << " s vs " << churns.e2e.mean << " s");
  CHECK(fits.adapter_loads == 4);  // each loaded once, never evicted
  CHECK(churns.adapter_loads > 64);
  CHECK(churns.requests == 800);
  // Llama-3-8B: rank 16 on Q (4096 -> 4096), K and V (4096 -> 1024), O: 16 x (8192 + 2 x 5120 + 8192) x 32 layers x 2 bytes.
  IterationCostModel cost(f.model, f.gpu, f.fabric, f.config, f.roofline);
  CHECK(cost.adapter_bytes() == doctest::Approx(16.0 * (8192 + 2 * 5120 + 8192) * 32 * 2));
  CHECK(cost.adapter_load() == from_seconds(cost.adapter_bytes() / cost.host_bandwidth()));
  // The base model serves with no adapter cost at all.
  f.config.lora_rank = 0;
  CHECK(f.run().adapter_loads == 0);
}

TEST_CASE("mixed LoRA ranks: reserved slots pad every adapter to lora_rank; unified paging puts adapters in the KV blocks at their own ranks") {
  Fixture f;  // Llama-3-8B on one H100
  f.config.lora_ranks = {8, 16, 32, 64};
  f.config.lora_rank = 64;
  f.config.max_loras = 8;
  const auto cost = [&f] { return IterationCostModel(f.model, f.gpu, f.fabric, f.config, f.roofline); };
  IterationCostModel reserved = cost();
  CHECK(f.config.computed_rank(0) == 64);  // adapter 0 has rank 8, padded to its slot's
  f.config.lora_unified = true;
  CHECK(f.config.computed_rank(0) == 8);
  CHECK(f.config.computed_rank(7) == 64);
  IterationCostModel unified = cost();
  // Sizes scale with the rank; the reserved slots' memory goes back to the KV cache.
  CHECK(reserved.adapter_bytes(16) == doctest::Approx(reserved.adapter_bytes() / 4));
  CHECK(unified.adapter_blocks(64) == static_cast<std::int64_t>(std::ceil(unified.adapter_bytes() / (unified.kv_bytes_per_token() * 16))));
  const double block_bytes = reserved.kv_bytes_per_token() * static_cast<double>(f.config.block_size);
  const double slots = 8 * reserved.adapter_bytes() / block_bytes;
  CHECK(unified.kv_blocks() - reserved.kv_blocks() >= static_cast<std::int64_t>(slots));
  CHECK(unified.kv_blocks() - reserved.kv_blocks() <= static_cast<std::int64_t>(slots) + 1);
  // Adapter kernels cost more at a higher rank: 256 tokens at rank 8 against the same at 64.
  BatchShape shape;
  shape.tokens = shape.lora_tokens = 256;
  shape.outputs = shape.sequences = 1;
  shape.prefill_attention = unified.prefill_attention(256, 0);
  shape.lora_rank_tokens = 256 * 8;
  const Time low = unified.iteration(shape);
  shape.lora_rank_tokens = 256 * 64;
  CHECK(unified.iteration(shape) > low);
  // A run whose adapters all fit beside its sequences loads each once and unloads none.
  f.config.traffic.adapters = 16;
  const ServingResult fits = f.run();
  CHECK(fits.adapter_loads == 16);
  CHECK(fits.adapter_evictions == 0);
  // With room for few of them (a quarter of the memory for KV), adapters are unloaded for
  // blocks and loaded again, and every request still finishes.
  f.config.traffic.adapters = 400;
  f.config.gpu_memory_utilization = 0.3;
  const ServingResult tight = f.run();
  std::set<std::int32_t> used;
  for (const Request& q : make_requests(f.config.traffic, 7)) used.insert(q.adapter);
  const auto distinct = static_cast<std::int64_t>(used.size());
  MESSAGE("unified paging, " << distinct << " adapters used at 30% of memory: " << tight.adapter_loads << " loads, "
                             << tight.adapter_evictions << " unloaded");
  CHECK(tight.adapter_evictions > 0);
  CHECK(tight.adapter_loads > distinct);  // some were loaded again
  CHECK(tight.adapter_loads - distinct <= tight.adapter_evictions);  // only after being unloaded
  CHECK(tight.requests == 400);
}

TEST_CASE("BGMV decodes (S-LoRA's kernels): each token reads its adapter's matrices whole, at the largest rank") {
  Fixture f;  // Llama-3-8B on one H100
  f.config.lora_ranks = {8, 64};
  f.config.lora_rank = 64;
  f.config.lora_unified = true;
  const auto adapted_decodes = [](std::int64_t decodes, std::int64_t rank) {
    BatchShape shape;
    shape.tokens = shape.decodes = shape.outputs = shape.sequences = decodes;
    shape.decode_context = decodes * 512;
    shape.lora_tokens = shape.lora_decode_tokens = decodes;
    shape.lora_rank_tokens = shape.lora_decode_rank_tokens = decodes * rank;
    return shape;
  };
  const auto lora_cost = [&](IterationCostModel& cost, std::int64_t decodes, std::int64_t rank) {
    BatchShape base = adapted_decodes(decodes, rank);
    base.lora_tokens = base.lora_decode_tokens = base.lora_rank_tokens = base.lora_decode_rank_tokens = 0;
    return cost.iteration(adapted_decodes(decodes, rank)) - cost.iteration(base);
  };
  IterationCostModel tiled(f.model, f.gpu, f.fabric, f.config, f.roofline);
  f.config.lora_gather_decode = true;
  IterationCostModel gathered(f.model, f.gpu, f.fabric, f.config, f.roofline);
  // 256 decodes at rank 64 read 256 x 64 x (3 x 4,096 + 4,096 + 2 x 1,024 + 4,096 + 4,096) x 2
  // bytes a layer (Q, K, V and O, shrink and expand), 32 layers: 27.9 GB, at HBM speed some
  // 8.3 ms; the tiled GEMMs read each adapter once.
  const Time gather = lora_cost(gathered, 256, 64), tile = lora_cost(tiled, 256, 64);
  const double bytes = 256.0 * 64 * (3 * 4096 + 4096 + 2 * 1024 + 4096 + 4096) * 2 * 32;
  MESSAGE("256 decodes at rank 64: BGMV " << to_seconds(gather) * 1e3 << " ms, tiled " << to_seconds(tile) * 1e3 << " ms; "
                                          << bytes / 1e9 << " GB gathered");
  CHECK(to_seconds(gather) > bytes / f.gpu.memory_bandwidth);
  CHECK(to_seconds(gather) < 2 * bytes / f.gpu.memory_bandwidth);
  CHECK(gather > 5 * tile);
  // Linear in the tokens (each reads its own copy; longer passes stream a little better),
  // and the same at rank 8 as at 64: the kernel's blocks span the largest rank.
  CHECK(static_cast<double>(lora_cost(gathered, 512, 64)) == doctest::Approx(2.0 * static_cast<double>(gather)).epsilon(0.1));
  CHECK(lora_cost(gathered, 256, 8) == gather);
  // Prefill chunks keep the tiled kernels.
  BatchShape prefill;
  prefill.tokens = prefill.lora_tokens = 256;
  prefill.lora_rank_tokens = 256 * 64;
  prefill.outputs = prefill.sequences = 1;
  prefill.prefill_attention = tiled.prefill_attention(256, 0);
  CHECK(gathered.iteration(prefill) == tiled.iteration(prefill));
}

TEST_CASE("utilization: a lone decode is bandwidth-bound, a busy replica uses more of its compute") {
  Fixture f;
  f.config.traffic.requests = 1;
  f.config.traffic.prompt = {16, 16};
  f.config.traffic.output = {512, 512};
  f.config.host.iteration_seconds = 0;
  const ServingResult lone = f.run();
  MESSAGE("lone decode: MFU " << lone.mfu << ", bandwidth " << lone.memory_bandwidth_utilization);
  CHECK(lone.memory_bandwidth_utilization > 0.5);
  CHECK(lone.memory_bandwidth_utilization <= 1.0);
  CHECK(lone.mfu < 0.01);
  f.config.traffic.requests = 400;
  f.config.traffic.rate = 100;
  const ServingResult busy = f.run();
  CHECK(busy.mfu > 20 * lone.mfu);
}

TEST_CASE("a JSONL trace: one request per line, optional prefix and adapter keys, sorted by arrival") {
  TrafficConfig t;
  t.trace = foresight::testing::source_path("tests/data/sample_trace.jsonl");
  t.trace_speedup = 2;
  const std::vector<Request> r = make_requests(t, 1);
  REQUIRE(r.size() == 3);
  CHECK(r[0].prompt_tokens == 300);
  CHECK(r[0].prefix_group == 1);
  CHECK(r[0].prefix_tokens == 128);
  CHECK(r[1].arrival == from_seconds(0.1));  // 0.2 s replayed twice as fast
  CHECK(r[1].adapter == -1);
  CHECK(r[2].adapter == 3);
  CHECK(r[2].output_tokens == 10);
}

TEST_CASE("a serving trace: an event per iteration on its named replica's track, never overlapping, and a track per request") {
  using foresight::testing::run_cli;
  const auto dir = std::filesystem::temp_directory_path();
  const std::string trace = (dir / "foresight_serving_trace.json").string(), out = (dir / "foresight_serving_out.json").string();
  const auto r = run_cli({"run", foresight::testing::source_path("scenarios/llama3_70b_serving_azure_conv.json"), "--set",
                          "serving.traffic.requests=200", "--trace", trace, "--out", out});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const auto events = foresight::testing::read_json_file(trace)["traceEvents"];
  std::vector<double> end(2, 0);
  std::size_t iterations = 0;
  std::map<std::size_t, std::vector<std::string>> spans;  // per request, in order
  std::vector<std::string> processes;
  for (const auto& e : events) {
    if (e["ph"] == "M") {
      if (e["name"] == "process_name") processes.push_back(e["args"]["name"]);
      continue;
    }
    const auto pid = e["pid"].get<std::size_t>();
    if (pid == 2) {  // the requests' process, after the two replicas
      spans[e["tid"].get<std::size_t>()].push_back(e["name"]);
      continue;
    }
    ++iterations;
    CHECK(e["ts"].get<double>() >= end[pid] - 2e-3);  // both printed to the nanosecond
    end[pid] = e["ts"].get<double>() + e["dur"].get<double>();
  }
  CHECK(iterations == foresight::testing::read_json_file(out)["simulation"]["iterations"].get<std::size_t>());
  CHECK(processes == std::vector<std::string>{"replica 0", "replica 1", "requests"});
  CHECK(spans.size() == 200);  // a track per request
  for (const auto& [request, names] : spans) {
    const std::size_t index = request;  // clang before 16 cannot capture a structured binding
    CAPTURE(index);
    CHECK(names.back() == "decode");
    CHECK(std::find(names.begin(), names.end(), "prefill") != names.end());
  }
  std::filesystem::remove(trace);
  std::filesystem::remove(out);
}

TEST_CASE("pipeline stages: a lone request pays the hops, and pp virtual engines keep the stages busy together") {
  Fixture f;
  f.config.host.iteration_seconds = 0;
  f.config.traffic.requests = 1;
  f.config.traffic.prompt = {512, 512};
  f.config.traffic.output = {8, 8};
  const ServingResult flat = f.run();
  f.config.pp = 2;
  IterationCostModel cost(f.model, f.gpu, f.fabric, f.config, f.roofline);
  const ServingResult staged = f.run();
  // Eight iterations (a prefill, seven decodes), each crossing one stage boundary.
  const Time hops = cost.stage_transfer(512) + 7 * cost.stage_transfer(1);
  CHECK(to_seconds(staged.makespan - flat.makespan) == doctest::Approx(to_seconds(hops)).epsilon(1e-3));
  // Half the weights and half the layers' KV cache per GPU, so about twice the tokens per replica.
  IterationCostModel one_stage(f.model, f.gpu, f.fabric, [&] { ServingConfig c = f.config; c.pp = 1; return c; }(), f.roofline);
  CHECK(cost.weight_bytes() == doctest::Approx(one_stage.weight_bytes() / 2));
  CHECK(cost.kv_bytes_per_token() == doctest::Approx(one_stage.kv_bytes_per_token() / 2));
  CHECK(cost.kv_blocks() > 2 * one_stage.kv_blocks());
  // Under load, two virtual engines fill the pipeline: the same 2 GPUs as TP 2 without
  // stages, a comparable throughput.
  f.config.traffic.requests = 400;
  f.config.traffic.rate = 40;
  f.config.traffic.output = {64, 64};
  const ServingResult pipelined = f.run();
  f.config.pp = 1;
  f.config.tp = 2;
  const ServingResult tensor = f.run();
  MESSAGE("makespan: PP 2 " << to_seconds(pipelined.makespan) << " s, TP 2 " << to_seconds(tensor.makespan) << " s; TPOT "
                            << pipelined.tpot.mean * 1e3 << " vs " << tensor.tpot.mean * 1e3 << " ms");
  CHECK(pipelined.requests == 400);
  CHECK(pipelined.tpot.mean > tensor.tpot.mean);  // each token crosses both stages
}

TEST_CASE("a session's next turn finds the previous turn's prompt and answer cached") {
  // Three turns per session, 10 s apart: each prompt is the conversation so far plus 256
  // new tokens, and shares with its session (prefix_id) everything before those.
  const auto path = (std::filesystem::temp_directory_path() / "foresight_sessions.csv").string();
  {
    std::ofstream csv(path);
    csv << "arrived_at,num_prefill_tokens,num_decode_tokens,prefix_id,prefix_tokens\n";
    for (int session = 0; session < 40; ++session) {
      int context = 0;
      for (int turn = 0; turn < 3; ++turn) {
        const int prompt = context + 256;
        csv << session * 0.5 + turn * 10.0 << "," << prompt << ",128," << session << "," << context << "\n";
        context = prompt + 128;
      }
    }
  }
  Fixture f;
  f.config.prefix_caching = true;
  f.config.traffic.trace = path;
  f.config.traffic.requests = 0;
  const ServingResult cached = f.run();
  f.config.prefix_caching = false;
  const ServingResult uncached = f.run();
  MESSAGE("sessions: hit rate " << cached.prefix_hit_rate << "; mean TTFT " << cached.ttft.mean * 1e3 << " ms cached, "
                                << uncached.ttft.mean * 1e3 << " ms not");
  CHECK(cached.requests == 120);
  // Of each later turn's shared tokens, all full blocks are cached (the last partial block is recomputed).
  CHECK(cached.prefix_hit_rate > 0.95);
  CHECK(cached.ttft.mean < uncached.ttft.mean);
  std::filesystem::remove(path);
}

TEST_CASE("sliding-window layers read at most the window: Gemma 2's long-context decodes and prefills cost less than a global model's") {
  Fixture f;
  f.model = *find_builtin_model("gemma2_9b");
  f.config.traffic.requests = 40;
  f.config.traffic.rate = 2;
  f.config.traffic.prompt = {7000, 7000};
  f.config.traffic.output = {500, 500};
  const ServingResult windowed = f.run();
  f.model.sliding_window = 0;
  const ServingResult global = f.run();
  MESSAGE("Gemma 2 9B, 7,000-token prompts: TPOT " << windowed.tpot.mean * 1e3 << " ms, TTFT " << windowed.ttft.mean * 1e3
                                                   << " ms; every layer global: " << global.tpot.mean * 1e3 << " ms, " << global.ttft.mean * 1e3 << " ms");
  CHECK(windowed.tpot.mean < global.tpot.mean);
  CHECK(windowed.ttft.mean < global.ttft.mean);
  // Short sequences never reach the window: the same run either way.
  f.config.traffic.prompt = {512, 512};
  f.config.traffic.output = {64, 64};
  const ServingResult short_global = f.run();
  f.model.sliding_window = 4096;
  CHECK(f.run().makespan == short_global.makespan);
}

// Lengths ended by EOS under a max_tokens cap: min + Geometric(p) tokens, capped at max,
// with p solved from the mean. Closed forms: the mean, and the share that reaches the cap,
// (1 - p)^(max - min).
TEST_CASE("eos output lengths: the mean they were given, and the cap's share (1-p)^(max-min)") {
  TrafficConfig t;
  t.requests = 200000;
  t.output.min = 1;
  t.output.max = 128;
  t.output.eos_probability = eos_probability_for_mean(1, 128, 100);
  const double p = t.output.eos_probability;
  CHECK(p == doctest::Approx(0.00404).epsilon(0.01));
  const std::vector<Request> requests = make_requests(t, 3);
  double sum = 0;
  int capped = 0, shortest = 1 << 30;
  for (const Request& r : requests) {
    sum += r.output_tokens;
    capped += r.output_tokens == 128;
    shortest = std::min(shortest, r.output_tokens);
  }
  const double n = static_cast<double>(requests.size());
  MESSAGE("eos lengths, p = " << p << ": mean " << sum / n << " (given 100), at the cap " << capped / n << " (closed form "
                              << std::pow(1 - p, 127) << ")");
  CHECK(sum / n == doctest::Approx(100).epsilon(0.005));
  CHECK(capped / n == doctest::Approx(std::pow(1 - p, 127)).epsilon(0.01));
  CHECK(shortest >= 1);
}

TEST_CASE("an eos distribution names its missing or impossible mean") {
  using foresight::testing::run_cli;
  const std::string scenario = foresight::testing::source_path("scenarios/validation/serving_rtx4090/c4.json");
  const auto missing = run_cli({"run", scenario, "--set", "serving.traffic.output.distribution=eos"});
  CHECK(missing.status == 2);
  CHECK(missing.err.find("serving.traffic.output.mean: an eos distribution needs its mean length") != std::string::npos);
  const auto outside = run_cli({"run", scenario, "--set", "serving.traffic.output.distribution=eos", "--set", "serving.traffic.output.mean=128"});
  CHECK(outside.status == 2);
  CHECK(outside.err.find("serving.traffic.output.mean: the mean must lie strictly between min 72 and max 128") != std::string::npos);
}
