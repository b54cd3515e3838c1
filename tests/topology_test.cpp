#include <doctest/doctest.h>

#include <set>

#include "topologies/builders.hpp"
#include "topologies/routing.hpp"

using namespace foresight;

namespace {
constexpr LinkSpec kLink{100e9, 1e-6};

std::vector<LinkId> route(const Topology& t, std::size_t from_rank, std::size_t to_rank, std::uint64_t hash = 0) {
  ShortestPathRouter router(t);
  std::vector<LinkId> path;
  router.route(t.gpu(from_rank), t.gpu(to_rank), hash, path);
  return path;
}

FatTreeSpec small_fat_tree(bool rail_optimized) {
  FatTreeSpec s;
  s.nodes = 4;
  s.gpus_per_node = 8;
  s.scale_up = {450e9, 0.5e-6};
  s.nic = {50e9, 1e-6};
  s.fabric = {0, 1e-6};
  s.nodes_per_leaf = 2;
  s.spines = 4;
  s.oversubscription = 2.0;
  s.rail_optimized = rail_optimized;
  return s;
}
}  // namespace

TEST_CASE("builders make the expected number of nodes and links") {
  CHECK(build_switch_node(8, kLink, false).node_count() == 9);
  CHECK(build_switch_node(8, kLink, false).link_count() == 16);     // a duplex link per GPU
  CHECK(build_full_mesh(8, kLink).link_count() == 8 * 7);    // every ordered pair
  CHECK(build_ring(6, kLink).link_count() == 12);
  CHECK(build_ring(2, kLink).link_count() == 2);
  CHECK(build_torus({4, 4}, kLink).link_count() == 2 * 2 * 16);  // 2 dims x 16 duplex links
  CHECK(build_torus({4, 2, 3}, kLink).link_count() == 2 * (24 + 12 + 24));
  // Rail-optimized, 4 nodes x 8 GPUs, 2 nodes per pod: 2 pods x 8 rails = 16 leaves.
  // Per GPU: NVSwitch, NIC and NIC-leaf duplex links = 6; leaves x spines x 2 = 128.
  const Topology fat = build_fat_tree(small_fat_tree(true));
  CHECK(fat.gpu_count() == 32);
  CHECK(fat.link_count() == 32 * 6 + 16 * 4 * 2);
  CHECK(build_switch_node(8, kLink, false).problems().empty());
  CHECK(build_ring(5, kLink).problems().empty());
  CHECK(build_torus({3, 3}, kLink).problems().empty());
  CHECK(fat.problems().empty());
}

TEST_CASE("routes are shortest paths: hop counts derived from the structure") {
  const Topology fat = build_fat_tree(small_fat_tree(true));
  CHECK(route(fat, 0, 1).size() == 2);   // same node: GPU -> NVSwitch -> GPU
  CHECK(route(fat, 0, 8).size() == 4);   // same rail, same pod: GPU -> NIC -> leaf -> NIC -> GPU
  CHECK(route(fat, 0, 16).size() == 6);  // same rail, other pod: up to a spine and down
  // Different rails of different nodes: over NVSwitch to the right rail first, or up to
  // a spine and back down to the other rail's leaf: both are 6 hops, the NVSwitch way
  // included (GPU 0 -> NVSwitch -> GPU 1 -> NIC -> leaf -> NIC -> GPU 9).
  CHECK(route(fat, 0, 9).size() == 6);
  const Topology torus = build_torus({4, 4}, kLink);
  CHECK(route(torus, 0, 10).size() == 4);  // (0,0) -> (2,2): two hops in each dimension
  CHECK(route(build_ring(8, kLink), 0, 5).size() == 3);  // the short way round
}

TEST_CASE("ECMP spreads flows over equal-cost spines, reproducibly") {
  const Topology fat = build_fat_tree(small_fat_tree(true));
  std::set<NodeId> spines_used;
  for (std::uint64_t hash = 0; hash < 64; ++hash) {
    const auto path = route(fat, 0, 16, hash);
    REQUIRE(path.size() == 6);
    spines_used.insert(fat.link(path[2]).to);  // GPU, NIC, leaf -> spine
    CHECK(route(fat, 0, 16, hash) == path);
  }
  CHECK(spines_used.size() == 4);
}

TEST_CASE("oversubscription divides leaf uplink bandwidth") {
  // A rail leaf has 2 nodes' NICs below it at 50 GB/s = 100 GB/s down; at 2:1 that is
  // 50 GB/s up, spread over 4 spines = 12.5 GB/s per leaf-spine link.
  const Topology fat = build_fat_tree(small_fat_tree(true));
  const auto path = route(fat, 0, 16);
  CHECK(fat.link(path[2]).bandwidth == doctest::Approx(12.5e9));
}

TEST_CASE("unusable topologies are described, not accepted") {
  Topology t;
  const NodeId a = t.add_gpu("a");
  const NodeId b = t.add_gpu("b");
  const NodeId c = t.add_gpu("c");
  const NodeId sw = t.add_node("sw", NodeKind::kSwitch);
  t.add_duplex(a, sw, 100e9, 0);
  t.add_link(b, sw, 0, 0);  // zero bandwidth, and b can send but never receive
  (void)c;                  // c is not connected at all
  const auto problems = t.problems();
  REQUIRE(problems.size() == 3);
  CHECK(problems[0] == "link b -> sw has no bandwidth");
  CHECK(problems[1].find("GPU b cannot exchange data with GPU a") != std::string::npos);
  CHECK(problems[2].find("GPU c cannot exchange data with GPU a") != std::string::npos);
  CHECK(Topology().problems() == std::vector<std::string>{"the topology has no GPUs"});
}

TEST_CASE("the fat-tree router's paths are connected shortest paths, for every pair") {
  // Against breadth-first search on small rail-optimized and top-of-rack fabrics (with
  // and without oversubscription): each path must start and end at the right GPUs, be
  // a chain of links, and be exactly as long as the hop distance.
  for (bool rail : {true, false}) {
    FatTreeSpec spec = small_fat_tree(rail);
    spec.nodes = 6;  // two pods/racks of 2 and a partial one
    const Topology t = build_fat_tree(spec);
    REQUIRE(t.fat_tree_layout() != nullptr);
    const auto router = make_router(t);
    for (std::size_t b = 0; b < t.gpu_count(); ++b) {
      const auto distance = t.distances_to(t.gpu(b));
      for (std::size_t a = 0; a < t.gpu_count(); ++a) {
        if (a == b) continue;
        std::vector<LinkId> path;
        router->route(t.gpu(a), t.gpu(b), a * 31 + b, path);
        REQUIRE(path.size() == distance[t.gpu(a)]);
        NodeId at = t.gpu(a);
        for (LinkId l : path) {
          REQUIRE(t.link(l).from == at);
          at = t.link(l).to;
        }
        REQUIRE(at == t.gpu(b));
      }
    }
  }
}
