#pragma once
// Picks the algorithm and protocol of each collective, as NCCL's tuner does, but by
// simulating every candidate alone on the idle fabric rather than from a closed form:
// exact for an idle fabric, and then the run itself meets whatever traffic is there.
// Each distinct request (kind, size, ranks) is simulated once and remembered, so a
// training step with a few bucket sizes pays for a few dozen small simulations.
#include <map>
#include <tuple>
#include <vector>

#include "topologies/nccl_costs.hpp"

namespace foresight {

struct CollectiveChoice {
  CollectiveAlgorithm algorithm = CollectiveAlgorithm::kRing;
  Protocol protocol = Protocol::kSimple;
  Time idle_time = 0;  // on the idle fabric
};

// The algorithms NCCL itself would consider for the collective: rings and NVLS for
// all-reduce, rings for all-gather and reduce-scatter (hierarchical standing for NCCL's
// rail-aligned rings across nodes), direct peers for all-to-all, a chain for the rest.
// NCCL's tree is a chain inside a node and a double binary tree only across nodes;
// foresight's tree is one double binary tree over all ranks, so it is not among them.
std::vector<CollectiveAlgorithm> nccl_algorithms(CollectiveKind kind);
// Every algorithm foresight implements.
std::vector<CollectiveAlgorithm> all_algorithms();

// The time of one collective alone on the topology.
Time simulate_alone(const Topology& topology, const Router& router, const CollectiveRequest& request);

class CollectiveTuner {
 public:
  // Candidates are tried in order, each with each of `protocols` (all three unless
  // given); ties go to the earlier. Candidates that cannot run the request are skipped:
  // unsupported kinds or rank counts, nvls without a reducing switch. With costs that
  // do not tell protocols apart (the bare network) only Simple is tried.
  CollectiveTuner(const Topology& topology, const Router& router, NcclCosts costs,
                  std::vector<CollectiveAlgorithm> candidates,
                  std::vector<Protocol> protocols = {kProtocols.begin(), kProtocols.end()});
  CollectiveTuner(const Topology&& topology, const Router& router, NcclCosts costs,
                  std::vector<CollectiveAlgorithm> candidates, std::vector<Protocol> protocols = {}) = delete;

  // Throws std::invalid_argument when no candidate can run the request.
  CollectiveChoice choose(const CollectiveRequest& request);
  // choose(), then sets the request's algorithm, launch latency and transport.
  void tune(CollectiveRequest& request);
  const NcclCosts& costs() const { return costs_; }

 private:
  // ECMP choices (the request's flow salt) are left out: they rarely change the winner,
  // and every op of a training step has its own salt.
  using Key = std::tuple<CollectiveKind, double, int, std::vector<NodeId>>;
  const Topology& topology_;
  const Router& router_;
  NcclCosts costs_;
  std::vector<CollectiveAlgorithm> candidates_;
  std::vector<Protocol> protocols_;
  std::map<Key, CollectiveChoice> chosen_;
};

}  // namespace foresight
