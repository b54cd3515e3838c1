// The cost models against measured GEMM kernel times: Vidur's per-operator profiles of
// Llama-2-7B and Llama-2-70B layers on H100 and A100 (fp16, PyTorch/Kineto kernel time,
// median of repetitions; calibration/data/vidur, MIT licence), and LLMCompass's A100
// matmuls (calibration/data/llmcompass, BSD-3-Clause). Kernel time excludes launch gaps, so
// the models are compared with their launch overhead set to zero.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "calibration/calibrated_cost_models.hpp"
#include "calibration/learned_cost_model.hpp"
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

// Inputs in `dtype`, the output in 16 bits (fp8 GEMMs write bf16).
Op gemm(const GemmShape& s, Dtype dtype = Dtype::kFp16) {
  Op op;
  op.kind = OpClass::kGemm;
  op.dtype = dtype;
  op.gemm = s;
  const double m = static_cast<double>(s.m), n = static_cast<double>(s.n), k = static_cast<double>(s.k);
  op.flops = 2 * m * n * k * static_cast<double>(s.batch);
  op.bytes = (dtype_bytes(dtype) * (m * k + k * n) + 2 * m * n) * static_cast<double>(s.batch);
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

namespace {
struct MeasuredGemm {
  GemmShape shape;
  double seconds = 0;
};

// LLMCompass's Fig. 5 table: "M, N, K, <time>ms, <rate>Tflops" a row, no header.
std::vector<MeasuredGemm> read_llmcompass_matmuls(const std::string& path) {
  std::vector<MeasuredGemm> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    long long m = 0, n = 0, k = 0;
    double ms = 0;
    if (std::sscanf(line.c_str(), "%lld, %lld, %lld, %lfms", &m, &n, &k, &ms) == 4) rows.push_back({{m, n, k, 1}, ms * 1e-3});
  }
  return rows;
}
}  // namespace

