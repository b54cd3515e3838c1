// Serving against queueing theory: one replica that serves one request at a time is a
// single-server FIFO queue. With Poisson arrivals and identical requests (deterministic
// service S), the mean wait before service is M/D/1's rho S / (2 (1 - rho)) (the
// Pollaczek-Khinchine formula with zero service variance), rho = lambda S.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "csv_table.hpp"
#include "models/transformer_ops.hpp"
#include "error_stats.hpp"
#include "serving_support.hpp"
#include "test_support.hpp"
#include "validation_record.hpp"

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

// Iteration times against measured batch runs of Llama-2-70B (calibration/data/serving/
// splitwise_perf_model.csv, from the Splitwise simulator's profiles of vLLM in 2023 on a
// DGX A100 and a DGX H100: a batch of b prompts of p tokens prefilled together, then
// token_size decode steps): prompt_time (ms) against one prefill iteration, token_time (ms
// per token) against the mean decode iteration over the same steps. The engine is vLLM's
// V0 host (Vidur's CPU profile) running eagerly, as vLLM did before CUDA graphs (0.2.2),
// with Ray workers; the roofline times the kernels, NCCL's costs on NVSwitch the TP
// all-reduces.
//
// Fitting split: the decode rows at TP 8 and batch 1, where the iteration is launch-bound
// (30 ms per token against 8 ms of kernels on H100), set the host time per kernel launch,
// one figure per machine (the DGX A100's and the DGX H100's CPUs differ). The H100 figure is
// the engines' default (kEagerLaunchSeconds). Every other row is held out.
namespace {
struct SplitwiseKey {
  std::string gpu;
  std::int64_t tp, prompt, batch, tokens;
  auto operator<=>(const SplitwiseKey&) const = default;
};
struct SplitwiseTimes {
  double prompt_ms = 0, token_ms = 0;  // means over repeats
};

std::map<SplitwiseKey, SplitwiseTimes> splitwise_llama2_70b() {
  const CsvTable table = read_csv(public_data_path("serving/splitwise_perf_model.csv"));
  REQUIRE(table.loaded());
  std::map<SplitwiseKey, SplitwiseTimes> sums;
  std::map<SplitwiseKey, int> repeats;
  for (const auto& row : table.rows) {
    const std::string hardware = row[table.column("hardware")];
    if (row[table.column("model")] != "llama2-70b" || (hardware != "a100-80gb" && hardware != "h100-80gb")) continue;
    const SplitwiseKey key{hardware == "a100-80gb" ? "a100_sxm_80gb" : "h100_sxm", static_cast<std::int64_t>(table.number(row, "tensor_parallel")),
                           static_cast<std::int64_t>(table.number(row, "prompt_size")), static_cast<std::int64_t>(table.number(row, "batch_size")),
                           static_cast<std::int64_t>(table.number(row, "token_size"))};
    sums[key].prompt_ms += table.number(row, "prompt_time");
    sums[key].token_ms += table.number(row, "token_time");
    ++repeats[key];
  }
  for (auto& [key, times] : sums) {
    times.prompt_ms /= repeats[key];
    times.token_ms /= repeats[key];
  }
  return sums;
}

// One replica of Llama-2-70B as Splitwise ran it: vLLM in 2023.
struct SplitwiseReplica {
  std::unique_ptr<IterationCostModel> cost;
  SplitwiseReplica(const ModelArch& model, const GpuSpec& gpu, std::int64_t tp, double launch_seconds, const RooflineModel& roofline) {
    ServingConfig config = vllm_2023_config(gpu, tp, model.max_positions, launch_seconds);
    config.max_batched_tokens = 1 << 19;
    cost = std::make_unique<IterationCostModel>(model, gpu, dgx_fabric(gpu), config, roofline);
  }
  double prefill_ms(const SplitwiseKey& key) const {
    BatchShape shape;
    shape.tokens = key.batch * key.prompt;
    shape.outputs = shape.sequences = key.batch;
    shape.prefill_attention = key.batch * cost->prefill_attention(key.prompt, 0);
    return to_seconds(cost->iteration(shape)) * 1e3;
  }
  BatchShape decode_shape(const SplitwiseKey& key, std::int64_t step) const {
    BatchShape shape;
    shape.tokens = shape.decodes = shape.outputs = shape.sequences = key.batch;
    shape.decode_context = key.batch * (key.prompt + step);
    return shape;
  }
  double decode_ms(const SplitwiseKey& key) const {
    Time decoding = 0;
    for (std::int64_t step = 1; step < key.tokens; ++step) decoding += cost->iteration(decode_shape(key, step));
    return to_seconds(decoding) * 1e3 / static_cast<double>(key.tokens - 1);
  }
};

bool fitting_row(const SplitwiseKey& key) { return key.tp == 8 && key.batch == 1 && key.prompt == 512; }

// The host time per launch that makes the fitting rows' mean decode step come out as
// measured: the launch-bound part is (measured - CPU time) over the launches per step.
double fitted_launch_seconds(const std::map<SplitwiseKey, SplitwiseTimes>& rows, const std::string& gpu_name,
                             const ModelArch& model, const RooflineModel& roofline) {
  const GpuSpec gpu = *find_builtin_gpu(gpu_name);
  const SplitwiseReplica replica(model, gpu, 8, 0, roofline);
  double sum = 0;
  int n = 0;
  for (const auto& [key, times] : rows) {
    if (key.gpu != gpu_name || !fitting_row(key)) continue;
    const BatchShape shape = replica.decode_shape(key, key.tokens / 2);
    const auto launches = static_cast<double>(replica.cost->eager_launches(shape));
    sum += (times.token_ms * 1e-3 - to_seconds(replica.cost->cpu_time(shape))) / launches;
    ++n;
  }
  return sum / n;
}
}  // namespace

