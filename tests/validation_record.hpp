#pragma once
// Validation tests leave their rows, predicted beside measured, in
// <build>/test-artifacts/validation/<suite>.json. scripts/validation_report.py runs the
// validation tests and turns these files into docs/validation.md and the error bands
// that `foresight run` prints (calibration/error_bands.json).
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace foresight::testing {

class ValidationRecord {
 public:
  // `split`: "held out" (no figure was set from the source) or "fitting" (figures were
  // fitted to it; the rows then show how well the fit holds, not how well it predicts).
  // `regime`: "gpu family / precision" for end-to-end training rows (the error bands'
  // key), or a short name for kernel-level rows.
  ValidationRecord(std::string suite, std::string title, std::string source, std::string split, std::string regime,
                   std::string metric)
      : suite_(std::move(suite)) {
    doc_ = {{"suite", suite_}, {"title", title}, {"source", source}, {"split", split}, {"regime", regime},
            {"metric", metric}, {"rows", nlohmann::json::array()}};
  }
  void add(const std::string& name, double predicted, double measured, int gpus = 0) {
    doc_["rows"].push_back({{"case", name}, {"predicted", predicted}, {"measured", measured}, {"gpus", gpus}});
  }
  // A row measured under a slowdown its framework's maintainers acknowledge as a regression
  // (`why` cites it): listed beside the others, left out of the suite's statistics and the
  // error bands, since the model predicts the framework without its bug.
  void add_excluded(const std::string& name, double predicted, double measured, int gpus, const std::string& why) {
    doc_["rows"].push_back(
        {{"case", name}, {"predicted", predicted}, {"measured", measured}, {"gpus", gpus}, {"excluded", why}});
  }
  // A row that is itself a summary (kernel groups): its error statistics, not one value:
  // MAPE, a signed error and a tail, named by summary_columns (percent).
  void add_summary(const std::string& name, int count, double mape, double signed_error, double tail) {
    doc_["rows"].push_back({{"case", name}, {"count", count}, {"mape", mape}, {"signed", signed_error}, {"tail", tail}});
  }
  // What the summary rows' signed error, tail and count are (default: "signed error",
  // "tail", "kernels"); a NaN tail is written as null and shown as a dash.
  void summary_columns(const std::string& signed_name, const std::string& tail_name, const std::string& count_name = "kernels") {
    doc_["summary_columns"] = {signed_name, tail_name, count_name};
  }
  void write() const {
    const std::filesystem::path dir = std::filesystem::path(FORESIGHT_TEST_ARTIFACTS) / "validation";
    std::filesystem::create_directories(dir);
    std::ofstream(dir / (suite_ + ".json")) << doc_.dump(2) << "\n";
  }

 private:
  std::string suite_;
  nlohmann::json doc_;
};

}  // namespace foresight::testing
