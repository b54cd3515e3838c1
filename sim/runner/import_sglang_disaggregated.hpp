#pragma once
// `foresight import sglang` of SGLang's prefill-decode disaggregation (docs/import.md): the
// servers' `python -m sglang.launch_server --disaggregation-mode prefill|decode` commands and
// the router's (`python -m sglang_router.launch_router --pd-disaggregation --prefill URL
// --decode URL ...`), given as a launch script (`bash launch.sh`) or as words with ';' between
// the commands. The prefill servers become the prefill replicas and the decode servers the
// decode replicas, as many as the router lists (one per command without a router); decode
// servers of another TP, PP or batch limits make a decode pool (import_disaggregated.hpp).
#include <vector>
#include <string>

#include "sim/runner/import_support.hpp"

namespace foresight {

// True when the words hold several commands (a ';', '&' or '&&' word), a script to read
// (`bash FILE`, `sh FILE` or FILE.sh alone) or a server with --disaggregation-mode.
bool is_sglang_launch_set(const std::vector<std::string>& words);

// A script or a set of commands with one plain server among them imports as that server.
Imported import_sglang_launch_set(const ImportOptions& o);

}  // namespace foresight