TEST_CASE("single GEMMs on a source no figure was fitted to: LLMCompass's measured A100 fp16 matmuls") {
  // Source: PrincetonUniversity/LLMCompass @ b95c6c9 (ISCA'24), Fig. 5(a, b): cuBLAS fp16
  // matmuls on an A100 (calibration/data/llmcompass, BSD-3-Clause); 20 shapes, M from 64 to
  // 32,768 at N = K = 12,288, and N = K from 64 to 32,768 at M = 8,192. Held out: neither the
  // roofline's A100 figures nor the learned model saw it. Target (issue 14): MAPE <= 10% on an
  // unseen source. What each model reaches is printed beside the measurement.
  const auto rows = read_llmcompass_matmuls(public_data_path("llmcompass/5_ab_matmul_A100.csv"));
  REQUIRE_MESSAGE(rows.size() == 20, "calibration/data/llmcompass/5_ab_matmul_A100.csv is part of the repository");
  const GpuSpec& gpu = *find_builtin_gpu("a100_sxm_80gb");
  RooflineParameters no_launch;
  no_launch.launch_seconds = 0;
  const RooflineModel roofline(no_launch);
  const LearnedCostModel learned(load_kernel_model(shipped_kernel_model_path()), no_launch);
  ErrorStats by_roofline, by_learned, large_roofline, large_learned;
  foresight::testing::ValidationRecord record(
      "kernels_llmcompass_gemm", "Single GEMMs: the roofline and the learned model against LLMCompass's measured A100 matmuls (fp16)",
      "PrincetonUniversity/LLMCompass Fig. 5 (calibration/data/llmcompass)", "held out", "kernels", "kernel time (us)");
  std::string table = "\n     M      N      K  measured   roofline          learned\n";
  for (const MeasuredGemm& row : rows) {
    const Op op = gemm(row.shape);
    const double r = to_seconds(roofline.estimate(op, gpu).duration), l = to_seconds(learned.estimate(op, gpu).duration);
    const double r_error = by_roofline.add(r, row.seconds), l_error = by_learned.add(l, row.seconds);
    if (op.flops >= 1e12) {
      large_roofline.add(r, row.seconds);
      large_learned.add(l, row.seconds);
    }
    const std::string shape = std::to_string(row.shape.m) + "x" + std::to_string(row.shape.n) + "x" + std::to_string(row.shape.k);
    record.add(shape + " roofline", r * 1e6, row.seconds * 1e6);
    record.add(shape + " learned", l * 1e6, row.seconds * 1e6);
    char line[160];
    std::snprintf(line, sizeof line, "%6lld %6lld %6lld %8.4f ms %8.4f ms %+6.1f%% %8.4f ms %+6.1f%%\n", static_cast<long long>(row.shape.m),
                  static_cast<long long>(row.shape.n), static_cast<long long>(row.shape.k), row.seconds * 1e3, r * 1e3, r_error, l * 1e3, l_error);
    table += line;
  }
  char summary[300];
  std::snprintf(summary, sizeof summary,
                "all %d rows: roofline MAPE %.1f%% (bias %+.1f%%), learned %.1f%% (bias %+.1f%%)\n"
                "%d rows of >= 1 TFLOP: roofline MAPE %.1f%% (bias %+.1f%%), learned %.1f%% (bias %+.1f%%)",
                by_roofline.n, by_roofline.mape(), by_roofline.bias(), by_learned.mape(), by_learned.bias(), large_roofline.n,
                large_roofline.mape(), large_roofline.bias(), large_learned.mape(), large_learned.bias());
  MESSAGE(table << summary);
  record.write();
  // Neither model meets the 10% target here. Two causes, both in the measurement's
  // conditions: the large GEMMs ran at 277-293 TFLOP/s, 89-94% of the 1,410 MHz peak, so the
  // GPU held its boost clock through these short runs, where foresight assumes the 1,305 MHz a
  // long training run sustains (and Vidur's A100 table, which set the A100's efficiency, ran
  // 20% slower on like shapes); and the smallest shapes sit on a floor of about 30 us, a
  // launch-inclusive timing that a kernel-time model does not predict. Bounds about a fifth
  // above what each model scored on 2026-11-30 (roofline 31.8%, learned 23.4%), so a
  // regression fails.
  CHECK(by_roofline.mape() < 38.0);
  CHECK(by_learned.mape() < 28.0);
}

