// Collectives on the flow-level network against closed forms on uncongested topologies,
// and fair sharing when two jobs contend for one link.
#include <doctest/doctest.h>

#include "sim/engine/random.hpp"
#include "topologies/builders.hpp"
#include "topologies/collective_algorithms.hpp"

using namespace foresight;

namespace {
constexpr double kBandwidth = 100e9;  // bytes/s per link direction
constexpr double kLatency = 1e-6;     // seconds per hop

std::vector<NodeId> all_gpus(const Topology& t) {
  std::vector<NodeId> ranks;
  for (std::size_t i = 0; i < t.gpu_count(); ++i) ranks.push_back(t.gpu(i));
  return ranks;
}

double run_alone(const Topology& t, CollectiveRequest request) {
  Engine engine;
  ShortestPathRouter router(t);
  FlowNetwork network(engine, t, router);
  auto run = make_collective(network, request);
  run->start();
  engine.run();
  REQUIRE(run->done());
  return to_seconds(run->finish_time());
}
}  // namespace

TEST_CASE("ring all-reduce on a ring: 2(n-1)/n * S/B + 2(n-1) * latency") {
  // Each of the 2(n-1) steps moves S/n over one uncontended link (rate B) and then waits
  // one hop of latency for the piece to arrive before the next step can start.
  for (int n : {2, 4, 8}) {
    CAPTURE(n);
    const Topology ring = build_ring(n, {kBandwidth, kLatency});
    const double bytes = 64e6;
    const double expected = 2.0 * (n - 1) / n * bytes / kBandwidth + 2.0 * (n - 1) * kLatency;
    const double predicted = run_alone(ring, {CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, bytes, all_gpus(ring), 0});
    MESSAGE("n=" << n << ": predicted " << predicted * 1e6 << " us, closed form " << expected * 1e6 << " us");
    // Each step's finish is rounded up to a whole picosecond: at most 2(n-1) ps over.
    CHECK(predicted >= expected - 1e-12);
    CHECK(predicted <= expected + 2.0 * (n - 1) * 1e-12);
  }
}

TEST_CASE("ring all-gather and reduce-scatter take n-1 steps") {
  const int n = 8;
  const Topology ring = build_ring(n, {kBandwidth, kLatency});
  const double bytes = 8e6;
  const double expected = (n - 1.0) / n * bytes / kBandwidth + (n - 1) * kLatency;
  for (CollectiveKind kind : {CollectiveKind::kAllGather, CollectiveKind::kReduceScatter}) {
    CHECK(run_alone(ring, {kind, CollectiveAlgorithm::kRing, bytes, all_gpus(ring), 0}) ==
          doctest::Approx(expected).epsilon(1e-9));
  }
}

TEST_CASE("a long ring runs in merged super-steps and keeps the closed form") {
  // 64 ranks: 126 all-reduce steps run as 16 super-steps of up to 8 steps each, every
  // merged flow paying its steps' latencies; the time is the step-by-step closed form.
  const int n = 64;
  const Topology ring = build_ring(n, {kBandwidth, kLatency});
  const double bytes = 64e6;
  const double expected = 2.0 * (n - 1) / n * bytes / kBandwidth + 2.0 * (n - 1) * kLatency;
  const double predicted = run_alone(ring, {CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, bytes, all_gpus(ring), 0});
  CHECK(predicted == doctest::Approx(expected).epsilon(1e-9));
}

TEST_CASE("ring all-reduce through a switch pays two hops of latency per step") {
  const int n = 8;
  const Topology node = build_switch_node(n, {kBandwidth, kLatency}, false);
  const double bytes = 1e6;
  const double expected = 2.0 * (n - 1) / n * bytes / kBandwidth + 2.0 * (n - 1) * 2 * kLatency;
  CHECK(run_alone(node, {CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, bytes, all_gpus(node), 0}) ==
        doctest::Approx(expected).epsilon(1e-9));
}

TEST_CASE("direct all-to-all through a switch: n-1 flows share each GPU's port") {
  // Every GPU sends S/n to each of n-1 peers at once: its uplink (and every downlink)
  // carries n-1 flows, so each runs at B/(n-1) and all finish after (n-1)(S/n)/B,
  // plus two hops of latency.
  const int n = 8;
  const Topology node = build_switch_node(n, {kBandwidth, kLatency}, false);
  const double bytes = 16e6;
  const double expected = (n - 1.0) * (bytes / n) / kBandwidth + 2 * kLatency;
  CHECK(run_alone(node, {CollectiveKind::kAllToAll, CollectiveAlgorithm::kDirect, bytes, all_gpus(node), 0}) ==
        doctest::Approx(expected).epsilon(1e-9));
}

