#include "sim/runner/import_trtllm_disaggregated.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "sim/input/input_error.hpp"
#include "sim/runner/import_command.hpp"
#include "sim/runner/import_disaggregated.hpp"
#include "sim/runner/import_nemo.hpp"
#include "workloads/serving_config.hpp"

namespace foresight {
namespace {
constexpr const char* kContext = "context_servers";
constexpr const char* kGeneration = "generation_servers";

struct Command {
  std::string config;
  std::size_t program = 0;  // the index of trtllm-serve
};

bool is_trtllm_serve(const std::string& word) { return word == "trtllm-serve" || word.ends_with("/trtllm-serve"); }

Command read_command(const std::vector<std::string>& words, Imported& r) {
  Command c;
  while (c.program < words.size() && !is_trtllm_serve(words[c.program])) ++c.program;
  if (c.program > 0) {
    std::string launcher;
    for (std::size_t i = 0; i < c.program; ++i) launcher += (i == 0 ? "" : " ") + words[i];
    r.dropped.push_back(launcher + " (the launcher: the servers' ranks are the config's pools)");
  }
  for (std::size_t i = c.program + 2; i < words.size(); ++i) {
    const WrittenFlag flag = split_flag(words[i]);
    const std::optional<std::string> value = flag_value(words, i, flag.inline_value);
    if (flag.name == "-c" || flag.name == "--config_file") {
      if (!value) throw InputError("", flag.name, "expected the disaggregated config's path after it");
      c.config = *value;
    } else if (flag.name == "-m" || flag.name == "--metadata_server_config_file") {
      r.not_modelled.push_back(flag.name + " " + value.value_or(""));
    } else {
      r.dropped.push_back(flag.name + (value ? " " + *value : ""));
    }
  }
  if (c.config.empty()) throw InputError("", "the launch command", "no config: expected `trtllm-serve disaggregated -c disagg_config.yaml`");
  return c;
}

std::int64_t instance_count(const std::string& path, const std::string& where, const nlohmann::json& value) {
  const std::string text = value.is_string() ? value.get<std::string>() : "";
  std::int64_t n = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || n < 0 || n > 100000) {
    throw InputError(path, where, "expected a whole number of servers, got \"" + text + "\"");
  }
  if (n == 0) {
    throw InputError(path, where, "0 servers: a pool without servers (TensorRT-LLM's generation-only benchmarking) is not modelled; "
                                  "both pools need at least one");
  }
  return n;
}

// The hosts of a pool's "host:port" URLs, one per server.
std::vector<std::string> url_hosts(const std::string& path, const std::string& where, const nlohmann::json& urls, std::int64_t instances) {
  if (!urls.is_array()) throw InputError(path, where, "expected a block list of \"host:port\" lines");
  if (static_cast<std::int64_t>(urls.size()) != instances) {
    throw InputError(path, where, std::to_string(urls.size()) + " URLs for num_instances " + std::to_string(instances) + ": one per server");
  }
  std::vector<std::string> hosts;
  for (const nlohmann::json& url : urls) {
    const std::string text = url.get<std::string>();
    hosts.push_back(text.substr(0, text.rfind(':')));
  }
  return hosts;
}

// Keys at the config's top level that are the router's, not the servers' LLM options.
bool is_router_key(const std::string& key) {
  static const std::set<std::string> kKeys = {"hostname", "port", "model", "backend", "max_retries", "perf_metrics_max_requests",
                                              "conditional_disagg_config", kContext, kGeneration};
  return kKeys.contains(key);
}

// The top level's LLM-API options, which a pool takes where its section leaves them out:
// listed once, those a pool takes.
nlohmann::json shared_options(const std::string& path, const nlohmann::json& root, Imported& r) {
  nlohmann::json options = nlohmann::json::object(), taken = nlohmann::json::object();
  const auto has = [&root](const char* pool, const std::string& key) { return root.contains(pool) && root[pool].is_object() && root[pool].contains(key); };
  for (const auto& [key, value] : root.items()) {
    if (is_router_key(key)) continue;
    options[key] = value;
    if (!has(kContext, key) || !has(kGeneration, key)) taken[key] = value;
  }
  std::map<std::string, std::string> flat;
  flatten_yaml(taken, "", flat);
  nlohmann::json unused;
  apply_trtllm_option_map(flat, {path, "top level", ""}, unused, r);
  return options;
}

ServerPool read_pool(const std::string& path, const nlohmann::json& root, const nlohmann::json& shared, const char* name, Imported& r) {
  ServerPool pool;
  pool.name = name;
  pool.prose = name == std::string(kContext) ? "the context servers" : "the generation servers";
  if (!root.contains(name) || !root[name].is_object()) {
    throw InputError(path, name, "expected a mapping of the pool's servers (num_instances, urls and their LLM-API options)");
  }
  nlohmann::json own = root[name];
  if (own.contains("num_instances")) pool.replicas = instance_count(path, pool.name + ".num_instances", own["num_instances"]);
  if (own.contains("urls")) pool.hosts = url_hosts(path, pool.name + ".urls", own["urls"], pool.replicas);
  if (own.contains("router")) r.not_modelled.push_back(pool.name + ".router (the router's policy: serving.router routes both pools)");
  for (const char* key : {"num_instances", "urls", "router"}) own.erase(key);
  // TensorRT-LLM gives a pool each top-level key its section leaves out, whole.
  nlohmann::json inherited = nlohmann::json::object();
  for (const auto& [key, value] : shared.items()) {
    if (!own.contains(key)) inherited[key] = value;
  }
  std::map<std::string, std::string> flat_own, flat_inherited;
  flatten_yaml(own, "", flat_own);
  flatten_yaml(inherited, "", flat_inherited);
  Imported listed_at_top_level, listed_here;
  apply_trtllm_option_map(flat_inherited, {path, pool.name, ""}, pool.serving, listed_at_top_level);
  apply_trtllm_option_map(flat_own, {path, pool.name, pool.name + "."}, pool.serving, listed_here);
  // The generation servers' settings are the decode replicas'; the scenario's serving section
  // holds the context servers'.
  for (const std::string& line : listed_here.mapped) r.mapped.push_back(pool.name == kGeneration ? as_decode_replicas(line) : line);
  for (auto [into, from] : {std::pair{&r.dropped, &listed_here.dropped}, std::pair{&r.not_modelled, &listed_here.not_modelled}}) {
    into->insert(into->end(), from->begin(), from->end());
  }
  return pool;
}

// What only decode iterations use: their CUDA graphs (cuda_graph_config, use_cuda_graph), and
// the overlap scheduler, which TensorRT-LLM's context servers run without.
PoolKeys trtllm_pool_keys() { return {"trtllm", "max_batch_size", "max_num_tokens", {"cuda_graph_max_bs", "enforce_eager", "host"}}; }

std::string model_id(const std::string& path, const nlohmann::json& root) {
  if (!root.contains("model") || !root["model"].is_string()) {
    throw InputError(path, "model", "the config names no model: TensorRT-LLM's MPI-worker form carries it at the top level "
                                    "(model: <HuggingFace id>); for servers started by their own trtllm-serve commands, add it and "
                                    "each pool's tensor_parallel_size and limits to a copy of the config");
  }
  return root["model"].get<std::string>();
}

// conditional_disagg_config.max_local_prefill_length: the generation server prefills prompts
// this short itself (TensorRT-LLM's disaggregated server, by length alone: no queue rule).
std::optional<std::int64_t> max_local_prefill_length(const std::string& file, const nlohmann::json& root, Imported& r) {
  if (!root.contains("conditional_disagg_config")) return std::nullopt;
  const nlohmann::json& given = root["conditional_disagg_config"];
  const nlohmann::json* value = given.is_object() && given.contains("max_local_prefill_length") ? &given["max_local_prefill_length"] : nullptr;
  const std::string text = value != nullptr && value->is_string() ? value->get<std::string>() : "";  // the YAML reader's scalars
  std::int64_t length = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), length);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || length < 0 || length > 1'000'000'000) {
    throw InputError(file, "conditional_disagg_config.max_local_prefill_length",
                     "expected a whole number of tokens, 0 or more, got " + (value == nullptr ? std::string("nothing") : value->dump()));
  }
  r.mapped.push_back("conditional_disagg_config.max_local_prefill_length " + text +
                     " -> serving.conditional_disagg.max_local_prefill_length (no queue rule: max_prefill_queue_size " +
                     std::to_string(ServingConfig::kNoPrefillQueueRule) + ")");
  return length;
}
}  // namespace

