#pragma once
// `foresight export vllm SCENARIO`: the reverse of `foresight import vllm`. The `vllm serve`
// command that runs the scenario's replicas as vLLM would (one command per replica group,
// data-parallel over the replicas), so that a configuration chosen by `capacity` or a sweep
// can be launched. What vLLM's flags cannot say (traffic, routing, disaggregated pools, the
// engine's host costs) is listed in comments above the command.
#include <string>

namespace foresight {

struct Scenario;

// Throws InputError for a training scenario or an engine other than vLLM's.
std::string vllm_launch_text(const Scenario& s, const std::string& label);

}  // namespace foresight
