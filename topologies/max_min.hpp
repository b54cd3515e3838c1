#pragma once
// Max-min fair bandwidth sharing by progressive filling (Bertsekas and Gallager, Data
// Networks, Sec. 6.5.2): raise every flow's rate together; when a link fills, the flows
// crossing it are frozen at its fair share; repeat with the rest. The result: no flow
// can go faster without slowing a flow that is already slower or equal.
#include <cstdint>
#include <span>
#include <vector>

#include "topologies/topology.hpp"

namespace foresight {

class MaxMinSolver {
 public:
  // `capacity` holds bytes/s per link (indexed by LinkId); each flow is its path.
  // Writes one rate per flow into `rates`. Ties between equally loaded links are broken
  // by link id, so the result is reproducible.
  void solve(std::span<const double> capacity, std::span<const std::span<const LinkId>> paths,
             std::vector<double>& rates);

  // Up to this many contended links a solve finds each round's bottleneck by a scan,
  // beyond it with a heap; both give the same rates, bit for bit.
  static constexpr std::size_t kScanLinks = 2048;
  void set_scan_limit(std::size_t links) { scan_limit_ = links; }

 private:
  // Scratch space kept between calls: a solve touches only the links its flows use.
  std::vector<double> remaining_;
  std::vector<std::uint32_t> total_;     // flows per link
  std::vector<std::uint32_t> unfrozen_;  // flows per link not yet given a rate
  std::vector<double> share_;  // remaining capacity over the flows not yet given a rate
  std::vector<std::uint32_t> flows_begin_;
  std::vector<std::uint32_t> flows_of_link_;
  std::vector<LinkId> used_;
  std::vector<LinkId> changed_;            // links whose share a freezing round changed
  std::vector<std::uint64_t> changed_in_;  // the round that last listed each link
  std::uint64_t round_ = 0;
  // The links with flows still to rate: scanned, or a binary min-heap by (share, link id)
  // where position_ is each one's index.
  std::vector<LinkId> open_;
  std::vector<std::uint32_t> position_;
  std::size_t scan_limit_ = kScanLinks;
  void freeze(LinkId link, double rate, std::span<const std::span<const LinkId>> paths, std::vector<double>& rates);
  void fill_by_scan(std::span<const std::span<const LinkId>> paths, std::vector<double>& rates);
  void fill_by_heap(std::span<const std::span<const LinkId>> paths, std::vector<double>& rates);
  bool before(LinkId a, LinkId b) const;
  void place(std::size_t at, LinkId link);
  void sift_up(std::size_t at);
  void sift_down(std::size_t at);
  void remove_from_heap(std::size_t at);
};

}  // namespace foresight
