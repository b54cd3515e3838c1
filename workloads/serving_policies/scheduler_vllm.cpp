// vLLM V0's continuous batching: prefills first, as many waiting prompts as the token and
// sequence limits and the free blocks allow, in an iteration of their own; otherwise every
// running sequence decodes (num_scheduler_steps tokens at a time with vLLM 0.6's
// multi-step scheduling). With chunk_prompts (SGLang's chunked prefill) the batch's last
// prompt is cut at the budget and its remainder prefilled first in the next iterations.
// With router_max_wait_tokens (LightLLM's router) a running batch admits only every that
// many decode steps.
#include <algorithm>

#include "workloads/serving_config.hpp"
#include "workloads/serving_policies/builtin.hpp"

namespace foresight {
namespace {
class PrefillFirst final : public BatchScheduler {
 public:
  void plan(BatchPlan& replica) const override {
    const ServingConfig& c = replica.config();
    const bool chunk = c.engine.chunk_prompts;
    const std::int64_t budget = c.max_batched_tokens;
    const std::int64_t most = c.sequence_chunk_limit(budget);
    std::int64_t tokens = 0;
    for (std::size_t i = 0; chunk && i < replica.running() && tokens < budget; ++i) {
      const std::int64_t left = replica.prompt_left(i);
      if (left == 0) continue;
      const std::int64_t piece = std::min({budget - tokens, left, most});
      replica.prefill(i, piece);
      tokens += piece;
    }
    // LightLLM's router lets a running batch decode router_max_wait_tokens steps between
    // admissions; an idle one admits at once.
    const std::int64_t wait = c.engine.decodes_between_admissions;
    const bool admitting = wait == 0 || replica.running() == 0 || replica.decodes_since_prefill() >= wait;
    while (admitting && static_cast<std::int64_t>(replica.running()) < c.max_num_seqs && (!chunk || tokens < budget)) {
      const std::optional<AdmissionCandidate> candidate = replica.next_candidate();
      if (!candidate) break;
      if (!chunk && tokens > 0 && tokens + candidate->demand > budget) break;
      const std::optional<std::size_t> index = replica.admit(*candidate);
      if (!index) break;
      const std::int64_t rest = replica.prompt_left(*index);
      const std::int64_t piece = chunk ? std::min({budget - tokens, rest, most}) : rest;
      replica.prefill(*index, piece);
      tokens += piece;
    }
    if (replica.prefills() == 0 && !replica.prefill_only()) replica.decode_all(c.engine.scheduler_steps);
  }
};
}  // namespace

std::unique_ptr<BatchScheduler> make_vllm_scheduler() { return std::make_unique<PrefillFirst>(); }

}  // namespace foresight
