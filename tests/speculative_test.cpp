// Speculative decoding against closed forms (Leviathan et al. 2023, "Fast inference from
// transformers via speculative decoding"): tokens per verification pass, and one request's
// time per output token as the pass's time over the tokens it yields.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "sim/runner/scenario.hpp"
#include "test_support.hpp"
#include "workloads/iteration_cost.hpp"

using foresight::testing::read_json_file;
using foresight::testing::run_cli;
using foresight::testing::source_path;

namespace {
const std::string kScenario = source_path("tests/data/speculative_decode.json");

nlohmann::json run_with(const std::vector<std::string>& sets) {
  const std::string out = foresight::testing::scratch_path("foresight_speculative_test", "results.json");
  std::vector<std::string> args = {"run", kScenario, "--out", out};
  for (const std::string& set : sets) args.insert(args.end(), {"--set", set});
  const auto r = run_cli(args);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  return read_json_file(out);
}
}  // namespace

TEST_CASE("tokens per verification pass: (1 - a^(k+1)) / (1 - a)") {
  for (const std::pair<int, double>& drafts : std::vector<std::pair<int, double>>{{3, 0.7}, {5, 0.5}, {2, 0.9}}) {
    const int k = drafts.first;
    const double a = drafts.second;  // clang 14 cannot capture structured bindings in CAPTURE's lambda
    CAPTURE(k);
    CAPTURE(a);
    const auto r = run_with({"serving.speculative.num_tokens=" + std::to_string(k), "serving.speculative.acceptance=" + std::to_string(a),
                             "serving.traffic.requests=100", "serving.traffic.max_concurrency=16"});
    const double expected = (1 - std::pow(a, k + 1)) / (1 - a);
    CHECK(r["speculative"]["expected_tokens_per_pass"].get<double>() == doctest::Approx(expected));
    // Over about 20,000 passes the mean's standard error is below 0.5%.
    CHECK(r["speculative"]["tokens_per_pass"].get<double>() == doctest::Approx(expected).epsilon(0.02));
  }
  // Nothing accepted: one token a pass, like plain decoding but paying for the drafts.
  const auto none = run_with({"serving.speculative.acceptance=0"});
  CHECK(none["speculative"]["tokens_per_pass"] == 1.0);
  const auto plain = run_with({"serving.speculative.num_tokens=0"});
  CHECK(none["latency_s"]["tpot"]["mean"].get<double>() > plain["latency_s"]["tpot"]["mean"].get<double>());
}

// Drafters fall off with depth: with a rate per position (vLLM's per-position acceptance
// rates), a pass yields 1 + a1 + a1 a2 + ... + a1 ... ak tokens.
TEST_CASE("tokens per verification pass with a rate per drafted position: 1 + a1 + a1 a2 + a1 a2 a3") {
  const std::vector<double> a = {0.8, 0.6, 0.45};
  const auto r = run_with({"serving.speculative.num_tokens=3", "serving.speculative.acceptance=[0.8,0.6,0.45]",
                           "serving.traffic.requests=100", "serving.traffic.max_concurrency=16"});
  const double expected = 1 + a[0] + a[0] * a[1] + a[0] * a[1] * a[2];  // 2.496
  MESSAGE("per position 0.8/0.6/0.45: " << r["speculative"]["tokens_per_pass"].get<double>() << " tokens per pass, " << expected
                                        << " expected");
  CHECK(r["speculative"]["expected_tokens_per_pass"].get<double>() == doctest::Approx(expected));
  CHECK(r["speculative"]["tokens_per_pass"].get<double>() == doctest::Approx(expected).epsilon(0.02));
  CHECK(r["speculative"]["acceptance"] == nlohmann::json(a));
  // One rate repeated is the closed form's.
  const auto same = run_with({"serving.speculative.num_tokens=3", "serving.speculative.acceptance=[0.7,0.7,0.7]"});
  const auto one = run_with({"serving.speculative.num_tokens=3", "serving.speculative.acceptance=0.7"});
  CHECK(same["speculative"]["expected_tokens_per_pass"].get<double>() == doctest::Approx((1 - std::pow(0.7, 4)) / 0.3));
  CHECK(same["speculative"]["tokens_per_pass"] == one["speculative"]["tokens_per_pass"]);
  CHECK(same["latency_s"]["tpot"]["mean"] == one["latency_s"]["tpot"]["mean"]);
  // A rate for each drafted token, each a probability.
  const auto bad = [](const std::string& set, const std::string& why) {
    const auto refused = run_cli({"run", kScenario, "--set", "serving.speculative.num_tokens=3", "--set", set});
    CHECK(refused.status == 2);
    CHECK_MESSAGE(refused.err.find(why) != std::string::npos, refused.err);
  };
  bad("serving.speculative.acceptance=[0.8,0.6]", "gives 2 per-position rates for num_tokens = 3");
  bad("serving.speculative.acceptance=[0.8,1.2,0.5]", "expected a probability from 0 to 1, or an array of them");
  bad("serving.speculative.acceptance=-0.5", "expected a probability from 0 to 1");
}

