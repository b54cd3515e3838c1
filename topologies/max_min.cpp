#include "topologies/max_min.hpp"

#include <algorithm>
#include <functional>
#include <limits>

namespace foresight {

void MaxMinSolver::solve(std::span<const double> capacity, std::span<const std::span<const LinkId>> paths,
                         std::vector<double>& rates) {
  const std::size_t links = capacity.size();
  if (remaining_.size() < links) {
    remaining_.resize(links);
    total_.assign(links, 0);
    unfrozen_.assign(links, 0);
    version_.assign(links, 0);
    flows_begin_.assign(links, 0);
  }
  rates.assign(paths.size(), -1.0);

  // Lay out each used link's flows contiguously (CSR), in flow order.
  used_.clear();
  for (const auto& path : paths) {
    for (LinkId l : path) {
      if (total_[l]++ == 0) used_.push_back(l);
    }
  }
  // Uncontended: when no link carries two flows, each flow simply gets the narrowest
  // link on its path. Exact, and the common case of a collective on its own fabric.
  const bool contended = std::any_of(used_.begin(), used_.end(), [this](LinkId l) { return total_[l] > 1; });
  if (!contended) {
    for (std::size_t f = 0; f < paths.size(); ++f) {
      double rate = std::numeric_limits<double>::infinity();
      for (LinkId l : paths[f]) rate = std::min(rate, capacity[l]);
      rates[f] = rate;
    }
    for (LinkId l : used_) total_[l] = 0;
    return;
  }
  // A flow alone on every link of its path is independent of the rest: it gets its
  // narrowest link, and the progressive filling below never sees it.
  for (std::size_t f = 0; f < paths.size(); ++f) {
    if (paths[f].empty()) {
      rates[f] = std::numeric_limits<double>::infinity();  // a local copy
      continue;
    }
    double rate = std::numeric_limits<double>::infinity();
    bool alone = true;
    for (LinkId l : paths[f]) {
      alone = alone && total_[l] == 1;
      rate = std::min(rate, capacity[l]);
    }
    if (!alone) continue;
    rates[f] = rate;
    for (LinkId l : paths[f]) total_[l] = 0;  // no longer part of the filling
  }
  std::uint32_t offset = 0;
  std::size_t kept = 0;
  for (LinkId l : used_) {
    if (total_[l] == 0) continue;
    used_[kept++] = l;
    flows_begin_[l] = offset;
    offset += total_[l];
    remaining_[l] = capacity[l];
  }
  used_.resize(kept);
  flows_of_link_.resize(offset);
  for (std::uint32_t f = 0; f < paths.size(); ++f) {
    if (rates[f] >= 0) continue;
    for (LinkId l : paths[f]) flows_of_link_[flows_begin_[l] + unfrozen_[l]++] = f;
  }

  // A min-heap on heap_ through push_heap / pop_heap with std::greater, as a
  // priority_queue would run it, so the filling order is the same.
  heap_.clear();
  const auto push = [this](Share share) {
    heap_.push_back(share);
    std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
  };
  for (LinkId l : used_) push({remaining_[l] / unfrozen_[l], l, ++version_[l]});
  while (!heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
    const Share top = heap_.back();
    heap_.pop_back();
    if (top.version != version_[top.link] || unfrozen_[top.link] == 0) continue;
    const std::uint32_t begin = flows_begin_[top.link];
    for (std::uint32_t i = begin; i < begin + total_[top.link]; ++i) {
      const std::uint32_t f = flows_of_link_[i];
      if (rates[f] >= 0) continue;
      rates[f] = top.rate;
      for (LinkId l : paths[f]) {
        remaining_[l] = std::max(0.0, remaining_[l] - top.rate);
        if (--unfrozen_[l] > 0) push({remaining_[l] / unfrozen_[l], l, ++version_[l]});
      }
    }
  }
  for (LinkId l : used_) total_[l] = 0;
}

}  // namespace foresight
