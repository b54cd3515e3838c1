#include "topologies/routing.hpp"

#include <stdexcept>
#include <string>

namespace foresight {
namespace {
// splitmix64 finalizer: spreads flow hashes so consecutive flows pick different paths.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
}  // namespace

ShortestPathRouter::ShortestPathRouter(const Topology& topology, std::size_t cached_destinations)
    : topology_(topology), capacity_(cached_destinations == 0 ? 1 : cached_destinations) {}

const std::vector<std::uint32_t>& ShortestPathRouter::distances_to(NodeId target) const {
  if (auto it = cache_.find(target); it != cache_.end()) return it->second;
  if (cache_.size() >= capacity_) {
    cache_.erase(cache_order_.front());
    cache_order_.erase(cache_order_.begin());
  }
  cache_order_.push_back(target);
  return cache_.emplace(target, topology_.distances_to(target)).first->second;
}

void ShortestPathRouter::route(NodeId from, NodeId to, std::uint64_t flow_hash, std::vector<LinkId>& path) const {
  constexpr std::size_t kMaxCachedPaths = 1 << 20;  // about 100 MB at worst; then start over
  const std::uint64_t way = mix(flow_hash) % kEcmpWays;
  const std::uint64_t key = (std::uint64_t{from} << 36) ^ (std::uint64_t{to} << 8) ^ way;
  auto it = paths_.find(key);
  if (it == paths_.end()) {
    if (paths_.size() >= kMaxCachedPaths) paths_.clear();
    std::vector<LinkId> fresh;
    walk(from, to, way, fresh);
    it = paths_.emplace(key, std::move(fresh)).first;
  }
  path.insert(path.end(), it->second.begin(), it->second.end());
}

void ShortestPathRouter::walk(NodeId from, NodeId to, std::uint64_t way, std::vector<LinkId>& path) const {
  const std::vector<std::uint32_t>& distance = distances_to(to);
  if (distance[from] == Topology::kUnreachable) {
    throw std::logic_error("no route from " + topology_.node(from).name + " to " + topology_.node(to).name);
  }
  const Topology::Graph& graph = topology_.graph();
  LinkId candidates[64];
  NodeId node = from;
  while (node != to) {
    std::size_t count = 0;
    for (auto [edge, end] = boost::out_edges(node, graph); edge != end; ++edge) {
      const LinkId link = graph[*edge].link;
      if (distance[topology_.link(link).to] + 1 == distance[node] && count < std::size(candidates)) {
        candidates[count++] = link;
      }
    }
    const LinkId chosen = candidates[count == 1 ? 0 : mix(way ^ (std::uint64_t{node} << 32)) % count];
    path.push_back(chosen);
    node = topology_.link(chosen).to;
  }
}

FatTreeRouter::FatTreeRouter(const Topology& topology)
    : layout_(*topology.fat_tree_layout()), fallback_(topology) {}

void FatTreeRouter::route(NodeId from, NodeId to, std::uint64_t flow_hash, std::vector<LinkId>& path) const {
  const std::size_t gpus = layout_.leaf_of_rank.size();
  if (from >= gpus || to >= gpus) {
    fallback_.route(from, to, flow_hash, path);
    return;
  }
  const int per_node = layout_.gpus_per_node;
  if (static_cast<int>(from) / per_node == static_cast<int>(to) / per_node) {
    path.push_back(layout_.gpu_to_nvswitch[from]);
    path.push_back(layout_.nvswitch_to_gpu[to]);
    return;
  }
  path.push_back(layout_.gpu_to_nic[from]);
  path.push_back(layout_.nic_to_leaf[from]);
  const std::uint32_t leaf_from = layout_.leaf_of_rank[from];
  const std::uint32_t leaf_to = layout_.leaf_of_rank[to];
  if (leaf_from != leaf_to) {
    const auto spines = static_cast<std::uint64_t>(layout_.spines);
    const std::uint64_t spine = mix(flow_hash) % spines;
    path.push_back(layout_.leaf_to_spine[leaf_from * spines + spine]);
    path.push_back(layout_.spine_to_leaf[leaf_to * spines + spine]);
  }
  path.push_back(layout_.leaf_to_nic[to]);
  path.push_back(layout_.nic_to_gpu[to]);
}

std::unique_ptr<Router> make_router(const Topology& topology) {
  if (topology.fat_tree_layout() != nullptr) return std::make_unique<FatTreeRouter>(topology);
  return std::make_unique<ShortestPathRouter>(topology);
}

}  // namespace foresight
