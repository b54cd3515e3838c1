// Sarathi-Serve's chunked prefill: every running sequence decodes first, then chunks of
// prompts (those partly prefilled, then new ones) fill the iteration's token budget
// (chunk_size). With whole_prompts (TensorRT-LLM without chunked context) a new prompt
// joins only if all of it fits in what the decodes leave; one longer than the whole
// budget runs alone beside the decodes. Under data-parallel attention a chunk is at most
// one rank's share of the budget.
#include <algorithm>

#include "workloads/serving_config.hpp"
#include "workloads/serving_policies/builtin.hpp"

namespace foresight {
namespace {
class ChunkedPrefill final : public BatchScheduler {
 public:
  void plan(BatchPlan& replica) const override {
    const ServingConfig& c = replica.config();
    const auto decodes = static_cast<std::int64_t>(replica.decode_all(1));
    std::int64_t budget = c.chunk_size - decodes * replica.tokens_per_decode();
    const std::int64_t most = c.sequence_chunk_limit(c.chunk_size);
    for (std::size_t i = 0; i < replica.running() && budget > 0; ++i) {
      const std::int64_t left = replica.prompt_left(i);
      if (left == 0) continue;
      const std::int64_t chunk = std::min({budget, left, most});
      replica.prefill(i, chunk);
      budget -= chunk;
    }
    while (budget > 0 && static_cast<std::int64_t>(replica.running()) < c.max_num_seqs) {
      const std::optional<AdmissionCandidate> candidate = replica.next_candidate();
      if (!candidate) break;
      const bool never_fits = candidate->demand > c.chunk_size && replica.prefills() == 0;
      if (c.engine.whole_prompts && candidate->demand > budget && !never_fits) break;
      const std::optional<std::size_t> index = replica.admit(*candidate);
      if (!index) break;
      const std::int64_t rest = replica.prompt_left(*index);
      const std::int64_t chunk = c.engine.whole_prompts ? rest : std::min({budget, rest, most});
      replica.prefill(*index, chunk);
      budget -= chunk;
    }
  }
};
}  // namespace

std::unique_ptr<BatchScheduler> make_sarathi_scheduler() { return std::make_unique<ChunkedPrefill>(); }

}  // namespace foresight
