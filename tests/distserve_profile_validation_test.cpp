// Prefill and decode iterations against DistServe's profiles of two engines on the same
// A100-80GB SXM GPUs (calibration/data/serving/profiler-a100-80g.{distserve,vllm}.json, from
// LLMServe/DistServe, Zhong et al. OSDI'24, Apache-2.0): OPT-13B at TP 1, 2, 4 and OPT-66B at
// TP 2, 3, 4, 8, each timed in DistServe's own engine (SwiftTransformer's C++ kernels) and
// in vLLM as it was in late 2023. The profiles are DistServe's fits to its measurements:
// prefill a + b T + c sum(len^2) over the batch's T prompt tokens, decode a + b C + c B over
// its C context tokens and B sequences (separate coefficients from 95 sequences up).
//
// Held out: nothing in foresight was set from these profiles. Both engines are modelled as
// vLLM in 2023 (tests/serving_support.hpp): neither the C++ engine's host nor its launches
// are measured anywhere, and prefills of 512 tokens and more, which the checks hold, are
// dominated by kernels and all-reduces. Each row is a point on a fitted line, within the
// range DistServe profiled (prompts up to OPT's 2,048 positions, decode batches under 95
// sequences that fit the KV cache).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "error_stats.hpp"
#include "serving_support.hpp"
#include "test_support.hpp"
#include "validation_record.hpp"
#include "workloads/host_launch.hpp"

using namespace foresight;
using namespace foresight::testing;

namespace {
// One engine's fitted iteration times for one model at one TP degree.
struct FittedProfile {
  nlohmann::json coefficients;
  double prefill_ms(std::int64_t prompts, std::int64_t length) const {
    const auto& p = coefficients["prefill"];
    const double tokens = static_cast<double>(prompts * length);
    return p[0].get<double>() + p[1].get<double>() * tokens + p[2].get<double>() * tokens * static_cast<double>(length);
  }
  double decode_ms(std::int64_t sequences, std::int64_t context) const {
    const bool large = sequences >= coefficients["decoding_large_small_bs_threshold"].get<std::int64_t>();
    const auto& d = coefficients[large ? "decoding_largebs" : "decoding_smallbs"];
    return d[0].get<double>() + d[1].get<double>() * static_cast<double>(sequences * context) +
           d[2].get<double>() * static_cast<double>(sequences);
  }
};

// The same iterations as foresight predicts them.
struct PredictedReplica {
  std::unique_ptr<IterationCostModel> cost;
  std::int64_t kv_tokens = 0;
  PredictedReplica(const ModelArch& model, const GpuSpec& gpu, std::int64_t tp, const RooflineModel& roofline,
                   double launch_seconds = kEagerLaunchSeconds) {
    ServingConfig config = vllm_2023_config(gpu, tp, model.max_positions, launch_seconds);
    cost = std::make_unique<IterationCostModel>(model, gpu, dgx_fabric(gpu), config, roofline);
    kv_tokens = cost->kv_blocks() * config.block_size;
  }
  double prefill_ms(std::int64_t prompts, std::int64_t length) const {
    BatchShape shape;
    shape.tokens = prompts * length;
    shape.outputs = shape.sequences = prompts;
    shape.prefill_attention = prompts * cost->prefill_attention(length, 0);
    return to_seconds(cost->iteration(shape)) * 1e3;
  }
  double decode_ms(std::int64_t sequences, std::int64_t context) const {
    BatchShape shape;
    shape.tokens = shape.decodes = shape.outputs = shape.sequences = sequences;
    shape.decode_context = sequences * context;
    return to_seconds(cost->iteration(shape)) * 1e3;
  }
};

struct Shape {
  std::int64_t count, length;  // prompts x prompt length, or sequences x context
};
constexpr Shape kPrefills[] = {{1, 512}, {1, 1024}, {1, 2048}, {4, 512}};
constexpr Shape kDecodes[] = {{1, 512}, {8, 512}, {32, 256}, {32, 1024}, {64, 512}};

// The slopes that separate kernels from fixed costs: prefill time per prompt token between
// 512 and 2,048 tokens (GEMMs and all-reduces), decode time per cached token at 32
// sequences between 256 and 1,024 (the attention kernel streaming the KV cache).
template <typename Iterations>
double prefill_us_per_token(const Iterations& it) {
  return (it.prefill_ms(1, 2048) - it.prefill_ms(1, 512)) / 1536 * 1e3;
}
template <typename Iterations>
double decode_ns_per_cached_token(const Iterations& it) {
  return (it.decode_ms(32, 1024) - it.decode_ms(32, 256)) / (32 * 768) * 1e6;
}

// One engine's rows for one model and TP degree, and their sums over all of them.
struct EngineErrors {
  ErrorStats prefill, decode, prefill_slope, decode_slope;
};
struct GroupErrors {
  ErrorStats prefill, decode;
  double prefill_slope = 0;
  double decode_slope = std::nan("");  // signed %; NaN where 32 x 1,024 cached tokens do not fit (null in the record)
  std::string slopes;                          // predicted vs fitted, for the report
};

// DistServe's own engine is held to its kernels: its host and launches are not modelled
// (they are vLLM's here), so only its prefills and its decode slope are compared.
GroupErrors compare(const std::string& engine, const FittedProfile& fitted, const PredictedReplica& predicted,
                    const PredictedReplica& kernels, EngineErrors& all) {
  GroupErrors g;
  for (const Shape& s : kPrefills) {
    const double p = predicted.prefill_ms(s.count, s.length), f = fitted.prefill_ms(s.count, s.length);
    g.prefill.add(p, f);
    all.prefill.add(p, f);
  }
  for (const Shape& s : kDecodes) {
    if (engine != "vllm" || s.count * s.length > predicted.kv_tokens) continue;
    const double p = predicted.decode_ms(s.count, s.length), f = fitted.decode_ms(s.count, s.length);
    g.decode.add(p, f);
    all.decode.add(p, f);
  }
  char text[160];
  const double prefill_p = prefill_us_per_token(kernels), prefill_f = prefill_us_per_token(fitted);
  g.prefill_slope = all.prefill_slope.add(prefill_p, prefill_f);
  std::snprintf(text, sizeof text, "%6.1f vs %6.1f us/token (%+6.1f%%)", prefill_p, prefill_f, g.prefill_slope);
  g.slopes = text;
  if (32 * 1024 <= predicted.kv_tokens) {
    const double decode_p = decode_ns_per_cached_token(kernels), decode_f = decode_ns_per_cached_token(fitted);
    g.decode_slope = all.decode_slope.add(decode_p, decode_f);
    std::snprintf(text, sizeof text, "   %4.0f vs %4.0f ns/cached token (%+6.1f%%)", decode_p, decode_f, g.decode_slope);
    g.slopes += text;
  }
  return g;
}

nlohmann::json read_profile(const std::string& engine) {
  const std::string path = public_data_path("serving/profiler-a100-80g." + engine + ".json");
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), path);
  return nlohmann::json::parse(in);
}
}  // namespace

