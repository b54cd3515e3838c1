// NVIDIA NeMo 24.07 FP8 pre-training on DGX H100 (published-cases.md V4): tokens/s per
// GPU of seven models from 8 to 128 GPUs, with TP, PP (interleaved), CP and sequence
// parallelism. Each row is a shipped scenario in scenarios/validation/nemo_h100/
// (measured.csv beside them), run through the CLI with the roofline cost model and the
// flow network. NeMo's exact settings beyond the published table (recomputation, overlap
// options) are not published there; the scenarios state what they assume.
//
// No row was used to set any figure. The GPU catalog's sustained FP8 clock (1,335 MHz at
// 700 W), GEMM efficiency and cuDNN-class attention come from the H200 calibration and
// public kernel benchmarks (models/gpu_catalog.cpp); interference of overlapped
// collectives and the slowest GPU's pace are on. The GPT-3 rows run with the dropout 0.1
// that NeMo's GPT-3 configurations keep, drawn inside fused attention (read from the
// launcher's configs after the rows were compared). The rows come out from 1% slow to 11%
// fast (docs/validation.md). The test holds to: the ranking of the seven rows, the spread
// of predicted / measured under 20%, each row within 20% and the MAPE under 15%.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "csv_table.hpp"
#include "error_stats.hpp"
#include "test_support.hpp"
#include "validation_record.hpp"

using namespace foresight::testing;

TEST_CASE("NeMo FP8 pre-training on H100: tokens/s per GPU (V4)") {
  const std::string dir = source_path("scenarios/validation/nemo_h100/");
  const CsvTable measured = read_csv(dir + "measured.csv");
  REQUIRE(measured.rows.size() == 7);
  ErrorStats errors;
  ValidationRecord record("v4_nemo_h100_fp8", "V4: NVIDIA NeMo 24.07, FP8 (delayed scaling) pre-training on DGX H100",
                          "NeMo 24.07 performance summary (shared/validation/published-cases.md V4)", "held out",
                          "hopper / fp8", "tokens/s per GPU");
  std::vector<std::pair<double, double>> rows;  // measured, predicted
  std::string table = "\nmodel        GPUs  predicted  measured   error   (tokens/s per GPU)\n";
  for (const auto& row : measured.rows) {
    const std::string name = row[measured.column("scenario")];
    const double predicted = run_scenario(dir + name + ".json")["tokens_per_second_per_gpu"];
    const double truth = measured.number(row, "measured_tokens_per_second_per_gpu");
    const double pct = errors.add(predicted, truth);
    record.add(name, predicted, truth, static_cast<int>(measured.number(row, "gpus")));
    rows.emplace_back(truth, predicted);
    char line[160];
    std::snprintf(line, sizeof line, "%-11s %5.0f %10.0f %9.0f  %+6.1f%%\n", name.c_str(), measured.number(row, "gpus"), predicted, truth, pct);
    table += line;
    CHECK(std::fabs(pct) < 20);
  }
  std::sort(rows.begin(), rows.end());
  double low = 1e9, high = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) CHECK(rows[i].second > rows[i - 1].second);  // the same ranking as measured
    low = std::min(low, rows[i].second / rows[i].first);
    high = std::max(high, rows[i].second / rows[i].first);
  }
  char summary[200];
  std::snprintf(summary, sizeof summary, "MAPE %.1f%%, worst %.1f%%; predicted / measured from %.2f to %.2f (roofline)\n",
                errors.mape(), errors.worst, low, high);
  table += summary;
  MESSAGE(table);
  record.write();
  CHECK(high / low < 1.20);
  CHECK(errors.mape() < 15);
}
