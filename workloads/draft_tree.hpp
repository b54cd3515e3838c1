#pragma once
// EAGLE-2's dynamic draft tree (Li et al. 2024, "EAGLE-2: Faster Inference of Language
// Models with Dynamic Draft Trees"), grown from how often the model's next token is the
// drafter's first, second, ... most likely candidate. EAGLE-2 observes that a drafter's
// confidence approximates the chance its token is accepted, so it values a node by the
// product of the confidences along its path: the chance every token on the path is
// accepted. Its first draft step takes the drafter's top-k candidates; each later step
// expands the k most valuable nodes of the step before, k candidates each, and keeps the k
// most valuable of those k^2 as the next frontier; the verification then takes the
// num_draft_tokens - 1 most valuable nodes of all drafted (a subtree, as a child is never
// worth more than its parent) and the model's own token.
//
// Here a node's value is the product of its path's rank rates, the same for every
// sequence: the tree is the one EAGLE-2 grows for a drafter that, on average over contexts,
// puts the model's token at rank j with probability rates[j]. A verification pass then
// yields 1 + (sum of the chosen nodes' values) tokens on average, when ranks at successive
// depths are independent. What EAGLE-2 also gains from context (deep chains where the
// drafter is sure, wide trees where it is not) is not in this average.
#include <cstdint>
#include <vector>

namespace foresight {

class DraftTree {
 public:
  // rank_rates[j]: probability the model's next token is the drafter's (j+1)-th candidate,
  // summing to at most 1; steps: draft passes (depth); topk: candidates per expansion;
  // verified_tokens: tokens per sequence the verification pass takes, the model's included.
  DraftTree(const std::vector<double>& rank_rates, std::int64_t steps, std::int64_t topk, std::int64_t verified_tokens);

  // Mean tokens a verification pass yields: the accepted path and the model's own token.
  double expected_tokens() const { return expected_tokens_; }
  std::int64_t nodes() const { return static_cast<std::int64_t>(child_.size()) - 1; }
  std::int64_t depth() const { return depth_; }

  // Tokens one pass yields, given uniforms in [0, 1) drawn one per depth by `next_uniform`:
  // each picks the rank of the model's token there; the pass goes on while that candidate
  // was drafted and verified.
  template <typename Uniform>
  std::int64_t sample_tokens(Uniform&& next_uniform) const {
    std::int32_t node = 0;  // the root: the last token the model emitted
    std::int64_t accepted = 0;
    while (true) {
      const std::int32_t rank = rank_of(next_uniform());
      if (rank < 0) break;
      const std::vector<std::int32_t>& children = child_[static_cast<std::size_t>(node)];
      if (static_cast<std::size_t>(rank) >= children.size() || children[static_cast<std::size_t>(rank)] < 0) break;
      node = children[static_cast<std::size_t>(rank)];
      ++accepted;
    }
    return accepted + 1;
  }

 private:
  // The rank a uniform draw u lands on, or -1 when the model's token is none of the ranked ones.
  std::int32_t rank_of(double u) const;

  std::vector<double> rank_rates_;
  // child_[node][rank]: the verified child of `node` at that rank, or -1; node 0 is the root.
  std::vector<std::vector<std::int32_t>> child_;
  double expected_tokens_ = 1;
  std::int64_t depth_ = 0;
};

}  // namespace foresight
