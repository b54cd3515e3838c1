// Regression tests for the defect classes a hostile user found (issue 16): every bad input
// gets an error naming the file and the JSON path, exit status 2, no crash, no internal
// error and no output file. One test (at least) per class.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include "sim/runner/output_files.hpp"
#include "sim/runner/sweep.hpp"
#include "test_support.hpp"

using foresight::testing::CliResult;
using foresight::testing::run_cli;
using foresight::testing::scratch_path;
using foresight::testing::source_path;

namespace {
constexpr const char* kFolder = "foresight_hostile_test";

std::string write(const std::string& name, const std::string& text) {
  const std::string path = scratch_path(kFolder, name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// The default scenario's text with `insert` added as its last key.
std::string scenario_with(const std::string& name, const std::string& insert) {
  std::ifstream in(source_path("scenarios/llama3_8b_hgx_h100.json"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.insert(text.rfind('}'), ", " + insert);
  return write(name, text);
}

const char* kServing = R"({"name": "hostile", "hardware": {"gpu": "h100_sxm", "topology": {"preset": "nvswitch_node", "gpus": 8}},
  "model": "llama3_8b", "serving": {"traffic": {"trace": "TRACE"}}})";

std::string serving_with_trace(const std::string& name, const std::string& trace_name, const std::string& trace_text) {
  write(trace_name, trace_text);
  std::string scenario = kServing;
  scenario.replace(scenario.find("TRACE"), 5, trace_name);
  return write(name, scenario);
}

// Exit 2, an error line naming `part`, and nothing said to be internal.
void check_input_error(const CliResult& r, const std::string& part) {
  CHECK(r.status == 2);
  CHECK_MESSAGE(r.err.find(part) != std::string::npos, "missing \"" << part << "\" in: " << r.err);
  CHECK(r.err.find("internal error") == std::string::npos);
}
}  // namespace

TEST_CASE("numbers beyond a double, deep nesting and text that is not UTF-8 are input errors") {
  check_input_error(run_cli({"run", scenario_with("huge_literal.json", R"("seed": 1e400)")}), "numbers must fit a double");
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  check_input_error(run_cli({"run", scenario_with("deep.json", "\"seed\": " + deep)}), "nested deeper than 64 levels");
  check_input_error(run_cli({"run", "--set", "name=\xff\xfe"}), "the command line: not UTF-8 text");
  check_input_error(run_cli({"run", "--set", "name=\xc1\xb7"}), "not UTF-8 text");  // an overlong form (found by fuzzing)
  check_input_error(run_cli({"run", "--out", "results\xed\xa0\x80.json"}), "not UTF-8 text");  // a surrogate
}

TEST_CASE("values the checks used to accept now stop where they enter, not where they overflow") {
  check_input_error(run_cli({"run", "--set", "cost_model.launch_overhead_us=1e300"}), "cost_model.launch_overhead_us: expected a number");
  check_input_error(run_cli({"run", "--set", "hardware.topology.hop_latency_us=1e300"}), "hardware.topology.hop_latency_us");
  check_input_error(run_cli({"run", "--set", "hardware.topology.bandwidth_gbps=1e-300"}), "hardware.topology.bandwidth_gbps");
  check_input_error(run_cli({"run", "--set", "hardware.gpu={\"base\": \"h100_sxm\", \"bf16_tflops\": 1e-300}"}), "hardware.gpu.bf16_tflops");
  // A value in range whose consequence is not: a request every 31 years.
  const std::string sparse = write("sparse.json", R"({"name": "sparse", "hardware": {"gpu": "h100_sxm", "topology": {"preset": "nvswitch_node", "gpus": 8}},
    "model": "llama3_8b", "serving": {"traffic": {"rate": 1e-9, "requests": 3}}})");
  check_input_error(run_cli({"run", sparse}), "sparse.json: the simulation reaches");
  check_input_error(run_cli({"run", sparse}), "beyond its 53-day clock");
}

TEST_CASE("a model from a HuggingFace config goes through the scenario's bounds") {
  const std::string folder = (std::filesystem::temp_directory_path() / kFolder / "hf_wide").string();
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  std::ofstream(folder + "/config.json") << R"({"model_type": "llama", "hidden_size": 4000000000000000, "num_hidden_layers": 2,
    "num_attention_heads": 8, "intermediate_size": 64, "vocab_size": 100})";
  check_input_error(run_cli({"run", "--set", "model={\"hf_config\": \"" + folder + "/config.json\"}"}), "hidden_size");
  std::ofstream(folder + "/config.json") << R"({"model_type": "gpt2", "n_embd": 8, "n_layer": 2, "n_head": 16, "vocab_size": 100})";
  check_input_error(run_cli({"run", "--set", "model={\"hf_config\": \"" + folder + "/config.json\"}"}), "more attention heads (16) than hidden size (8)");
}

