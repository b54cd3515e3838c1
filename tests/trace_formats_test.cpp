// Request traces in the formats people have them (workloads/trace_formats.hpp): the LMSYS
// trace as apex_plus ships it (calibration/data/serving, MIT), the raw Azure LLM inference
// and BurstGPT layouts by their published headers, and any CSV by named columns.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "sim/input/input_error.hpp"
#include "test_support.hpp"
#include "workloads/serving_traffic.hpp"
#include "workloads/sharegpt.hpp"

using namespace foresight;
using foresight::testing::public_data_path;
using foresight::testing::run_cli;
using foresight::testing::source_path;

namespace {
std::string write_trace(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() / ("foresight_trace_" + name)).string();
  std::ofstream(path) << text;
  return path;
}

std::vector<Request> read(const std::string& path, std::optional<TraceColumns> columns = std::nullopt) {
  TrafficConfig traffic;
  traffic.trace = path;
  traffic.requests = 0;
  traffic.trace_columns = std::move(columns);
  return make_requests(traffic, 1);
}

std::string error_of(const std::string& path) {
  try {
    read(path);
  } catch (const InputError& e) {
    return format_problem(e.problems().front());
  }
  return "";
}
}  // namespace

TEST_CASE("the LMSYS-Chat trace as apex_plus ships it: nanosecond offsets, its 1,024 requests at 0.5 per second") {
  const std::vector<Request> requests = read(public_data_path("serving/trace_llama_lmsys_05.csv"));
  REQUIRE(requests.size() == 1024);
  CHECK(to_seconds(requests.front().arrival) == doctest::Approx(0.197890289));
  CHECK(requests.front().prompt_tokens == 156);
  CHECK(requests.front().output_tokens == 67);
  const double rate = static_cast<double>(requests.size() - 1) / to_seconds(requests.back().arrival - requests.front().arrival);
  CHECK(rate == doctest::Approx(0.5).epsilon(0.1));  // Poisson arrivals at 0.5 requests/s, as its name says
}

TEST_CASE("raw Azure and BurstGPT layouts are recognised by their headers; zero-token rows read as one") {
  const std::vector<Request> azure = read(write_trace("azure.csv",
                                                      "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                                      "2023-11-16 18:15:50.9951690,3180,8\n"
                                                      "2023-11-16 18:15:46.6805900,4808,10\n"
                                                      "2023-11-17 00:00:01.0000000,20,0\n"));
  REQUIRE(azure.size() == 3);
  CHECK(azure[0].arrival == 0);  // counted from the earliest, whatever the order of the rows
  CHECK(to_seconds(azure[1].arrival) == doctest::Approx(4.314579).epsilon(1e-6));
  CHECK(to_seconds(azure[2].arrival) == doctest::Approx(5 * 3600 + 44 * 60 + 14.31941).epsilon(1e-6));  // across midnight
  CHECK(azure[2].output_tokens == 1);

  const std::vector<Request> burst = read(write_trace("burstgpt.csv",
                                                      "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                                                      "5,ChatGPT,472,18,490,Conversation log\n"
                                                      "45,GPT-4,1087,0,1087,API log\n"));
  REQUIRE(burst.size() == 2);
  CHECK(to_seconds(burst[0].arrival) == 5);
  CHECK(burst[1].prompt_tokens == 1087);
  CHECK(burst[1].output_tokens == 1);
}

TEST_CASE("any other CSV by named columns; unknown layouts and bad cells are named") {
  const std::vector<Request> named = read(write_trace("named.csv", "t_ms,in,out\n1500,100,20\n250,50,5\n"), TraceColumns{"t_ms", "in", "out", "ms"});
  REQUIRE(named.size() == 2);
  CHECK(to_seconds(named[0].arrival) == doctest::Approx(0.25));
  CHECK(named[1].prompt_tokens == 100);
  CHECK(error_of(write_trace("unknown.csv", "when,a,b\n1,2,3\n")).find("not a trace format foresight knows") != std::string::npos);
  CHECK(error_of(write_trace("bad_date.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-13-01 00:00:00,5,5\n"))
            .find("line 2, column TIMESTAMP: expected a date and time, got \"2023-13-01 00:00:00\"") != std::string::npos);
  // The strict format of our own traces keeps refusing a zero.
  CHECK(error_of(write_trace("zero.csv", "arrived_at,num_prefill_tokens,num_decode_tokens\n0,5,0\n"))
            .find("column num_decode_tokens: must be >= 1") != std::string::npos);
  // From a scenario: trace_columns is read there.
  const std::string trace = write_trace("scenario_named.csv", "t_ms,in,out\n0,100,20\n10,50,5\n");
  const auto r = run_cli({"run", source_path("scenarios/llama3_70b_serving_azure_conv.json"), "--set", "serving.traffic.trace=" + trace, "--set",
                          R"(serving.traffic.trace_columns={"arrival": "t_ms", "prompt_tokens": "in", "output_tokens": "out", "arrival_unit": "ms"})"});
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("2 finished of 2") != std::string::npos);
}

// tests/data/sharegpt_sample.json: conversations written by hand in ShareGPT's layout (not
// ShareGPT's data), with lengths on each side of vLLM's filter.
TEST_CASE("ShareGPT-style conversations give lengths as vLLM's benchmark samples them, characters over chars_per_token") {
  const std::vector<Request> kept = sharegpt_lengths(source_path("tests/data/sharegpt_sample.json"), 4);
  REQUIRE(kept.size() == 3);  // too short a prompt or answer, too long a prompt or pair, and a lone turn are left out
  CHECK(kept[0].prompt_tokens == 100);
  CHECK(kept[0].output_tokens == 200);
  CHECK(kept[1].prompt_tokens == 10);
  CHECK(kept[1].output_tokens == 500);
  CHECK(kept[2].prompt_tokens == 40);  // 160 characters, 190 bytes of UTF-8: characters count
  CHECK(kept[2].output_tokens == 65);
  CHECK(sharegpt_lengths(source_path("tests/data/sharegpt_sample.json"), 2)[0].output_tokens == 400);

  // As lengths_from, synthetic arrivals draw their lengths from the kept conversations.
  TrafficConfig traffic;
  traffic.lengths_from = source_path("tests/data/sharegpt_sample.json");
  traffic.requests = 300;
  for (const Request& r : make_requests(traffic, 1)) {
    const bool drawn = (r.prompt_tokens == 100 && r.output_tokens == 200) || (r.prompt_tokens == 10 && r.output_tokens == 500) ||
                       (r.prompt_tokens == 40 && r.output_tokens == 65);
    CHECK(drawn);
  }

  const std::string turnless = write_trace("sharegpt_bad.json", R"([{"conversations": [{"from": "human", "value": "hi there"}, {"from": "gpt"}]}])");
  CHECK_THROWS_WITH_AS(sharegpt_lengths(turnless, 4), doctest::Contains("[0].conversations[1]: expected a turn"), InputError);
  const std::string object = write_trace("sharegpt_object.json", R"({"conversations": []})");
  CHECK_THROWS_WITH_AS(sharegpt_lengths(object, 4), doctest::Contains("expected a ShareGPT-style array"), InputError);
  TrafficConfig as_trace;
  as_trace.trace = source_path("tests/data/sharegpt_sample.json");
  as_trace.requests = 0;
  CHECK_THROWS_WITH_AS(make_requests(as_trace, 1), doctest::Contains("give it as serving.traffic.lengths_from"), InputError);
}