bool is_trtllm_disaggregated(const std::vector<std::string>& words) {
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (is_trtllm_serve(words[i]) && (words[i + 1] == "disaggregated" || words[i + 1] == "disaggregated_mpi_worker")) return true;
  }
  return false;
}

Imported import_trtllm_disaggregated(const ImportOptions& o) {
  Imported r;
  const Command command = read_command(o.command, r);
  const nlohmann::json root = read_yaml_mappings(command.config);
  const std::string id = model_id(command.config, root);
  const std::optional<nlohmann::json> model = catalog_model_for(id);
  if (!model) {
    throw InputError(command.config, "model", "model \"" + id + "\" is not in foresight's catalog (`foresight list models`); "
                                              "download its config.json and give the folder holding it as the model");
  }
  for (const char* key : {"hostname", "port", "backend", "max_retries", "perf_metrics_max_requests"}) {
    if (root.contains(key)) r.dropped.push_back(std::string(key) + ": " + root[key].dump());
  }
  const std::optional<std::int64_t> local_prefill = max_local_prefill_length(command.config, root, r);
  const nlohmann::json shared = shared_options(command.config, root, r);
  const ServerPool context = read_pool(command.config, root, shared, kContext, r);
  const ServerPool generation = read_pool(command.config, root, shared, kGeneration, r);
  r.mapped.push_back(std::string(kContext) + ".num_instances " + std::to_string(context.replicas) + ", " + kGeneration + ".num_instances " +
                     std::to_string(generation.replicas) + " -> serving.prefill_replicas = " + std::to_string(context.replicas) +
                     ", serving.replicas = " + std::to_string(context.replicas + generation.replicas));
  DisaggregatedCluster cluster = disaggregated_cluster(context, generation, trtllm_pool_keys(), command.config, o.gpu, r);
  if (local_prefill) {
    cluster.serving["conditional_disagg"] = {{"max_local_prefill_length", *local_prefill}, {"max_prefill_queue_size", ServingConfig::kNoPrefillQueueRule}};
  }
  r.scenario = {{"name", "trtllm-serve disaggregated " + id},
                {"description", "Imported from a TensorRT-LLM disaggregated config by `foresight import`."},
                {"hardware", cluster.hardware},
                {"model", *model},
                {"serving", cluster.serving}};
  return r;
}

}  // namespace foresight
