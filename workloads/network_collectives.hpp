#pragma once
// Runs collectives on the flow network for a DagExecutor's external ops: start() begins an
// op's collective, and the op completes when the last rank has its data.
#include <memory>
#include <vector>

#include "sim/engine/dag_executor.hpp"
#include "topologies/collective_algorithms.hpp"

namespace foresight {

class NetworkCollectives : public CollectiveListener {
 public:
  NetworkCollectives(FlowNetwork& network, DagExecutor& executor) : network_(network), executor_(executor) {}
  void start(OpId op, const CollectiveRequest& request) {
    runs_.push_back(make_collective(network_, request));
    runs_.back()->set_listener(*this, op);
    runs_.back()->start();
  }
  // Finished runs stay until the executor is done: this call comes from inside the run.
  void on_collective_done(Engine&, std::uint64_t op) override { executor_.complete_external(static_cast<OpId>(op)); }

 private:
  FlowNetwork& network_;
  DagExecutor& executor_;
  std::vector<std::unique_ptr<CollectiveRun>> runs_;
};

}  // namespace foresight
