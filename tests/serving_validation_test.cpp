// Serving against queueing theory: one replica that serves one request at a time is a
// single-server FIFO queue. With Poisson arrivals and identical requests (deterministic
// service S), the mean wait before service is M/D/1's rho S / (2 (1 - rho)) (the
// Pollaczek-Khinchine formula with zero service variance), rho = lambda S.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "csv_table.hpp"
#include "error_stats.hpp"
#include "serving_support.hpp"
#include "test_support.hpp"

using namespace foresight;
using namespace foresight::testing;

namespace {
// One Llama-3-8B replica on an H100 serving one request at a time: a single-server FIFO
// queue whose service time is that of a request alone.
struct SingleServer : ServingBench {
  std::unique_ptr<IterationCostModel> cost;
  explicit SingleServer(LengthDistribution output) {
    config.max_num_seqs = 1;
    config.traffic.prompt = {256, 256};
    config.traffic.output = output;
    cost = std::make_unique<IterationCostModel>(model, gpu, fabric, config, roofline);
  }
  ServingResult run(std::int64_t requests, double rate, std::uint64_t seed) {
    config.traffic.requests = requests;
    config.traffic.rate = rate;
    return simulate_serving(config, make_requests(config.traffic, seed), *cost);
  }
  // Four independent runs of 100,000 requests, pooled: waits are long-correlated near
  // saturation, so one run's mean spreads by +-3% at rho 0.7, the pooled one by about 1%.
  double pooled_mean_wait(double rate) {
    double wait = 0;
    for (std::uint64_t seed = 3; seed < 7; ++seed) wait += run(100000, rate, seed).queueing.mean / 4;
    return wait;
  }
};
}  // namespace

TEST_CASE("one request at a time under Poisson arrivals: the mean queueing delay is M/D/1's") {
  SingleServer server({16, 16});
  const double service = server.run(1, 1, 1).e2e.mean;  // a request alone, from arrival to its last token

  for (double rho : {0.5, 0.7}) {
    const double wait = server.pooled_mean_wait(rho / service);
    const double expected = rho * service / (2 * (1 - rho));
    MESSAGE("rho " << rho << ": service " << service * 1e3 << " ms; mean wait simulated " << wait * 1e3 << " ms, M/D/1 "
                   << expected * 1e3 << " ms (" << (wait / expected - 1) * 100 << "%)");
    CHECK(std::fabs(wait / expected - 1) < 0.025);  // tolerance 2.5%
  }
}