TEST_CASE("trace rows: token counts that overflow int32 are refused; Excel's byte-order mark is not") {
  check_input_error(run_cli({"run", serving_with_trace("big_row.json", "big_row.csv",
                                                       "arrived_at,num_prefill_tokens,num_decode_tokens\n0,3e9,10\n")}),
                    "num_prefill_tokens must be at most 100,000,000 tokens");
  const CliResult bom = run_cli({"run", serving_with_trace("bom.json", "bom.csv",
                                                           "\xEF\xBB\xBF" "arrived_at,num_prefill_tokens,num_decode_tokens\n0,100,10\n")});
  CHECK(bom.status == 0);
  CHECK(bom.out.find("1 finished of 1") != std::string::npos);
}

TEST_CASE("TensorRT-LLM benchmark datasets: malformed lines are named by file and line, as a trace and as an import") {
  check_input_error(run_cli({"run", serving_with_trace("tl_zero.json", "tl_zero.jsonl", "{\"input_ids\": [1, 2], \"output_tokens\": 0}\n")}),
                    "tl_zero.jsonl: line 1, key output_tokens: expected a number >= 1");
  check_input_error(run_cli({"run", serving_with_trace("tl_ids.json", "tl_ids.jsonl", "{\"input_ids\": \"1 2 3\", \"output_tokens\": 4}\n")}),
                    "line 1, key input_ids: expected a non-empty array of token ids");
  const std::string broken = write("tl_broken.jsonl", "{\"input_ids\": [1, 2], \"output_tokens\": 3}\n{\"input_ids\": [\n");
  check_input_error(run_cli({"import", "trtllm", "--", "trtllm-bench", "--model", "meta-llama/Llama-3.1-8B", "throughput", "--dataset", broken}),
                    "tl_broken.jsonl, line 2");
  const std::string empty = write("tl_empty.jsonl", "\n\n");
  check_input_error(run_cli({"import", "trtllm", "--", "trtllm-bench", "--model", "meta-llama/Llama-3.1-8B", "throughput", "--dataset", empty}),
                    "the dataset holds no requests");
  check_input_error(run_cli({"import", "trtllm", "--", "trtllm-bench", "--model", "meta-llama/Llama-3.1-8B", "throughput", "--dataset",
                             source_path("tests/data/trtllm/dataset_128_128.jsonl"), "--concurrency", "0"}),
                    "--concurrency");
  check_input_error(run_cli({"import", "trtllm", "--gpu", "my_gpu", "--", "trtllm-bench", "--model", "meta-llama/Llama-3.1-8B", "throughput",
                             "--dataset", source_path("tests/data/trtllm/dataset_128_128.jsonl")}),
                    "expected a catalog GPU");
}

TEST_CASE("a device given as an input file is refused by name, not read forever") {
  if (!std::filesystem::is_character_file("/dev/zero")) return;
  check_input_error(run_cli({"run", "/dev/zero"}), "/dev/zero: a device, not a file");
  std::string scenario = kServing;
  scenario.replace(scenario.find("TRACE"), 5, "/dev/zero");
  check_input_error(run_cli({"run", write("device_trace.json", scenario)}), "/dev/zero: a device, not a file");
  check_input_error(run_cli({"import", "trtllm", "--", "trtllm-bench", "--model", "meta-llama/Llama-3.1-8B", "throughput", "--dataset", "/dev/zero"}),
                    "/dev/zero: a device, not a file");
  check_input_error(run_cli({"import", "trtllm", "--", "trtllm-serve", "meta-llama/Llama-3.1-8B", "--config", "/dev/zero"}),
                    "/dev/zero: a device, not a file");
  check_input_error(run_cli({"import", "torchtitan", "--", "torchrun", "--nproc_per_node", "8", "-m", "torchtitan.train",
                             "--job.config_file", "/dev/zero"}),
                    "/dev/zero: a device, not a file");
}

