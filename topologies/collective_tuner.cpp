#include "topologies/collective_tuner.hpp"

#include <stdexcept>

#include "topologies/in_switch_all_reduce.hpp"

namespace foresight {

std::vector<CollectiveAlgorithm> nccl_algorithms(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::kAllReduce: return {CollectiveAlgorithm::kRing, CollectiveAlgorithm::kNvls, CollectiveAlgorithm::kHierarchical};
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter: return {CollectiveAlgorithm::kRing, CollectiveAlgorithm::kHierarchical};
    case CollectiveKind::kAllToAll: return {CollectiveAlgorithm::kDirect};
    default: return {CollectiveAlgorithm::kRing};
  }
}

std::vector<CollectiveAlgorithm> all_algorithms() {
  return {CollectiveAlgorithm::kRing, CollectiveAlgorithm::kHalvingDoubling, CollectiveAlgorithm::kDirect,
          CollectiveAlgorithm::kHierarchical, CollectiveAlgorithm::kTree, CollectiveAlgorithm::kNvls};
}

Time simulate_alone(const Topology& topology, const Router& router, const CollectiveRequest& request) {
  Engine engine;
  FlowNetwork network(engine, topology, router);
  auto run = make_collective(network, request);
  run->start();
  engine.run();
  if (!run->done()) throw std::logic_error("collective did not finish");
  return run->finish_time();
}

CollectiveTuner::CollectiveTuner(const Topology& topology, const Router& router, NcclCosts costs,
                                 std::vector<CollectiveAlgorithm> candidates, std::vector<Protocol> protocols)
    : topology_(topology), router_(router), costs_(std::move(costs)), candidates_(std::move(candidates)),
      protocols_(costs_.models_protocols() ? std::move(protocols) : std::vector<Protocol>{Protocol::kSimple}) {
  if (protocols_.empty()) throw std::invalid_argument("the tuner needs at least one protocol");
}

CollectiveChoice CollectiveTuner::choose(const CollectiveRequest& request) {
  const Key key{request.kind, request.bytes, request.ranks_per_node, request.ranks};
  if (auto it = chosen_.find(key); it != chosen_.end()) return it->second;
  CollectiveChoice best;
  best.idle_time = kTimeMax;
  for (CollectiveAlgorithm algorithm : candidates_) {
    if (!unsupported_reason(request.kind, algorithm, request.ranks.size(), request.ranks_per_node).empty()) continue;
    if (algorithm == CollectiveAlgorithm::kNvls && !reducing_switch_of(topology_, request.ranks)) continue;
    // NVLS has one set of costs whatever the protocol (it runs on Simple): simulate it once.
    const bool nvls = algorithm == CollectiveAlgorithm::kNvls;
    const std::size_t tries = nvls ? 1 : protocols_.size();
    for (std::size_t p = 0; p < tries; ++p) {
      const Protocol protocol = nvls ? Protocol::kSimple : protocols_[p];
      CollectiveRequest trial = request;
      trial.algorithm = algorithm;
      apply_costs(costs_, protocol, trial);
      const Time t = simulate_alone(topology_, router_, trial);
      if (t < best.idle_time) best = {algorithm, protocol, t};
    }
  }
  if (best.idle_time == kTimeMax) {
    throw std::invalid_argument("no candidate algorithm implements " + std::string(collective_name(request.kind)) + " on " +
                                std::to_string(request.ranks.size()) + " ranks");
  }
  chosen_.emplace(key, best);
  return best;
}

void CollectiveTuner::tune(CollectiveRequest& request) {
  const CollectiveChoice choice = choose(request);
  request.algorithm = choice.algorithm;
  apply_costs(costs_, choice.protocol, request);
}

}  // namespace foresight
