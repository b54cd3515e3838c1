// Training attention, forward and backward, against cuDNN 9.19's measured kernels on an H200
// and a GB200 (NVIDIA/cudnn-frontend benchmark/sdpa_benchmark_training/results,
// h200_919_only_cudnn and gb200_919_only_cudnn, Apache-2.0;
// calibration/data/attention/training_attention_cudnn919.csv): Llama 3.1's 64 / 8 heads of
// dim 128, causal and unmasked, one sequence of 2k-32k tokens, and gpt-oss's 64 / 8 heads of
// dim 64 over a 1,024-token sliding window, two sequences, all in bf16. Each kernel is timed
// alone by the profiler with the L2 flushed before it. Held out: the catalog's warp-specialized
// fractions come from FlashAttention-3 on Hopper and from cuDNN 9.10 under PyTorch on a B200,
// the head dim's share from the special-function units' rate; nothing was set from these rows.
#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "csv_table.hpp"
#include "error_stats.hpp"
#include "models/roofline_model.hpp"
#include "models/transformer_ops.hpp"
#include "sim/engine/time.hpp"
#include "test_support.hpp"
#include "validation_record.hpp"

using namespace foresight;
using foresight::testing::CsvTable;
using foresight::testing::ErrorStats;

namespace {
// A lone kernel between idle gaps runs at the boost clock, under the power limit that holds a
// training step's GEMMs below it.
GpuSpec at_boost_clock(const std::string& name) {
  GpuSpec gpu = *find_builtin_gpu(name);
  gpu.clocks.bf16_mhz = gpu.clocks.max_clock_mhz;
  return gpu;
}

// The keys each query meets, as the benchmark counts them: the causal triangle, or with a
// window of w keys, the triangle's first w rows and then w keys a row. The benchmark's own
// count (not prefill_attention_op's, equal to within its +1 terms) is what its times divide.
double scores_per_head(const std::string& mask, std::int64_t window, std::int64_t seq) {
  const auto s = static_cast<double>(seq), w = static_cast<double>(window);
  if (mask == "no_mask") return s * s;
  if (window > 0 && seq > window) return w * (w + 1) / 2 + (s - w) * w;
  return s * (s + 1) / 2;
}

Op training_attention(const CsvTable& table, const std::vector<std::string>& row, Phase phase) {
  AttentionShape a;
  a.batch = static_cast<std::int64_t>(table.number(row, "batch"));
  a.heads = static_cast<std::int64_t>(table.number(row, "heads"));
  a.kv_heads = static_cast<std::int64_t>(table.number(row, "kv_heads"));
  a.q_len = a.kv_len = static_cast<std::int64_t>(table.number(row, "seq"));
  a.head_dim = static_cast<std::int64_t>(table.number(row, "head_dim"));
  a.causal = row[table.column("mask")] != "no_mask";
  a.warp_specialized = true;
  Op op = attention_op(a, phase, Dtype::kBf16);
  // The masked scores are skipped, so the FLOPs (which also give the keys each query meets)
  // are the benchmark's own count: 4 d per score forward, 2.5 times that backward.
  const double scores = scores_per_head(row[table.column("mask")], static_cast<std::int64_t>(table.number(row, "window")), a.q_len);
  op.flops = 4.0 * static_cast<double>(a.batch * a.heads * a.head_dim) * scores * (phase == Phase::kForward ? 1.0 : 2.5);
  return op;
}

std::string family(const CsvTable& table, const std::vector<std::string>& row) {
  if (table.number(row, "window") > 0) return "d64, window 1024";
  return row[table.column("mask")] == "no_mask" ? "d128, no mask" : "d128, causal";
}
}  // namespace

