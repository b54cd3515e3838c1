#pragma once
// `foresight export sglang SCENARIO`: the reverse of `foresight import sglang`. The
// `python3 -m sglang.launch_server` command that runs the scenario's replicas as SGLang
// would (data-parallel over the replicas), so that a configuration chosen by `capacity`
// or a sweep can be launched. What SGLang's flags cannot say (traffic, routing,
// disaggregated pools, the engine's host costs) is listed in comments above the command.
#include <string>

namespace foresight {

struct Scenario;

// Throws InputError for a training scenario or an engine other than SGLang's.
std::string sglang_launch_text(const Scenario& s, const std::string& label);

}  // namespace foresight
