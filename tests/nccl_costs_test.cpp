// NCCL's protocol costs, the in-switch (NVLS) all-reduce and the tuner against closed
// forms on an idle switch node: B per GPU port each way, a per hop (two hops GPU to GPU).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "sim/input/input_error.hpp"
#include "topologies/builders.hpp"
#include "topologies/collective_tuner.hpp"
#include "topologies/in_switch_all_reduce.hpp"
#include "topologies/topology_spec.hpp"

using namespace foresight;

namespace {
constexpr double kBandwidth = 400e9;
constexpr double kHop = 0.25e-6;

std::vector<NodeId> all_gpus(const Topology& t) {
  std::vector<NodeId> ranks;
  for (std::size_t i = 0; i < t.gpu_count(); ++i) ranks.push_back(t.gpu(i));
  return ranks;
}

double seconds_alone(const Topology& t, const CollectiveRequest& request) {
  ShortestPathRouter router(t);
  return to_seconds(simulate_alone(t, router, request));
}

CollectiveRequest all_reduce(const Topology& t, CollectiveAlgorithm algorithm, double bytes, const Transport& transport) {
  CollectiveRequest r{CollectiveKind::kAllReduce, algorithm, bytes, all_gpus(t), 0};
  r.transport = transport;
  return r;
}
}  // namespace

TEST_CASE("a protocol's ring: k (2a + d) + k (S/n) / (e min(B, R))") {
  // k = 2(n-1) steps; each moves S/n of payload as S/(n e) wire bytes at the copy rate R
  // (below the link), then waits two hops and the handshake d.
  const int n = 8;
  const Topology node = build_switch_node(n, {kBandwidth, kHop}, false);
  const double bytes = 32e6;
  const Transport ll128{120.0 / 128.0, 150e9, from_seconds(1e-6)};
  const double k = 2.0 * (n - 1);
  const double expected = k * (2 * kHop + 1e-6) + k * (bytes / n) / (ll128.wire_efficiency * 150e9);
  CHECK(seconds_alone(node, all_reduce(node, CollectiveAlgorithm::kRing, bytes, ll128)) == doctest::Approx(expected).epsilon(1e-9));
}

TEST_CASE("the copy rate is per rank: a direct all-gather's peers share it") {
  // Direct all-gather: each rank sends S/n to each of n-1 peers at once. Without a copy
  // limit the 7 flows share the 400 GB/s port; with R = 140 GB/s they share R, so the
  // phase takes (n-1)(S/n)/R, not (S/n)/R as a per-flow cap would give.
  const int n = 8;
  const Topology node = build_switch_node(n, {kBandwidth, kHop}, false);
  const double bytes = 64e6;
  CollectiveRequest r{CollectiveKind::kAllGather, CollectiveAlgorithm::kDirect, bytes, all_gpus(node), 0};
  CHECK(seconds_alone(node, r) == doctest::Approx((n - 1) * (bytes / n) / kBandwidth + 2 * kHop).epsilon(1e-9));
  r.transport.max_rate = 140e9;
  CHECK(seconds_alone(node, r) == doctest::Approx((n - 1) * (bytes / n) / 140e9 + 2 * kHop).epsilon(1e-9));
}

TEST_CASE("NVLS all-reduce: d + a + S (n+1)/n / min(B, R), one hop each way") {
  const int n = 8;
  const Topology node = build_switch_node(n, {kBandwidth, kHop}, true);
  const double bytes = 256e6;
  const Transport nvls{1.0, 250e9, from_seconds(20e-6)};
  const double expected = 20e-6 + kHop + bytes * (n + 1) / n / 250e9;
  CHECK(seconds_alone(node, all_reduce(node, CollectiveAlgorithm::kNvls, bytes, nvls)) == doctest::Approx(expected).epsilon(1e-9));
  // Uncapped it moves (n+1)/n S per port where a ring moves 2(n-1)/n S.
  const double bare_nvls = seconds_alone(node, all_reduce(node, CollectiveAlgorithm::kNvls, bytes, {}));
  const double bare_ring = seconds_alone(node, all_reduce(node, CollectiveAlgorithm::kRing, bytes, {}));
  CHECK(bare_nvls == doctest::Approx(kHop + bytes * (n + 1) / n / kBandwidth).epsilon(1e-9));
  CHECK(bare_ring / bare_nvls == doctest::Approx(2.0 * (n - 1) / (n + 1)).epsilon(0.01));
}

TEST_CASE("NVLS needs one switch that reduces in flight") {
  const Topology plain = build_switch_node(8, {kBandwidth, kHop}, false);
  CHECK_FALSE(reducing_switch_of(plain, all_gpus(plain)).has_value());
  CHECK_THROWS_AS(seconds_alone(plain, all_reduce(plain, CollectiveAlgorithm::kNvls, 1e6, {})), std::invalid_argument);
  const Topology sharp = build_switch_node(8, {kBandwidth, kHop}, true);
  CHECK(reducing_switch_of(sharp, all_gpus(sharp)).has_value());
  // Across nodes the GPUs hang off different NVSwitches.
  const Topology cluster = topology_from_argument("fat_tree:2");
  CHECK(reducing_switch_of(cluster, {cluster.gpu(0), cluster.gpu(7)}).has_value());
  CHECK_FALSE(reducing_switch_of(cluster, {cluster.gpu(0), cluster.gpu(8)}).has_value());
  CHECK_FALSE(reducing_switch_of(topology_from_argument("dgx_a100"), all_gpus(topology_from_argument("dgx_a100"))).has_value());
}

