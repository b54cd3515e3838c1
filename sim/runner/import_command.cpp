#include "sim/runner/import_command.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "models/gpu_spec.hpp"
#include "models/model_arch.hpp"
#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"
#include "sim/runner/import_chakra.hpp"
#include "sim/runner/import_kineto.hpp"
#include "sim/runner/import_megatron.hpp"
#include "sim/runner/import_megatron_bridge.hpp"
#include "sim/runner/import_nemo.hpp"
#include "sim/runner/import_torchtitan.hpp"
#include "sim/runner/import_trtllm_bench.hpp"
#include "sim/runner/import_launch_set.hpp"
#include "sim/runner/import_trtllm_disaggregated.hpp"
#include "sim/runner/import_support.hpp"
#include "sim/runner/output_files.hpp"
#include "sim/runner/scenario.hpp"
#include "workloads/replay.hpp"

namespace foresight {
namespace {
enum class Value { kInteger, kNumber, kSwitch, kWeightDtype, kKvDtype, kSchedulePolicy, kEvictionPolicy, kModel, kDropped, kDroppedSwitch,
                   kSpeculativeConfig, kSpeculativeTokens, kSpeculativeMethod, kSpeculativeModel, kSpeculativeTopk,
                   kSpeculativeDraftTokens, kText, kOptionsFile, kOverlapOff, kCudaGraphsOn };

// One engine flag: what it sets, and how its value reads. A kSwitch flag takes an optional
// true/false; its --no- form sets false.
struct Flag {
  const char* name;
  const char* key;  // the key under "serving", or "" for kDropped and kModel
  Value value;
};

// vLLM's `vllm serve` flags (0.6-0.10), by the names its docs use.
const std::vector<Flag>& vllm_flags() {
  static const std::vector<Flag> kFlags = {
      {"--model", "", Value::kModel},
      {"--tensor-parallel-size", "tp", Value::kInteger},
      {"-tp", "tp", Value::kInteger},
      {"--pipeline-parallel-size", "pp", Value::kInteger},
      {"-pp", "pp", Value::kInteger},
      {"--prefill-context-parallel-size", "cp", Value::kInteger},  // vLLM's PCP: more GPUs, prompts and cache split by tokens
      {"--data-parallel-size", "replicas", Value::kInteger},
      {"-dp", "replicas", Value::kInteger},
      {"--max-num-seqs", "max_num_seqs", Value::kInteger},
      {"--max-num-batched-tokens", "max_num_batched_tokens", Value::kInteger},
      {"--max-model-len", "max_model_len", Value::kInteger},
      {"--gpu-memory-utilization", "gpu_memory_utilization", Value::kNumber},
      {"--block-size", "block_size", Value::kInteger},
      {"--swap-space", "swap_space_gb", Value::kNumber},
      {"--num-scheduler-steps", "num_scheduler_steps", Value::kInteger},
      {"--stream-interval", "stream_interval", Value::kInteger},
      {"--enable-chunked-prefill", "enable_chunked_prefill", Value::kSwitch},
      {"--enable-prefix-caching", "enable_prefix_caching", Value::kSwitch},
      {"--enforce-eager", "enforce_eager", Value::kSwitch},
      {"--enable-expert-parallel", "expert_parallel", Value::kSwitch},
      {"--max-lora-rank", "lora_rank", Value::kInteger},
      {"--max-loras", "max_loras", Value::kInteger},
      {"--dtype", "dtype", Value::kWeightDtype},
      {"--quantization", "dtype", Value::kWeightDtype},
      {"--kv-cache-dtype", "kv_dtype", Value::kKvDtype},
      {"--speculative-config", "speculative", Value::kSpeculativeConfig},
      {"--num-speculative-tokens", "speculative", Value::kSpeculativeTokens},  // vLLM before 0.8
      {"--speculative-model", "speculative", Value::kSpeculativeModel},
      {"--host", "", Value::kDropped},
      {"--kv-transfer-config", "", Value::kDropped},  // a disaggregated server's KV connector: the transfers' time is serving.kv_transfer's
      {"--port", "", Value::kDropped},
      {"--api-key", "", Value::kDropped},
      {"--served-model-name", "", Value::kDropped},
      {"--download-dir", "", Value::kDropped},
      {"--seed", "", Value::kDropped},
      {"--trust-remote-code", "", Value::kDroppedSwitch},
      {"--disable-log-requests", "", Value::kDroppedSwitch},
      {"--disable-log-stats", "", Value::kDroppedSwitch},
      {"--uvicorn-log-level", "", Value::kDropped},
      {"--chat-template", "", Value::kDropped},
      {"--tokenizer", "", Value::kDropped},
      {"--revision", "", Value::kDropped},
      {"--enable-lora", "", Value::kDroppedSwitch},
  };
  return kFlags;
}

// TensorRT-LLM's `trtllm-serve` options (1.0), which it spells with underscores; the
// engine knobs foresight's trtllm preset takes by the same names.
const std::vector<Flag>& trtllm_flags() {
  static const std::vector<Flag> kFlags = {
      {"--tp_size", "tp", Value::kInteger},
      {"--pp_size", "pp", Value::kInteger},
      {"--max_batch_size", "max_batch_size", Value::kInteger},
      {"--max_num_tokens", "max_num_tokens", Value::kInteger},
      {"--max_seq_len", "max_model_len", Value::kInteger},
      {"--kv_cache_free_gpu_memory_fraction", "kv_cache_free_gpu_mem_fraction", Value::kNumber},
      {"--ep_size", "expert_parallel", Value::kInteger},
      // trtllm-bench's names for the same settings
      {"--tp", "tp", Value::kInteger},
      {"--pp", "pp", Value::kInteger},
      {"--ep", "expert_parallel", Value::kInteger},
      {"--kv_cache_free_gpu_mem_fraction", "kv_cache_free_gpu_mem_fraction", Value::kNumber},
      {"--extra_llm_api_options", "", Value::kOptionsFile},
      {"--config", "", Value::kOptionsFile},
      {"--backend", "", Value::kDropped},
      {"--host", "", Value::kDropped},
      {"--port", "", Value::kDropped},
      {"--log_level", "", Value::kDropped},
      {"--tokenizer", "", Value::kDropped},
      {"--num_postprocess_workers", "", Value::kDropped},
      {"--trust_remote_code", "", Value::kDroppedSwitch},
  };
  return kFlags;
}

// The keys of trtllm-serve's --extra_llm_api_options YAML (the LLM API's arguments) that
// foresight models, flattened as "section.key".
const std::vector<Flag>& trtllm_options() {
  static const std::vector<Flag> kKeys = {
      {"max_batch_size", "max_batch_size", Value::kInteger},
      {"max_num_tokens", "max_num_tokens", Value::kInteger},
      {"max_seq_len", "max_model_len", Value::kInteger},
      {"tensor_parallel_size", "tp", Value::kInteger},
      {"pipeline_parallel_size", "pp", Value::kInteger},
      {"moe_expert_parallel_size", "expert_parallel", Value::kInteger},
      {"enable_attention_dp", "enable_attention_dp", Value::kSwitch},
      {"kv_cache_config.free_gpu_memory_fraction", "kv_cache_free_gpu_mem_fraction", Value::kNumber},
      {"kv_cache_config.enable_block_reuse", "enable_prefix_caching", Value::kSwitch},
      {"kv_cache_config.dtype", "kv_dtype", Value::kKvDtype},
      {"kv_cache_config.tokens_per_block", "block_size", Value::kInteger},
      {"enable_chunked_prefill", "enable_chunked_prefill", Value::kSwitch},
      {"scheduler_config.capacity_scheduler_policy", "capacity_scheduler_policy", Value::kText},
      {"cuda_graph_config.max_batch_size", "cuda_graph_max_bs", Value::kInteger},
      {"stream_interval", "stream_interval", Value::kInteger},
      {"disable_overlap_scheduler", "host.async_scheduling", Value::kOverlapOff},
      {"use_cuda_graph", "enforce_eager", Value::kCudaGraphsOn},  // before 1.0's cuda_graph_config
      {"speculative_config.max_draft_len", "speculative", Value::kSpeculativeTokens},
      {"speculative_config.decoding_type", "speculative", Value::kSpeculativeMethod},
      {"print_iter_log", "", Value::kDropped},
      {"backend", "", Value::kDropped},
  };
  return kKeys;
}

// SGLang's `python -m sglang.launch_server` flags.
const std::vector<Flag>& sglang_flags() {
  static const std::vector<Flag> kFlags = {
      {"--model-path", "", Value::kModel},
      {"--model", "", Value::kModel},
      {"--tp", "tp", Value::kInteger},
      {"--tp-size", "tp", Value::kInteger},
      {"--pp-size", "pp", Value::kInteger},
      {"--dp", "replicas", Value::kInteger},
      {"--dp-size", "replicas", Value::kInteger},
      {"--mem-fraction-static", "mem_fraction_static", Value::kNumber},
      {"--chunked-prefill-size", "chunked_prefill_size", Value::kInteger},
      {"--max-running-requests", "max_running_requests", Value::kInteger},
      {"--context-length", "max_model_len", Value::kInteger},
      {"--schedule-policy", "schedule_policy", Value::kSchedulePolicy},
      {"--disable-radix-cache", "disable_radix_cache", Value::kSwitch},
      {"--enable-mixed-chunk", "enable_mixed_chunk", Value::kSwitch},
      {"--radix-eviction-policy", "eviction_policy", Value::kEvictionPolicy},
      {"--disable-cuda-graph", "disable_cuda_graph", Value::kSwitch},
      {"--cuda-graph-max-bs", "cuda_graph_max_bs", Value::kInteger},
      {"--stream-interval", "stream_interval", Value::kInteger},
      {"--page-size", "block_size", Value::kInteger},
      {"--dtype", "dtype", Value::kWeightDtype},
      {"--quantization", "dtype", Value::kWeightDtype},
      {"--kv-cache-dtype", "kv_dtype", Value::kKvDtype},
      {"--enable-ep-moe", "expert_parallel", Value::kSwitch},
      {"--enable-dp-attention", "enable_dp_attention", Value::kSwitch},
      {"--speculative-algorithm", "speculative", Value::kSpeculativeMethod},
      {"--speculative-num-steps", "speculative", Value::kSpeculativeTokens},  // the draft steps, a chain with --speculative-eagle-topk 1
      {"--speculative-eagle-topk", "speculative", Value::kSpeculativeTopk},
      {"--speculative-num-draft-tokens", "speculative", Value::kSpeculativeDraftTokens},
      {"--speculative-draft-model-path", "speculative", Value::kSpeculativeModel},
      {"--max-lora-rank", "lora_rank", Value::kInteger},
      {"--host", "", Value::kDropped},
      {"--port", "", Value::kDropped},
      {"--base-gpu-id", "", Value::kDropped},
      {"--disaggregation-bootstrap-port", "", Value::kDropped},
      {"--disaggregation-mode", "", Value::kDropped},  // which pool a server is in: the disaggregated import's
      {"--disaggregation-transfer-backend", "", Value::kDropped},  // the KV transfer's library: the caches move at the links' rate
      {"--disaggregation-ib-device", "", Value::kDropped},
      {"--api-key", "", Value::kDropped},
      {"--served-model-name", "", Value::kDropped},
      {"--random-seed", "", Value::kDropped},
      {"--trust-remote-code", "", Value::kDroppedSwitch},
      {"--log-level", "", Value::kDropped},
      {"--tokenizer-path", "", Value::kDropped},
      {"--chat-template", "", Value::kDropped},
  };
  return kFlags;
}

// --dtype and --quantization values foresight models as the weights' dtype; nothing for
// the others (fp32; AWQ and GPTQ are weight-only quantization, below).
std::optional<std::string> weight_dtype(const std::string& value) {
  const std::string v = lower(value);
  if (v == "half" || v == "float16" || v == "fp16") return "fp16";
  if (v == "auto" || v == "bfloat16" || v == "bf16") return "bf16";  // auto: the checkpoints' bf16
  if (v == "fp8" || v == "fp8_e4m3" || v == "modelopt_fp8") return "fp8";
  return std::nullopt;
}

// Checkpoints their authors publish in FP8 (DeepSeek-V3 and R1: block-wise e4m3 weights,
// their config.json's quantization_config): engines serve them in FP8 without a flag.
bool fp8_checkpoint(const std::string& model_id) {
  const std::string id = lower(model_id);
  return id.find("deepseek-ai/deepseek-v3") != std::string::npos || id.find("deepseek-ai/deepseek-r1") != std::string::npos;
}

// EAGLE, EAGLE-3 and MTP heads draft with one layer of the model's shape (draft_layers 1).
bool is_one_layer_head(const std::string& method) {
  const std::string m = lower(method);
  return m == "eagle" || m == "eagle3" || m == "mtp" || m == "deepseek_mtp" || m == "nextn";
}

// A draft model the catalog has: its name into serving.speculative.draft_model.
bool set_draft_model(nlohmann::json& spec, const std::string& id) {
  const std::optional<nlohmann::json> model = catalog_model_for(id);
  if (!model || !model->is_string()) return false;
  spec["draft_model"] = *model;
  return true;
}

// vLLM's --speculative-config JSON: {"method": "eagle", "num_speculative_tokens": 3, ...},
// or a draft "model" without a head method.
std::string apply_speculative_config(const std::string& name, const std::string& value, nlohmann::json& spec) {
  const nlohmann::json config = parse_json_text(value, name);
  if (!config.is_object() || !config.contains("num_speculative_tokens") || !config["num_speculative_tokens"].is_number_integer()) {
    throw InputError("", name, "expected a JSON object with an integer num_speculative_tokens, like '{\"method\": \"eagle\", "
                               "\"num_speculative_tokens\": 3}'");
  }
  const std::string method = config.contains("method") && config["method"].is_string() ? config["method"].get<std::string>() : "";
  const std::string id = config.contains("model") && config["model"].is_string() ? config["model"].get<std::string>() : "";
  const bool head = is_one_layer_head(method);
  if (!head && !set_draft_model(spec, id)) return "";  // n-gram lookup, or a draft model the catalog does not have
  spec["num_tokens"] = whole_value(name, std::to_string(config["num_speculative_tokens"].get<std::int64_t>()));
  return name + " " + value + " -> serving.speculative.num_tokens = " + spec["num_tokens"].dump() +
         (head ? ", a one-layer drafter" : ", serving.speculative.draft_model = " + spec["draft_model"].dump());
}

// Speculative decoding's flags into serving.speculative: vLLM's --speculative-config or its
// older --num-speculative-tokens and --speculative-model, SGLang's --speculative-algorithm,
// --speculative-num-steps, --speculative-eagle-topk, --speculative-num-draft-tokens and
// --speculative-draft-model-path. n-gram lookup has no drafter
// to time and is not modelled. No command gives the acceptance rate: `import --set
// serving.speculative.acceptance=A` does.
std::string apply_speculative(Value kind, const std::string& name, const std::string& value, nlohmann::json& serving) {
  nlohmann::json spec = serving.value("speculative", nlohmann::json::object());
  std::string line;
  if (kind == Value::kSpeculativeTokens) {
    spec["num_tokens"] = whole_value(name, value);
    line = name + " " + value + " -> serving.speculative.num_tokens = " + spec["num_tokens"].dump();
  } else if (kind == Value::kSpeculativeTopk) {
    spec["eagle_topk"] = whole_value(name, value);
    line = name + " " + value + " -> serving.speculative.eagle_topk = " + spec["eagle_topk"].dump();
  } else if (kind == Value::kSpeculativeDraftTokens) {
    spec["num_draft_tokens"] = whole_value(name, value);
    line = name + " " + value + " -> serving.speculative.num_draft_tokens = " + spec["num_draft_tokens"].dump();
  } else if (kind == Value::kSpeculativeMethod) {
    if (is_one_layer_head(value)) line = name + " " + value + " -> a one-layer drafter (serving.speculative.draft_layers = 1)";
  } else if (kind == Value::kSpeculativeModel) {
    if (set_draft_model(spec, value)) line = name + " " + value + " -> serving.speculative.draft_model = " + spec["draft_model"].dump();
  } else {
    line = apply_speculative_config(name, value, spec);
  }
  if (!spec.empty()) serving["speculative"] = spec;
  return line;
}

// Sets serving.<flag.key> from the flag's value; returns the line the comment lists it by,
// or "" for a value foresight does not model.
std::string apply_flag(const Flag& flag, const std::string& name, const std::string& value, nlohmann::json& serving) {
  switch (flag.value) {
    case Value::kInteger:
      if (std::string(flag.key) == "expert_parallel") {
        // TensorRT-LLM's expert parallelism: over the TP ranks, as foresight's expert_parallel.
        serving[flag.key] = whole_value(name, value) > 1;
        break;
      }
      serving[flag.key] = whole_value(name, value);
      break;
    case Value::kNumber:
      serving[flag.key] = number_value(name, value);
      break;
    case Value::kWeightDtype: {
      const std::string v = lower(value);
      if (name == "--quantization" && (v.rfind("awq", 0) == 0 || v.rfind("gptq", 0) == 0 || v == "marlin")) {
        // AWQ is 4-bit; GPTQ checkpoints are almost all 4-bit too (their quantize_config says).
        serving["weight_dtype"] = "int4";
        return name + " " + value + " -> serving.weight_dtype = \"int4\" (4-bit, group-wise scales)";
      }
      const std::optional<std::string> dtype = weight_dtype(value);
      if (!dtype) return "";
      serving[flag.key] = *dtype;
      break;
    }
    case Value::kKvDtype:
      serving[flag.key] = lower(value).rfind("fp8", 0) == 0 ? "fp8"
                          : lower(value) == "int8"         ? "int8"
                          : serving.value("dtype", "bf16") == "fp16" ? "fp16" : "bf16";
      break;
    case Value::kSpeculativeConfig:
    case Value::kSpeculativeTokens:
    case Value::kSpeculativeMethod:
    case Value::kSpeculativeModel:
    case Value::kSpeculativeTopk:
    case Value::kSpeculativeDraftTokens:
      return apply_speculative(flag.value, name, value, serving);
    case Value::kSchedulePolicy:
      if (value != "lpm" && value != "fcfs") return "";  // SGLang's other policies are not modelled
      serving[flag.key] = value;
      break;
    case Value::kEvictionPolicy:
      if (value != "lru" && value != "lfu") return "";
      serving[flag.key] = value;
      break;
    case Value::kText:
      serving[flag.key] = value;
      break;
    case Value::kSwitch:
      serving[flag.key] = lower(value) == "true";
      break;
    case Value::kCudaGraphsOn:
      serving[flag.key] = lower(value) != "true";
      break;
    case Value::kOverlapOff:  // TensorRT-LLM's overlap scheduler is the host's async scheduling
      serving["host"]["async_scheduling"] = lower(value) != "true";
      return name + " " + value + " -> serving.host.async_scheduling = " + serving["host"]["async_scheduling"].dump();
    case Value::kModel:
    case Value::kDropped:
    case Value::kDroppedSwitch:
    case Value::kOptionsFile:
      break;
  }
  return name + " " + value + " -> serving." + flag.key + " = " + serving[flag.key].dump();
}

// trtllm-serve's --extra_llm_api_options YAML, which wins over its command-line options as
// trtllm-serve applies it.
void apply_trtllm_options(const std::string& path, nlohmann::json& serving, Imported& result) {
  std::map<std::string, std::string> options;
  flatten_yaml(read_yaml_mappings(path), "", options);
  apply_trtllm_option_map(options, {path, "extra_llm_api_options", ""}, serving, result);
}

}  // namespace

Imported translate_serving(const ImportOptions& o) {
  const bool vllm = o.tool == "vllm";
  const bool trtllm = o.tool == "trtllm";
  const std::vector<Flag>& flags = vllm ? vllm_flags() : trtllm ? trtllm_flags() : sglang_flags();
  const std::vector<std::string>& words = o.command;
  Imported result;
  nlohmann::json serving = {{"engine", vllm ? "vllm_v1" : trtllm ? "trtllm" : "sglang"}};
  std::string model_id, options_file;
  std::size_t i = 0;
  // The program and its subcommand: "vllm serve MODEL", "python -m sglang.launch_server".
  for (; i < words.size() && words[i].rfind("-", 0) != 0 && model_id.empty(); ++i) {
    const bool program = words[i] == "vllm" || words[i] == "serve" || words[i] == "trtllm-serve" || words[i].find("python") != std::string::npos;
    if (!program) model_id = words[i];
  }
  for (; i < words.size(); ++i) {
    if (words[i] == "-m" && i + 1 < words.size()) {  // python -m sglang.launch_server
      ++i;
      continue;
    }
    if (words[i].rfind("-", 0) != 0) {
      result.not_modelled.push_back(words[i]);
      continue;
    }
    const std::size_t equals = words[i].find('=');
    const std::string written = words[i].substr(0, equals);
    const bool negated = written.rfind("--no-", 0) == 0;  // vLLM's --no-enable-prefix-caching
    const std::string name = negated ? "--" + written.substr(5) : written;
    std::optional<std::string> inline_value = equals == std::string::npos ? std::nullopt : std::optional(words[i].substr(equals + 1));
    const auto flag = std::find_if(flags.begin(), flags.end(), [&](const Flag& f) { return f.name == name; });
    if (flag == flags.end()) {
      const std::optional<std::string> value = flag_value(words, i, inline_value);
      result.not_modelled.push_back(written + (value ? " " + *value : ""));
      continue;
    }
    if (flag->value == Value::kSwitch) {  // an optional true/false after it
      if (!inline_value && i + 1 < words.size() && (lower(words[i + 1]) == "true" || lower(words[i + 1]) == "false")) inline_value = words[++i];
      const bool on = !negated && (!inline_value || lower(*inline_value) == "true");
      serving[flag->key] = on;
      result.mapped.push_back(written + (inline_value ? " " + *inline_value : "") + " -> serving." + flag->key + " = " + (on ? "true" : "false"));
      continue;
    }
    if (flag->value == Value::kDroppedSwitch) {
      result.dropped.push_back(words[i]);
      continue;
    }
    const std::optional<std::string> value = flag_value(words, i, inline_value);
    if (!value) throw InputError("", name, "expected a value after it");
    if (flag->value == Value::kModel) {
      model_id = *value;
    } else if (flag->value == Value::kOptionsFile) {
      options_file = *value;
    } else if (flag->value == Value::kDropped) {
      result.dropped.push_back(name + " " + *value);
    } else if (const std::string line = apply_flag(*flag, name, *value, serving); !line.empty()) {
      result.mapped.push_back(line);
    } else {
      result.not_modelled.push_back(name + " " + *value);
    }
  }
  if (!options_file.empty()) apply_trtllm_options(options_file, serving, result);
  if (vllm && serving.value("num_scheduler_steps", 1) > 1) serving["engine"] = "vllm_v0";  // multi-step scheduling is V0's
  // SGLang's data-parallel attention spreads attention over the TP group: its --dp-size is
  // those attention ranks, not replicas.
  if (serving.value("enable_dp_attention", false) && serving.contains("replicas")) {
    serving.erase("replicas");
    std::erase_if(result.mapped, [](const std::string& line) { return line.find("-> serving.replicas =") != std::string::npos; });
    result.assumed.push_back("--dp-size with --enable-dp-attention: the attention ranks inside the tp group, one replica");
  }
  if (model_id.empty()) {
    throw InputError("", "the launch command", vllm ? "no model: expected `vllm serve MODEL` or --model"
                                               : trtllm ? "no model: expected `trtllm-serve MODEL`" : "no model: expected --model-path");
  }
  const std::optional<nlohmann::json> model = catalog_model_for(model_id);
  if (!model) {
    throw InputError("", "the launch command", "model \"" + model_id + "\" is not in foresight's catalog (`foresight list models`); "
                                               "download its config.json and give the folder holding it as the model");
  }
  if (!serving.contains("dtype") && fp8_checkpoint(model_id)) {
    serving["dtype"] = "fp8";
    result.assumed.push_back("serving.dtype = fp8: " + model_id + " is published in FP8 (its config's quantization_config), which " + o.tool +
                             " serves as it is");
  }
  result.scenario = {{"name", o.tool + " " + model_id},
                     {"description", "Imported from a " + o.tool + " launch command by `foresight import`."},
                     {"hardware", {{"gpu", o.gpu}}},
                     {"model", *model},
                     {"serving", serving}};
  return result;
}

namespace {
std::string with_comments(const ImportOptions& o, const Imported& imported) {
  std::string command;
  for (const std::string& word : o.command) command += (command.empty() ? "" : " ") + word;
  std::string text = "// Imported by `foresight import " + o.tool + "` from:\n//   " + command + "\n";
  text += "// The GPU is not part of a launch command: hardware.gpu is " + o.gpu + " (import --gpu).\n";
  const bool serving = imported.scenario.contains("serving");
  if (serving && !imported.scenario["serving"].contains("traffic")) text += "// Traffic is not either: serving.traffic keeps its defaults (docs/serving.md).\n";
  const auto list = [&text](const char* title, const std::vector<std::string>& items) {
    if (items.empty()) return;
    text += std::string("// ") + title + "\n";
    for (std::string item : items) {
      // A config's multi-line value stays on its comment line.
      for (std::size_t at = item.find_first_of("\r\n"); at != std::string::npos; at = item.find_first_of("\r\n", at)) {
        item.replace(at, 1, item[at] == '\n' ? "\\n" : "\\r");
      }
      text += "//   " + item + "\n";
    }
  };
  list("Mapped:", imported.mapped);
  list("Assumed (the command leaves these to defaults, or does not say):", imported.assumed);
  list("Dropped (no effect on what foresight predicts):", imported.dropped);
  list("Not modelled (ignored):", imported.not_modelled);
  list("Set by import --set:", o.overrides);
  return text + imported.scenario.dump(2) + "\n";
}

// The architecture the scenario names: a catalog model, or a checkpoint's config.json.
ModelArch scenario_model(const nlohmann::json& model) {
  if (model.is_string()) return *find_builtin_model(model.get<std::string>());
  return load_hf_config(model.at("hf_config").get<std::string>());
}

// trtllm-bench serves as trtllm-serve would with the same options, then adds its dataset,
// the checkpoint's quantization and the engine sizes it picks itself.
Imported translate_trtllm_bench(const ImportOptions& o) {
  const TrtllmBench bench = split_trtllm_bench(o.command);
  ImportOptions serve = o;
  serve.command = bench.serve_command;
  Imported result = translate_serving(serve);
  for (const auto& [into, from] : {std::pair{&result.mapped, &bench.mapped}, std::pair{&result.dropped, &bench.dropped},
                                   std::pair{&result.not_modelled, &bench.not_modelled}}) {
    into->insert(into->begin(), from->begin(), from->end());
  }
  const GpuSpec* gpu = find_builtin_gpu(o.gpu);
  if (gpu == nullptr) throw InputError("", "import --gpu", "trtllm-bench sizes its engine from the GPU's memory: expected a catalog GPU, got "" + o.gpu + """);
  apply_trtllm_bench(bench, *gpu, scenario_model(result.scenario["model"]), result);
  result.scenario["name"] = "trtllm-bench " + (bench.model_id.empty() ? bench.model_path : bench.model_id);
  result.scenario["description"] = std::string("Imported from a trtllm-bench ") + (bench.latency ? "latency" : "throughput") +
                                   " command by `foresight import`.";
  return result;
}

// The graph with its notes as comments, one op per line.
std::string graph_text(const std::string& source, const nlohmann::json& graph, const std::vector<std::string>& notes) {
  std::string text = "// Imported from " + source + " (docs/replay.md):\n";
  for (const std::string& note : notes) text += "//   " + note + "\n";
  text += "{\n";
  for (const auto& [key, value] : graph.items()) {
    if (key == "ops") continue;
    text += "  " + nlohmann::json(key).dump() + ": " + value.dump() + ",\n";
  }
  text += "  \"ops\": [\n";
  const nlohmann::json& ops = graph["ops"];
  for (std::size_t i = 0; i < ops.size(); ++i) text += "    " + ops[i].dump() + (i + 1 < ops.size() ? ",\n" : "\n");
  return text + "  ]\n}\n";
}

bool has_untimed_collective(const nlohmann::json& graph) {
  const nlohmann::json& ops = graph["ops"];
  return std::any_of(ops.begin(), ops.end(), [](const nlohmann::json& op) { return op.contains("collective") && !op.contains("duration_us"); });
}

// Writes an imported replay graph; what is written must replay, so it goes through the
// same checks as a graph file.
int write_replay_graph(const ImportOptions& o, const std::string& source, nlohmann::json graph, const std::vector<std::string>& notes,
                       std::ostream& out) {
  for (const std::string& assignment : o.overrides) apply_override(graph, assignment);
  if (!graph.contains("topology") && has_untimed_collective(graph)) {
    throw InputError("", o.retime_collectives ? "import --retime-collectives" : "import",
                     "collectives without a duration are timed on the graph's topology: add --set "
                     "topology=NAME (a preset such as hgx_h100, or a topology file)");
  }
  const std::string text = graph_text(source, graph, notes);
  (void)read_replay_graph(parse_json_text(text, "(imported)"), "(imported " + o.tool + " traces)");
  if (o.out_path.empty()) {
    out << text;
    return 0;
  }
  write_file_atomically(o.out_path, text);
  out << "Wrote " << o.out_path << ": " << graph["ops"].size() << " ops on " << graph["ranks"].get<int>() << " ranks\n";
  return 0;
}

int run_trace_import(const ImportOptions& o, std::ostream& out) {
  if (o.command.empty()) {
    throw InputError("", "import", "expected the trace files after --, one per rank, like: foresight import " + o.tool +
                                       (o.tool == "kineto" ? " -- rank0.json rank1.json" : " -- trace.0.et trace.1.et"));
  }
  if (!o.out_path.empty()) check_output_path(o.out_path, "--out");
  if (o.tool == "kineto") {
    KinetoImport imported = import_kineto(o.command, o.gpu, o.retime_collectives);
    return write_replay_graph(o, "PyTorch profiler traces by `foresight import kineto`", std::move(imported.graph), imported.notes, out);
  }
  ChakraImport imported = import_chakra(o.command, o.gpu, o.retime_collectives);
  return write_replay_graph(o, "Chakra execution traces by `foresight import chakra`", std::move(imported.graph), imported.notes, out);
}

Imported translate(const ImportOptions& o) {
  if (o.tool == "megatron") return import_megatron(o.command, o.gpu, o.gpus);
  if (o.tool == "megatron-bridge") return import_megatron_bridge(o.command, o.gpu, o.gpus);
  if (o.tool == "nemo") return import_nemo(o.command, o.gpu, o.gpus);
  if (o.tool == "torchtitan") return import_torchtitan(o.command, o.gpu, o.gpus);
  if (o.tool == "trtllm" && is_trtllm_bench(o.command)) return translate_trtllm_bench(o);
  if (o.tool == "trtllm" && is_trtllm_disaggregated(o.command)) return import_trtllm_disaggregated(o);
  if (is_launch_set(o.tool, o.command)) return import_launch_set(o);
  return translate_serving(o);
}
}  // namespace

void apply_trtllm_option_map(const std::map<std::string, std::string>& options, const TrtllmOptionSource& source,
                             nlohmann::json& serving, Imported& result) {
  for (const auto& entry : options) {
    const std::string& key = entry.first;  // not a structured binding: clang before 16 cannot capture one
    const std::string& value = entry.second;
    const std::string origin = source.label + " " + key;
    const auto flag = std::find_if(trtllm_options().begin(), trtllm_options().end(), [&](const Flag& f) { return key == f.name; });
    if (flag == trtllm_options().end()) {
      result.not_modelled.push_back(origin + ": " + value);
      continue;
    }
    if (flag->value == Value::kDropped) {
      result.dropped.push_back(origin + ": " + value);
      continue;
    }
    std::string line;
    try {
      line = apply_flag(*flag, origin + ":", value, serving);
    } catch (const InputError& e) {
      throw InputError(source.file, source.path_prefix + key, e.problems().front().message);
    }
    (line.empty() ? result.not_modelled : result.mapped).push_back(line.empty() ? origin + ": " + value : line);
  }
}

int run_import_command(const ImportOptions& o, std::ostream& out) {
  if (o.tool == "kineto" || o.tool == "chakra") return run_trace_import(o, out);
  if (o.tool != "vllm" && o.tool != "sglang" && o.tool != "trtllm" && o.tool != "megatron" && o.tool != "megatron-bridge" && o.tool != "nemo" &&
      o.tool != "torchtitan") {
    throw InputError("", "import", "expected megatron, megatron-bridge, nemo, torchtitan, vllm, sglang, trtllm, kineto or chakra, got \"" + o.tool + "\"");
  }
  if (o.command.empty()) throw InputError("", "import", "expected the launch command after --, like: foresight import vllm -- vllm serve MODEL --tensor-parallel-size 4");
  // Words reach the scenario's JSON and the file system: UTF-8 text without NUL, as a shell's are.
  for (const std::string& word : o.command) {
    require_utf8(word, "", "the launch command");
    if (word.find('\0') != std::string::npos) throw InputError("", "the launch command", "a word holds a NUL byte");
  }
  if (!o.out_path.empty()) check_output_path(o.out_path, "--out");
  Imported imported = translate(o);
  for (const std::string& assignment : o.overrides) apply_override(imported.scenario, assignment);
  const nlohmann::json* speculative = imported.scenario.contains("serving") ? &imported.scenario["serving"] : nullptr;
  if (speculative != nullptr && speculative->contains("speculative") && !(*speculative)["speculative"].contains("acceptance") &&
      (*speculative)["speculative"].value("num_tokens", 0) > 0) {
    throw InputError("", "import --set", "the command drafts tokens but no command says how many are accepted: add --set "
                                         "serving.speculative.acceptance=A (the probability each drafted token is accepted; "
                                         "measure it: vLLM logs it as the draft acceptance rate)");
  }
  const std::string text = with_comments(o, imported);
  // What was written must run: the scenario goes through the same checks as a file.
  (void)parse_scenario(parse_json_text(text, "(imported)"), "(imported " + o.tool + " command)", "", {});
  if (o.out_path.empty()) {
    out << text;
    return 0;
  }
  write_file_atomically(o.out_path, text);
  out << "Wrote " << o.out_path << ": " << imported.mapped.size() << " flags mapped, " << imported.dropped.size() << " dropped, "
      << imported.not_modelled.size() << " not modelled, " << imported.assumed.size() << " assumed\n";
  return 0;
}

}  // namespace foresight