TEST_CASE("prefill and decode iterations of Llama-2-70B on A100 and H100 against Splitwise's measurements") {
  const std::map<SplitwiseKey, SplitwiseTimes> measured = splitwise_llama2_70b();
  const ModelArch model = *find_builtin_model("llama2_70b");
  const RooflineModel roofline{RooflineParameters{}};
  std::map<std::string, double> launch;
  for (const char* gpu : {"a100_sxm_80gb", "h100_sxm"}) launch[gpu] = fitted_launch_seconds(measured, gpu, model, roofline);
  MESSAGE("host time per eager kernel launch, fitted on the TP 8 batch-1 decode rows: DGX A100 " << launch["a100_sxm_80gb"] * 1e6
          << " us, DGX H100 " << launch["h100_sxm"] * 1e6 << " us");
  // The engines' default is the DGX H100's figure.
  CHECK(launch["h100_sxm"] == doctest::Approx(kEagerLaunchSeconds).epsilon(0.05));

  std::map<std::string, ErrorStats> prefill, decode;
  std::map<std::pair<std::string, std::int64_t>, std::unique_ptr<SplitwiseReplica>> replicas;
  ValidationRecord record("s1_splitwise_llama2_70b", "S1: Llama-2-70B prefill and decode iterations, vLLM (2023) on DGX A100 and DGX H100",
                          "Splitwise's profiles (calibration/data/serving/splitwise_perf_model.csv, Patel et al. ISCA'24)",
                          "held out (the host time per launch was fitted on the TP 8, batch 1 decode rows, left out here)",
                          "serving iterations", "iteration time (ms)");
  int impossible = 0;
  for (const auto& [key, times] : measured) {
    const GpuSpec gpu = *find_builtin_gpu(key.gpu);
    auto& replica = replicas[{key.gpu, key.tp}];
    if (!replica) replica = std::make_unique<SplitwiseReplica>(model, gpu, key.tp, launch[key.gpu], roofline);
    // A prefill faster than the GPUs' dense peak allows (2 N FLOPs per token) was not a
    // full run: two rows (TP 2, 64 x 512 tokens in 0.8 s on A100 and on H100) are left out.
    const double peak_ms = 2 * count_parameters(model).total * static_cast<double>(key.batch * key.prompt) /
                           (static_cast<double>(key.tp) * gpu.peak(Dtype::kBf16)) * 1e3;
    if (times.prompt_ms < peak_ms) {
      ++impossible;
      continue;
    }
    const std::string label = key.gpu + " TP" + std::to_string(key.tp);
    const std::string shape = " " + std::to_string(key.batch) + "x" + std::to_string(key.prompt);
    const double prefill_ms = replica->prefill_ms(key);
    prefill[label].add(prefill_ms, times.prompt_ms);
    record.add(label + " prefill" + shape, prefill_ms, times.prompt_ms, static_cast<int>(key.tp));
    if (fitting_row(key)) continue;
    const double decode_ms = replica->decode_ms(key);
    decode[label].add(decode_ms, times.token_ms);
    record.add(label + " decode" + shape + " +" + std::to_string(key.tokens), decode_ms, times.token_ms, static_cast<int>(key.tp));
  }
  std::string report = "\nLlama-2-70B, predicted vs Splitwise's measurements, held-out rows (MAPE; mean signed error)\n";
  for (const auto& [label, stats] : prefill) {
    char line[200];
    std::snprintf(line, sizeof line, "  %-20s prefill: %3d rows, MAPE %5.1f%%, bias %+6.1f%%   decode: %3d rows, MAPE %5.1f%%, bias %+6.1f%%\n",
                  label.c_str(), stats.n, stats.mape(), stats.bias(), decode.at(label).n, decode.at(label).mape(), decode.at(label).bias());
    report += line;
  }
  MESSAGE(report);
  record.write();
  CHECK(impossible == 2);
  // Decode: within 10% at every TP (issue 15's target). Prefill is not: the measured
  // prompt iterations sit about 20 ms above the decode floor on both machines at short
  // prompts, and their cost per token doubles past about 2,000 tokens at TP 4 and 8; no
  // mechanism in the model explains either (docs/validation.md). The prefill bounds hold
  // the model to what it reaches.
  for (const auto& [label, stats] : prefill) {
    const std::string& machine = label;  // clang before 16 cannot capture a structured binding
    CAPTURE(machine);
    CHECK(decode.at(label).mape() < 10);
    CHECK(stats.mape() < 33);
  }
  CHECK(prefill.at("a100_sxm_80gb TP2").mape() < 10);
}

