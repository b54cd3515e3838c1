// Long contexts (docs/serving.md, "Long contexts"): context parallelism splits each
// sequence's KV cache and each prefill chunk over cp groups of GPUs, and adaptive chunking
// shrinks a long prompt's chunks as its context grows. Checked against their closed forms.
#include <doctest/doctest.h>

#include <algorithm>

#include "serving_support.hpp"

using namespace foresight;

namespace {
// Llama-3.1-8B (128k positions) on H100s under vLLM V1's defaults, cp groups of one GPU.
struct LongContext : foresight::testing::ServingBench {
  explicit LongContext(std::int64_t cp) {
    model = *find_builtin_model("llama31_8b");
    config = engine_defaults("vllm_v1", gpu, model.max_positions);
    config.cp = cp;
  }
  IterationCostModel cost() const { return IterationCostModel(model, gpu, fabric, config, roofline); }
};

BatchShape one_decode(std::int64_t context) {
  BatchShape shape;
  shape.tokens = shape.decodes = shape.outputs = shape.sequences = 1;
  shape.decode_context = shape.decode_window_context = context;
  return shape;
}
}  // namespace

TEST_CASE("context parallelism holds cp times the KV cache per replica, on cp times the GPUs") {
  LongContext one(1), four(4);
  const std::int64_t blocks = one.cost().kv_blocks();
  CHECK(std::abs(four.cost().kv_blocks() - 4 * blocks) <= 4);
  four.config.replicas = 2;
  four.config.tp = 2;
  CHECK(four.config.serving_gpus() == 2 * 2 * 4);
}

TEST_CASE("a long prefill chunk's attention is split over the CP groups, the ring of keys and values beside it") {
  LongContext one(1), four(4);
  IterationCostModel c1 = one.cost(), c4 = four.cost();
  const std::int64_t chunk = 8192, context = 120000;
  const Time attention = c1.prefill_attention(chunk, context);
  // The exchange (each group's quarter of the chunk's queries out and their partial
  // outputs back, 32 MiB a layer, less than the cache's keys and values) takes under a
  // millisecond over NVLink, far less than a quarter of the attention: it is hidden.
  CHECK(c4.prefill_attention(chunk, context) == doctest::Approx(static_cast<double>(attention) / 4).epsilon(0.001));
  // The chunk's token-wise kernels run on a quarter of its tokens in each group.
  const Time tokenwise_1 = c1.chunk_layer_time(chunk, context) - attention;
  const Time tokenwise_4 = c4.chunk_layer_time(chunk, context) - c4.prefill_attention(chunk, context);
  CHECK(tokenwise_4 == c1.chunk_layer_time(chunk / 4, 0) - c1.prefill_attention(chunk / 4, 0));
  CHECK(tokenwise_4 < tokenwise_1 / 3);
}

TEST_CASE("KV-cache parallelism: a long-context decode reads a cp-th of the cache in each group and gathers the partial outputs") {
  LongContext one(1), four(4);
  IterationCostModel c1 = one.cost(), c4 = four.cost();
  const std::int64_t context = 400000;  // 52 GB of keys and values: decode reads them every step
  const Time whole = c1.device_time(one_decode(context));
  const Time split = c4.device_time(one_decode(context));
  // Closed form: the weights' reads stay, the cache's fall to a quarter, and each layer
  // gathers 32 heads' outputs (8 KiB) from the three other groups, a launch and a hop each.
  const Time weights = c1.device_time(one_decode(1));
  const double cache = static_cast<double>(whole - weights);
  MESSAGE("decode at 400k tokens: " << to_seconds(whole) * 1e3 << " ms on one GPU, " << to_seconds(split) * 1e3 << " ms over 4 (weights alone "
                                    << to_seconds(weights) * 1e3 << " ms)");
  CHECK(static_cast<double>(split - weights) > cache / 4);
  CHECK(static_cast<double>(split - weights) < cache / 4 + static_cast<double>(from_seconds(32 * 3 * 10e-6)));  // under 10 us per layer and peer
}

TEST_CASE("adaptive chunking keeps a long prompt's late chunks as short in time as its first") {
  const auto prefill_iterations = [](const std::string& scheduler) {
    foresight::testing::ServingBench b;
    b.model = *find_builtin_model("llama31_8b");
    b.config = engine_defaults("vllm_v1", b.gpu, b.model.max_positions);
    b.config.scheduler = scheduler;
    b.config.chunk_size = 2048;
    b.config.traffic.arrival = ArrivalProcess::kInstant;
    b.config.traffic.requests = 1;
    b.config.traffic.prompt = {100000, 100000};
    b.config.traffic.output = {4, 4};
    IterationCostModel cost(b.model, b.gpu, b.fabric, b.config, b.roofline);
    const ServingResult r = simulate_serving(b.config, make_requests(b.config.traffic, 1), cost, true);
    std::vector<Time> prefills;
    for (const IterationRecord& it : r.iteration_log) {
      if (it.prefill_tokens > 0) prefills.push_back(it.duration);
    }
    return prefills;
  };
  const std::vector<Time> fixed = prefill_iterations("sarathi"), adaptive = prefill_iterations("adaptive");
  const auto longest = [](const std::vector<Time>& v) { return *std::max_element(v.begin(), v.end()); };
  MESSAGE("a 100k-token prompt in 2,048-token chunks: " << fixed.size() << " iterations, the longest "
          << static_cast<double>(longest(fixed)) / static_cast<double>(fixed.front()) << "x the first; adaptive: " << adaptive.size()
          << " iterations, the longest " << static_cast<double>(longest(adaptive)) / static_cast<double>(adaptive.front()) << "x");
  CHECK(fixed.size() == 49);  // ceil(100000 / 2048)
  CHECK(longest(fixed) > 3 * fixed.front());
  CHECK(longest(adaptive) < fixed.front() * 11 / 10);
  CHECK(adaptive.size() > 2 * fixed.size());
}
