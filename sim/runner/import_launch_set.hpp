#pragma once
// `foresight import sglang|vllm` of several servers' launch commands at once (docs/import.md):
// prefill-decode disaggregation, whose servers and router each have a command of their own,
// given as the script that runs them (`bash launch.sh`) or as words with ';' between the
// commands.
// - SGLang: `python -m sglang.launch_server ... --disaggregation-mode prefill|decode` per server,
//   and sglang_router's `--pd-disaggregation --prefill URL --decode URL ...` (or mini_lb).
// - vLLM: `vllm serve ... --kv-transfer-config '{...}'` per server, a prefiller or a decoder by
//   its kv_role (kv_producer, kv_consumer) or, for kv_both (NIXL), by the port the proxy lists
//   it under (`--prefiller-hosts/-ports`, `--decoder-hosts/-ports`).
// The prefill servers become the prefill replicas and the decode servers the decode replicas, as
// many as the router lists (one per command without one); decode servers of another TP, PP or
// batch limits make a decode pool (import_disaggregated.hpp).
#include <string>
#include <vector>

#include "sim/runner/import_support.hpp"

namespace foresight {

// True when `tool` (sglang or vllm) reads `words` as a launch set: several commands (a ';', '&'
// or '&&' word), a script (`bash FILE`, `sh FILE` or FILE.sh alone), or an SGLang server with
// --disaggregation-mode.
bool is_launch_set(const std::string& tool, const std::vector<std::string>& words);

// A set with one plain server among its commands imports as that server.
Imported import_launch_set(const ImportOptions& o);

}  // namespace foresight