TEST_CASE("two jobs sharing one link each get half of it") {
  // A dumbbell: GPUs 0-3 on switch L, 4-7 on switch R, one duplex L-R link of capacity
  // C. Job A all-reduces over GPUs {0, 4}, job B over {1, 5}: each 2-rank ring sends S/2
  // across the bottleneck in each direction per step. Alone, a job's bandwidth term is
  // 2 * (S/2) / C; together, the bottleneck splits max-min fairly (C/2 each) and each
  // job's bandwidth term doubles. GPU links (4C) never limit.
  const double c = 10e9;
  Topology t;
  for (int i = 0; i < 8; ++i) t.add_gpu("gpu" + std::to_string(i));
  const NodeId left = t.add_node("L", NodeKind::kSwitch);
  const NodeId right = t.add_node("R", NodeKind::kSwitch);
  for (int i = 0; i < 8; ++i) t.add_duplex(t.gpu(i), i < 4 ? left : right, 4 * c, 0);
  t.add_duplex(left, right, c, 0);
  REQUIRE(t.problems().empty());
  const double bytes = 100e6;
  const CollectiveRequest job_a{CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, bytes, {t.gpu(0), t.gpu(4)}, 1};
  const CollectiveRequest job_b{CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, bytes, {t.gpu(1), t.gpu(5)}, 2};
  const double alone = run_alone(t, job_a);
  CHECK(alone == doctest::Approx(2 * (bytes / 2) / c).epsilon(1e-9));

  Engine engine;
  ShortestPathRouter router(t);
  FlowNetwork network(engine, t, router);
  auto a = make_collective(network, job_a);
  auto b = make_collective(network, job_b);
  a->start();
  b->start();
  engine.run();
  MESSAGE("alone " << alone * 1e3 << " ms; sharing the link: " << to_seconds(a->finish_time()) * 1e3 << " ms and "
                   << to_seconds(b->finish_time()) * 1e3 << " ms");
  CHECK(to_seconds(a->finish_time()) == doctest::Approx(2 * alone).epsilon(1e-9));
  CHECK(to_seconds(b->finish_time()) == doctest::Approx(2 * alone).epsilon(1e-9));
}

