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
    share_.assign(links, 0);
    position_.assign(links, 0);
    flows_begin_.assign(links, 0);
    changed_in_.assign(links, 0);
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

  for (LinkId l : used_) share_[l] = remaining_[l] / unfrozen_[l];
  if (used_.size() <= scan_limit_) {
    fill_by_scan(paths, rates);
  } else {
    fill_by_heap(paths, rates);
  }
  for (LinkId l : used_) total_[l] = 0;
}

// Every flow `link` holds up is frozen at its share `rate`; the links those flows cross
// lose that much capacity and are listed in changed_.
void MaxMinSolver::freeze(LinkId link, double rate, std::span<const std::span<const LinkId>> paths,
                          std::vector<double>& rates) {
  changed_.clear();
  ++round_;
  const std::uint32_t begin = flows_begin_[link];
  for (std::uint32_t i = begin; i < begin + total_[link]; ++i) {
    const std::uint32_t f = flows_of_link_[i];
    if (rates[f] >= 0) continue;
    rates[f] = rate;
    for (LinkId l : paths[f]) {
      remaining_[l] = std::max(0.0, remaining_[l] - rate);
      --unfrozen_[l];
      if (changed_in_[l] != round_) {
        changed_in_[l] = round_;
        changed_.push_back(l);
      }
    }
  }
  for (LinkId l : changed_) {
    if (unfrozen_[l] > 0) share_[l] = remaining_[l] / unfrozen_[l];
  }
}

// Each round freezes the flows of the open link with the smallest share, ties to the lower
// link id. A solve takes as many rounds as it has distinct bottlenecks, far fewer than its
// share updates, so with few links a scan finds the smallest sooner than a heap keeps it.
void MaxMinSolver::fill_by_scan(std::span<const std::span<const LinkId>> paths, std::vector<double>& rates) {
  open_.assign(used_.begin(), used_.end());
  for (;;) {
    std::size_t kept = 0;
    for (LinkId l : open_) {
      if (unfrozen_[l] == 0) continue;
      open_[kept++] = l;
      if (before(l, open_[0])) std::swap(open_[0], open_[kept - 1]);  // the smallest goes first
    }
    open_.resize(kept);
    if (open_.empty()) return;
    const LinkId link = open_.front();
    freeze(link, share_[link], paths, rates);
  }
}

// The same rounds with the open links in a binary min-heap that holds each link once: a
// share that changes moves its link in place, a link with no flow left to rate leaves.
void MaxMinSolver::fill_by_heap(std::span<const std::span<const LinkId>> paths, std::vector<double>& rates) {
  open_.assign(used_.begin(), used_.end());
  std::make_heap(open_.begin(), open_.end(), [this](LinkId a, LinkId b) { return before(b, a); });
  for (std::size_t i = 0; i < open_.size(); ++i) position_[open_[i]] = static_cast<std::uint32_t>(i);
  while (!open_.empty()) {
    const LinkId link = open_.front();
    remove_from_heap(0);
    freeze(link, share_[link], paths, rates);
    for (LinkId l : changed_) {
      if (l == link) continue;
      if (unfrozen_[l] == 0) {
        remove_from_heap(position_[l]);
      } else {
        // Freezing at the smallest share only raises the others', but the clamp of the
        // remaining capacity at zero can lower one.
        sift_up(position_[l]);
        sift_down(position_[l]);
      }
    }
  }
}

bool MaxMinSolver::before(LinkId a, LinkId b) const {
  return share_[a] < share_[b] || (share_[a] == share_[b] && a < b);
}

void MaxMinSolver::place(std::size_t at, LinkId link) {
  open_[at] = link;
  position_[link] = static_cast<std::uint32_t>(at);
}

void MaxMinSolver::sift_up(std::size_t at) {
  const LinkId link = open_[at];
  while (at > 0 && before(link, open_[(at - 1) / 2])) {
    place(at, open_[(at - 1) / 2]);
    at = (at - 1) / 2;
  }
  place(at, link);
}

void MaxMinSolver::sift_down(std::size_t at) {
  const LinkId link = open_[at];
  for (;;) {
    std::size_t child = 2 * at + 1;
    if (child >= open_.size()) break;
    if (child + 1 < open_.size() && before(open_[child + 1], open_[child])) ++child;
    if (!before(open_[child], link)) break;
    place(at, open_[child]);
    at = child;
  }
  place(at, link);
}

void MaxMinSolver::remove_from_heap(std::size_t at) {
  const LinkId last = open_.back();
  open_.pop_back();
  if (at == open_.size()) return;
  const LinkId removed = open_[at];
  place(at, last);
  if (before(last, removed)) {
    sift_up(at);
  } else {
    sift_down(at);
  }
}

}  // namespace foresight
