// The flow-level network against measured collective times on one 8x H100 SXM node, from
// three public sources (calibration/data; licences beside the files):
//   apex_plus  serving/comm_H100-SXM-80GB_*.csv: nccl-tests times (us) for all-reduce,
//              all-gather, reduce-scatter, all-to-all (2, 4, 8 GPUs) and send/recv (2)
//   xla        xla/xla_collective_perf_table.csv, sm_90 rows: XLA's measured table, with
//              1, 2 or 4 replica groups running at once
//   vidur      vidur/net_h100_dgx_all_reduce.csv: NCCL all-reduce kernel times (Kineto,
//              median of 11, rank 0)
// Each prediction lets the tuner pick, as NCCL does, among the algorithms NCCL has for the
// op (ring or NVLS for all-reduce, ring for all-gather and reduce-scatter, direct pairs for
// all-to-all, one flow for send/recv) and the three protocols, on the hgx_h100 preset with
// NCCL's costs (nccl_costs.cpp). Those costs were fitted to the apex_plus all-reduce,
// all-gather and reduce-scatter rows, so those rows measure the fit; everything else (XLA,
// Vidur, apex_plus all-to-all and send/recv) is held out. ErrorStats are reported per
// source, operation and size band.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <map>

#include "csv_table.hpp"
#include "error_stats.hpp"
#include "test_support.hpp"
#include "topologies/collective_tuner.hpp"
#include "topologies/topology_spec.hpp"

using namespace foresight;
using foresight::testing::ErrorStats;
using foresight::testing::read_csv;
using foresight::testing::public_data_path;

namespace {
// Predicted time (us) of `groups` concurrent collectives over consecutive GPU blocks, each
// tuned alone (as NCCL tunes each communicator without knowing about the others).
double predict_us(const Topology& node, const Router& router, CollectiveKind kind, double bytes, int group_size, int groups) {
  CollectiveTuner tuner(node, router, nccl_h100_costs(), nccl_algorithms(kind));
  Engine engine;
  FlowNetwork network(engine, node, router);
  std::vector<std::unique_ptr<CollectiveRun>> runs;
  for (int g = 0; g < groups; ++g) {
    CollectiveRequest request{kind, CollectiveAlgorithm::kRing, bytes, {}, static_cast<std::uint64_t>(g)};
    for (int i = 0; i < group_size; ++i) request.ranks.push_back(node.gpu(static_cast<std::size_t>(g * group_size + i)));
    tuner.tune(request);
    runs.push_back(make_collective(network, request));
  }
  for (auto& run : runs) run->start();
  engine.run();
  Time slowest = 0;
  for (auto& run : runs) slowest = std::max(slowest, run->finish_time());
  return to_microseconds(slowest);
}

const char* band(double bytes) { return bytes < 64 * 1024 ? "<64KiB" : bytes < 16 * 1024 * 1024 ? "64KiB-16MiB" : ">=16MiB"; }
}  // namespace

