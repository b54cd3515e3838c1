// foresight import chakra: Chakra execution traces (protobuf, one file per rank) to a replay
// graph. tests/data/chakra/pipeline.{0,1}.et are written by scripts/make_chakra_traces.py with
// the field numbers of Chakra's schema: two ranks of a pipelined step, with CPU and memory
// nodes between the GPU's, a send/receive of activations and an all-reduce of gradients.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/gpu_spec.hpp"
#include "models/roofline_model.hpp"
#include "sim/input/json_document.hpp"
#include "test_support.hpp"

using foresight::testing::file_text;
using foresight::testing::run_cli;
using foresight::testing::source_path;

namespace {
std::string scratch(const std::string& name) { return (std::filesystem::temp_directory_path() / ("foresight_chakra_" + name)).string(); }

std::string varint(std::uint64_t value) {
  std::string out;
  do {
    const auto low = static_cast<char>(value & 0x7f);
    value >>= 7;
    out.push_back(value != 0 ? static_cast<char>(low | 0x80) : low);
  } while (value != 0);
  return out;
}
std::string number_field(int number, std::uint64_t value) { return varint(static_cast<std::uint64_t>(number) << 3) + varint(value); }
std::string bytes_field(int number, const std::string& payload) {
  return varint(static_cast<std::uint64_t>(number) << 3 | 2) + varint(payload.size()) + payload;
}
std::string int_attr(const std::string& name, std::uint64_t value) { return bytes_field(10, bytes_field(1, name) + number_field(9, value)); }
// A Node message: id, type, dependencies, duration and attributes.
std::string node(std::uint64_t id, int type, const std::vector<std::uint64_t>& deps = {}, std::uint64_t duration = 0,
                 const std::string& attrs = "") {
  std::string name = "n";
  name += std::to_string(id);
  std::string body = number_field(1, id) + bytes_field(2, name) + number_field(3, static_cast<std::uint64_t>(type));
  for (std::uint64_t d : deps) body += number_field(5, d);
  if (duration > 0) body += number_field(7, duration);
  return body + attrs;
}
// A trace file: each message prefixed by its length.
std::string trace(const std::vector<std::string>& messages) {
  std::string out;
  for (const std::string& m : messages) out += varint(m.size()) + m;
  return out;
}
std::string write(const std::string& name, const std::string& bytes) {
  const std::string path = scratch(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}
constexpr int kComp = 4, kSend = 5, kColl = 7;
}  // namespace

TEST_CASE("import chakra: two ranks' traces become one graph, collectives merged, CPU and memory nodes bridged") {
  const std::string graph = scratch("graph.json"), results = scratch("replay.json");
  const auto imported = run_cli({"import", "chakra", "--set", "topology=hgx_h100", "--out", graph, "--",
                                 source_path("tests/data/chakra/pipeline.0.et"), source_path("tests/data/chakra/pipeline.1.et")});
  REQUIRE_MESSAGE(imported.status == 0, imported.err);
  CHECK(imported.out.find("9 ops on 2 ranks") != std::string::npos);
  const std::string text = file_text(graph);
  CHECK(text.find("2 traces (ranks 0 1), schema 0.0.4") != std::string::npos);
  CHECK(text.find("3 nodes left out (CPU operators, memory and metadata), their dependencies bridged") != std::string::npos);
  CHECK(text.find("1 dependencies on node ids not in the trace dropped") != std::string::npos);
  const nlohmann::json g = foresight::load_json_file(graph);
  const auto op = [&](const std::string& name) {
    for (const auto& o : g["ops"]) {
      if (o["name"] == name) return o;
    }
    FAIL("no op " << name);
    return nlohmann::json();
  };
  // Rank 0's forward GEMM depended on a data loader (CPU) through a weight load (memory):
  // both left out, nothing before it.
  CHECK_FALSE(op("r0.aten::mm fwd#3").contains("after"));
  // The backward waited for the send through the autograd engine's CPU node: bridged.
  CHECK(op("r0.aten::mm bwd#7")["after"] == nlohmann::json::array({"send_recv.0-1#0"}));
  // The send and its receive are one transfer of 4 MiB, without a recorded duration.
  const nlohmann::json p2p = op("send_recv.0-1#0");
  CHECK(p2p["group"] == nlohmann::json::array({0, 1}));
  CHECK(p2p["bytes"] == 4194304.0);
  CHECK_FALSE(p2p.contains("duration_us"));
  // One all-reduce over both ranks of process group "0", with the shorter member's time
  // (350 us on rank 0 includes waiting for rank 1).
  const nlohmann::json all_reduce = op("all_reduce.0#0");
  CHECK(all_reduce["group"] == nlohmann::json::array({0, 1}));
  CHECK(all_reduce["duration_us"] == 300.0);
  CHECK(all_reduce["stream"] == "comm.0");
  CHECK(all_reduce["after"] == nlohmann::json::array({"r0.aten::mm bwd#7", "r1.aten::mm bwd#13"}));

  REQUIRE(run_cli({"replay", graph, "--out", results}).status == 0);
  const nlohmann::json r = foresight::load_json_file(results);
  // Rank 1's chain is the critical path: rank 0's 900 + 120 us forward, the transfer, then
  // rank 1's 900 + 1800 us, the 300 us all-reduce and the 200 us optimizer. Rank 1 is busy
  // for its compute, the transfer and the all-reduce, which gives the transfer's time.
  const double transfer_ps = r["ranks"][1]["busy_ps"].get<double>() - 3200e6;
  CHECK(r["ranks"][0]["compute_ps"] == 3020000000);
  CHECK(transfer_ps > 0);
  CHECK(r["makespan_ps"].get<double>() == doctest::Approx(4220e6 + transfer_ps));
}

TEST_CASE("import chakra: --retime-collectives leaves every merged collective to the topology") {
  const std::string graph = scratch("retimed.json");
  const auto imported = run_cli({"import", "chakra", "--retime-collectives", "--set", "topology=hgx_h100", "--out", graph, "--",
                                 source_path("tests/data/chakra/pipeline.0.et"), source_path("tests/data/chakra/pipeline.1.et")});
  REQUIRE_MESSAGE(imported.status == 0, imported.err);
  CHECK(file_text(graph).find("2 of them retimed: the graph's topology times them") != std::string::npos);
  const nlohmann::json g = foresight::load_json_file(graph);
  for (const auto& o : g["ops"]) CHECK((!o.contains("collective") || !o.contains("duration_us")));
}

TEST_CASE("import chakra: a compute node with num_ops but no duration is timed by the roofline, as ASTRA-sim's is") {
  const std::string graph = scratch("work.json"), results = scratch("work_replay.json");
  const std::string gemm = node(1, kComp, {}, 0, int_attr("num_ops", 1'000'000'000'000) + int_attr("tensor_size", 100'000'000));
  const auto imported = run_cli({"import", "chakra", "--out", graph, "--", write("work.0.et", trace({gemm, node(2, kComp, {1}, 30)}))});
  REQUIRE_MESSAGE(imported.status == 0, imported.err);
  CHECK(file_text(graph).find("1 of them record none but num_ops (and tensor_size): the roofline times them") != std::string::npos);
  const nlohmann::json g = foresight::load_json_file(graph);
  CHECK(g["ops"][0]["work"] == nlohmann::json({{"flops", 1e12}, {"bytes", 1e8}}));
  CHECK_FALSE(g["ops"][0].contains("duration_us"));
  // Replayed: the roofline's time for 1 TFLOP and 100 MB in bf16 on an H100, then 30 us.
  REQUIRE(run_cli({"replay", graph, "--out", results}).status == 0);
  foresight::Op work;
  work.kind = foresight::OpClass::kGemm;
  work.flops = 1e12;
  work.bytes = 1e8;
  const foresight::Time roofline = foresight::RooflineModel(foresight::RooflineParameters{}).estimate(work, *foresight::find_builtin_gpu("h100_sxm")).duration;
  CHECK(foresight::load_json_file(results)["makespan_ps"].get<foresight::Time>() == roofline + 30'000'000);
}

TEST_CASE("import chakra: what it cannot read is named by file and node or byte, exit 2, nothing written") {
  const std::string graph = scratch("refused.json");
  std::filesystem::remove(graph);
  const std::string good = trace({node(1, kComp, {}, 10)});
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{write("json.0.et", R"({"schema": "1.0.2-chakra.0.0.4", "nodes": []})")}, "a JSON file: this reads Chakra's binary traces"},
      {{write("cut.0.et", good.substr(0, good.size() - 2))}, "byte 0: a length of"},
      {{write("twice.0.et", trace({node(1, kComp, {}, 10), node(1, kComp, {}, 20)}))}, "node 1: a second node with this id"},
      {{write("cycle.0.et", trace({node(1, kComp, {2}, 10), node(2, kComp, {1}, 10)}))}, "lies on a cycle of control and data dependencies"},
      {{write("size.0.et", trace({node(1, kColl, {}, 0, int_attr("comm_type", 0))}))}, "node 1.attr.comm_size: missing: expected a whole number"},
      {{write("kind.0.et", trace({node(1, kColl, {}, 0, int_attr("comm_type", 12) + int_attr("comm_size", 8))}))},
       "node 1.attr.comm_type: expected a whole number in 0..9"},
      {{write("send.0.et", trace({node(1, kSend, {}, 0, int_attr("comm_dst", 1) + int_attr("comm_size", 8))})),
        write("send.1.et", good)},
       "1 sends to rank 1 with tag 0 here, 0 matching receives"},
      {{write("wire.0.et", trace({number_field(1, 1) + varint(2 << 3 | 2) + varint(1) + "x" + varint(3 << 3 | 2) + varint(0)}))},
       "field 3 has wire type 2 where Chakra's schema has 0"},
      {{write("empty.0.et", "")}, "no nodes: expected a Chakra execution trace"},
      {{write("dup.0.et", good), write("dup_again.0.et", good)}, "a second trace of rank 0"},
  };
  for (const auto& refused : cases) {
    const std::vector<std::string>& files = refused.first;
    const std::string& expected = refused.second;
    std::vector<std::string> args = {"import", "chakra", "--set", "topology=hgx_h100", "--out", graph, "--"};
    args.insert(args.end(), files.begin(), files.end());
    const auto r = run_cli(args);
    CHECK_MESSAGE(r.status == 2, files.front());
    CHECK_MESSAGE(r.err.find(files.front()) != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find(expected) != std::string::npos, r.err);
    CHECK_FALSE(std::filesystem::exists(graph));
  }
  // Collectives with no recorded time need a topology to time them.
  const auto untimed = run_cli({"import", "chakra", "--out", graph, "--", source_path("tests/data/chakra/pipeline.0.et"),
                                source_path("tests/data/chakra/pipeline.1.et")});
  CHECK(untimed.status == 2);
  CHECK(untimed.err.find("add --set topology=NAME") != std::string::npos);
  CHECK(run_cli({"import", "chakra"}).err.find("expected the trace files after --") != std::string::npos);
}
