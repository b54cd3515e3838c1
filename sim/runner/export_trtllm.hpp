#pragma once
// `foresight export trtllm SCENARIO`: the reverse of `foresight import trtllm`. The
// trtllm-serve command that runs one of the scenario's replicas as TensorRT-LLM 1.0's
// PyTorch backend would, with the LLM API options trtllm-serve has no flag for written to
// the --extra_llm_api_options YAML beside it (a here-document). What neither can say
// (traffic, replicas and routing, the engine's host costs) is listed in
// comments above the command. Disaggregated pools become one trtllm-serve per context and
// generation server, each pool's YAML with its cache transceiver, and the disaggregated
// server's config and command (TensorRT-LLM's examples/disaggregated/README.md).
#include <string>

namespace foresight {

struct Scenario;

// Throws InputError for a training scenario or an engine other than TensorRT-LLM's.
std::string trtllm_launch_text(const Scenario& s, const std::string& label);

}  // namespace foresight
