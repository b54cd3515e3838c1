#pragma once
// Runs a directory of shipped validation scenarios against the measured.csv beside them
// (columns: scenario, a label such as the release or table, gpus,
// measured_tokens_per_second_per_gpu; optionally known_regression, citing a maintainers'
// acknowledged slowdown the row was measured under), records each row and prints predicted
// beside measured. Rows with a known regression are listed but left out of the statistics.
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

// The maintainers' issue that a measured row's slowdown is acknowledged in, or "" when none.
inline std::string known_regression(const CsvTable& measured, const std::vector<std::string>& row) {
  const auto& h = measured.header;
  if (std::find(h.begin(), h.end(), "known_regression") == h.end()) return "";
  return row[measured.column("known_regression")];
}

inline std::string known_regression(const CsvTable& measured, const std::string& scenario) {
  for (const auto& row : measured.rows) {
    if (row[measured.column("scenario")] == scenario) return known_regression(measured, row);
  }
  return "";
}

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
    const int gpus = static_cast<int>(measured.number(row, "gpus"));
    const std::string regression = known_regression(measured, row);
    const double pct = (predicted - truth) / truth * 100;
    if (regression.empty()) {
      run.errors.add(predicted, truth);
      record.add(name, predicted, truth, gpus);
      run.abs_errors.push_back(std::fabs(pct));
    } else {
      record.add_excluded(name, predicted, truth, gpus, regression);
    }
    char line[400];
    std::snprintf(line, sizeof line, "%-32s %-8s %5d %10.0f %9.0f  %+6.1f%%%s%s\n", name.c_str(),
                  row[measured.column(label_column)].c_str(), gpus, predicted, truth, pct,
                  regression.empty() ? "" : "  excluded, measured under ", regression.c_str());
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
