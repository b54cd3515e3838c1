#include "sim/runner/import_disaggregated.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <set>

#include "models/gpu_spec.hpp"
#include "sim/input/input_error.hpp"
#include "workloads/serving_config.hpp"

namespace foresight {
namespace {
constexpr std::int64_t kGpusPerMachine = 8;
constexpr double kMostGpus = 65536;  // hardware.gpus' limit

bool is_per_pool(const std::string& key, const PoolKeys& keys) {
  return key == "tp" || key == "pp" || key == keys.max_sequences || key == keys.max_tokens;
}
bool is_decode_side(const std::string& key, const PoolKeys& keys) {
  return std::find(keys.decode_side.begin(), keys.decode_side.end(), key) != keys.decode_side.end();
}

void take_decode_side_settings(const ServerPool& prefill, const ServerPool& decode, const PoolKeys& keys, nlohmann::json& serving, Imported& r) {
  for (const std::string& key : keys.decode_side) {
    const nlohmann::json none;
    const nlohmann::json& mine = decode.serving.contains(key) ? decode.serving[key] : none;
    const nlohmann::json& theirs = prefill.serving.contains(key) ? prefill.serving[key] : none;
    if (mine.is_null()) serving.erase(key);
    else serving[key] = mine;
    if (mine != theirs) {
      r.assumed.push_back("serving." + key + ": " + decode.prose + "' setting (" + (mine.is_null() ? "the default" : mine.dump()) +
                          ") for every replica; " + prefill.prose + "' own (" + (theirs.is_null() ? "the default" : theirs.dump()) +
                          ") is not modelled per pool, and matters little to prefills");
    }
  }
}

// Settings one serving section holds for both pools: where the pools differ, the prefill
// servers' stands and the difference is listed.
void list_shared_differences(const ServerPool& prefill, const ServerPool& decode, const PoolKeys& keys, Imported& r) {
  std::set<std::string> names;
  for (const auto& [key, value] : prefill.serving.items()) names.insert(key);
  for (const auto& [key, value] : decode.serving.items()) names.insert(key);
  for (const std::string& key : names) {
    if (is_per_pool(key, keys) || is_decode_side(key, keys) || key == "replicas") continue;
    const nlohmann::json mine = decode.serving.value(key, nlohmann::json()), theirs = prefill.serving.value(key, nlohmann::json());
    if (mine == theirs) continue;
    r.not_modelled.push_back(decode.name + "' " + key + " = " + (mine.is_null() ? "the default" : mine.dump()) + " beside " + prefill.name +
                             "' " + (theirs.is_null() ? "the default" : theirs.dump()) + ": one setting serves both pools, " + prefill.prose + "'");
  }
}

bool shares_a_host(const ServerPool& a, const ServerPool& b) {
  return std::any_of(a.hosts.begin(), a.hosts.end(), [&b](const std::string& h) { return std::find(b.hosts.begin(), b.hosts.end(), h) != b.hosts.end(); });
}

// The decode servers' TP, PP and limits where they differ from the prefill servers': a decode
// pool of the same GPU. Limits a pool leaves out are the engine preset's.
std::optional<nlohmann::json> decode_pool(const ServerPool& prefill, const ServerPool& decode, const PoolKeys& keys, const ServingConfig& preset,
                                          const std::string& gpu, Imported& r) {
  const auto limits = [&](const ServerPool& p) {
    return std::array{p.setting("tp", 1), p.setting("pp", 1), p.setting(keys.max_sequences, preset.max_num_seqs),
                      p.setting(keys.max_tokens, preset.max_batched_tokens)};
  };
  const auto text = [&keys](const std::array<std::int64_t, 4>& l) {
    return "TP " + std::to_string(l[0]) + ", PP " + std::to_string(l[1]) + ", " + keys.max_sequences + " " + std::to_string(l[2]) + ", " +
           keys.max_tokens + " " + std::to_string(l[3]);
  };
  const std::array<std::int64_t, 4> mine = limits(decode), theirs = limits(prefill);
  if (mine == theirs) return std::nullopt;
  const bool one_host = shares_a_host(prefill, decode);
  r.assumed.push_back(decode.prose + "' " + text(mine) + " beside " + prefill.prose + "' " + text(theirs) +
                      ": a decode pool (serving.decode_pool) of " + gpu + ", " +
                      (one_host ? "on the prefill servers' machines, as the source puts both pools on one host (decode_pool.same_machines): "
                                  "the KV caches cross NVLink inside a machine (--set serving.decode_pool.gpu=NAME --set "
                                  "serving.decode_pool.same_machines=false for decode machines of another GPU)"
                                : "on machines of its own, the KV caches crossing their NICs (--set serving.decode_pool.gpu=NAME for another)"));
  nlohmann::json pool{{"gpu", gpu}, {"tp", mine[0]}, {"pp", mine[1]}, {"max_num_seqs", mine[2]}, {"max_batched_tokens", mine[3]}};
  if (one_host) pool["same_machines"] = true;
  return pool;
}

// A decode-side setting as the decode pool holds it: its key there and the decode servers'
// value, the engine's default where they leave it out ("host" holds async_scheduling).
std::pair<std::string, nlohmann::json> pool_setting(const std::string& key, const nlohmann::json& value, const ServingConfig& preset) {
  if (key == "host") return {"async_scheduling", value.is_object() ? value.value("async_scheduling", preset.host.async_scheduling) : preset.host.async_scheduling};
  if (key == "cuda_graph_max_bs") return {key, value.is_null() ? nlohmann::json(preset.engine.graph_max_tokens) : value};
  return {"enforce_eager", value.is_null() ? nlohmann::json(!preset.engine.cuda_graphs) : value};  // enforce_eager, disable_cuda_graph
}

// Where the pools differ in what only decodes use, the decode pool runs the decode servers'
// setting and the prefill replicas keep their own.
void give_decode_pool_its_settings(const ServerPool& prefill, const ServerPool& decode, const PoolKeys& keys, const ServingConfig& preset,
                                   nlohmann::json& pool, Imported& r) {
  for (const std::string& key : keys.decode_side) {
    const nlohmann::json mine = decode.serving.value(key, nlohmann::json()), theirs = prefill.serving.value(key, nlohmann::json());
    if (mine == theirs) continue;
    const auto [name, value] = pool_setting(key, mine, preset);
    pool[name] = value;
    r.mapped.push_back(decode.prose + "' " + key + " " + (mine.is_null() ? "(the default)" : mine.dump()) + " beside " + prefill.prose + "' " +
                       (theirs.is_null() ? "(the default)" : theirs.dump()) + " -> serving.decode_pool." + name + " = " + value.dump());
  }
}

nlohmann::json hardware(const std::string& source, const std::string& gpu, double needed, Imported& r) {
  if (needed > kMostGpus) {
    throw InputError(source, "", "the servers take " + number_text(needed) + " GPUs, more than foresight's " + number_text(kMostGpus));
  }
  const auto servers = static_cast<std::int64_t>(needed);
  const std::int64_t gpus = std::max(kGpusPerMachine, (servers + kGpusPerMachine - 1) / kGpusPerMachine * kGpusPerMachine);
  r.assumed.push_back("machines of " + std::to_string(kGpusPerMachine) + " GPUs (the source names hosts, not their GPUs): hardware.gpus = " +
                      std::to_string(gpus) + " for the servers' " + std::to_string(servers));
  return {{"gpu", gpu}, {"gpus", gpus}};
}
}  // namespace

std::string as_decode_replicas(std::string line) {
  const std::size_t target = line.find(" -> serving.");
  if (target != std::string::npos) line.replace(target + 4, 8, "the decode replicas' ");
  return line;
}

DisaggregatedCluster disaggregated_cluster(const ServerPool& prefill, const ServerPool& decode, const PoolKeys& keys, const std::string& source,
                                           const std::string& gpu, Imported& r) {
  DisaggregatedCluster cluster;
  nlohmann::json& serving = cluster.serving;
  serving = prefill.serving;
  if (!serving.contains("engine")) serving["engine"] = keys.engine;  // an importer may have named the engine's version
  serving["replicas"] = prefill.replicas + decode.replicas;  // each at most 100,000
  serving["prefill_replicas"] = prefill.replicas;
  list_shared_differences(prefill, decode, keys, r);
  double needed = prefill.gpus();
  // The engine's defaults on the GPU: what a pool's servers run where they leave a setting out.
  const GpuSpec* spec = find_builtin_gpu(gpu);
  const ServingConfig preset = engine_defaults(serving["engine"].get<std::string>(), spec != nullptr ? *spec : GpuSpec{}, 0);
  if (std::optional<nlohmann::json> pool = decode_pool(prefill, decode, keys, preset, gpu, r)) {
    give_decode_pool_its_settings(prefill, decode, keys, preset, *pool, r);
    if (pool->value("same_machines", false)) needed += decode.gpus();
    serving["decode_pool"] = *pool;
  } else {
    take_decode_side_settings(prefill, decode, keys, serving, r);  // pools of one shape share every setting
    needed += decode.gpus();
  }
  cluster.hardware = hardware(source, gpu, needed, r);
  return cluster;
}

}  // namespace foresight
