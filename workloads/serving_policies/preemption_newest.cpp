// vLLM's preemption: the most recently admitted sequence gives its blocks up and waits at
// the head of the queue, recomputed when readmitted or, with swap, copied to host memory
// and back (recomputed when host memory is full).
#include "workloads/serving_policies/builtin.hpp"

namespace foresight {
namespace {
class NewestPreempted final : public PreemptionPolicy {
 public:
  explicit NewestPreempted(bool swaps) : swaps_(swaps) {}
  std::size_t victim(std::span<const RunningSequence> running) const override { return running.size() - 1; }
  bool swaps() const override { return swaps_; }

 private:
  bool swaps_;
};
}  // namespace

std::unique_ptr<PreemptionPolicy> make_newest_preempted(bool swaps) { return std::make_unique<NewestPreempted>(swaps); }

}  // namespace foresight
