#pragma once
// Progress of one simulation, as an observer: a step every hundredth of the graph's ops
// finished (sim/engine/progress.hpp draws it).
#include <algorithm>
#include <string>

#include "sim/engine/observer.hpp"
#include "sim/engine/progress.hpp"

namespace foresight {

class OpProgress : public ExecutionObserver {
 public:
  // Silent for the first second: most simulations are over by then.
  explicit OpProgress(const OpGraph& graph)
      : block_(std::max<std::size_t>(1, graph.op_count() / 100)), progress_("simulating", static_cast<int>(graph.op_count() / block_), false, 1.0) {}
  void on_op_end(const OpGraph& /*graph*/, OpId /*op*/, Time /*start*/, Time /*end*/) override {
    if (++finished_ % block_ == 0) progress_.step(std::to_string(finished_) + " ops finished");
  }
  void finish() { progress_.finish(); }

 private:
  std::size_t block_, finished_ = 0;
  Progress progress_;
};

}  // namespace foresight
