// Replaying recorded op graphs: stream order, dependencies, collectives that wait for all
// members, shaped ops timed by the cost model, collectives timed on the network, and
// every kind of bad input reported at once.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "models/roofline_model.hpp"
#include "sim/input_error.hpp"
#include "test_support.hpp"
#include "topologies/collective_tuner.hpp"
#include "topologies/topology_spec.hpp"
#include "workloads/replay.hpp"

using namespace foresight;
using foresight::testing::run_cli;

namespace {
const RooflineModel kRoofline{RooflineParameters{}};

ReplayResult replay(const char* text) {
  Replay r(read_replay_graph(nlohmann::json::parse(text), "graph.json"), kRoofline);
  return r.run();
}

std::string problems_of(const char* text) {
  try {
    (void)read_replay_graph(nlohmann::json::parse(text), "bad.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("replay: streams run in listed order, 'after' crosses ranks, a collective waits for every member") {
  // Rank 0: a (10 us) then b (5 us). Rank 1: c (30 us), and d (7 us) on its copy stream at
  // once. The all-reduce (20 us, given) on both ranks' comm streams waits for b and c: it
  // starts at 30 and ends at 50. e on rank 0 follows it: 50 + 4 = 54 us.
  const ReplayResult r = replay(R"({"ranks": 2, "ops": [
    {"name": "a", "rank": 0, "duration_us": 10}, {"name": "b", "rank": 0, "duration_us": 5},
    {"name": "c", "rank": 1, "duration_us": 30}, {"name": "d", "rank": 1, "stream": "copy", "duration_us": 7},
    {"name": "ar", "collective": "all_reduce", "group": [0, 1], "bytes": 1e6, "duration_us": 20, "after": ["b", "c"]},
    {"name": "e", "rank": 0, "duration_us": 4, "after": ["ar"]}]})");
  CHECK(r.makespan == 54 * kMicrosecond);
  CHECK(r.ranks[0].compute == 19 * kMicrosecond);
  CHECK(r.ranks[0].busy == 39 * kMicrosecond);  // 0-15 compute, 30-50 all-reduce, 50-54
  CHECK(r.ranks[1].busy == 50 * kMicrosecond);
}

TEST_CASE("replay: a GEMM shape is timed by the cost model, a collective by the flow network") {
  const ReplayResult gemm = replay(R"({"ranks": 1, "ops": [{"name": "g", "rank": 0, "gemm": {"m": 4096, "n": 4096, "k": 4096}}]})");
  const Op op = gemm_op("g", {4096, 4096, 4096, 1}, Dtype::kBf16, Phase::kForward);
  CHECK(gemm.makespan == kRoofline.estimate(op, *find_builtin_gpu("h100_sxm")).duration);

  // Alone on hgx_h100, the all-reduce takes what NCCL's choice takes on the idle node.
  const ReplayResult net = replay(R"({"ranks": 8, "topology": "hgx_h100", "ops": [
    {"name": "ar", "collective": "all_reduce", "group": [0, 1, 2, 3, 4, 5, 6, 7], "bytes": 67108864}]})");
  const Topology node = topology_from_argument("hgx_h100");
  const auto router = make_router(node);
  CollectiveTuner tuner(node, *router, nccl_h100_costs_for(node), nccl_algorithms(CollectiveKind::kAllReduce));
  std::vector<NodeId> ranks;
  for (std::size_t i = 0; i < 8; ++i) ranks.push_back(node.gpu(i));
  CHECK(net.makespan == tuner.choose({CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, 67108864, ranks, 0}).idle_time);
}

TEST_CASE("replay: bad graphs get every problem, with its JSON path") {
  const std::string all = problems_of(R"({"ranks": 2, "opz": 1, "ops": [
    {"name": "a", "rank": 0, "duration_us": 1},
    {"name": "a", "rank": 5, "duration_us": 1},
    {"name": "b", "rank": 0},
    {"name": "c", "collective": "all_reduce", "group": [0, 1], "bytes": 8},
    {"name": "d", "rank": 1, "duration_us": 1, "after": ["bb"]},
    {"name": "e", "collective": "all_reduse", "group": [0], "bytes": 8, "duration_us": 1}]})");
  CHECK(all.find("opz") != std::string::npos);
  CHECK(all.find("ops[1].name: duplicate op name \"a\"") != std::string::npos);
  CHECK(all.find("ops[1].rank: rank 5 is outside 0..1") != std::string::npos);
  CHECK(all.find("ops[2].duration_us: a compute op needs a duration") != std::string::npos);
  CHECK(all.find("ops[3].duration_us: a collective needs a duration, or a \"topology\"") != std::string::npos);
  CHECK(all.find("ops[4].after: unknown op \"bb\"") != std::string::npos);
  CHECK(all.find("did you mean \"b\"") != std::string::npos);
  CHECK(all.find("ops[5].collective") != std::string::npos);
  CHECK(all.find("ops[5].group") != std::string::npos);
  CHECK(problems_of(R"({"ranks": 9, "topology": "hgx_h100", "ops": [{"name": "a", "rank": 0, "duration_us": 1}]})")
            .find("fewer than the 9 ranks") != std::string::npos);
}

TEST_CASE("foresight replay: exit 2 and no output file on bad input or a cycle") {
  const auto dir = std::filesystem::temp_directory_path() / "foresight_replay_test";
  std::filesystem::create_directories(dir);
  const auto write = [&](const char* name, const char* text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  const std::string out = (dir / "results.json").string();
  std::filesystem::remove(out);
  const std::string cycle = write("cycle.json", R"({"ranks": 1, "ops": [
    {"name": "a", "rank": 0, "duration_us": 1, "after": ["b"]}, {"name": "b", "rank": 0, "duration_us": 1}]})");
  const auto r = run_cli({"replay", cycle, "--out", out});
  CHECK(r.status == 2);
  CHECK(r.err.find("cycle") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(out));
  CHECK(run_cli({"replay", write("broken.json", "{\"ranks\": 1,")}).status == 2);
  const auto good = run_cli({"replay", foresight::testing::source_path("scenarios/replay/tp4_mlp_block.json"), "--out", out});
  CHECK(good.status == 0);
  CHECK(std::filesystem::exists(out));
  const auto again = run_cli({"replay", foresight::testing::source_path("scenarios/replay/tp4_mlp_block.json")});
  CHECK(again.out.substr(0, again.out.find("Wrote")) == good.out.substr(0, good.out.find("Wrote")));
}
