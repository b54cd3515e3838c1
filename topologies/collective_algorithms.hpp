#pragma once
// Collective algorithms as flows with their step dependencies, generated lazily as
// earlier steps complete, so that memory holds only the per-rank progress, never the
// whole O(n^2) flow list (a ring all-reduce on 4,096 GPUs is 33.5 million flows).
//
//   ring              all-reduce (2(n-1) steps), all-gather and reduce-scatter (n-1);
//                     broadcast and reduce as a pipelined chain along the ring order,
//                     8 slices in flight per connection;
//                     send/recv as one flow from the first rank to the second
//   halving_doubling  recursive halving reduce-scatter then recursive doubling
//                     all-gather (Rabenseifner); power-of-two rank counts
//   direct            every rank sends to every other at once (all-to-all, or a direct
//                     reduce-scatter and all-gather)
//   hierarchical      intra-node ring, then one inter-node ring per local rank, then
//                     intra-node ring again (NCCL's two-level pattern)
//   tree              all-reduce on a double binary tree (Sanders, Speck and Traeff 2009;
//                     NCCL's tree): two complementary trees each reduce half the buffer
//                     towards the root and broadcast it back, in pipelined slices
//   nvls              all-reduce reduced in flight by the switch every rank hangs off
//                     (NVLink SHARP, NCCL's NVLS), in in_switch_all_reduce.hpp
//
// Every flow moves with the request's Transport: the protocol's costs (nccl_costs.hpp).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/op.hpp"
#include "topologies/flow_network.hpp"

namespace foresight {

enum class CollectiveAlgorithm { kRing, kHalvingDoubling, kDirect, kHierarchical, kTree, kNvls };
std::string_view algorithm_name(CollectiveAlgorithm algorithm);
std::vector<std::string> algorithm_names();

struct CollectiveRequest {
  CollectiveKind kind = CollectiveKind::kAllReduce;
  CollectiveAlgorithm algorithm = CollectiveAlgorithm::kRing;
  double bytes = 0;             // nccl-tests convention: all-gather output, reduce-scatter input
  std::vector<NodeId> ranks;    // participants, in ring order; the first is the root
  std::uint64_t flow_salt = 0;  // varies ECMP choices between collectives
  int ranks_per_node = 0;       // hierarchical: consecutive ranks sharing a node
  // Direct all-to-all: with the members' nodes given (one per rank), each piece bound for a
  // member on the sender's node is scaled by local_piece_scale and each bound for another
  // node by remote_piece_scale (DeepEP's deduplicated dispatch: workloads/deepep_traffic.hpp).
  std::vector<int> member_nodes = {};
  double local_piece_scale = 1;
  double remote_piece_scale = 1;
  double pipeline_chunk_bytes = 512.0 * 1024;  // broadcast/reduce slices
  // Fixed cost before any data moves: kernel launch and the peers' handshake; 0 models
  // the network alone. apply_costs (nccl_costs.hpp) sets NCCL's fitted figure.
  Time launch_latency = 0;
  Transport transport = {};  // how each flow moves: the bare network unless a protocol is applied
};

// Launch latency of training collectives on the bare network (collective_costs: none):
// a 2-hop send/recv measures 6 us in the apex_plus nccl-tests tables, 1 us of it hops.
inline constexpr Time kNcclLaunchLatency = 5 * kMicrosecond;

class CollectiveListener {
 public:
  virtual ~CollectiveListener() = default;
  virtual void on_collective_done(Engine& engine, std::uint64_t tag) = 0;
};

// One running collective. Starts its first flows in start(); done() once every rank
// has all its data, when the listener (if any) hears about it.
class CollectiveRun {
 public:
  virtual ~CollectiveRun() = default;
  virtual void start() = 0;
  bool done() const { return done_; }
  Time finish_time() const { return finish_; }
  void set_listener(CollectiveListener& listener, std::uint64_t tag) {
    listener_ = &listener;
    listener_tag_ = tag;
  }

 protected:
  // Frees the copy engines, then tells the listener.
  void mark_done(Engine& engine);
  // One virtual link per rank, of `max_rate` bytes/s, that every flow the rank sends in
  // this collective crosses: the SMs running NCCL's channels on one GPU copy only so
  // fast, however many peers they feed. Nothing when the rate is unlimited.
  void limit_copy_rate(FlowNetwork& network, double max_rate, std::size_t ranks);
  LinkId copy_engine(std::size_t rank) const { return engines_.empty() ? FlowNetwork::kNoLink : engines_[rank]; }

 private:
  FlowNetwork* engines_network_ = nullptr;
  std::vector<LinkId> engines_;
  bool done_ = false;
  Time finish_ = 0;
  CollectiveListener* listener_ = nullptr;
  std::uint64_t listener_tag_ = 0;
};

// "" when the algorithm implements the collective for this many ranks, otherwise why not.
std::string unsupported_reason(CollectiveKind kind, CollectiveAlgorithm algorithm, std::size_t ranks,
                               int ranks_per_node);

// Throws std::invalid_argument for combinations not implemented (named in the message).
std::unique_ptr<CollectiveRun> make_collective(FlowNetwork& network, const CollectiveRequest& request);

}  // namespace foresight
