// First come, first served: the earliest waiting request that may run (vLLM's default;
// SGLang's fcfs).
#include "workloads/serving_policies/builtin.hpp"

namespace foresight {
namespace {
class FirstComeFirstServed final : public AdmissionOrder {
 public:
  std::optional<std::size_t> pick(const WaitingQueue& waiting) const override {
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      if (waiting.admissible(i)) return i;
    }
    return std::nullopt;
  }
};
}  // namespace

std::unique_ptr<AdmissionOrder> make_first_come_first_served() { return std::make_unique<FirstComeFirstServed>(); }

}  // namespace foresight
