#include "workloads/draft_tree.hpp"

#include <algorithm>
#include <cstddef>

namespace foresight {
namespace {

struct Drafted {
  std::int32_t parent;  // index into the drafted nodes; -1: the root
  std::int32_t rank;
  std::int64_t depth;
  double value;
};

// Most valuable first; among equals the one drafted first, so that a parent, drafted
// before its children and worth at least as much, always comes before them.
void sort_by_value(std::vector<std::int32_t>& order, const std::vector<Drafted>& drafted) {
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
    return drafted[static_cast<std::size_t>(a)].value > drafted[static_cast<std::size_t>(b)].value;
  });
}

// Every node EAGLE-2's draft steps produce, in the order they are drafted. Ranks past the
// given rates are drafted too, worth nothing: the model's token is never among them.
std::vector<Drafted> grow(const std::vector<double>& rates, std::int64_t steps, std::int64_t topk) {
  const auto width = static_cast<std::int32_t>(topk);
  const auto rate = [&](std::int32_t rank) { return static_cast<std::size_t>(rank) < rates.size() ? rates[static_cast<std::size_t>(rank)] : 0.0; };
  std::vector<Drafted> drafted;
  std::vector<std::int32_t> frontier;
  for (std::int32_t rank = 0; rank < width; ++rank) {
    frontier.push_back(static_cast<std::int32_t>(drafted.size()));
    drafted.push_back({-1, rank, 1, rate(rank)});
  }
  for (std::int64_t step = 2; step <= steps; ++step) {
    std::vector<std::int32_t> candidates;
    for (std::int32_t parent : frontier) {
      for (std::int32_t rank = 0; rank < width; ++rank) {
        candidates.push_back(static_cast<std::int32_t>(drafted.size()));
        drafted.push_back({parent, rank, step, drafted[static_cast<std::size_t>(parent)].value * rate(rank)});
      }
    }
    sort_by_value(candidates, drafted);
    candidates.resize(std::min<std::size_t>(candidates.size(), static_cast<std::size_t>(width)));
    frontier = std::move(candidates);
  }
  return drafted;
}

}  // namespace

DraftTree::DraftTree(const std::vector<double>& rank_rates, std::int64_t steps, std::int64_t topk, std::int64_t verified_tokens)
    : rank_rates_(rank_rates), child_(1) {
  const std::vector<Drafted> drafted = grow(rank_rates_, steps, topk);
  std::vector<std::int32_t> order(drafted.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int32_t>(i);
  sort_by_value(order, drafted);
  order.resize(std::min<std::size_t>(order.size(), static_cast<std::size_t>(std::max<std::int64_t>(verified_tokens - 1, 0))));
  // Chosen nodes in drafting order, so that each parent has its tree index before its children.
  std::sort(order.begin(), order.end());
  std::vector<std::int32_t> tree_index(drafted.size(), -1);
  for (std::int32_t d : order) {
    const Drafted& node = drafted[static_cast<std::size_t>(d)];
    const std::int32_t parent = node.parent < 0 ? 0 : tree_index[static_cast<std::size_t>(node.parent)];
    if (parent < 0) continue;  // unreachable: a chosen node's parent is worth at least as much
    tree_index[static_cast<std::size_t>(d)] = static_cast<std::int32_t>(child_.size());
    child_.emplace_back();
    std::vector<std::int32_t>& siblings = child_[static_cast<std::size_t>(parent)];
    if (siblings.size() <= static_cast<std::size_t>(node.rank)) siblings.resize(static_cast<std::size_t>(node.rank) + 1, -1);
    siblings[static_cast<std::size_t>(node.rank)] = tree_index[static_cast<std::size_t>(d)];
    expected_tokens_ += node.value;
    depth_ = std::max(depth_, node.depth);
  }
}

std::int32_t DraftTree::rank_of(double u) const {
  double below = 0;
  for (std::size_t rank = 0; rank < rank_rates_.size(); ++rank) {
    below += rank_rates_[rank];
    if (u < below) return static_cast<std::int32_t>(rank);
  }
  return -1;
}

}  // namespace foresight
