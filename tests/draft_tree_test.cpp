// EAGLE-2's dynamic draft tree (Li et al. 2024), grown from the drafter's rank rates: the
// expected tokens per verification pass against closed forms worked by hand, the sampled
// passes against that expectation, and a whole run against the same.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "workloads/draft_tree.hpp"

using foresight::DraftTree;
using foresight::testing::read_json_file;
using foresight::testing::run_cli;
using foresight::testing::source_path;

namespace {
const std::string kTreeScenario = source_path("tests/data/speculative_eagle2.json");

double sampled_mean(const DraftTree& tree, int passes) {
  std::uint64_t state = 12345;
  const auto uniform = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  };
  double tokens = 0;
  for (int i = 0; i < passes; ++i) tokens += static_cast<double>(tree.sample_tokens(uniform));
  return tokens / passes;
}
}  // namespace

TEST_CASE("a tree of one candidate a step is the chain: (1 - a^(k+1)) / (1 - a)") {
  for (const double a : {0.5, 0.7, 0.9}) {
    CAPTURE(a);
    // Ranks after the first are never drafted at eagle_topk 1.
    const DraftTree chain({a, 0.1}, 4, 1, 5);
    CHECK(chain.expected_tokens() == doctest::Approx((1 - std::pow(a, 5)) / (1 - a)));
    CHECK(chain.nodes() == 4);
    CHECK(chain.depth() == 4);
    // Verifying fewer tokens cuts the chain short.
    const DraftTree short_chain({a}, 4, 1, 3);
    CHECK(short_chain.expected_tokens() == doctest::Approx(1 + a + a * a));
  }
}

// Rates 0.6 and 0.2, two steps of two candidates: the first step drafts A (0.6) and B (0.2);
// the second expands both, A's children worth 0.36 and 0.12, B's 0.12 and 0.04. The three most
// valuable of the six are A, AA and B: 1 + 0.6 + 0.36 + 0.2 = 2.16 tokens a pass; two nodes
// (A, AA) are the chain's 1.96; all six, 1 + 0.6 + 0.2 + 0.36 + 0.12 + 0.12 + 0.04 = 2.44.
TEST_CASE("the verified tree is the most valuable of the drafted nodes (worked by hand)") {
  CHECK(DraftTree({0.6, 0.2}, 2, 2, 4).expected_tokens() == doctest::Approx(2.16));
  CHECK(DraftTree({0.6, 0.2}, 2, 2, 3).expected_tokens() == doctest::Approx(1.96));
  const DraftTree all({0.6, 0.2}, 2, 2, 7);
  CHECK(all.expected_tokens() == doctest::Approx(2.44));
  CHECK(all.nodes() == 6);
  // Asking to verify more than was drafted verifies what was drafted.
  CHECK(DraftTree({0.6, 0.2}, 2, 2, 40).nodes() == 6);
  // The frontier keeps only eagle_topk nodes: at three steps the third expands AA (0.36) and
  // AB or BA (0.12), not BB (0.04), so 2 + 2x2 + 2x2 = 10 nodes are drafted.
  CHECK(DraftTree({0.6, 0.2}, 3, 2, 100).nodes() == 10);
  // Ranks past the given rates are drafted, worth nothing: three candidates a step over two
  // rates verify as many nodes as asked, with the value of the two-rate tree's best.
  const DraftTree wider({0.6, 0.2}, 2, 3, 10);
  CHECK(wider.nodes() == 9);
  CHECK(wider.expected_tokens() == doctest::Approx(2.44));
}

TEST_CASE("sampled passes average the tree's expected tokens") {
  for (const std::vector<int>& shape : std::vector<std::vector<int>>{{3, 4, 16}, {5, 2, 8}, {6, 8, 60}}) {
    const int steps = shape[0];
    const int topk = shape[1];
    const int verified = shape[2];  // clang 14 cannot capture structured bindings in CAPTURE's lambda
    CAPTURE(steps);
    CAPTURE(topk);
    CAPTURE(verified);
    const DraftTree tree({0.7, 0.1, 0.04, 0.02}, steps, topk, verified);
    // 200,000 passes: the mean's standard error is below 0.3%.
    CHECK(sampled_mean(tree, 200000) == doctest::Approx(tree.expected_tokens()).epsilon(0.01));
  }
}

TEST_CASE("a serving run drafts with the grown tree: tokens per pass as expected, faster than the chain") {
  const std::string out = foresight::testing::scratch_path("foresight_draft_tree_test", "results.json");
  const auto run = [&](const std::vector<std::string>& sets) {
    std::vector<std::string> args = {"run", kTreeScenario, "--out", out, "--set", "serving.traffic.requests=60",
                                     "--set", "serving.traffic.max_concurrency=16"};
    for (const std::string& set : sets) args.insert(args.end(), {"--set", set});
    const auto r = run_cli(args);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return read_json_file(out);
  };
  const auto tree = run({});
  const auto chain = run({"serving.speculative.eagle_topk=1", "serving.speculative.num_draft_tokens=4"});
  const double expected = DraftTree({0.7, 0.1, 0.04, 0.02}, 3, 4, 16).expected_tokens();
  const double per_pass = tree["speculative"]["tokens_per_pass"].get<double>();
  MESSAGE("EAGLE-2 tree (3 steps, top-4, 16 verified) at rank rates 0.7/0.1/0.04/0.02: " << per_pass << " tokens a pass, "
          << expected << " expected; the chain " << chain["speculative"]["tokens_per_pass"].get<double>() << "; TPOT "
          << tree["latency_s"]["tpot"]["mean"].get<double>() * 1e3 << " ms against " << chain["latency_s"]["tpot"]["mean"].get<double>() * 1e3);
  CHECK(tree["speculative"]["expected_tokens_per_pass"].get<double>() == doctest::Approx(expected));
  CHECK(per_pass == doctest::Approx(expected).epsilon(0.02));
  CHECK(chain["speculative"]["expected_tokens_per_pass"].get<double>() == doctest::Approx(1 + 0.7 + 0.49 + 0.343));
  CHECK(tree["speculative"]["acceptance_by_rank"] == nlohmann::json({0.7, 0.1, 0.04, 0.02}));
  CHECK(tree["latency_s"]["tpot"]["mean"].get<double>() < chain["latency_s"]["tpot"]["mean"].get<double>());
}

TEST_CASE("rank rates are checked") {
  const auto refused = [](const std::vector<std::string>& sets, const std::string& why) {
    std::vector<std::string> args = {"run", kTreeScenario};
    for (const std::string& set : sets) args.insert(args.end(), {"--set", set});
    const auto r = run_cli(args);
    CHECK(r.status == 2);
    CHECK_MESSAGE(r.err.find(why) != std::string::npos, r.err);
  };
  refused({"serving.speculative.acceptance_by_rank=[0.7,0.5]"}, "sums to 1.2");
  refused({"serving.speculative.acceptance_by_rank=[0.7,-0.1]"}, "expected an array of 1 to 64 probabilities");
  refused({"serving.speculative.acceptance_by_rank=0.7"}, "expected an array of 1 to 64 probabilities");
  refused({"serving.speculative.acceptance=0.7"}, "acceptance_by_rank: is given beside speculative.acceptance");
}