// Iteration times against measured batch runs of Llama-2-70B (shared/data/serving/
// splitwise_perf_model.csv, from the Splitwise simulator's profiles: a batch of b prompts
// of p tokens prefilled together, then token_size decode steps): prompt_time (ms) against
// one prefill iteration, token_time (ms per token) against the mean decode iteration over
// the same steps. Roofline cost model, NCCL's costs on NVSwitch for the TP all-reduces.
TEST_CASE("prefill and decode iterations of Llama-2-70B on A100 and H100 against Splitwise's measurements") {
  const CsvTable table = read_csv(shared_data_path("serving/splitwise_perf_model.csv"));
  REQUIRE(table.loaded());
  struct Key {
    std::string gpu;
    std::int64_t tp, prompt, batch, tokens;
    auto operator<=>(const Key&) const = default;
  };
  std::map<Key, std::pair<double, double>> measured;  // mean prompt_time, token_time (ms)
  std::map<Key, int> repeats;
  for (const auto& row : table.rows) {
    const std::string hardware = row[table.column("hardware")];
    if (row[table.column("model")] != "llama2-70b" || (hardware != "a100-80gb" && hardware != "h100-80gb")) continue;
    const Key key{hardware == "a100-80gb" ? "a100_sxm_80gb" : "h100_sxm", static_cast<std::int64_t>(table.number(row, "tensor_parallel")),
                  static_cast<std::int64_t>(table.number(row, "prompt_size")), static_cast<std::int64_t>(table.number(row, "batch_size")),
                  static_cast<std::int64_t>(table.number(row, "token_size"))};
    measured[key].first += table.number(row, "prompt_time");
    measured[key].second += table.number(row, "token_time");
    ++repeats[key];
  }
  const ModelArch model = *find_builtin_model("llama2_70b");
  const RooflineModel roofline{RooflineParameters{}};
  std::map<std::string, ErrorStats> prefill, decode;
  std::map<std::pair<std::string, std::int64_t>, std::unique_ptr<IterationCostModel>> models;
  int impossible = 0;
  for (auto& [key, times] : measured) {
    const double n = repeats[key];
    const double prompt_ms = times.first / n, token_ms = times.second / n;
    const GpuSpec gpu = *find_builtin_gpu(key.gpu);
    auto& cost = models[{key.gpu, key.tp}];
    if (!cost) {
      NodeFabric fabric;
      fabric.preset = "nvswitch_node";
      fabric.gpus = 8;
      fabric.bandwidth = gpu.scale_up_bandwidth;
      fabric.network = NetworkModel::kFlow;
      ServingConfig config;
      config.tp = key.tp;
      config.max_batched_tokens = 1 << 19;
      cost = std::make_unique<IterationCostModel>(model, gpu, fabric, config, roofline);
    }
    BatchShape prefill_shape;
    prefill_shape.tokens = key.batch * key.prompt;
    prefill_shape.outputs = key.batch;
    prefill_shape.prefill_attention = key.batch * cost->prefill_attention(key.prompt, 0);
    const std::string label = key.gpu + " TP" + std::to_string(key.tp);
    // A prefill faster than the GPUs' dense peak allows (2 N FLOPs per token) was not a
    // full run: two rows (TP 2, 64 x 512 tokens in 0.8 s on A100 and on H100) are left out.
    const double peak_ms = 2 * count_parameters(model).total * static_cast<double>(prefill_shape.tokens) /
                           (static_cast<double>(key.tp) * gpu.peak(Dtype::kBf16)) * 1e3;
    if (prompt_ms < peak_ms) {
      ++impossible;
      continue;
    }
    prefill[label].add(to_seconds(cost->iteration(prefill_shape)) * 1e3, prompt_ms);
    Time decoding = 0;
    for (std::int64_t step = 1; step < key.tokens; ++step) {
      decoding += cost->iteration({key.batch, key.batch, key.batch * (key.prompt + step), key.batch, 0});
    }
    decode[label].add(to_seconds(decoding) * 1e3 / static_cast<double>(key.tokens - 1), token_ms);
  }
  std::string report = "\nLlama-2-70B, predicted vs Splitwise's measurements (MAPE; mean signed error)\n";
  for (const auto& [label, stats] : prefill) {
    char line[200];
    std::snprintf(line, sizeof line, "  %-20s prefill: %3d configurations, MAPE %5.1f%%, bias %+6.1f%%   decode: MAPE %5.1f%%, bias %+6.1f%%\n",
                  label.c_str(), stats.n, stats.mape(), stats.bias(), decode.at(label).mape(), decode.at(label).bias());
    report += line;
  }
  MESSAGE(report);
  CHECK(impossible == 2);
  // The roofline is not calibrated (issue 6), and the measured stack spends far more than
  // its kernels at small batches and high TP (28-30 ms per decoded token at TP 4 on H100
  // where the weights take 10 ms to read): decode is predicted 20-60% fast. These bounds
  // hold today's model to what it reaches, per GPU and TP degree.
  for (const auto& [label, stats] : prefill) {
    CAPTURE(label);
    CHECK(stats.mape() < 40);
    CHECK(decode.at(label).mape() < 65);
  }
}