// KV-cache capacity against DistServe's figures for OPT on A100-80GB
// (calibration/data/serving/max_num_tokens.csv, every TP and PP layout). With pipeline stages
// DistServe splits all weights evenly (its TP 1 PP 2 and TP 2 PP 1 rows agree), where vLLM
// keeps the embedding on the first stage and the head on the last and sizes the cache by
// the fullest stage, as foresight does: those rows are printed, not held to 5%. They are
// its planner's, not an engine's log: weights plus cache come to 78.9-79.9e9 bytes in every
// row, so DistServe counts an "80 GB" part as 80e9 bytes, all of it usable, and leaves out
// only the activations of a profiling pass (no driver reservation, no non-torch memory).
TEST_CASE("KV-cache capacity of OPT-13B/66B/175B at TP 1-8 and PP 1-8 against DistServe's") {
  const CsvTable table = read_csv(public_data_path("serving/max_num_tokens.csv"));
  REQUIRE(table.loaded());
  GpuSpec gpu = *find_builtin_gpu("a100_sxm_80gb");
  gpu.memory_bytes = 80e9;
  gpu.memory_reserved_bytes = 0;
  NodeFabric fabric;
  fabric.preset = "nvswitch_node";
  fabric.bandwidth = gpu.scale_up_bandwidth;
  const RooflineModel roofline{RooflineParameters{}};
  ErrorStats errors;
  ValidationRecord record("kv_capacity_distserve", "KV-cache capacity of OPT-13B/66B/175B on A100-80GB at TP 1-8 and PP 1-8, against DistServe's planner",
                          "calibration/data/serving/max_num_tokens.csv (DistServe, Zhong et al. OSDI'24)",
                          "held out (DistServe's convention, 80e9 bytes all usable, is set in the test; with pipeline stages it "
                          "splits weights evenly, vLLM and foresight do not)", "serving memory",
                          "KV-cache tokens per replica");
  std::string report = "\nKV-cache tokens per replica, predicted vs DistServe (A100-80GB)\n";
  for (const auto& row : table.rows) {
    ServingConfig config;
    config.tp = static_cast<std::int64_t>(table.number(row, "tp"));
    config.pp = static_cast<std::int64_t>(table.number(row, "pp"));
    config.engine.non_torch_bytes = 0;
    config.gpu_memory_utilization = 1;
    const IterationCostModel cost(opt_model(row[table.column("model")]), gpu, fabric, config, roofline);
    const double predicted = static_cast<double>(cost.kv_blocks() * config.block_size);
    const double measured = table.number(row, "max_num_tokens");
    const double pct = errors.add(predicted, measured);
    const std::string layout = "TP " + std::to_string(config.tp) + " PP " + std::to_string(config.pp);
    record.add(row[table.column("model")] + " " + layout, predicted, measured, static_cast<int>(config.tp * config.pp));
    char line[160];
    std::snprintf(line, sizeof line, "  %-18s %-10s %9.0f vs %9.0f  %+5.1f%%\n", row[table.column("model")].c_str(), layout.c_str(),
                  predicted, measured, pct);
    report += line;
    if (config.pp == 1) CHECK(std::fabs(pct) < 5);  // tolerance 5% per row
  }
  MESSAGE(report << "MAPE " << errors.mape() << "%");
  record.write();
  CHECK(errors.mape() < 2);
  CHECK(errors.worst < 12);
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

// Decode attention against Vidur's FlashAttention decode kernels on an A100 (calibration/data/
// vidur/attention_a100_llama2-70b-shapes_e2d00e9.csv: Llama-2-70B at TP 2, 32 query and 4
// key/value heads per GPU, batches 1-128, 32-4,032 cached tokens, Kineto medians). The
// roofline's decode-attention fixed cost was fitted on the even batch sizes; the odd ones
// are held out.
TEST_CASE("decode attention kernels on an A100 against Vidur's FlashAttention measurements") {
  const CsvTable table = read_csv(public_data_path("vidur/attention_a100_llama2-70b-shapes_e2d00e9.csv"));
  REQUIRE(table.loaded());
  const GpuSpec gpu = *find_builtin_gpu("a100_sxm_80gb");
  const RooflineModel roofline{RooflineParameters{}};
  std::vector<double> held_out, fitting;
  ErrorStats held;
  for (const auto& row : table.rows) {
    if (row[table.column("is_prefill")] != "False") continue;
    const auto batch = static_cast<std::int64_t>(table.number(row, "batch_size"));
    const auto cached = static_cast<std::int64_t>(table.number(row, "kv_cache_size"));
    const Op op = decode_attention_op(batch, 32, 4, 128, batch * cached, Dtype::kFp16, 2.0);
    const double predicted = to_seconds(roofline.estimate(op, gpu).duration);
    const double measured = table.number(row, "time_stats.attn_decode.median") * 1e-3;
    const double error = std::fabs(predicted / measured - 1) * 100;
    if (batch % 2 == 1) {
      held_out.push_back(error);
      held.add(predicted, measured);
    } else {
      fitting.push_back(error);
    }
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  MESSAGE("decode attention on A100: held out (odd batches) " << held_out.size() << " kernels, median |error| " << median(held_out)
                                                              << "%, mean signed " << held.bias() << "%; fitting (even) "
                                                              << fitting.size() << ", median |error| " << median(fitting) << "%");
  ValidationRecord record("decode_attention_a100", "Decode attention on an A100: the roofline against Vidur's FlashAttention kernels",
                          "calibration/data/vidur/attention_a100_llama2-70b-shapes_e2d00e9.csv (microsoft/vidur)",
                          "held out: the odd batch sizes (the fixed cost was fitted on the even ones)", "kernels",
                          "kernel time");
  record.summary_columns("mean signed error", "worst |error|");
  char label[96];
  std::snprintf(label, sizeof label, "odd batches, held out (median |error| %.1f%%)", median(held_out));
  record.add_summary(label, held.n, held.mape(), held.bias(), held.worst);
  record.write();
  CHECK(held_out.size() == 5120);
  CHECK(median(held_out) < 10);  // tolerance: the memory curve alone scores 14.5%
  CHECK(std::fabs(held.bias()) < 10);
}
