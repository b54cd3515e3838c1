#pragma once
// A description of work: ops with durations, the resources each occupies while it runs,
// and the dependencies between them. Workloads build one; DagExecutor runs it. Keeping
// the two apart (as Taskflow keeps Taskflow apart from Executor) lets a graph be checked,
// summarised or re-timed without touching the event queue.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sim/engine/time.hpp"

namespace foresight {

using OpId = std::uint32_t;
using ResourceId = std::uint32_t;
using LabelId = std::uint32_t;

struct ResourceSpec {
  std::string group;  // a device ("GPU 3"): one process row in the trace
  std::string track;  // a stream or link on it ("compute", "comm", "nvlink")
  std::uint32_t concurrency = 1;
};

struct OpSpec {
  Time duration = 0;
  LabelId name = 0;
  LabelId category = 0;
  std::uint32_t first_resource = 0;  // range into OpGraph::resource_uses()
  std::uint32_t resource_count = 0;
};

class OpGraph {
 public:
  ResourceId add_resource(ResourceSpec spec);
  // Resources are acquired in ascending id order, so ops needing several (a collective
  // spans every participant's stream) cannot deadlock one another.
  OpId add_op(Time duration, std::span<const ResourceId> resources, LabelId name, LabelId category);
  // An op whose end is decided outside the graph (a collective on a flow network): the
  // executor hands it to its ExternalOpRunner when it starts, and the runner reports
  // back through DagExecutor::complete_external.
  OpId add_external_op(std::span<const ResourceId> resources, LabelId name, LabelId category);
  bool is_external(OpId id) const { return ops_[id].duration == kExternalDuration; }
  static constexpr Time kExternalDuration = -1;
  void add_dependency(OpId before, OpId after);
  LabelId label(std::string_view text);  // interned: ops share their few distinct names

  std::size_t op_count() const { return ops_.size(); }
  std::size_t resource_count() const { return resources_.size(); }
  const OpSpec& op(OpId id) const { return ops_[id]; }
  std::span<const ResourceId> resources_of(OpId id) const {
    const OpSpec& spec = ops_[id];
    return {resource_uses_.data() + spec.first_resource, spec.resource_count};
  }
  const ResourceSpec& resource(ResourceId id) const { return resources_[id]; }
  const std::string& label_text(LabelId id) const { return labels_[id]; }
  const std::vector<std::pair<OpId, OpId>>& dependencies() const { return edges_; }

  // Returns the ops that lie on a dependency cycle (empty when the graph is a DAG).
  std::vector<OpId> ops_on_cycles() const;

 private:
  std::vector<OpSpec> ops_;
  std::vector<ResourceId> resource_uses_;
  std::vector<ResourceSpec> resources_;
  std::vector<std::pair<OpId, OpId>> edges_;
  std::vector<std::string> labels_;
  std::unordered_map<std::string, LabelId> label_index_;
};

}  // namespace foresight
