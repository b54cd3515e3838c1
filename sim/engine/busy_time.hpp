#pragma once
// Records when each resource was busy, so that a workload can ask how long a set of
// streams was busy together (the union of their intervals): compute busy time, exposed
// communication (busy on comm while compute idled), idle time.
#include <limits>
#include <vector>

#include "sim/engine/observer.hpp"

namespace foresight {

struct Interval {
  Time start;
  Time end;
};

class BusyTimeRecorder : public ExecutionObserver {
 public:
  explicit BusyTimeRecorder(std::size_t resource_count) : intervals_(resource_count) {}
  void on_op_end(const OpGraph& graph, OpId op, Time start, Time end) override;

  const std::vector<Interval>& intervals(ResourceId r) const { return intervals_[r]; }
  // Length of the union of the busy intervals of the given resources, up to `until`.
  Time busy_union(const std::vector<ResourceId>& resources, Time until = std::numeric_limits<Time>::max()) const;

 private:
  std::vector<std::vector<Interval>> intervals_;
};

}  // namespace foresight