TEST_CASE("the tuner keeps the fastest algorithm and protocol, and remembers it") {
  const Topology node = topology_from_argument("hgx_h100");
  const auto router = make_router(node);
  const NcclCosts costs = nccl_h100_costs();
  CollectiveTuner tuner(node, *router, costs, nccl_algorithms(CollectiveKind::kAllReduce));
  for (double bytes : {8.0, 65536.0, 1048576.0, 268435456.0}) {
    CAPTURE(bytes);
    const CollectiveRequest request{CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, bytes, all_gpus(node), 0};
    const CollectiveChoice choice = tuner.choose(request);
    for (Protocol p : kProtocols) {
      CollectiveRequest ring = request;
      apply_costs(costs, p, ring);
      CHECK(choice.idle_time <= simulate_alone(node, *router, ring));
    }
    CollectiveRequest nvls = request;
    nvls.algorithm = CollectiveAlgorithm::kNvls;
    apply_costs(costs, Protocol::kSimple, nvls);
    CHECK(choice.idle_time <= simulate_alone(node, *router, nvls));
    CHECK(tuner.choose(request).idle_time == choice.idle_time);
  }
  // Small messages are latency-bound: LL's cheap handshake wins; large ones go to NVLS.
  CHECK(tuner.choose({CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, 8, all_gpus(node), 0}).protocol == Protocol::kLL);
  CHECK(tuner.choose({CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, 1e9, all_gpus(node), 0}).algorithm ==
        CollectiveAlgorithm::kNvls);
}

TEST_CASE("the bare network has no protocol costs") {
  const NcclCosts bare = bare_network_costs();
  CHECK_FALSE(bare.models_protocols());
  CHECK(bare.launch == 0);
  CHECK(nccl_h100_costs().models_protocols());
  CHECK(protocol_from_name("ll128") == Protocol::kLL128);
  CHECK(protocol_from_name("Simple") == Protocol::kSimple);
  CHECK_FALSE(protocol_from_name("ll64").has_value());
}

TEST_CASE("copy engines are virtual links, freed when the collective is done") {
  const Topology node = build_switch_node(4, {kBandwidth, kHop}, true);
  ShortestPathRouter router(node);
  Engine engine;
  FlowNetwork network(engine, node, router);
  CollectiveRequest ring = all_reduce(node, CollectiveAlgorithm::kRing, 1e6, {1.0, 100e9, 0});
  CollectiveRequest nvls = all_reduce(node, CollectiveAlgorithm::kNvls, 1e6, {1.0, 100e9, 0});
  auto first = make_collective(network, ring);
  auto second = make_collective(network, nvls);
  first->start();
  second->start();
  CHECK(network.virtual_links() == 4 + 8);  // a ring rank sends; an NVLS rank reads and stores
  engine.run();
  CHECK(network.virtual_links() == 0);
}

TEST_CASE("a topology file marks the switches that reduce in flight") {
  const auto topology = [](const char* kind) {
    return nlohmann::json::parse(std::string(R"({"nodes": [{"name": "g0", "kind": "gpu"}, {"name": "g1", "kind": "gpu"},
        {"name": "sw", "kind": ")") + kind + R"(", "in_switch_reduction": true}],
      "links": [{"from": "g0", "to": "sw", "bandwidth_gbps": 450}, {"from": "g1", "to": "sw", "bandwidth_gbps": 450}]})");
  };
  const Topology sharp = read_custom_topology(topology("switch"), "sharp.json");
  CHECK(reducing_switch_of(sharp, all_gpus(sharp)).has_value());
  try {
    (void)read_custom_topology(topology("nic"), "nic.json");
    FAIL("a NIC cannot reduce in flight");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("nodes[2].in_switch_reduction") != std::string::npos);
  }
}

TEST_CASE("a tuner limited to one protocol reports that protocol") {
  const Topology node = topology_from_argument("hgx_h100");
  const auto router = make_router(node);
  CollectiveTuner ll_only(node, *router, nccl_h100_costs(), {CollectiveAlgorithm::kRing}, {Protocol::kLL});
  const CollectiveChoice choice = ll_only.choose({CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, 1e6, all_gpus(node), 0});
  CHECK(choice.protocol == Protocol::kLL);
  CollectiveRequest ll{CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, 1e6, all_gpus(node), 0};
  apply_costs(nccl_h100_costs(), Protocol::kLL, ll);
  CHECK(choice.idle_time == simulate_alone(node, *router, ll));
}
