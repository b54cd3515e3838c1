#pragma once
// All-reduce reduced in flight by a switch (NVLink SHARP, NCCL's NVLS algorithm).
//
// Every rank hangs off one switch that reduces. Rank i owns one n-th of the buffer: it
// asks the switch for that shard reduced over all ranks (multimem.ld_reduce: the switch
// reads the shard from every rank and returns the sum) and then stores the result once
// to a multicast address (multimem.st: the switch copies it to every rank). Over all
// shards each GPU port therefore carries S of contributions plus S/n of its own result
// towards the switch, and S/n of reduced shard plus S of multicast copies back: S(n+1)/n
// each way, against 2S(n-1)/n for a ring. Both directions stream at once (the protocol
// pipelines shards), modeled as one flow up and one down per rank.
#include <memory>
#include <optional>

#include "topologies/collective_algorithms.hpp"

namespace foresight {

// The switch that every rank is wired to directly and that reduces in flight, if any.
std::optional<NodeId> reducing_switch_of(const Topology& topology, const std::vector<NodeId>& ranks);

// Throws std::invalid_argument when the ranks share no reducing switch.
std::unique_ptr<CollectiveRun> make_in_switch_all_reduce(FlowNetwork& network, const CollectiveRequest& request);

}  // namespace foresight
