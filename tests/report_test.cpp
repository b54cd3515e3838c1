// `foresight report` (issue 7): one self-contained HTML page from every kind of result,
// checked to render in a real browser (headless Chromium, Debian's package) with a
// screenshot left in the test artifacts (build/<preset>/test-artifacts/report.png).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "sim/runner/svg_chart.hpp"
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

TEST_CASE("report charts: whole-number axes, SI ticks, logarithmic axes over decades, titles that fit, rings for points that miss") {
  using foresight::XyChart;
  using foresight::Series;
  CHECK(foresight::axis_number(90000) == "90k");
  CHECK(foresight::axis_number(1.25e6) == "1.25M");
  CHECK(foresight::axis_number(0.125) == "0.125");
  CHECK(foresight::axis_number(-20000) == "-20k");

  // Eight GPUs in every point: ticks at 7, 8 and 9, none at 7.5; no exponents anywhere.
  XyChart gpus{.title = "tokens against GPUs", .x_label = "gpus", .y_label = "tokens_per_s"};
  gpus.series.push_back(Series{"points", "#4e79a7", {{8, 51000}, {8, 89000}}, {}, false, 3});
  const std::string plain = gpus.svg();
  CHECK(plain.find(">7.5<") == std::string::npos);
  CHECK(plain.find(">8<") != std::string::npos);
  CHECK(plain.find("e+") == std::string::npos);
  CHECK(plain.find(">90k<") != std::string::npos);

  // Values over three decades go on a log axis, with 2 and 5 ticks between the powers of ten.
  XyChart rates{.title = "latency against rate", .x_label = "rate", .y_label = "seconds", .auto_log = true};
  rates.series.push_back(Series{"p99", "#4e79a7", {{0.5, 0.1}, {4, 0.2}, {32, 30}}, {}, true, 3});
  const std::string logged = rates.svg();
  CHECK(logged.find("seconds (log)") != std::string::npos);
  CHECK(logged.find("rate (log)") == std::string::npos);  // 0.5 to 32: not two decades
  CHECK(logged.find(">20<") != std::string::npos);

  // A title wider than the chart shrinks, and wraps when shrinking is not enough.
  const std::string long_title(40, 'x');
  XyChart wide{.title = long_title + " " + long_title + " " + long_title + " " + long_title, .x_label = "x", .y_label = "y"};
  wide.series.push_back(Series{"s", "#4e79a7", {{1, 1}, {2, 2}}, {}, false, 3});
  const std::string wrapped = wide.svg(400, 300);
  CHECK(count(wrapped, "font-weight=\"bold\"") == 2);
  CHECK(wrapped.find("font-size=\"13.0\"") == std::string::npos);

  // Values a few ulps apart (a fuzzed sweep file's) once stepped ticks that never moved the
  // axis and filled memory; such an axis now gets its two ends, as does a log axis from a
  // subnormal value.
  XyChart ulps{.title = "t", .x_label = "x", .y_label = "y"};
  ulps.series.push_back(Series{"s", "#4e79a7", {{1, 1e17}, {2, 1e17 + 16}}, {}, false, 3});
  CHECK(ulps.svg().find("<svg") != std::string::npos);
  XyChart tiny{.title = "t", .x_label = "x", .y_label = "y", .log_y = true};
  tiny.series.push_back(Series{"s", "#4e79a7", {{1, 5e-324}, {2, 1}}, {}, false, 3});
  CHECK(tiny.svg().find("<svg") != std::string::npos);

  // A point that misses a constraint is a ring, in the legend too.
  XyChart rings{.title = "t", .x_label = "x", .y_label = "y"};
  rings.series.push_back(Series{"meets", "#4e79a7", {{1, 1}}, {}, false, 3});
  rings.series.push_back(Series{"misses", "#f28e2b", {{2, 2}}, {}, false, 4, true});
  CHECK(count(rings.svg(), "fill=\"none\" stroke=\"#f28e2b\"") == 2);
}

TEST_CASE("report: sweeps show what misses a constraint, capacity bars carry their configuration and value, SLOs are lines") {
  const std::string sweep = scratch("constrained.json"), capacity = scratch("capacity2.json"), serving = scratch("slo.json");
  const std::string serving_scenario = source_path("scenarios/llama3_70b_serving_azure_conv.json");
  REQUIRE(run_cli({"sweep", "--grid", "training.parallel.tp=1,2", "--grid", "training.micro_batch=1,2", "--set", "training.parallel.dp=auto",
                   "--constraint", "memory_gb<=70", "--quiet", "--threads", "1", "--out", sweep}).status == 0);
  REQUIRE(run_cli({"capacity", serving_scenario, "--vary", "serving.scheduler=vllm,sarathi", "--vary", "serving.max_num_seqs=64,256", "--precision", "0.2",
                   "--set", "serving.traffic.requests=300", "--out", capacity}).status == 0);
  REQUIRE(run_cli({"run", serving_scenario, "--set", "serving.ttft_slo_ms=2000", "--set", "serving.tpot_slo_ms=100", "--set", "serving.traffic.requests=300",
                   "--out", serving}).status == 0);
  const std::string html = scratch("fixes.html");
  REQUIRE(run_cli({"report", sweep, capacity, serving, "-o", html}).status == 0);
  const std::string page = foresight::testing::file_text(html);
  // The built-in default at TP 1 and micro-batch 1 holds 66.6 GB, within 70; at TP 1 and micro-batch 2 it does not fit an H100.
  CHECK(page.find("cannot run") != std::string::npos);
  CHECK(page.find("out of memory") != std::string::npos);
  for (const char* label : {">scheduler=vllm max_num_seqs=64<", ">scheduler=sarathi max_num_seqs=256<", " requests/s</text>", "TTFT SLO 2 s",
                            "TPOT SLO 0.1 s"}) {
    CHECK_MESSAGE(page.find(label) != std::string::npos, label);
  }
  CHECK(page.find(">serving.scheduler=<") == std::string::npos);
  CHECK(page.find("usable:") == std::string::npos);  // the memory CUDA reports is the line, not a segment of the bar
  CHECK(page.find("e+0") == std::string::npos);
}
