#include <doctest/doctest.h>

#include <sstream>

#include "sim/input/input_error.hpp"
#include "sim/runner/collective_command.hpp"
#include "test_support.hpp"
#include "topologies/topology_spec.hpp"

using namespace foresight;
using foresight::testing::run_cli;
using foresight::testing::source_path;

TEST_CASE("presets build usable topologies") {
  for (const char* preset : {"hgx_h100", "hgx_h200", "dgx_a100", "hgx_b200", "nvl72", "mi300x_node", "ring:16",
                             "torus:4x4", "torus:2x3x4", "fat_tree:4", "fat_tree_2to1:64", "leaf_spine:8"}) {
    CAPTURE(preset);
    const Topology t = topology_from_argument(preset);
    CHECK(t.problems().empty());
  }
  CHECK(topology_from_argument("fat_tree:64").gpu_count() == 512);
  CHECK(topology_from_argument("nvl72").gpu_count() == 72);
}

TEST_CASE("a custom topology file loads") {
  const Topology t = topology_from_argument(source_path("scenarios/topologies/two_nodes_one_uplink.json"));
  CHECK(t.gpu_count() == 4);
  CHECK(t.link_count() == 10);  // five duplex links
}

TEST_CASE("bad topology input names the argument or file, the path and what was expected") {
  CHECK_THROWS_WITH_AS(topology_from_argument("hgx_h10"), doctest::Contains("neither a preset (did you mean \"hgx_h100\"?)"), InputError);
  CHECK_THROWS_WITH_AS(topology_from_argument("ring:zero"), doctest::Contains("expected positive whole numbers"), InputError);
  CHECK_THROWS_WITH_AS(topology_from_argument("torus:8"), doctest::Contains("a torus has 2 or 3 dimensions"), InputError);
  try {
    topology_from_argument(source_path("tests/data/topologies/bad_links.json"));
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    const std::string text = e.what();
    MESSAGE(text);
    CHECK(text.find("nodes[2].name: duplicate node name \"gpu1\"") != std::string::npos);
    CHECK(text.find("nodes[3].kind: unknown value \"swich\"") != std::string::npos);
    CHECK(text.find("links[0].bandwidth_gbps: expected a number >= 0.001 and <= 1000000 (GB/s), got 0") != std::string::npos);
    CHECK(text.find("links[1].to: unknown node \"sww\" (did you mean \"sw\"?)") != std::string::npos);
    CHECK(text.find("links[2].to: is required") != std::string::npos);
    CHECK(text.find("links[2].latncy_us: unknown key \"latncy_us\" (did you mean \"latency_us\"?)") != std::string::npos);
  }
  try {
    topology_from_argument(source_path("tests/data/topologies/disconnected.json"));
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    const std::string text = e.what();
    CHECK(text.find("links: GPU b cannot exchange data with GPU a (the graph is disconnected)") != std::string::npos);
    CHECK(text.find("links: GPU c cannot exchange data with GPU a") != std::string::npos);
  }
}

TEST_CASE("sizes use nccl-tests units and step geometrically") {
  CHECK(parse_size("8") == 8);
  CHECK(parse_size("64K") == 65536);
  CHECK(parse_size("1MiB") == 1048576);
  CHECK(parse_size("2gb") == 2147483648.0);
  CHECK(parse_size_range("8B:64B", 2) == std::vector<double>{8, 16, 32, 64});
  CHECK_THROWS_AS(parse_size("12parsecs"), InputError);
  CHECK_THROWS_AS(parse_size("0.5B"), InputError);
  CHECK_THROWS_AS(parse_size_range("1M:1K", 2), InputError);
}

TEST_CASE("foresight collective prints the closed form on a ring") {
  // ring:8 has 50 GB/s links and 0.25 us per hop; --protocol none is the bare network.
  // A 64 MiB ring all-reduce takes 2 * 7/8 * 67108864 B / 50e9 B/s = 2348.81 us of
  // transfer plus 14 steps x 0.25 us = 3.5 us of latency: 2352.31 us. algbw = 67108864 B
  // / 2352.31 us = 28.53 GB/s; busbw = algbw x 2 * 7/8 = 49.93 GB/s.
  const auto r = run_cli({"collective", "--topology", "ring:8", "--sizes", "64MiB", "--protocol", "none"});
  REQUIRE(r.status == 0);
  CHECK(r.out.find("67108864      16777216       2352.31        28.53        49.93") != std::string::npos);
}

TEST_CASE("foresight collective rejects bad input with exit status 2") {
  CHECK(run_cli({"collective", "--op", "all_reduse"}).status == 2);
  CHECK(run_cli({"collective", "--topology", "nowhere"}).status == 2);
  const auto unsupported = run_cli({"collective", "--op", "all_to_all", "--algo", "ring"});
  CHECK(unsupported.status == 2);
  CHECK(unsupported.err.find("ring algorithm does not implement all_to_all") != std::string::npos);
  CHECK(run_cli({"collective", "--gpus", "9"}).status == 2);
  CHECK(run_cli({"collective", "--sizes", "8B:1XB"}).status == 2);
  CHECK(run_cli({"collective", "--protocol", "ll256"}).status == 2);
  // A100's NVSwitch cannot reduce in flight.
  const auto no_sharp = run_cli({"collective", "--topology", "dgx_a100", "--algo", "nvls"});
  CHECK(no_sharp.status == 2);
  CHECK(no_sharp.err.find("reduces in flight") != std::string::npos);
}

namespace {
// The time column (third) of the last row of a `foresight collective` table.
double last_row_time(const std::string& table) {
  const auto end = table.find_last_not_of('\n');
  const auto begin = table.rfind('\n', end);
  std::istringstream row(table.substr(begin + 1, end - begin));
  double size = 0, count = 0, time = 0;
  row >> size >> count >> time;
  return time;
}
}  // namespace

TEST_CASE("--algo auto is never slower than any algorithm it could have chosen") {
  for (const char* size : {"8B", "1MiB", "64MiB"}) {
    CAPTURE(size);
    const auto chosen = run_cli({"collective", "--algo", "auto", "--sizes", size});
    REQUIRE(chosen.status == 0);
    for (const char* algo : {"ring", "halving_doubling", "direct", "tree", "nvls"}) {
      const auto named = run_cli({"collective", "--algo", algo, "--sizes", size});
      REQUIRE(named.status == 0);
      CHECK(last_row_time(chosen.out) <= last_row_time(named.out));
    }
  }
  // And it names what it chose: on hgx_h100 at 64 MiB, NVLS moves (n+1)/n S per port
  // where the others move 2(n-1)/n S.
  CHECK(run_cli({"collective", "--algo", "auto", "--sizes", "64MiB"}).out.find("nvls/Simple") != std::string::npos);
}
