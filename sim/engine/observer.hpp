#pragma once
// Metrics and traces watch execution through this interface; they never change it.
#include "sim/engine/op_graph.hpp"

namespace foresight {

class ExecutionObserver {
 public:
  virtual ~ExecutionObserver() = default;
  virtual void on_op_start(const OpGraph& /*graph*/, OpId /*op*/, Time /*start*/) {}
  virtual void on_op_end(const OpGraph& graph, OpId op, Time start, Time end) = 0;
};

}  // namespace foresight
