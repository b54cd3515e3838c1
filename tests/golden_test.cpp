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
    CAPTURE(key);
    if (actual[key] != value) MESSAGE(key << ": expected " << value.dump() << ", actual " << actual[key].dump());
    CHECK(actual[key] == value);
  }
  CHECK(actual.size() == expected.size());
  CHECK(r.out.find("step time") != std::string::npos);
}

TEST_CASE("every shipped scenario validates") {
  for (const auto& entry : std::filesystem::directory_iterator(source_path("scenarios"))) {
    if (entry.path().extension() != ".json") continue;
    CAPTURE(entry.path().string());
    const auto r = run_cli({"validate", entry.path().string()});
    if (r.status != 0) MESSAGE(r.err);
    CHECK(r.status == 0);
  }
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