TEST_CASE("prefill and decode iterations of OPT-13B/66B at TP 1-8 on A100 against DistServe's profiles of its engine and vLLM") {
  const RooflineModel roofline{RooflineParameters{}};
  const GpuSpec gpu = *find_builtin_gpu("a100_sxm_80gb");
  ValidationRecord record("s9_distserve_profiles_a100",
                          "S9: OPT-13B/66B prefill and decode iterations on A100 at TP 1-8, in DistServe's engine and in vLLM (2023)",
                          "DistServe's fitted profiles (calibration/data/serving/profiler-a100-80g.{distserve,vllm}.json, "
                          "Zhong et al. OSDI'24); slopes: prefill time per prompt token, decode time per cached token",
                          "held out", "serving iterations", "iteration time (ms)");
  record.summary_columns("mean signed", "slope error", "points");
  std::map<std::string, EngineErrors> engines;
  std::string report = "\nPredicted vs DistServe's fitted profiles, A100-80GB SXM (iteration times; slopes from the kernels)\n";
  for (const std::string engine : {"distserve", "vllm"}) {
    const nlohmann::json profile = read_profile(engine);
    for (const auto& [model_name, by_tp] : profile.items()) {
      const ModelArch model = opt_model(model_name);
      for (const auto& [tp_text, coefficients] : by_tp.items()) {
        const std::int64_t tp = std::stoll(tp_text);
        const PredictedReplica predicted(model, gpu, tp, roofline);
        const PredictedReplica kernels(model, gpu, tp, roofline, 0);  // launches never hold the GPU up
        const GroupErrors g = compare(engine, FittedProfile{coefficients}, predicted, kernels, engines[engine]);
        const std::string label = engine + " " + model_name.substr(9) + " TP" + tp_text;
        record.add_summary(label + " prefill", g.prefill.n, g.prefill.mape(), g.prefill.bias(), g.prefill_slope);
        if (g.decode.n > 0) {
          record.add_summary(label + " decode", g.decode.n, g.decode.mape(), g.decode.bias(), g.decode_slope);
        } else if (!std::isnan(g.decode_slope)) {  // the slope alone: one comparison
          record.add_summary(label + " decode, per cached token", 1, std::fabs(g.decode_slope), g.decode_slope, g.decode_slope);
        }
        char line[240];
        std::snprintf(line, sizeof line, "  %-22s prefill MAPE %5.1f%% (signed %+6.1f%%)   decode MAPE %s   %s\n", label.c_str(),
                      g.prefill.mape(), g.prefill.bias(),
                      g.decode.n > 0 ? (std::to_string(static_cast<int>(std::lround(g.decode.mape()))) + "%").c_str() : "  - ",
                      g.slopes.c_str());
        report += line;
        if (engine == "distserve") {
          CAPTURE(label);
          CHECK(g.prefill.mape() < 10);                // per group, as issue 15 asks of iterations
          CHECK(std::fabs(g.prefill_slope) < 15);      // a slope differences two fitted points
        }
      }
    }
  }
  for (const auto& [engine, e] : engines) {
    char line[240];
    std::snprintf(line, sizeof line,
                  "  %-9s prefill MAPE %5.1f%% (signed %+6.1f%%), per-token slope signed %+6.1f%%; decode MAPE %5.1f%% (signed "
                  "%+6.1f%%), per-cached-token slope signed %+6.1f%%\n",
                  engine.c_str(), e.prefill.mape(), e.prefill.bias(), e.prefill_slope.bias(), e.decode.mape(), e.decode.bias(),
                  e.decode_slope.bias());
    report += line;
  }
  MESSAGE(report);
  record.write();
  // DistServe's engine: kernels and all-reduces model its prefills at every TP.
  CHECK(engines["distserve"].prefill.mape() < 7);
  // Its paged decode attention (vLLM's PagedAttention kernel of 2023) streams the cache
  // about a fifth slower than the FlashAttention decode kernels the A100's curve is fitted
  // on: an open gap, held where it stands.
  CHECK(engines["distserve"].decode_slope.bias() > -30);
  // vLLM of 2023 ran its prefills 1.1-1.9x slower per token than DistServe's engine on the
  // same GPUs (the fits' own slopes); foresight does not model why (docs/serving.md). Held
  // where it stands.
  CHECK(engines["vllm"].prefill.mape() < 40);
  CHECK(engines["vllm"].decode.mape() < 30);
}
