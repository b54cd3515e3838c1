#include "sim/engine/op_graph.hpp"

#include <algorithm>
#include <stdexcept>

namespace foresight {

ResourceId OpGraph::add_resource(ResourceSpec spec) {
  if (spec.concurrency == 0) throw std::logic_error("resource concurrency must be at least 1");
  resources_.push_back(std::move(spec));
  return static_cast<ResourceId>(resources_.size() - 1);
}

OpId OpGraph::add_op(Time duration, std::span<const ResourceId> resources, LabelId name,
                     LabelId category) {
  if (duration < 0) throw std::logic_error("op duration must not be negative");
  OpSpec spec{duration, name, category, static_cast<std::uint32_t>(resource_uses_.size()),
              static_cast<std::uint32_t>(resources.size())};
  for (ResourceId r : resources) {
    if (r >= resources_.size()) throw std::logic_error("op uses an unknown resource");
  }
  resource_uses_.insert(resource_uses_.end(), resources.begin(), resources.end());
  auto first = resource_uses_.begin() + spec.first_resource;
  std::sort(first, resource_uses_.end());
  if (std::adjacent_find(first, resource_uses_.end()) != resource_uses_.end()) {
    throw std::logic_error("op lists the same resource twice");
  }
  ops_.push_back(spec);
  return static_cast<OpId>(ops_.size() - 1);
}

OpId OpGraph::add_external_op(std::span<const ResourceId> resources, LabelId name, LabelId category) {
  const OpId id = add_op(0, resources, name, category);
  ops_[id].duration = kExternalDuration;
  return id;
}

void OpGraph::add_dependency(OpId before, OpId after) {
  if (before >= ops_.size() || after >= ops_.size()) {
    throw std::logic_error("dependency names an unknown op");
  }
  edges_.emplace_back(before, after);
}

LabelId OpGraph::label(std::string_view text) {
  auto [it, inserted] = label_index_.try_emplace(std::string(text), 0);
  if (inserted) {
    it->second = static_cast<LabelId>(labels_.size());
    labels_.emplace_back(text);
  }
  return it->second;
}

std::vector<OpId> OpGraph::ops_on_cycles() const {
  // Kahn's algorithm: whatever cannot be peeled off in topological order waits on a cycle.
  std::vector<std::uint32_t> indegree(ops_.size(), 0);
  std::vector<std::vector<OpId>> successors(ops_.size());
  for (auto [from, to] : edges_) {
    ++indegree[to];
    successors[from].push_back(to);
  }
  std::vector<OpId> ready;
  for (OpId id = 0; id < ops_.size(); ++id) {
    if (indegree[id] == 0) ready.push_back(id);
  }
  while (!ready.empty()) {
    const OpId id = ready.back();
    ready.pop_back();
    for (OpId next : successors[id]) {
      if (--indegree[next] == 0) ready.push_back(next);
    }
  }
  std::vector<OpId> stuck;
  for (OpId id = 0; id < ops_.size(); ++id) {
    if (indegree[id] != 0) stuck.push_back(id);
  }
  return stuck;
}

}  // namespace foresight