TEST_CASE("a request that can never finish is refused up front, naming it") {
  check_input_error(run_cli({"run", serving_with_trace("too_long.json", "too_long.csv",
                                                       "arrived_at,num_prefill_tokens,num_decode_tokens\n0,100,10\n0.5,9000,10\n")}),
                    "the request arriving at 500.000 ms (9000 prompt and 10 output tokens) can never finish: it is longer than max_model_len");
}

TEST_CASE("replay graphs: repeated, wrapping and surplus ranks name the file and the op") {
  const auto graph = [](const std::string& name, const std::string& group, const char* collective = "all_reduce") {
    return write(name, R"({"ranks": 4, "ops": [{"name": "c", "collective": ")" + std::string(collective) +
                           R"(", "bytes": 1024, "duration_us": 5, "group": )" + group + "}]}");
  };
  check_input_error(run_cli({"replay", graph("twice.json", "[0, 1, 1]")}), "ops[0].group: rank 1 is listed twice");
  check_input_error(run_cli({"replay", graph("wrap.json", "[0, 4294967297]")}), "ops[0].group: rank 4294967297 is not an integer in 0..3");
  check_input_error(run_cli({"replay", graph("three.json", "[0, 1, 2]", "send_recv")}), "three.json: ops[0].group: send_recv");
}

TEST_CASE("a replay trace stays valid JSON whatever the op names") {
  const std::string name(400, 'x');
  const std::string path = write("long_names.json", R"({"ranks": 1, "ops": [{"name": ")" + name + R"(\"q", "rank": 0, "gemm": {"m": 64, "n": 64, "k": 64}}]})");
  const std::string trace = scratch_path(kFolder, "long_names_trace.json");
  REQUIRE(run_cli({"replay", path, "--trace", trace}).status == 0);
  std::ifstream in(trace);
  const nlohmann::json parsed = nlohmann::json::parse(in, nullptr, false);
  CHECK_FALSE(parsed.is_discarded());
}

TEST_CASE("outputs: a failure on any one leaves none; symlinks and FIFOs are written through") {
  const std::string out = scratch_path(kFolder, "results.json");
  const CliResult r = run_cli({"run", "--out", out, "--trace", "/no/such/folder/trace.json"});
  check_input_error(r, "--trace: the folder /no/such/folder does not exist");
  CHECK_FALSE(std::filesystem::exists(out));

  const std::string real = write("real.json", "old");
  const std::string link = scratch_path(kFolder, "link.json");
  std::filesystem::create_symlink(real, link);
  foresight::write_file_atomically(link, "new");
  CHECK(std::filesystem::is_symlink(link));
  std::ifstream real_in(real);
  CHECK(std::string((std::istreambuf_iterator<char>(real_in)), std::istreambuf_iterator<char>()) == "new");

  const std::string fifo = scratch_path(kFolder, "fifo");
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  std::string received;
  std::thread reader([&] {
    std::ifstream in(fifo);
    received.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  });
  foresight::write_file_atomically(fifo, "through the pipe");
  reader.join();
  CHECK(received == "through the pipe");
  CHECK(std::filesystem::is_fifo(fifo));

  // A device, reached through a symlink as /dev/stdout is: written in place, never replaced.
  const std::string device_link = scratch_path(kFolder, "null_link");
  std::filesystem::create_symlink("/dev/null", device_link);
  CHECK_NOTHROW(foresight::check_output_path(device_link, "--out"));
  foresight::write_file_atomically(device_link, "discarded");
  CHECK(std::filesystem::is_character_file("/dev/null"));
  CHECK(std::filesystem::is_symlink(device_link));
}