TEST_CASE("training attention, forward and backward, against cuDNN 9.19's kernels on an H200 and a GB200") {
  const auto table = foresight::testing::read_csv(foresight::testing::public_data_path("attention/training_attention_cudnn919.csv"));
  REQUIRE_MESSAGE(table.rows.size() == 30, "calibration/data/attention/training_attention_cudnn919.csv is part of the repository");
  RooflineParameters parameters;
  parameters.launch_seconds = 0;  // the profiler's kernel time
  const RooflineModel roofline(parameters);
  foresight::testing::ValidationRecord record(
      "kernels_training_attention_cudnn919", "Training attention: the roofline against cuDNN 9.19's forward and backward kernels",
      "NVIDIA/cudnn-frontend sdpa_benchmark_training results (calibration/data/attention)", "held out", "kernels", "kernel time");
  record.summary_columns("mean signed error", "worst |error|");
  std::map<std::string, ErrorStats> groups, long_groups;
  std::string lines = "gpu        kernels            seq   pass  measured ms  predicted ms  error\n";
  for (const auto& row : table.rows) {
    const std::string name = row[table.column("gpu")];
    const GpuSpec gpu = at_boost_clock(name);
    const auto seq = static_cast<std::int64_t>(table.number(row, "seq"));
    const std::string kernels = family(table, row);
    for (const Phase phase : {Phase::kForward, Phase::kBackwardInput}) {
      const bool forward = phase == Phase::kForward;
      const double measured = table.number(row, forward ? "fwd_ms" : "bwd_ms") * 1e-3;
      const double predicted = to_seconds(roofline.estimate(training_attention(table, row, phase), gpu).duration);
      const std::string group = name + " " + (forward ? "forward" : "backward") + ", " + kernels;
      const double error = groups[group].add(predicted, measured);
      if (seq >= 8192) long_groups[group].add(predicted, measured);
      char line[160];
      std::snprintf(line, sizeof line, "%-10s %-17s %6lld  %-4s %12.3f %13.3f  %+6.1f%%\n", name.c_str(), kernels.c_str(),
                    static_cast<long long>(seq), forward ? "fwd" : "bwd", measured * 1e3, predicted * 1e3, error);
      lines += line;
    }
  }
  MESSAGE(lines);
  for (const auto& [group, e] : groups) {
    const ErrorStats& l = long_groups[group];
    MESSAGE(group << ": " << e.n << " kernels, MAPE " << e.mape() << "%, signed " << e.bias() << "%, worst " << e.worst << "%; 8k tokens and more: MAPE "
                  << l.mape() << "%, signed " << l.bias() << "%");
    record.add_summary(group, e.n, e.mape(), e.bias(), e.worst);
  }
  record.write();
  // On 2026-12-04 every group but one (within 1%) came out slow: tripwires, not targets. Hopper's
  // fractions are FlashAttention-3's of 2024 (0.62 forward, 0.53 backward of the datasheet
  // peak at 1,965 MHz); cuDNN 9.19 runs head dim 128 11-17% faster forward and 20-22%
  // backward, while head dim 64 over a 1,024-key window comes within 3% forward (the head
  // dim's exponential and the per-tile cost of 300 keys together) and 17% backward.
  // Blackwell's per-tile cost, 1,750 keys fitted on cuDNN 9.10 called through PyTorch's SDPA
  // (that benchmark's profiler sums every kernel of the call), is over twice what cuDNN 9.19
  // pays on a GB200:
  // within 4-14% forward at 16k-32k tokens, up to 66% slow at 2k and over the window.
  for (const auto& [name, e] : groups) {
    const std::string& group = name;  // clang before 16 cannot capture a structured binding
    CAPTURE(group);
    CHECK(e.bias() > -5);
    CHECK(e.worst < 70);
  }
  CHECK(groups.at("h200_sxm forward, d64, window 1024").mape() < 5);
  CHECK(long_groups.at("h200_sxm forward, d128, causal").mape() < 20);
  CHECK(long_groups.at("h200_sxm backward, d128, causal").mape() < 25);
  CHECK(long_groups.at("gb200 forward, d128, no mask").mape() < 15);
  CHECK(long_groups.at("gb200 backward, d128, no mask").mape() < 20);
}
