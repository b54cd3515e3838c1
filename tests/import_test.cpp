// foresight import: launch commands to scenarios. The real-world input is LambdaLabs' vLLM
// 0.6.0 server (github.com/LambdaLabsML/vllm-benchmark, benchmark_v0.md: --num-scheduler-steps
// 10, --max-num-seqs 256, --max-model-len 2048), whose runs are serving case S2: the imported
// scenario must predict exactly what the hand-written S2 scenario predicts.
#include <doctest/doctest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "sim/json_document.hpp"
#include "test_support.hpp"

using foresight::testing::file_text;
using foresight::testing::read_json_file;
using foresight::testing::run_cli;
using foresight::testing::source_path;

namespace {
std::string scratch(const std::string& name) { return (std::filesystem::temp_directory_path() / ("foresight_import_" + name)).string(); }
}  // namespace

TEST_CASE("import vllm: LambdaLabs' vLLM 0.6.0 server becomes serving case S2's scenario, and predicts what it does") {
  const std::string imported = scratch("lambda.json");
  const auto r = run_cli({"import", "vllm", "--out", imported, "--", "vllm", "serve", "meta-llama/Meta-Llama-3-8B-Instruct", "--num-scheduler-steps",
                          "10", "--max-num-seqs", "256", "--max-model-len", "2048", "--port", "8000", "--disable-log-requests"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("3 flags mapped, 2 dropped, 0 not modelled") != std::string::npos);
  const std::string text = file_text(imported);
  CHECK(text.find("//   --num-scheduler-steps 10 -> serving.num_scheduler_steps = 10") != std::string::npos);
  CHECK(text.find("// Dropped (no effect on what foresight predicts):\n//   --port 8000\n//   --disable-log-requests") != std::string::npos);
  const nlohmann::json scenario = foresight::parse_json_text(text, imported);
  CHECK(scenario["model"] == "llama3_8b");
  CHECK(scenario["serving"]["engine"] == "vllm_v0");  // multi-step scheduling is V0's

  const std::string trace = source_path("scenarios/validation/serving_lambda_vllm060/n80_requests.csv");
  const std::string by_import = scratch("by_import.json"), by_hand = scratch("by_hand.json");
  REQUIRE(run_cli({"run", imported, "--set", "serving.traffic.trace=" + trace, "--out", by_import}).status == 0);
  REQUIRE(run_cli({"run", source_path("scenarios/validation/serving_lambda_vllm060/n80.json"), "--out", by_hand}).status == 0);
  const nlohmann::json a = read_json_file(by_import), b = read_json_file(by_hand);
  CHECK(a["latency_s"] == b["latency_s"]);
  CHECK(a["throughput"] == b["throughput"]);
}

TEST_CASE("import sglang: flags map to SGLang's own keys; unknown models and misplaced commands are named") {
  const auto r = run_cli({"import", "sglang", "--gpu", "a100_sxm_80gb", "--", "python3", "-m", "sglang.launch_server", "--model-path",
                          "meta-llama/Meta-Llama-3.1-8B-Instruct", "--tp", "2", "--mem-fraction-static", "0.8", "--chunked-prefill-size", "4096",
                          "--schedule-policy", "lpm", "--enable-torch-compile"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json scenario = foresight::parse_json_text(r.out, "(stdout)");
  CHECK(scenario["model"] == "llama31_8b");  // "Meta-Llama-3.1" is the older name of "Llama-3.1"
  CHECK(scenario["hardware"]["gpu"] == "a100_sxm_80gb");
  CHECK(scenario["serving"] == nlohmann::json{{"engine", "sglang"}, {"tp", 2}, {"mem_fraction_static", 0.8}, {"chunked_prefill_size", 4096},
                                              {"schedule_policy", "lpm"}});
  CHECK(r.out.find("// Not modelled (ignored):\n//   --enable-torch-compile") != std::string::npos);

  const auto unknown = run_cli({"import", "vllm", "--", "vllm", "serve", "someone/unknown-model"});
  CHECK(unknown.status == 2);
  CHECK(unknown.err.find("model \"someone/unknown-model\" is not in foresight's catalog") != std::string::npos);
  const auto misplaced = run_cli({"import", "vllm", "vllm", "serve", "meta-llama/Llama-3.1-8B", "--tensor-parallel-size", "2"});
  CHECK(misplaced.status == 2);
  CHECK(misplaced.err.find("the launch command goes after --") != std::string::npos);
  const auto awq = run_cli({"import", "vllm", "--", "vllm", "serve", "meta-llama/Llama-3.1-8B", "--quantization", "awq"});
  CHECK(awq.out.find("// Not modelled (ignored):\n//   --quantization awq") != std::string::npos);  // int4 weights are not bf16
  const auto bad_value = run_cli({"import", "vllm", "--", "vllm", "serve", "meta-llama/Llama-3.1-8B", "--tensor-parallel-size", "two"});
  CHECK(bad_value.status == 2);
  CHECK(bad_value.err.find("--tensor-parallel-size: expected a number, got \"two\"") != std::string::npos);
}
