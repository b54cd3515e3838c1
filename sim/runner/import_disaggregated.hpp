#pragma once
// What the importers of disaggregated serving share (TensorRT-LLM's config, SGLang's launch
// script): two pools of servers, the prefill one and the decode one, each with the serving
// settings its servers run, made into one scenario's serving section and cluster. The prefill
// servers' settings are the section's; the decode servers' shape and batch limits, where they
// differ, make a decode pool (serving.decode_pool); what only decode iterations use (their
// CUDA graphs, an overlap scheduler) is the decode servers'.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/runner/import_support.hpp"

namespace foresight {

struct ServerPool {
  std::string name;   // as the source names it: "context_servers", "prefill servers"
  std::string prose;  // in a sentence: "the generation servers", "the decode servers"
  std::int64_t replicas = 1;       // engine instances, each one of foresight's replicas
  std::vector<std::string> hosts;  // where the source says, one per server
  nlohmann::json serving = nlohmann::json::object();

  std::int64_t setting(const char* key, std::int64_t otherwise) const { return serving.value(key, otherwise); }
  // In floating point: a source's counts may multiply past what an integer holds.
  double gpus() const { return static_cast<double>(replicas) * static_cast<double>(setting("tp", 1)) * static_cast<double>(setting("pp", 1)); }
};

// The engine's names for a pool's limits, and the serving keys only decodes use.
struct PoolKeys {
  std::string engine;         // where the pools' serving names none: the preset whose defaults fill the limits a pool leaves out
  const char* max_sequences;  // TensorRT-LLM's max_batch_size, SGLang's max_running_requests
  const char* max_tokens;     // max_num_tokens, chunked_prefill_size
  std::vector<std::string> decode_side;
};

struct DisaggregatedCluster {
  nlohmann::json serving;
  nlohmann::json hardware;
};

// The serving section and the cluster for the two pools on `gpu`, in machines of 8 GPUs (a
// source names hosts, not their GPUs); `source` is the file errors name. Each assumption and
// each setting one pool's servers cannot have apart from the other's goes into `r`.
DisaggregatedCluster disaggregated_cluster(const ServerPool& prefill, const ServerPool& decode, const PoolKeys& keys, const std::string& source,
                                           const std::string& gpu, Imported& r);

// A mapped line "--flag value -> serving.key = value" as a decode server's: "-> the decode
// replicas' key = value" (the scenario's serving section holds the prefill servers').
std::string as_decode_replicas(std::string line);

}  // namespace foresight
