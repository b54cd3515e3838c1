#pragma once
// Runs a directory of shipped validation scenarios against the measured.csv beside them
// (columns: scenario, a label such as the release or table, gpus,
// measured_tokens_per_second_per_gpu), records each row and prints predicted beside measured.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "csv_table.hpp"
#include "error_stats.hpp"
#include "test_support.hpp"
#include "validation_record.hpp"

namespace foresight::testing {

struct SuiteRun {
  std::vector<double> abs_errors;  // sorted
  ErrorStats errors;
  std::string table;

  double median_abs_error() const { return abs_errors.empty() ? 0 : abs_errors[abs_errors.size() / 2]; }
};

// Each row of `measured` that `include` accepts is run from `dir`; `check_row` sees its
// name and signed error in percent.
template <typename Include, typename CheckRow>
SuiteRun run_suite(const std::string& dir, const CsvTable& measured, ValidationRecord& record, const std::string& label_column,
                   Include include, CheckRow check_row) {
  SuiteRun run;
  char head[160];
  std::snprintf(head, sizeof head, "\n%-32s %-8s %5s %10s %9s  %7s   (tokens/s per GPU)\n", "scenario", label_column.c_str(), "GPUs",
                "predicted", "measured", "error");
  run.table = head;
  for (const auto& row : measured.rows) {
    if (!include(row)) continue;
    const std::string name = row[measured.column("scenario")];
    const double predicted = run_scenario(dir + name + ".json")["tokens_per_second_per_gpu"];
    const double truth = measured.number(row, "measured_tokens_per_second_per_gpu");
    const double pct = run.errors.add(predicted, truth);
    record.add(name, predicted, truth, static_cast<int>(measured.number(row, "gpus")));
    run.abs_errors.push_back(std::fabs(pct));
    char line[240];
    std::snprintf(line, sizeof line, "%-32s %-8s %5.0f %10.0f %9.0f  %+6.1f%%\n", name.c_str(),
                  row[measured.column(label_column)].c_str(), measured.number(row, "gpus"), predicted, truth, pct);
    run.table += line;
    check_row(name, pct);
  }
  std::sort(run.abs_errors.begin(), run.abs_errors.end());
  char summary[160];
  std::snprintf(summary, sizeof summary, "median |error| %.1f%%, worst %.1f%%, mean signed %+.1f%% (roofline)\n",
                run.median_abs_error(), run.errors.worst, run.errors.bias());
  run.table += summary;
  return run;
}

}  // namespace foresight::testing
