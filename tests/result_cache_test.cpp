// `--cache` (issue 20): whole simulations kept on disk under the content of what they read,
// so that a repeated sweep simulates only the points a change reaches, a changed input file
// is never answered from the cache, and a damaged entry costs a simulation, not the run.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "sim/input/input_log.hpp"
#include "sim/input/json_document.hpp"
#include "test_support.hpp"

using namespace foresight;
using foresight::testing::file_text;
using foresight::testing::run_cli;
using foresight::testing::source_path;

namespace {
std::string scratch(const std::string& name) { return foresight::testing::scratch_path("foresight_cache_test", name); }

std::string fresh_folder(const std::string& name) {
  const std::string folder = scratch(name);
  std::filesystem::remove_all(folder);
  return folder;
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// The "# n of them from the cache in ..., m simulated and kept there" line.
std::string cache_line(const std::string& out) {
  const auto at = out.find("# ", out.find('\n'));
  return out.substr(at, out.find('\n', at) - at);
}

std::vector<std::string> sweep(const std::string& scenario, const std::string& tp, const std::string& cache, const std::vector<std::string>& more = {}) {
  std::vector<std::string> args = {"sweep", scenario, "--grid", "training.parallel.tp=" + tp, "--set", "training.parallel.dp=auto", "--quiet", "--cache", cache};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}
}  // namespace

TEST_CASE("every file a computation reads is logged once, by content, for the logs open on its thread") {
  const std::string a = scratch("a.json"), b = scratch("b.json");
  write(a, "{\"x\": 1}");
  write(b, "{\"x\": 2}");
  InputLog outer;
  {
    InputLog inner;
    (void)load_json_file(a);
    (void)load_json_file(a);
    CHECK(inner.files().size() == 1);
    CHECK(inner.files().front() == std::pair{a, content_hash("{\"x\": 1}")});
  }
  (void)load_json_file(b);
  REQUIRE(outer.files().size() == 2);  // the inner log's read, then its own
  CHECK(outer.files()[1].first == b);
  CHECK(content_hash("{\"x\": 1}") != content_hash("{\"x\": 2}"));
}

TEST_CASE("a repeated sweep simulates only the points a change reaches, and gives the same rows") {
  const std::string cache = fresh_folder("repeat");
  const std::string scenario = source_path("scenarios/llama3_8b_hgx_h100.json");
  const std::string first_out = scratch("first.json"), again_out = scratch("again.json");
  auto first_args = sweep(scenario, "1,2", cache, {"--out", first_out});
  const auto first = run_cli(first_args);
  REQUIRE_MESSAGE(first.status == 0, first.err);
  CHECK(cache_line(first.out).find("# 0 of them from the cache") == 0);
  CHECK(cache_line(first.out).find(", 2 simulated and kept there") != std::string::npos);

  auto again_args = sweep(scenario, "1,2", cache, {"--out", again_out});
  const auto again = run_cli(again_args);
  CHECK(cache_line(again.out).find("# 2 of them from the cache") == 0);
  CHECK(file_text(first_out) == file_text(again_out));

  const auto wider = run_cli(sweep(scenario, "1,2,4", cache));  // one more value: one more simulation
  CHECK(cache_line(wider.out).find("# 2 of them from the cache") == 0);
  CHECK(cache_line(wider.out).find(", 1 simulated") != std::string::npos);
  const auto priced = run_cli(sweep(scenario, "1,2", cache, {"--gpu-hour-usd", "3"}));  // the cost metrics change
  CHECK(cache_line(priced.out).find("# 0 of them from the cache") == 0);
  const auto batch = run_cli(sweep(scenario, "1,2", cache, {"--set", "training.global_batch=64"}));  // every point changes
  CHECK(cache_line(batch.out).find("# 0 of them from the cache") == 0);
}

TEST_CASE("a changed input file is never answered from the cache; its old content is again") {
  const std::string cache = fresh_folder("edited");
  const std::string scenario = scratch("edited_scenario.json");
  const std::string original = file_text(source_path("scenarios/llama3_8b_hgx_h100.json"));
  write(scenario, original);
  REQUIRE(run_cli(sweep(scenario, "1,2", cache)).status == 0);
  std::string edited = original;
  edited.replace(edited.find("\"global_batch\": 128"), 19, "\"global_batch\": 256");
  write(scenario, edited);
  CHECK(cache_line(run_cli(sweep(scenario, "1,2", cache)).out).find("# 0 of them from the cache") == 0);
  write(scenario, original);
  CHECK(cache_line(run_cli(sweep(scenario, "1,2", cache)).out).find("# 2 of them from the cache") == 0);
}

TEST_CASE("a damaged cache entry is simulated again and rewritten, and a cache that cannot exist is exit 2") {
  const std::string cache = fresh_folder("damaged");
  const std::string scenario = source_path("scenarios/llama3_8b_hgx_h100.json");
  REQUIRE(run_cli(sweep(scenario, "1,2", cache)).status == 0);
  for (const auto& entry : std::filesystem::directory_iterator(cache)) write(entry.path().string(), "{\"format\": \"foresight.cache.v1\", \"row\": 7");
  const auto damaged = run_cli(sweep(scenario, "1,2", cache));
  REQUIRE(damaged.status == 0);
  CHECK(cache_line(damaged.out).find("# 0 of them from the cache") == 0);
  CHECK(cache_line(damaged.out).find(", 2 simulated and kept there") != std::string::npos);
  CHECK(cache_line(run_cli(sweep(scenario, "1,2", cache)).out).find("# 2 of them from the cache") == 0);

  const std::string file = scratch("not_a_folder");
  write(file, "x");
  const auto refused = run_cli(sweep(scenario, "1,2", file + "/cache"));
  CHECK(refused.status == 2);
  CHECK(refused.err.find("--cache") != std::string::npos);
}

TEST_CASE("a repeated search finds its looks in the cache and simulates nothing again") {
  const std::string cache = fresh_folder("search");
  const std::vector<std::string> args = {"search", "--grid", "training.parallel.tp=1,2,4", "--grid", "training.parallel.pp=1,2", "--grid",
                                         "training.micro_batch=1,2", "--set", "training.parallel.dp=auto", "--set", "training.global_batch=64",
                                         "--quiet", "--cache", cache};
  const auto first = run_cli(args);
  REQUIRE_MESSAGE(first.status == 0, first.err);
  const auto again = run_cli(args);
  REQUIRE(again.status == 0);
  CHECK(again.out.find(", 0 simulated and kept there") != std::string::npos);
  CHECK(again.out.find("0 micro-batches simulated") != std::string::npos);
  // The same best point, read from the same whole simulation.
  const auto best = [](const std::string& out) { return out.substr(out.find("Best points")); };
  CHECK(best(first.out) == best(again.out));
}
