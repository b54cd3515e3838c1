// Golden tests: the default scenario's results against a stored file, every shipped
// scenario validates, and the scenario reference in docs/ matches the code.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

using foresight::testing::run_cli;
using foresight::testing::source_path;

namespace {
std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}
}  // namespace

TEST_CASE("the default scenario reproduces its golden results exactly") {
  // The golden file was written by `foresight run --out tests/golden/default_results.json`.
  // Integer picoseconds and a deterministic engine make every value reproducible; when a
  // deliberate model change moves them, regenerate the file and explain the move in the
  // commit.
  const auto out = (std::filesystem::temp_directory_path() / "foresight_golden_results.json").string();
  const auto r = run_cli({"run", "--out", out});
  REQUIRE(r.status == 0);
  const auto actual = nlohmann::json::parse(read_text(out));
  const auto expected = nlohmann::json::parse(read_text(source_path("tests/golden/default_results.json")));
  for (const auto& [key, value] : expected.items()) {
    const std::string& field = key;  // clang before 16 cannot capture a structured binding
    CAPTURE(field);
    if (actual[key] != value) MESSAGE(key << ": expected " << value.dump() << ", actual " << actual[key].dump());
    CHECK(actual[key] == value);
  }
  CHECK(actual.size() == expected.size());
  CHECK(r.out.find("step time") != std::string::npos);
}

TEST_CASE("two runs of a serving scenario write byte-identical results, request tables and traces") {
  const auto dir = std::filesystem::temp_directory_path();
  std::string texts[2][3];
  for (int run = 0; run < 2; ++run) {
    const std::string tag = std::to_string(run);
    const std::string paths[3] = {(dir / ("foresight_det_serving_" + tag + ".json")).string(),
                                  (dir / ("foresight_det_requests_" + tag + ".csv")).string(),
                                  (dir / ("foresight_det_serving_trace_" + tag + ".json")).string()};
    const auto r = run_cli({"run", source_path("scenarios/validation/serving_rtx4090/c16.json"), "--out", paths[0], "--requests", paths[1],
                            "--trace", paths[2]});
    REQUIRE(r.status == 0);
    for (int f = 0; f < 3; ++f) texts[run][f] = read_text(paths[f]);
  }
  for (int f = 0; f < 3; ++f) {
    CHECK(texts[0][f].size() > 1000);
    CHECK(texts[0][f] == texts[1][f]);
  }
}

TEST_CASE("two runs of a scenario write byte-identical results and traces") {
  const auto dir = std::filesystem::temp_directory_path();
  std::string texts[2][2];
  for (int run = 0; run < 2; ++run) {
    const auto out = (dir / ("foresight_det_results_" + std::to_string(run) + ".json")).string();
    const auto trace = (dir / ("foresight_det_trace_" + std::to_string(run) + ".json")).string();
    const auto r = run_cli({"run", source_path("scenarios/mixtral_8x7b_mi300x.json"), "--set", "training.global_batch=8",
                            "--out", out, "--trace", trace});
    REQUIRE(r.status == 0);
    texts[run][0] = read_text(out);
    texts[run][1] = read_text(trace);
  }
  CHECK(texts[0][0] == texts[1][0]);
  CHECK(texts[0][1].size() > 100000);
  CHECK(texts[0][1] == texts[1][1]);
}

TEST_CASE("every shipped scenario validates") {
  // scenarios/ and scenarios/validation/*/ hold scenarios; replay/ and topologies/ other files.
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(source_path("scenarios"))) files.push_back(entry.path());
  for (const auto& entry : std::filesystem::recursive_directory_iterator(source_path("scenarios/validation"))) files.push_back(entry.path());
  int checked = 0;
  for (const auto& path : files) {
    if (path.extension() != ".json") continue;
    CAPTURE(path.string());
    const auto r = run_cli({"validate", path.string()});
    if (r.status != 0) MESSAGE(r.err);
    CHECK(r.status == 0);
    ++checked;
  }
  CHECK(checked >= 26);
}

TEST_CASE("docs/scenario-reference.md is the generated reference") {
  const auto r = run_cli({"reference"});
  REQUIRE(r.status == 0);
  const std::string doc = read_text(source_path("docs/scenario-reference.md"));
  const auto table = doc.find("| key |");
  REQUIRE(table != std::string::npos);
  // Regenerate with scripts/generate_reference.sh when the format changes.
  CHECK(doc.substr(table) == r.out);
}
