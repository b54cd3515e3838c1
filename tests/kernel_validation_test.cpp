// The roofline model against measured GEMM kernel times: Vidur's per-operator profiles
// of Llama-2-7B and Llama-2-70B layers on H100 and A100 (fp16, PyTorch/Kineto kernel time,
// median of repetitions; calibration/data/vidur, MIT licence). Kernel time excludes launch
// gaps, so the model is compared with its launch overhead set to zero.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>

#include "csv_table.hpp"
#include "error_stats.hpp"
#include "models/model_arch.hpp"
#include "models/roofline_model.hpp"
#include "test_support.hpp"
#include "validation_record.hpp"

using namespace foresight;
using foresight::testing::ErrorStats;
using foresight::testing::read_csv;
using foresight::testing::public_data_path;

namespace {
struct Projection {
  const char* column;
  // GEMM shape for `tokens` rows at tensor-parallel degree tp
  GemmShape (*shape)(std::int64_t tokens, std::int64_t tp, const ModelArch& m);
};

const Projection kProjections[] = {
    {"time_stats.attn_pre_proj.median",
     [](std::int64_t t, std::int64_t tp, const ModelArch& m) {
       return GemmShape{t, (m.heads + 2 * m.kv_heads) * m.head_dim / tp, m.hidden, 1};
     }},
    {"time_stats.attn_post_proj.median",
     [](std::int64_t t, std::int64_t tp, const ModelArch& m) {
       return GemmShape{t, m.hidden, m.heads * m.head_dim / tp, 1};
     }},
    {"time_stats.mlp_up_proj.median",
     [](std::int64_t t, std::int64_t tp, const ModelArch& m) { return GemmShape{t, 2 * m.ffn_hidden / tp, m.hidden, 1}; }},
    {"time_stats.mlp_down_proj.median",
     [](std::int64_t t, std::int64_t tp, const ModelArch& m) { return GemmShape{t, m.hidden, m.ffn_hidden / tp, 1}; }},
};

Op gemm(const GemmShape& s) {
  Op op;
  op.kind = OpClass::kGemm;
  op.dtype = Dtype::kFp16;
  op.gemm = s;
  const double m = static_cast<double>(s.m), n = static_cast<double>(s.n), k = static_cast<double>(s.k);
  op.flops = 2 * m * n * k;
  op.bytes = 2 * (m * k + k * n + m * n);
  return op;
}

// Regimes: decode-like (<= 64 tokens, weight-streaming, memory-bound), the transition
// (128..768) and prefill/training-like (>= 1024 tokens, compute-bound).
int regime(double tokens) { return tokens <= 64 ? 0 : tokens < 1024 ? 1 : 2; }
}  // namespace

TEST_CASE("roofline GEMM times against Vidur's measured H100 and A100 kernels") {
  RooflineParameters p;
  p.launch_seconds = 0;
  const RooflineModel model(p);
  const char* regimes[] = {"<=64 tokens (memory-bound)", "128..768 tokens (transition)", ">=1024 tokens (compute-bound)"};
  ErrorStats overall[3];
  std::string table = "\ngpu   model        regime                          rows   MAPE    worst\n";
  const struct { const char* gpu_file; const char* gpu; const char* model_file; const char* model; } sets[] = {
      {"h100", "h100_sxm", "Llama-2-7b-hf", "llama2_7b"}, {"h100", "h100_sxm", "Llama-2-70b-hf", "llama2_70b"},
      {"a100", "a100_sxm_80gb", "Llama-2-7b-hf", "llama2_7b"}, {"a100", "a100_sxm_80gb", "Llama-2-70b-hf", "llama2_70b"},
  };
  int files = 0;
  foresight::testing::ValidationRecord record(
      "kernels_vidur_gemm", "Single GEMMs: the roofline against Vidur's measured H100 and A100 kernels (fp16)",
      "microsoft/vidur profiling tables (calibration/data/vidur)",
      "H100 held out; A100 fitting (its GEMM efficiency is Vidur's A100 median)", "kernels", "kernel time");
  record.summary_columns("mean signed error", "worst |error|");
  for (const auto& set : sets) {
    const auto csv = read_csv(public_data_path(std::string("vidur/mlp_") + set.gpu_file + "_" + set.model_file + ".csv"));
    if (!csv.loaded()) continue;
    ++files;
    const GpuSpec& gpu = *find_builtin_gpu(set.gpu);
    const ModelArch& arch = *find_builtin_model(set.model);
    ErrorStats stats[3];
    for (const auto& row : csv.rows) {
      const double tokens = csv.number(row, "num_tokens");
      const auto tp = static_cast<std::int64_t>(csv.number(row, "num_tensor_parallel_workers"));
      for (const Projection& projection : kProjections) {
        const double measured = csv.number(row, projection.column) * 1e-3;
        const Op op = gemm(projection.shape(static_cast<std::int64_t>(tokens), tp, arch));
        const double predicted = to_seconds(model.estimate(op, gpu).duration);
        stats[regime(tokens)].add(predicted, measured);
        overall[regime(tokens)].add(predicted, measured);
      }
    }
    for (int r = 0; r < 3; ++r) {
      char line[160];
      std::snprintf(line, sizeof line, "%-5s %-12s %-31s %5d %6.1f%% %7.1f%%\n", set.gpu_file, set.model, regimes[r],
                    stats[r].n, stats[r].mape(), stats[r].worst);
      table += line;
      record.add_summary(std::string(set.gpu_file) + " " + set.model + ", " + regimes[r], stats[r].n, stats[r].mape(), stats[r].bias(),
                         stats[r].worst);
    }
  }
  REQUIRE_MESSAGE(files > 0, "calibration/data/vidur is part of the repository; its tables are missing");
  MESSAGE(table);
  record.write();
  // Tolerances, about a third above what the model scored on 2026-11-30 (compute-bound
  // 11.8%, memory-bound 12.6%, transition 17.5% over both GPUs): the H100 rows are a source
  // no figure was fitted to; the A100's GEMM efficiency is the median of its table. Split-K
  // brought the transition regime from 25% (worst 4.5x) to 17.5% (worst 2.2x).
  CHECK(overall[2].mape() < 15.0);
  CHECK(overall[0].mape() < 17.0);
  CHECK(overall[1].mape() < 23.0);
}