namespace {
struct ArrivalLog : FlowListener {
  std::vector<Time> arrivals = std::vector<Time>(400, -1);
  void on_flow_arrived(Engine& engine, std::uint64_t tag) override { arrivals[tag] = engine.now(); }
};

// 400 flows at random times between random GPUs of the dumbbell above: many alone on their
// links, many sharing the middle link or a GPU's port. With two islands, two such
// dumbbells in one topology, each flow within one of them: two components of the flow-link
// graph that are never connected.
// `burst`: flows start in groups of about that many at once.
std::vector<Time> random_flow_arrivals(bool always_solve, std::uint64_t& solved, int islands = 1, std::uint64_t burst = 0) {
  Topology t;
  for (int i = 0; i < 8 * islands; ++i) t.add_gpu("gpu" + std::to_string(i));
  const char* names[2][2] = {{"L", "R"}, {"L1", "R1"}};
  for (int island = 0; island < islands; ++island) {
    const NodeId left = t.add_node(names[island][0], NodeKind::kSwitch);
    const NodeId right = t.add_node(names[island][1], NodeKind::kSwitch);
    for (int i = 0; i < 8; ++i) t.add_duplex(t.gpu(static_cast<std::size_t>(8 * island + i)), i < 4 ? left : right, 40e9, 1e-6);
    t.add_duplex(left, right, 10e9, 1e-6);
  }
  Engine engine;
  ShortestPathRouter router(t);
  FlowNetwork network(engine, t, router);
  network.set_always_solve(always_solve);
  ArrivalLog log;
  RandomStream rng(7, "flows");
  Time when = 0;
  for (std::uint64_t tag = 0; tag < log.arrivals.size(); ++tag) {
    const std::uint64_t base = 8 * (tag % static_cast<std::uint64_t>(islands));
    const auto from = t.gpu(base + rng.next_u64() % 8), to = t.gpu(base + rng.next_u64() % 8);
    const double bytes = 1e5 * static_cast<double>(1 + rng.next_u64() % 100);
    // A quarter start with the flow before them (one re-rating for several changes).
    const bool with_previous = burst > 0 ? rng.next_u64() % burst != 0 : rng.next_u64() % 4 == 0;
    if (!with_previous) when = static_cast<Time>(rng.next_u64() % 400'000'000'000);
    engine.call_at(when, [&network, &log, from, to, bytes, tag] { network.start_flow(from, to, bytes, tag, log, tag); });
  }
  engine.run();
  solved = network.flows_solved();
  return log.arrivals;
}
}  // namespace

TEST_CASE("re-rating skips the solve when the changed flows share no link, with the same result") {
  std::uint64_t solved_always = 0, solved_shortcut = 0;
  const std::vector<Time> reference = random_flow_arrivals(true, solved_always);
  const std::vector<Time> shortcut = random_flow_arrivals(false, solved_shortcut);
  MESSAGE("flows solved: " << solved_always << " always, " << solved_shortcut << " with the shortcut");
  CHECK(std::count(reference.begin(), reference.end(), Time{-1}) == 0);
  CHECK(shortcut == reference);  // bit for bit: the same times in picoseconds
  CHECK(solved_shortcut > 0);    // contended changes still go to the solver
  CHECK(solved_shortcut < solved_always / 2);
}

TEST_CASE("re-rating solves only the component a change touched, with the same result") {
  std::uint64_t solved_always = 0, solved_touched = 0;
  const std::vector<Time> reference = random_flow_arrivals(true, solved_always, 2);
  const std::vector<Time> touched = random_flow_arrivals(false, solved_touched, 2);
  MESSAGE("flows solved: " << solved_always << " every flow each time, " << solved_touched << " the touched components");
  CHECK(std::count(reference.begin(), reference.end(), Time{-1}) == 0);
  CHECK(touched == reference);  // bit for bit
  CHECK(solved_touched > 0);
  // Each change touches one island's flows, about half of those in flight.
  CHECK(solved_touched < solved_always * 3 / 4);
}

TEST_CASE("the search's per-link flow lists, kept between re-ratings or listed for each, give the same result") {
  // Flows starting a few at a time leave most in flight unchanged between searches, and the
  // lists are kept up to date; starting in bursts of about 40 they change more than half,
  // and are listed for each search. Either way, the rates of solving everything each time.
  for (const std::uint64_t burst : {std::uint64_t{0}, std::uint64_t{40}}) {
    std::uint64_t solved_always = 0, solved_touched = 0;
    const std::vector<Time> reference = random_flow_arrivals(true, solved_always, 2, burst);
    const std::vector<Time> touched = random_flow_arrivals(false, solved_touched, 2, burst);
    CAPTURE(burst);
    CHECK(std::count(reference.begin(), reference.end(), Time{-1}) == 0);
    CHECK(touched == reference);  // bit for bit
  }
}

TEST_CASE("unsupported algorithm combinations are refused by name") {
  const Topology ring = build_ring(4, {kBandwidth, kLatency});
  Engine engine;
  ShortestPathRouter router(ring);
  FlowNetwork network(engine, ring, router);
  CHECK_THROWS_WITH_AS(make_collective(network, {CollectiveKind::kAllToAll, CollectiveAlgorithm::kRing, 1e6, all_gpus(ring), 0}),
                       doctest::Contains("ring algorithm does not implement all_to_all"), std::invalid_argument);
}

TEST_CASE("recursive halving-doubling all-reduce through a switch") {
  // log2(8) = 3 halving steps exchange S/2, S/4, S/8, then 3 doubling steps S/8, S/4,
  // S/2: 2 * 7/8 * S bytes in total, each step one flow per direction per port (no
  // sharing), each paying two hops of latency.
  const int n = 8;
  const Topology node = build_switch_node(n, {kBandwidth, kLatency}, false);
  const double bytes = 64e6;
  const double expected = 2.0 * 7 / 8 * bytes / kBandwidth + 6 * 2 * kLatency;
  CHECK(run_alone(node, {CollectiveKind::kAllReduce, CollectiveAlgorithm::kHalvingDoubling, bytes, all_gpus(node), 0}) ==
        doctest::Approx(expected).epsilon(1e-9));
  // Reduce-scatter alone is the halving half.
  CHECK(run_alone(node, {CollectiveKind::kReduceScatter, CollectiveAlgorithm::kHalvingDoubling, bytes, all_gpus(node), 0}) ==
        doctest::Approx(expected / 2).epsilon(1e-9));
}

TEST_CASE("broadcast and reduce stream slices down a chain") {
  // 64 MiB in 512 KiB slices over a 4-rank chain on a ring topology. The root transmits
  // slices back to back and finishes at S/B (the 8-slice window covers the 1 us
  // latency); every other rank forwards each slice as it lands, at the same rate, so the
  // last slice reaches the end after one more latency per hop and one more slice time per
  // forwarding rank: T = S/B + 3a + 2 s/B.
  const int n = 4;
  const Topology ring = build_ring(n, {kBandwidth, kLatency});
  const double bytes = 64.0 * 1024 * 1024;
  const double slice = 512.0 * 1024;
  const double expected = bytes / kBandwidth + (n - 1) * kLatency + (n - 2) * slice / kBandwidth;
  for (CollectiveKind kind : {CollectiveKind::kBroadcast, CollectiveKind::kReduce}) {
    CAPTURE(collective_name(kind));
    CHECK(run_alone(ring, {kind, CollectiveAlgorithm::kRing, bytes, all_gpus(ring), 0}) == doctest::Approx(expected).epsilon(1e-6));
  }
}

TEST_CASE("send/recv is one flow: size over bandwidth plus the path latency") {
  const Topology node = build_switch_node(2, {kBandwidth, kLatency}, false);
  CHECK(run_alone(node, {CollectiveKind::kSendRecv, CollectiveAlgorithm::kRing, 1e6, all_gpus(node), 0}) ==
        doctest::Approx(1e6 / kBandwidth + 2 * kLatency).epsilon(1e-9));
}

TEST_CASE("hierarchical all-reduce: intra-node ring, one inter-node ring per rail, intra-node ring") {
  // 4 nodes x 8 GPUs, rail-optimized, all 4 nodes under one leaf per rail. Phase 1: a
  // reduce-scatter of S over each node's 8 GPUs through NVSwitch (7 steps of S/8, two
  // hops each). Phase 2: on each rail, an all-reduce of S/8 over 4 GPUs through their
  // NICs and the rail leaf (6 steps of S/32, four hops each; the 8 rails never share a
  // link). Phase 3: the intra-node all-gather, like phase 1.
  FatTreeSpec spec;
  spec.nodes = 4;
  spec.gpus_per_node = 8;
  spec.scale_up = {450e9, 0.5e-6};
  spec.nic = {50e9, 1e-6};
  spec.fabric = {0, 1e-6};
  spec.nodes_per_leaf = 4;
  spec.spines = 2;
  const Topology fat = build_fat_tree(spec);
  const double s = 256e6;
  const double intra = 7 * (s / 8 / 450e9 + 2 * 0.5e-6);
  const double inter = 6 * (s / 8 / 4 / 50e9 + 4 * 1e-6);
  CollectiveRequest request{CollectiveKind::kAllReduce, CollectiveAlgorithm::kHierarchical, s, all_gpus(fat), 0};
  request.ranks_per_node = 8;
  const double predicted = run_alone(fat, request);
  MESSAGE("hierarchical: predicted " << predicted * 1e6 << " us, closed form " << (2 * intra + inter) * 1e6 << " us");
  CHECK(predicted == doctest::Approx(2 * intra + inter).epsilon(1e-9));
}

TEST_CASE("each algorithm says what it cannot do") {
  CHECK(unsupported_reason(CollectiveKind::kAllReduce, CollectiveAlgorithm::kHalvingDoubling, 6, 0).find("power-of-two") != std::string::npos);
  CHECK(unsupported_reason(CollectiveKind::kAllReduce, CollectiveAlgorithm::kHierarchical, 12, 8).find("divide") != std::string::npos);
  CHECK(unsupported_reason(CollectiveKind::kBroadcast, CollectiveAlgorithm::kDirect, 8, 0).find("use ring") != std::string::npos);
  CHECK(unsupported_reason(CollectiveKind::kSendRecv, CollectiveAlgorithm::kRing, 3, 0) == "send_recv needs exactly 2 ranks");
  CHECK(unsupported_reason(CollectiveKind::kAllGather, CollectiveAlgorithm::kRing, 8, 0).empty());
}

TEST_CASE("double binary tree: latency grows with depth, not with rank count") {
  // 8 GPUs behind one switch; both trees (in-order over 0..7 and over 1..7,0) are 3
  // edges deep. A one-slice message climbs 3 levels (each a 2-hop flow through the
  // switch) and comes back down 3: 12 hops of latency. The ring needs 14 steps of 2 hops.
  const Topology node = build_switch_node(8, {kBandwidth, kLatency}, false);
  const double tiny = 8;
  const double tree = run_alone(node, {CollectiveKind::kAllReduce, CollectiveAlgorithm::kTree, tiny, all_gpus(node), 0});
  CHECK(tree == doctest::Approx(12 * kLatency).epsilon(1e-3));
  // On 64 GPUs the gap is the point of the tree: depth 6 against 126 ring steps.
  const Topology wide = build_switch_node(64, {kBandwidth, kLatency}, false);
  const double wide_tree = run_alone(wide, {CollectiveKind::kAllReduce, CollectiveAlgorithm::kTree, tiny, all_gpus(wide), 0});
  const double wide_ring = run_alone(wide, {CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, tiny, all_gpus(wide), 0});
  CHECK(wide_ring / wide_tree > 10);
  // No all-reduce beats the bandwidth bound 2(n-1)/n * S / B.
  const double big = 256e6;
  CHECK(run_alone(node, {CollectiveKind::kAllReduce, CollectiveAlgorithm::kTree, big, all_gpus(node), 0}) >=
        2.0 * 7 / 8 * big / kBandwidth);
}
