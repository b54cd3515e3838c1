#pragma once
// Routes between nodes: a shortest path (in hops), chosen among all equal-cost paths by a
// hash of the flow (ECMP), the way switches spread flows. The same flow hash always takes
// the same path, so runs are reproducible.
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "topologies/topology.hpp"

namespace foresight {

class Router {
 public:
  virtual ~Router() = default;
  // Appends the links of one shortest path from `from` to `to` to `path`.
  virtual void route(NodeId from, NodeId to, std::uint64_t flow_hash, std::vector<LinkId>& path) const = 0;
};

// Works on any topology: breadth-first distances to each destination, then a walk that
// at every hop picks one of the links that gets one hop closer. Flow hashes fold into
// kEcmpWays path choices per (source, destination), as switches spread flows over a
// bounded set of next hops, and each chosen path is cached: collectives send between
// the same pairs again and again.
class ShortestPathRouter : public Router {
 public:
  static constexpr std::uint64_t kEcmpWays = 16;

  explicit ShortestPathRouter(const Topology& topology, std::size_t cached_destinations = 256);
  explicit ShortestPathRouter(const Topology&& topology, std::size_t cached_destinations = 256) = delete;
  void route(NodeId from, NodeId to, std::uint64_t flow_hash, std::vector<LinkId>& path) const override;

 private:
  const std::vector<std::uint32_t>& distances_to(NodeId target) const;
  void walk(NodeId from, NodeId to, std::uint64_t way, std::vector<LinkId>& path) const;

  const Topology& topology_;
  std::size_t capacity_;
  mutable std::unordered_map<NodeId, std::vector<std::uint32_t>> cache_;
  mutable std::vector<NodeId> cache_order_;  // insertion order, for eviction
  mutable std::unordered_map<std::uint64_t, std::vector<LinkId>> paths_;
};

// Routes on a topology built by build_fat_tree from its recorded layout, in O(hops):
// through the node's NVSwitch, through a shared leaf, or up to a spine chosen by the
// flow hash (ECMP) and down. Every route is a shortest path (tested against
// breadth-first search). Endpoints that are not GPUs go to the generic router.
class FatTreeRouter : public Router {
 public:
  explicit FatTreeRouter(const Topology& topology);
  explicit FatTreeRouter(const Topology&& topology) = delete;
  void route(NodeId from, NodeId to, std::uint64_t flow_hash, std::vector<LinkId>& path) const override;

 private:
  const FatTreeLayout& layout_;
  ShortestPathRouter fallback_;
};

// The fastest correct router for the topology.
std::unique_ptr<Router> make_router(const Topology& topology);
std::unique_ptr<Router> make_router(const Topology&& topology) = delete;  // the router keeps a reference

}  // namespace foresight