TEST_CASE("report: malformed inputs are input errors, never undefined behaviour") {
  check_input_error(run_cli({"report", write("bad_sweep.json", R"({"kind": "foresight.sweep.v1", "pareto": ["a", "b"]})"),
                             "--out", scratch_path(kFolder, "report.html")}),
                    "bad_sweep.json");
  check_input_error(run_cli({"report", write("bad_front.json", R"({"kind": "foresight.sweep.v1", "pareto": ["max a", "min b"], "rows": [],
                                                                     "pareto_front": [7], "objective": "max:a", "grid": []})"),
                             "--out", scratch_path(kFolder, "report.html")}),
                    "pareto_front: expected a row index below 0, got 7");
  // Floats where whole numbers belong: nlohmann's get<int>() would cast 1e300 unchecked.
  check_input_error(run_cli({"report", write("float_pid.json", R"({"traceEvents": [{"ph": "X", "pid": 1e300, "tid": 0, "ts": 0, "dur": 1}]})"),
                             "--out", scratch_path(kFolder, "report.html")}),
                    "pid: expected a whole number in 0..1000000000, got 1e+300");
  check_input_error(run_cli({"report", write("bad_serving.json", R"({"workload": "serving", "latency_s": 3})"),
                             "--out", scratch_path(kFolder, "report.html")}),
                    "bad_serving.json");
  check_input_error(run_cli({"report", write("short_rows.csv", "ttft_s,tpot_s,e2e_s\n0.1\n"), "--out", scratch_path(kFolder, "report.html")}),
                    "line 2: fewer cells than the header");
}

TEST_CASE("sweeps: a spec file's values keep their commas; infinities survive the trip between ranks") {
  const std::vector<foresight::GridDimension> grid = {{"name", {"a,b", "{\"x\": 1, \"y\": 2}"}}};
  const auto points = foresight::grid_points(grid);
  REQUIRE(points.size() == 2);
  CHECK(points[0][0] == "name=a,b");
  CHECK(points[1][0] == "name={\"x\": 1, \"y\": 2}");

  foresight::SweepRow row;
  row.metrics = {{"ttft", std::numeric_limits<double>::infinity()}, {"gap", -std::numeric_limits<double>::infinity()},
                 {"ratio", std::nan("")}, {"gpus", 8}};
  const foresight::SweepRow back = foresight::SweepRow::from_json(nlohmann::json::parse(row.to_wire_json().dump()));
  CHECK(std::isinf(back.metrics[0].second));
  CHECK(back.metrics[1].second < 0);
  CHECK(std::isnan(back.metrics[2].second));
  CHECK(back.metrics[3].second == 8);
}

TEST_CASE("mistyped commands, options, grid keys and metrics are named, with what was meant, before anything runs") {
  check_input_error(run_cli({"runn"}), "unknown command \"runn\" (did you mean \"run\"?)");
  check_input_error(run_cli({"run", "--sett", "seed=2"}), "run: unknown option \"--sett\" (did you mean \"--set\"?)");
  check_input_error(run_cli({"sweep", "--grid", "training.micro_batch=1,2", "--thread", "2"}), "unknown option \"--thread\" (did you mean \"--threads\"?)");
  const std::string out = scratch_path(kFolder, "never_written.csv");
  std::filesystem::remove(out);
  check_input_error(run_cli({"sweep", "--grid", "training.micro_btch=1,2", "--quiet", "--out", out}),
                    "--grid: training.micro_btch: unknown key \"micro_btch\" (did you mean \"micro_batch\"?)");
  check_input_error(run_cli({"sweep", "--grid", "training.micro_batch=1,2", "--constraint", "mfuu<=0.3", "--quiet", "--out", out}),
                    "--constraint: unknown metric \"mfuu\" (did you mean \"mfu\"?)");
  check_input_error(run_cli({"sweep", "--grid", "training.micro_batch=1,2", "--objective", "max:tokens_per_second", "--quiet", "--out", out}),
                    "--objective: unknown metric \"tokens_per_second\" (did you mean \"tokens_per_s\"?)");
  CHECK_FALSE(std::filesystem::exists(out));
  // Negative numbers and values after -- are not options.
  CHECK(run_cli({"run", "--set", "seed=3", "--out", scratch_path(kFolder, "ok.json")}).status == 0);
}
