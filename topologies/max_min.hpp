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

 private:
  // Scratch space kept between calls: a solve touches only the links its flows use.
  std::vector<double> remaining_;
  std::vector<std::uint32_t> total_;     // flows per link
  std::vector<std::uint32_t> unfrozen_;  // flows per link not yet given a rate
  std::vector<std::uint32_t> version_;
  std::vector<std::uint32_t> flows_begin_;
  std::vector<std::uint32_t> flows_of_link_;
  std::vector<LinkId> used_;
  // The links' fair shares, a min-heap by rate (then link id); stale entries are skipped by
  // version. Its storage is kept between calls: a solve pushes an entry per flow and link.
  struct Share {
    double rate;
    LinkId link;
    std::uint32_t version;
    bool operator>(const Share& other) const { return rate > other.rate || (rate == other.rate && link > other.link); }
  };
  std::vector<Share> heap_;
};

}  // namespace foresight
