// `foresight report` (issue 7): one self-contained HTML page from every kind of result,
// checked to render in a real browser (headless Chromium, Debian's package) with a
// screenshot left in the test artifacts (build/<preset>/test-artifacts/report.png).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "test_support.hpp"

using foresight::testing::run_cli;
using foresight::testing::source_path;

namespace {
std::string scratch(const std::string& name) { return foresight::testing::scratch_path("foresight_report_test", name); }

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

std::string chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    if (std::system((std::string("command -v ") + name + " > /dev/null 2>&1").c_str()) == 0) return name;
  }
  return "";
}

// Every kind of input the report reads, made by the commands that make them.
std::vector<std::string> make_inputs() {
  const std::string training = scratch("training.json"), trace = scratch("trace.json"), serving = scratch("serving.json");
  const std::string requests = scratch("requests.csv"), sweep = scratch("sweep.json"), capacity = scratch("capacity.json");
  const std::string serving_scenario = source_path("scenarios/llama3_70b_serving_azure_conv.json");
  REQUIRE(run_cli({"run", "--out", training, "--trace", trace}).status == 0);
  REQUIRE(run_cli({"run", serving_scenario, "--out", serving, "--requests", requests}).status == 0);
  REQUIRE(run_cli({"sweep", serving_scenario, "--grid", "serving.traffic.trace_speedup=0.5,1,2,4", "--grid", "serving.scheduler=vllm,sarathi",
                   "--quiet", "--threads", "1", "--out", sweep}).status == 0);
  REQUIRE(run_cli({"capacity", serving_scenario, "--vary", "serving.scheduler=vllm,sarathi", "--precision", "0.1", "--out", capacity}).status == 0);
  return {training, trace, serving, requests, sweep, capacity};
}
}  // namespace

TEST_CASE("the report is one self-contained page with a plot of each input, and Chromium renders it") {
  std::vector<std::string> args = {"report"};
  for (const std::string& input : make_inputs()) args.push_back(input);
  const std::string html = scratch("report.html");
  args.insert(args.end(), {"-o", html});
  const auto r = run_cli(args);
  REQUIRE(r.status == 0);
  const std::string page = foresight::testing::file_text(html);
  for (const char* title : {"Where GPU 0's step time goes", "Memory per GPU by category", "Timeline per rank and stream", "Latency percentiles",
                            "Latency CDFs over requests", "Pareto front", "Throughput versus request rate", "Highest request rate within the SLOs"}) {
    CHECK_MESSAGE(page.find(title) != std::string::npos, title);
  }
  CHECK(count(page, "<svg") >= 10);
  // Nothing to fetch: no scripts, stylesheets, images or links (SVG's xmlns is a name, not a fetch).
  CHECK(count(page, "<script") == 0);
  CHECK(count(page, "src=") == 0);
  CHECK(count(page, "href=") == 0);

  const std::string browser = chromium();
  if (browser.empty()) {
    WARN_MESSAGE(false, "chromium is not installed: the report was not rendered (scripts/install_deps.sh installs it)");
    return;
  }
  const std::string artifacts = FORESIGHT_TEST_ARTIFACTS;
  std::filesystem::create_directories(artifacts);
  const std::string png = artifacts + "/report.png", dom = scratch("dom.html");
  std::filesystem::remove(png);
  const std::string flags = " --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,5000 ";
  CHECK(std::system((browser + flags + "--screenshot=" + png + " file://" + html + " > /dev/null 2>&1").c_str()) == 0);
  CHECK(std::system((browser + flags + "--dump-dom file://" + html + " > " + dom + " 2> /dev/null").c_str()) == 0);
  REQUIRE(std::filesystem::exists(png));
  CHECK(std::filesystem::file_size(png) > 50000);  // a blank page of that size compresses to a few KB
  CHECK(count(foresight::testing::file_text(dom), "<svg") == count(page, "<svg"));  // the browser parsed every plot
  MESSAGE("screenshot: " << png);
}

TEST_CASE("report: a file it does not know is refused, and nothing is written") {
  const std::string html = scratch("refused.html");
  std::filesystem::remove(html);
  const auto r = run_cli({"report", source_path("scenarios/llama3_8b_hgx_h100.json"), "-o", html});
  CHECK(r.status == 2);
  CHECK(r.err.find("not a file the report knows") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(html));
}
