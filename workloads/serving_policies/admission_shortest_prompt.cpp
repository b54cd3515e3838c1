// Length-aware admission: of the waiting requests that may run, the one with the fewest
// tokens to prefill (the earliest among equals). Shortest-job-first on the part of the
// job the engine knows on arrival: short prompts no longer queue behind long ones, at the
// cost of long prompts' waiting time (they can starve under sustained load; the lookahead
// bounds how far back the queue is searched).
#include "workloads/serving_policies/builtin.hpp"

namespace foresight {
namespace {
class ShortestPromptFirst final : public AdmissionOrder {
 public:
  std::optional<std::size_t> pick(const WaitingQueue& waiting) const override {
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      if (waiting.admissible(i) && (!best || waiting.demand(i) < waiting.demand(*best))) best = i;
    }
    return best;
  }
};
}  // namespace

std::unique_ptr<AdmissionOrder> make_shortest_prompt_first() { return std::make_unique<ShortestPromptFirst>(); }

}  // namespace foresight