namespace {
// One of XLA's default matmul performance tables (calibration/data/xla): unbatched GEMMs,
// M, N and K each 256 to 4,096, timed in bf16 and, where the table has it, fp8.
struct XlaMatmul {
  GemmShape shape;
  double bf16_seconds = 0, fp8_seconds = 0;
};

std::vector<XlaMatmul> read_xla_matmuls(const std::string& file) {
  const auto csv = read_csv(public_data_path("xla/" + file));
  const bool has_fp8 = std::find(csv.header.begin(), csv.header.end(), "fp8_e4m3_flops_per_s") != csv.header.end();
  std::vector<XlaMatmul> rows;
  for (const auto& row : csv.rows) {
    const GemmShape shape{static_cast<std::int64_t>(csv.number(row, "m")), static_cast<std::int64_t>(csv.number(row, "n")),
                          static_cast<std::int64_t>(csv.number(row, "k")), static_cast<std::int64_t>(csv.number(row, "b"))};
    const double flops = 2.0 * static_cast<double>(shape.m * shape.n * shape.k * shape.batch);
    rows.push_back({shape, flops / csv.number(row, "bf16_flops_per_s"), has_fp8 ? flops / csv.number(row, "fp8_e4m3_flops_per_s") : 0});
  }
  return rows;
}

double seconds_in(const XlaMatmul& row, Dtype dtype) { return dtype == Dtype::kFp8 ? row.fp8_seconds : row.bf16_seconds; }

// The table times each GEMM with a fixed cost per kernel that kernel time lacks (its timing
// method is not documented): its shortest entry, the 256^3 GEMM that does next to no work.
double table_floor(const std::vector<XlaMatmul>& rows, Dtype dtype) {
  double floor = seconds_in(rows.front(), dtype);
  for (const XlaMatmul& row : rows) floor = std::min(floor, seconds_in(row, dtype));
  return floor;
}

// Errors as measured, and with the clock taken out: the table's runs are short, so they hold
// a higher clock than the sustained one the catalog predicts at, which scales every row
// alike. Dividing by the median ratio leaves what the shape does.
struct ShapeErrors {
  ErrorStats absolute, shape;
  double clock_ratio = 1;  // the median predicted / measured time
};
ShapeErrors shape_errors(const std::vector<std::pair<double, double>>& predicted_measured) {
  ShapeErrors e;
  std::vector<double> ratios;
  for (auto [p, m] : predicted_measured) {
    e.absolute.add(p, m);
    ratios.push_back(p / m);
  }
  e.clock_ratio = percentile(ratios, 0.5);
  for (auto [p, m] : predicted_measured) e.shape.add(p / e.clock_ratio, m);
  return e;
}

// The catalog's GPU against the table, and the same GPU without a fixed cost per output
// tile, on the shapes of at least 2e9 FLOP: below that the table's fixed time per kernel is
// most of each measurement.
struct TileCostComparison {
  ShapeErrors catalog, untiled;
};
TileCostComparison compare_tile_cost(const std::vector<XlaMatmul>& rows, const GpuSpec& gpu, Dtype dtype,
                                     foresight::testing::ValidationRecord& record, std::string& table) {
  constexpr double kSmallestComparedFlops = 2e9;
  GpuSpec untiled = gpu;
  untiled.efficiency.gemm_tile_overhead_k = 0;
  RooflineParameters with_floor;
  with_floor.launch_seconds = table_floor(rows, dtype);
  const RooflineModel roofline(with_floor);
  std::vector<std::pair<double, double>> catalog_rows, untiled_rows;
  for (const XlaMatmul& row : rows) {
    const Op op = gemm(row.shape, dtype);
    if (op.flops < kSmallestComparedFlops) continue;
    const double measured = seconds_in(row, dtype);
    catalog_rows.emplace_back(to_seconds(roofline.estimate(op, gpu).duration), measured);
    untiled_rows.emplace_back(to_seconds(roofline.estimate(op, untiled).duration), measured);
  }
  const TileCostComparison result{shape_errors(catalog_rows), shape_errors(untiled_rows)};
  for (const auto& [label, e] : {std::pair{"catalog (tile cost)", &result.catalog}, std::pair{"no tile cost", &result.untiled}}) {
    const std::string group = gpu.name + " " + std::string(dtype_name(dtype)) + ", " + label;
    char line[200];
    std::snprintf(line, sizeof line, "%-34s %4d %6.1f%% %+6.1f%% %6.3f %10.1f%% %8.1f%%\n", group.c_str(), e->absolute.n, e->absolute.mape(),
                  e->absolute.bias(), e->clock_ratio, e->shape.mape(), e->shape.worst);
    table += line;
    record.add_summary(group + ", as measured", e->absolute.n, e->absolute.mape(), e->absolute.bias(), e->absolute.worst);
    record.add_summary(group + ", clock-free", e->shape.n, e->shape.mape(), e->shape.bias(), e->shape.worst);
  }
  return result;
}

constexpr const char* kTileCostHeader =
    "\ngpu, dtype, model                 rows   MAPE    bias  median ratio  clock-free MAPE  worst\n";
}  // namespace