// One request at a time: each pass costs the drafter's k passes and one verification of
// k + 1 tokens, and yields tokens_per_pass tokens, so TPOT is their ratio (Leviathan et
// al.'s walltime improvement, E[tokens] / (k c + 1), with c the drafter's cost relative to
// a pass of the model, when verification costs what a decode step costs).
TEST_CASE("one request at a time: TPOT is a pass's time over its tokens") {
  const auto spec = run_with({});
  const auto plain = run_with({"serving.speculative.num_tokens=0"});
  const double per_pass = spec["speculative"]["tokens_per_pass"].get<double>();
  // A pass at the request's mean context (512 prompt tokens, then 512 outputs): the drafter's
  // three passes and the verification of four tokens, with the engine's host time.
  const foresight::Scenario s = foresight::load_scenario(kScenario, {});
  foresight::IterationCostModel cost(s.model, s.gpu, s.fabric, s.serving, *s.cost_model);
  foresight::BatchShape pass;
  pass.decodes = pass.sequences = 1;
  pass.tokens = pass.outputs = 4;
  pass.decode_context = 768 + 4;
  pass.decode_window_context = pass.decode_context;
  const double expected_tpot = foresight::to_seconds(cost.iteration(pass)) / per_pass;
  const double tpot = spec["latency_s"]["tpot"]["mean"].get<double>();
  const double speedup = plain["latency_s"]["tpot"]["mean"].get<double>() / tpot;
  MESSAGE("Llama-3.1-8B on an H100, 3 drafted by a one-layer head at acceptance 0.7: " << per_pass << " tokens per pass, TPOT "
          << tpot * 1e3 << " ms (a pass over its tokens: " << expected_tpot * 1e3 << " ms), " << speedup << "x faster than without");
  CHECK(tpot == doctest::Approx(expected_tpot).epsilon(0.03));
  CHECK(speedup < per_pass);  // the drafts and the wider verification are not free
}

