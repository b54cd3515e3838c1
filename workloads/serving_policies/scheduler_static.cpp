// Static batching (FasterTransformer): up to max_num_seqs waiting prompts are prefilled
// together, then the batch decodes until its last sequence ends; only then is the next
// batch formed.
#include "workloads/serving_config.hpp"
#include "workloads/serving_policies/builtin.hpp"

namespace foresight {
namespace {
class StaticBatching final : public BatchScheduler {
 public:
  void plan(BatchPlan& replica) const override {
    if (replica.running() == 0) {
      while (static_cast<std::int64_t>(replica.running()) < replica.config().max_num_seqs) {
        const std::optional<AdmissionCandidate> candidate = replica.next_candidate();
        if (!candidate) break;
        const std::optional<std::size_t> index = replica.admit(*candidate);
        if (!index) break;
        replica.prefill(*index, replica.prompt_left(*index));
      }
      if (replica.prefills() > 0) return;
    }
    replica.decode_all(1);
  }
};
}  // namespace

std::unique_ptr<BatchScheduler> make_static_scheduler() { return std::make_unique<StaticBatching>(); }

}  // namespace foresight