TEST_CASE("Blackwell GEMMs against XLA's measured B200 matmul table: a fixed cost per output tile, as on Hopper") {
  // Source: XLA's default matmul performance table for sm_100 (tensorflow/tensorflow @
  // a305421c45, third_party/xla/xla/backends/gpu/cost_model/matmul_interpolator_data.h;
  // calibration/data/xla, Apache-2.0): 125 unbatched shapes on a B200, in bf16 and fp8, of
  // which 72 are compared. Split: the bf16 rows chose Blackwell's fixed cost per tile
  // (Hopper's 240 steps, carried over, against none); the fp8 rows are held out.
  const auto rows = read_xla_matmuls("xla_matmul_perf_table_b200.csv");
  REQUIRE_MESSAGE(rows.size() == 125, "calibration/data/xla/xla_matmul_perf_table_b200.csv is part of the repository");
  foresight::testing::ValidationRecord record(
      "kernels_xla_b200_gemm", "Single GEMMs: the roofline against XLA's measured B200 matmul table (bf16, fp8)",
      "XLA matmul_interpolator_data.h, sm_100 (calibration/data/xla)", "bf16 fitting (chose the fixed cost per tile); fp8 held out",
      "kernels", "kernel time");
  record.summary_columns("mean signed error", "worst |error|");
  std::string table = kTileCostHeader;
  const GpuSpec& b200 = *find_builtin_gpu("b200");
  const TileCostComparison bf16 = compare_tile_cost(rows, b200, Dtype::kBf16, record, table);
  const TileCostComparison fp8 = compare_tile_cost(rows, b200, Dtype::kFp8, record, table);
  MESSAGE(table);
  record.write();
  REQUIRE(fp8.catalog.absolute.n == 72);
  // As measured, the catalog is about a fifth slow: it predicts at the clock a power-limited
  // training run sustains, where the table's short runs held a higher one. With the clock
  // taken out, the fixed cost per tile fits the held-out fp8 shapes better than no fixed cost
  // (5.8% against 7.6% on 2026-12-03); the bounds sit about a fifth above those figures.
  CHECK(fp8.catalog.shape.mape() < fp8.untiled.shape.mape());
  CHECK(fp8.catalog.shape.mape() < 7.0);
  CHECK(bf16.catalog.shape.mape() < 7.5);
}

TEST_CASE("Hopper GEMMs against XLA's measured H100 matmul table, held out") {
  // Source: XLA's default matmul performance table for sm_90 (tensorflow/tensorflow @
  // 372d578bb8, third_party/xla/xla/service/gpu/model/matmul_interpolator_data.h;
  // calibration/data/xla, Apache-2.0): the same 125 unbatched shapes on an H100, bf16 only.
  // Held out: Hopper's GEMM figures (0.90 per clock, 240 steps a tile) were fitted on our
  // H200 profile. Issue 14's target for a source no figure was fitted to is 10%.
  const auto rows = read_xla_matmuls("xla_matmul_perf_table_h100.csv");
  REQUIRE_MESSAGE(rows.size() == 125, "calibration/data/xla/xla_matmul_perf_table_h100.csv is part of the repository");
  foresight::testing::ValidationRecord record(
      "kernels_xla_h100_gemm", "Single GEMMs: the roofline against XLA's measured H100 matmul table (bf16)",
      "XLA matmul_interpolator_data.h, sm_90 (calibration/data/xla)", "held out", "kernels", "kernel time");
  record.summary_columns("mean signed error", "worst |error|");
  std::string table = kTileCostHeader;
  const TileCostComparison bf16 = compare_tile_cost(rows, *find_builtin_gpu("h100_sxm"), Dtype::kBf16, record, table);
  MESSAGE(table);
  record.write();
  REQUIRE(bf16.catalog.absolute.n == 72);
  // 5.9% clock-free on 2026-12-03 (8.0% without the tile cost). The median ratio, 1.30, is
  // within 3% of the H100's 1,980 MHz boost clock over the 1,485 MHz the catalog sustains.
  CHECK(bf16.catalog.shape.mape() < bf16.untiled.shape.mape());
  CHECK(bf16.catalog.shape.mape() < 10.0);
  CHECK(bf16.catalog.clock_ratio == doctest::Approx(1980.0 / 1485).epsilon(0.05));
}