// KV-cache capacity against DistServe's figures for OPT on A100-80GB
// (shared/data/serving/max_num_tokens.csv, the rows without pipeline parallelism): tokens
// of cache left by the weights, at gpu_memory_utilization 1 as DistServe sizes it.
TEST_CASE("KV-cache capacity of OPT-13B/66B/175B at TP 1-8 against DistServe's") {
  const CsvTable table = read_csv(shared_data_path("serving/max_num_tokens.csv"));
  REQUIRE(table.loaded());
  const auto opt = [](const std::string& name) {
    ModelArch m = *find_builtin_model("gpt3_175b");  // OPT: GPT-style, learned positions, LayerNorm, biases
    const std::int64_t hidden = name == "facebook/opt-13b" ? 5120 : name == "facebook/opt-66b" ? 9216 : 12288;
    m.name = name;
    m.hidden = hidden;
    m.layers = name == "facebook/opt-13b" ? 40 : name == "facebook/opt-66b" ? 64 : 96;
    m.heads = name == "facebook/opt-13b" ? 40 : name == "facebook/opt-66b" ? 72 : 96;
    m.kv_heads = m.heads;
    m.head_dim = hidden / m.heads;
    m.ffn_hidden = 4 * hidden;
    m.vocab = 50272;
    m.max_positions = 2048;
    m.activation = Activation::kRelu;
    return m;
  };
  const GpuSpec gpu = *find_builtin_gpu("a100_sxm_80gb");
  NodeFabric fabric;
  fabric.preset = "nvswitch_node";
  fabric.bandwidth = gpu.scale_up_bandwidth;
  const RooflineModel roofline{RooflineParameters{}};
  ErrorStats errors;
  std::string report = "\nKV-cache tokens per replica, predicted vs DistServe (A100-80GB)\n";
  for (const auto& row : table.rows) {
    if (table.number(row, "pp") != 1) continue;
    ServingConfig config;
    config.tp = static_cast<std::int64_t>(table.number(row, "tp"));
    config.gpu_memory_utilization = 1;
    const IterationCostModel cost(opt(row[table.column("model")]), gpu, fabric, config, roofline);
    const double predicted = static_cast<double>(cost.kv_blocks() * config.block_size);
    const double measured = table.number(row, "max_num_tokens");
    const double pct = errors.add(predicted, measured);
    char line[160];
    std::snprintf(line, sizeof line, "  %-18s TP %lld: %9.0f vs %9.0f  %+5.1f%%\n", row[table.column("model")].c_str(),
                  static_cast<long long>(config.tp), predicted, measured, pct);
    report += line;
    CHECK(std::fabs(pct) < 5);  // tolerance 5% per row
  }
  MESSAGE(report << "MAPE " << errors.mape() << "%");
  CHECK(errors.mape() < 2);
}

// The general case, M/G/1: with output lengths uniform on [1, 64] and a 256-token prompt,
// a lone request's service is S = a + b (o - 1) exactly (a: its prefill iteration, b: a
// decode iteration, constant while the context stays within one 1,024-token lookup
// quantum), and the mean wait is Pollaczek-Khinchine's lambda E[S^2] / (2 (1 - rho)).
TEST_CASE("one request at a time with variable outputs: the mean queueing delay is M/G/1's") {
  SingleServer lone({2, 2});
  const ServingResult two_tokens = lone.run(1, 1, 1);
  const double a = two_tokens.ttft.mean, b = two_tokens.e2e.mean - two_tokens.ttft.mean;
  double mean = 0, square = 0;
  for (int o = 1; o <= 64; ++o) {
    const double s = a + b * (o - 1);
    mean += s / 64;
    square += s * s / 64;
  }
  const double rho = 0.7, rate = rho / mean;
  SingleServer server({1, 64});
  const double wait = server.pooled_mean_wait(rate);
  const double expected = rate * square / (2 * (1 - rho));
  MESSAGE("M/G/1 at rho 0.7: E[S] " << mean * 1e3 << " ms; mean wait simulated " << wait * 1e3 << " ms, Pollaczek-Khinchine "
                                    << expected * 1e3 << " ms (" << (wait / expected - 1) * 100 << "%)");
  CHECK(std::fabs(wait / expected - 1) < 0.03);  // tolerance 3%: service variance adds to the spread
}