TEST_CASE("flow-level collectives vs measured H100 collective tables") {
  const Topology node = topology_from_argument("hgx_h100");
  const auto router = make_router(node);
  std::map<std::string, ErrorStats> by_key;
  ErrorStats overall;
  const auto record = [&](const std::string& source, CollectiveKind kind, double bytes, int group, int groups, double measured_us) {
    if (!(measured_us > 0) || bytes < 1) return;
    const double predicted = predict_us(node, *router, kind, bytes, group, groups);
    by_key[source + " " + std::string(collective_name(kind)) + " " + band(bytes)].add(predicted, measured_us);
    overall.add(predicted, measured_us);
  };

  const struct { const char* file; CollectiveKind kind; } apex[] = {
      {"all_reduce", CollectiveKind::kAllReduce}, {"all_gather", CollectiveKind::kAllGather},
      {"reduce_scatter", CollectiveKind::kReduceScatter}, {"alltoall", CollectiveKind::kAllToAll},
      {"sendrecv", CollectiveKind::kSendRecv}};
  int sources = 0;
  for (const auto& a : apex) {
    const auto csv = read_csv(public_data_path(std::string("serving/comm_H100-SXM-80GB_") + a.file + ".csv"));
    if (!csv.loaded()) continue;
    ++sources;
    for (const auto& row : csv.rows) {
      const int gpus = static_cast<int>(csv.number(row, "num_gpus_per_node"));
      record("apex_plus", a.kind, csv.number(row, "size(kb)") * 1024, gpus, 1, csv.number(row, "time(us)"));
    }
  }
  const auto xla = read_csv(public_data_path("xla/xla_collective_perf_table.csv"));
  if (xla.loaded()) {
    ++sources;
    const std::map<std::string, CollectiveKind> ops = {
        {"all-reduce", CollectiveKind::kAllReduce}, {"all-gather", CollectiveKind::kAllGather}, {"all-to-all", CollectiveKind::kAllToAll}};
    for (const auto& row : xla.rows) {
      if (row[xla.column("device_key")] != "sm_90") continue;
      const auto op = ops.find(row[xla.column("opcode")]);
      if (op == ops.end()) continue;
      record("xla", op->second, xla.number(row, "tensor_size_bytes"), static_cast<int>(xla.number(row, "num_devices_per_group")),
             static_cast<int>(xla.number(row, "num_replica_groups")), xla.number(row, "derived_time_us"));
    }
  }
  const auto vidur = read_csv(public_data_path("vidur/net_h100_dgx_all_reduce.csv"));
  if (vidur.loaded()) {
    ++sources;
    for (const auto& row : vidur.rows) {
      if (vidur.number(row, "rank") != 0) continue;
      record("vidur", CollectiveKind::kAllReduce, vidur.number(row, "size"), static_cast<int>(vidur.number(row, "num_workers")), 1,
             vidur.number(row, "time_stats.all_reduce.median") * 1e3);
    }
  }
  REQUIRE_MESSAGE(sources == 7, "calibration/data is part of the repository; a measured collective table is missing");
  std::string table = "\nsource     op              size band       rows    MAPE  signed   worst\n";
  for (const auto& [key, e] : by_key) {
    char line[160];
    char source[16], op[24], range[16];
    std::sscanf(key.c_str(), "%15s %23s %15s", source, op, range);
    std::snprintf(line, sizeof line, "%-10s %-15s %-13s %6d %6.1f%% %+6.1f%% %6.0f%%\n", source, op, range, e.n, e.mape(), e.bias(), e.worst);
    table += line;
  }
  char line[96];
  std::snprintf(line, sizeof line, "all rows: %d, MAPE %.1f%%\n", overall.n, overall.mape());
  table += line;
  MESSAGE(table);
  // Tolerances:
  // - the rows the costs were fitted to (apex_plus all-reduce, all-gather and
  //   reduce-scatter), per size band: MAPE < 20% (measured 3-15%);
  // - held out, Vidur's large all-reduces (NVLS territory): MAPE < 15% (measured 9%);
  // - everything, all sources: MAPE < 25% (measured 16.5%). What stays off: small
  //   collectives under XLA and Vidur carry heavier fixed overheads than nccl-tests
  //   (50-80%, the launch cost is nccl-tests'), and all-to-all pays a per-peer setup the
  //   model lacks (35-45% below 16 MiB).
  CHECK(overall.n > 3000);
  for (const char* op : {"all_reduce", "all_gather", "reduce_scatter"}) {
    for (const char* range : {"<64KiB", "64KiB-16MiB", ">=16MiB"}) {
      const std::string key = std::string("apex_plus ") + op + " " + range;
      CAPTURE(key);
      CHECK(by_key[key].mape() < 20.0);
    }
  }
  CHECK(by_key["vidur all_reduce >=16MiB"].mape() < 15.0);
  CHECK(overall.mape() < 25.0);
}