// EAGLE-2's tree (SGLang's defaults draw one): the drafter's first step takes each sequence's
// last token, each later step its eagle_topk best candidates, and the verification pass takes
// num_draft_tokens of each, the tree's best nodes and the model's own token.
TEST_CASE("a tree of drafts: later draft steps take eagle_topk candidates, the verification num_draft_tokens") {
  const std::vector<std::string> rates = {"serving.speculative.acceptance=[0.85,0.75,0.65]"};
  const std::vector<std::string> tree_sets = {rates[0], "serving.speculative.eagle_topk=4", "serving.speculative.num_draft_tokens=8"};
  const auto chain = run_with(rates);
  const auto tree = run_with(tree_sets);
  const double per_pass = tree["speculative"]["tokens_per_pass"].get<double>();
  CHECK(per_pass == doctest::Approx(1 + 0.85 + 0.85 * 0.75 + 0.85 * 0.75 * 0.65).epsilon(0.02));
  // One request at a time: a pass over 8 tokens at the mean context, the drafter's passes in it.
  const foresight::Scenario s = foresight::load_scenario(kScenario, tree_sets);
  foresight::IterationCostModel cost(s.model, s.gpu, s.fabric, s.serving, *s.cost_model);
  foresight::BatchShape pass;
  pass.decodes = pass.sequences = 1;
  pass.tokens = pass.outputs = 8;
  pass.decode_context = pass.decode_window_context = 768 + 8;
  const double expected_tpot = foresight::to_seconds(cost.iteration(pass)) / per_pass;
  const double tpot = tree["latency_s"]["tpot"]["mean"].get<double>();
  MESSAGE("a tree of 4 candidates a step, 8 tokens verified: TPOT " << tpot * 1e3 << " ms (a pass over its tokens: "
          << expected_tpot * 1e3 << " ms); a chain at the same rates " << chain["latency_s"]["tpot"]["mean"].get<double>() * 1e3 << " ms");
  CHECK(tpot == doctest::Approx(expected_tpot).epsilon(0.03));
  // At the same acceptance the tree only costs more: its gain is the higher acceptance it buys.
  CHECK(tpot > chain["latency_s"]["tpot"]["mean"].get<double>());
  const auto refused = [](const std::vector<std::string>& sets, const std::string& why) {
    std::vector<std::string> args = {"run", kScenario};
    for (const std::string& set : sets) args.insert(args.end(), {"--set", set});
    const auto r = run_cli(args);
    CHECK(r.status == 2);
    CHECK_MESSAGE(r.err.find(why) != std::string::npos, r.err);
  };
  refused({"serving.speculative.num_draft_tokens=3"}, "num_draft_tokens: must be from num_tokens + 1 = 4 (a chain) to 4");
  refused({"serving.speculative.eagle_topk=2", "serving.speculative.num_draft_tokens=12"}, "to 11, what 3 steps of eagle_topk = 2");
}

TEST_CASE("a drafter's weights and KV cache come out of the KV cache's share") {
  const auto plain = run_with({"serving.speculative.num_tokens=0"});
  const auto head = run_with({});
  const auto model = run_with({"serving.speculative.draft_model=llama3_8b"});
  const auto tokens = [](const nlohmann::json& r) { return r["kv_cache"]["tokens_per_replica"].get<double>(); };
  const auto weights = [](const nlohmann::json& r) { return r["memory_per_gpu_bytes"]["weights"].get<double>(); };
  // A one-layer head of Llama-3.1-8B's shape: 218M parameters, one more layer of KV per token (1/32 more).
  CHECK(weights(head) - weights(plain) == doctest::Approx(2 * 218.1e6).epsilon(0.01));
  CHECK(tokens(head) < tokens(plain));
  // A whole 8B drafter doubles the weights and the KV bytes per token.
  CHECK(weights(model) == doctest::Approx(2 * weights(plain)).epsilon(0.01));
  CHECK(tokens(model) < tokens(head));
}

TEST_CASE("speculative decoding's settings are checked") {
  const auto missing = run_cli({"run", kScenario, "--set", "serving.speculative.acceptance=-1"});
  CHECK(missing.status == 2);
  CHECK(missing.err.find("serving.speculative.acceptance") != std::string::npos);
  const auto multi_step = run_cli({"run", kScenario, "--set", "serving.num_scheduler_steps=8"});
  CHECK(multi_step.status == 2);
  CHECK(multi_step.err.find("num_scheduler_steps") != std::string::npos);
  const auto unknown = run_cli({"run", kScenario, "--set", "serving.speculative.draft_model=llama9_1b"});
  CHECK(unknown.status == 2);
  CHECK(unknown.err.find("unknown model") != std::string::npos);
}
