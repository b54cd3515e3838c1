#pragma once
// `foresight import trtllm -- trtllm-serve disaggregated -c disagg_config.yaml` (docs/import.md):
// TensorRT-LLM's disaggregated serving from the config its router and its MPI workers read
// (examples/disaggregated/README.md). The context servers become the prefill replicas and the
// generation servers the decode replicas; each pool's LLM-API options are its own section's,
// plus the top level's where the section lacks a key (TensorRT-LLM's inheritance), read as a
// trtllm-serve YAML's. Generation servers of another TP, PP or batch limits than the context
// servers' make a decode pool.
#include <string>
#include <vector>

#include "sim/runner/import_support.hpp"

namespace foresight {

struct ImportOptions;

// True when the command runs `trtllm-serve disaggregated` or `disaggregated_mpi_worker`.
bool is_trtllm_disaggregated(const std::vector<std::string>& words);

Imported import_trtllm_disaggregated(const ImportOptions& o);

}  // namespace foresight
