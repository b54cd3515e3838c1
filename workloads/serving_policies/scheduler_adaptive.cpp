// Adaptive chunking (Medha, Agrawal et al. 2024): chunked prefill as Sarathi-Serve runs
// it, but a prompt's chunks shrink as its context grows, so that no iteration's prefill
// takes longer than a chunk of the whole budget at the start of a prompt would. A fixed
// chunk's attention grows with the keys before it; on long prompts late chunks would
// otherwise stall the decodes beside them many times longer than early ones.
#include <algorithm>
#include <limits>

#include "workloads/serving_config.hpp"
#include "workloads/serving_policies/builtin.hpp"

namespace foresight {
namespace {
// Chunks are sized in steps of this many tokens (a prompt's last chunk is what is left).
constexpr std::int64_t kChunkStep = 256;

class AdaptiveChunkedPrefill final : public BatchScheduler {
 public:
  void plan(BatchPlan& replica) const override {
    const ServingConfig& c = replica.config();
    const auto decodes = static_cast<std::int64_t>(replica.decode_all(1));
    std::int64_t budget = c.chunk_size - decodes * replica.tokens_per_decode();
    if (budget <= 0) return;
    Time time_left = replica.chunk_layer_time(budget, 0);
    if (time_left <= 0) time_left = std::numeric_limits<Time>::max();  // a cost model that times nothing: no limit
    const auto add = [&](std::size_t index) {
      const std::int64_t most = std::min({budget, replica.prompt_left(index), c.sequence_chunk_limit(c.chunk_size)});
      const std::int64_t chunk = fitting_chunk(replica, most, replica.cached(index), time_left);
      replica.prefill(index, chunk);
      budget -= chunk;
      if (chunk > 0) time_left -= replica.chunk_layer_time(chunk, replica.cached(index));
    };
    for (std::size_t i = 0; i < replica.running() && budget > 0 && time_left > 0; ++i) {
      if (replica.prompt_left(i) > 0) add(i);
    }
    while (budget > 0 && time_left > 0 && static_cast<std::int64_t>(replica.running()) < c.max_num_seqs) {
      const std::optional<AdmissionCandidate> candidate = replica.next_candidate();
      if (!candidate) break;
      const std::optional<std::size_t> index = replica.admit(*candidate);
      if (!index) break;
      add(*index);
    }
  }

 private:
  // The longest chunk of at most `most` tokens, in whole steps, whose layer time fits
  // `time_left`; at least one step (or `most`), so that every prompt moves on.
  static std::int64_t fitting_chunk(BatchPlan& replica, std::int64_t most, std::int64_t context, Time time_left) {
    if (most == 0 || replica.chunk_layer_time(most, context) <= time_left) return most;
    std::int64_t low = 0, high = most / kChunkStep;  // in steps: low fits (or is 0), high does not
    while (high - low > 1) {
      const std::int64_t mid = (low + high) / 2;
      (replica.chunk_layer_time(mid * kChunkStep, context) <= time_left ? low : high) = mid;
    }
    return std::max(low * kChunkStep, std::min(most, kChunkStep));
  }
};
}  // namespace

std::unique_ptr<BatchScheduler> make_adaptive_scheduler() { return std::make_unique<AdaptiveChunkedPrefill>(); }

}  // namespace foresight
