// SGLang's longest-prefix-match policy: of the waiting requests that may run, the one with
// the most cached prefix blocks (the earliest among equals), so that requests sharing a
// cached prefix run while it is still cached.
#include "workloads/serving_policies/builtin.hpp"

namespace foresight {
namespace {
class LongestPrefixMatch final : public AdmissionOrder {
 public:
  std::optional<std::size_t> pick(const WaitingQueue& waiting) const override {
    std::optional<std::size_t> best;
    std::int32_t best_cached = -1;
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      if (!waiting.admissible(i)) continue;
      const std::int32_t cached = waiting.cached_prefix_blocks(i);
      if (cached > best_cached) {
        best = i;
        best_cached = cached;
      }
    }
    return best;
  }
};
}  // namespace

std::unique_ptr<AdmissionOrder> make_longest_prefix_match() { return std::make_unique<LongestPrefixMatch>(); }

}  // namespace foresight
