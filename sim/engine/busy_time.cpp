#include "sim/engine/busy_time.hpp"

#include <algorithm>

namespace foresight {

void BusyTimeRecorder::on_op_end(const OpGraph& graph, OpId op, Time start, Time end) {
  if (end == start) return;
  for (ResourceId r : graph.resources_of(op)) intervals_[r].push_back({start, end});
}

Time BusyTimeRecorder::busy_union(const std::vector<ResourceId>& resources, Time until) const {
  std::vector<Interval> all;
  for (ResourceId r : resources) {
    for (const Interval& interval : intervals_[r]) {
      if (interval.start < until) all.push_back({interval.start, std::min(interval.end, until)});
    }
  }
  std::sort(all.begin(), all.end(), [](const Interval& a, const Interval& b) {
    return a.start < b.start || (a.start == b.start && a.end < b.end);
  });
  Time total = 0;
  Time covered_until = 0;
  bool any = false;
  for (const Interval& interval : all) {
    if (!any || interval.start > covered_until) {
      total += interval.end - interval.start;
      covered_until = interval.end;
      any = true;
    } else if (interval.end > covered_until) {
      total += interval.end - covered_until;
      covered_until = interval.end;
    }
  }
  return total;
}

}  // namespace foresight
