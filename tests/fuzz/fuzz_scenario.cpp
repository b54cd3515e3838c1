// Surface: a scenario document (training or serving), read and, when small, simulated.
// The limits below only keep each input to milliseconds; every scenario is still read.
#include "fuzz_target.hpp"
#include "sim/input/json_document.hpp"
#include "sim/runner/scenario.hpp"
#include "workloads/iteration_cost.hpp"
#include "workloads/serving_simulation.hpp"
#include "workloads/serving_traffic.hpp"
#include "workloads/training_step.hpp"

namespace foresight::fuzz {

// Simulations stay under a few milliseconds, so the fuzzer keeps its pace.
constexpr std::int64_t kMaxRequests = 200;
constexpr std::int64_t kMaxTokensPerRequest = 4096;
constexpr std::int64_t kMaxGpus = 64;
constexpr std::int64_t kMaxMicroBatches = 16;
constexpr std::int64_t kMaxLayers = 128;

void fuzz_input(std::string_view data) {
  const Scenario s = parse_scenario(parse_json_text(data, "fuzz.json"), "fuzz.json", "", {});
  if (s.is_serving) {
    const TrafficConfig& t = s.serving.traffic;
    if (!t.trace.empty() || !t.lengths_from.empty() || t.requests > kMaxRequests || t.prompt.max + t.output.max > kMaxTokensPerRequest) return;
    IterationCostModel cost(s.model, s.gpu, s.fabric, s.serving, *s.cost_model);
    if (!cost.kv_room_problem().empty()) return;
    const std::vector<Request> requests = make_requests(s.serving.traffic, s.seed);
    require_servable(s.serving, cost, requests, s.source);
    (void)simulate_serving(s.serving, requests, cost);
    return;
  }
  if (s.training.gpus() > kMaxGpus || s.training.micro_batches() > kMaxMicroBatches || s.model.layers + s.model.encoder_layers > kMaxLayers) return;
  TrainingStep step(s.model, s.gpu, s.fabric, s.training, *s.cost_model);
  (void)step.run({});
}

}  // namespace foresight::fuzz
