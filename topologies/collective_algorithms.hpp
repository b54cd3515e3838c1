#pragma once
// Collective algorithms as flows with their step dependencies, generated lazily as
// earlier steps complete, so that memory holds only the per-rank progress, never the
// whole O(n^2) flow list (a ring all-reduce on 4,096 GPUs is 33.5 million flows).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/op.hpp"
#include "topologies/flow_network.hpp"

namespace foresight {

enum class CollectiveAlgorithm { kRing, kDirect };
std::string_view algorithm_name(CollectiveAlgorithm algorithm);

struct CollectiveRequest {
  CollectiveKind kind = CollectiveKind::kAllReduce;
  CollectiveAlgorithm algorithm = CollectiveAlgorithm::kRing;
  double bytes = 0;             // nccl-tests convention: all-gather output, reduce-scatter input
  std::vector<NodeId> ranks;    // participants, in ring order
  std::uint64_t flow_salt = 0;  // varies ECMP choices between collectives
};

// One running collective. Starts its first flows in start(); done() once every rank
// has all its data.
class CollectiveRun : public FlowListener {
 public:
  virtual ~CollectiveRun() = default;
  virtual void start() = 0;
  bool done() const { return done_; }
  Time finish_time() const { return finish_; }

 protected:
  void mark_done(Time now) {
    done_ = true;
    finish_ = now;
  }

 private:
  bool done_ = false;
  Time finish_ = 0;
};

// "" when the algorithm implements the collective, otherwise why not.
std::string unsupported_reason(CollectiveKind kind, CollectiveAlgorithm algorithm);

// Throws std::invalid_argument for combinations not implemented (named in the message).
std::unique_ptr<CollectiveRun> make_collective(FlowNetwork& network, const CollectiveRequest& request);

}  // namespace foresight
