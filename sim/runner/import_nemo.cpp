#include "sim/runner/import_nemo.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"
#include "sim/runner/import_support.hpp"
#include "sim/runner/import_megatron.hpp"
#include "sim/runner/import_nemo2.hpp"

namespace foresight {
namespace {

// The line without its comment: a # at the start or after a space, outside quotes.
std::string without_comment(const std::string& line) {
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
      return line.substr(0, i);
    }
  }
  return line;
}

std::string unquoted(const std::string& text) {
  if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'') && text.back() == text.front()) return text.substr(1, text.size() - 2);
  return text;
}

}  // namespace

void flatten_yaml(const nlohmann::json& node, const std::string& prefix, std::map<std::string, std::string>& out) {
  for (const auto& [key, value] : node.items()) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object()) {
      flatten_yaml(value, path, out);
    } else if (value.is_array()) {
      std::string items;
      for (const auto& item : value) items += (items.empty() ? "" : " ") + item.get<std::string>();
      out[path] = items;
    } else {
      out[path] = value.get<std::string>();
    }
  }
}

nlohmann::json read_yaml_mappings(const std::string& path) {
  refuse_device(path);
  std::ifstream in(path);
  if (!in) throw InputError(path, "", "cannot open the config file");
  nlohmann::json root = nlohmann::json::object();
  std::vector<std::pair<int, nlohmann::json*>> open = {{-1, &root}};  // mappings being filled, by indent
  int skip_deeper_than = -1;  // inside a list of mappings or a block scalar: its lines are skipped
  // The last key given no value on its line, whose block list of plain scalars (`- item` lines,
  // as Megatron-Bridge writes recompute_modules) becomes a list.
  nlohmann::json* list_owner = nullptr;
  int list_indent = -1;
  std::string raw;
  for (int number = 1; std::getline(in, raw); ++number) {
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    const std::string line = without_comment(raw);
    const std::string content = trimmed(line);
    if (content.empty() || content == "---" || content == "...") continue;
    if (line.find('\t') < line.find_first_not_of(" \t")) throw InputError(path, "", "line " + std::to_string(number) + ": a tab in the indentation");
    const int indent = static_cast<int>(line.find_first_not_of(' '));
    const bool list_item = content == "-" || content.rfind("- ", 0) == 0;
    if (skip_deeper_than >= 0 && (indent > skip_deeper_than || (indent == skip_deeper_than && list_item))) continue;
    skip_deeper_than = -1;
    if (list_item) {
      const std::string item = unquoted(trimmed(content.substr(1)));
      const bool plain = item.find(": ") == std::string::npos && (item.empty() || item.back() != ':');
      if (plain && list_owner != nullptr && indent >= list_indent && (list_owner->is_array() || list_owner->empty())) {
        if (!list_owner->is_array()) *list_owner = nlohmann::json::array();
        list_owner->push_back(item);
        continue;
      }
      skip_deeper_than = indent;
      continue;
    }
    const std::size_t colon = content.find(": ") != std::string::npos ? content.find(": ") : content.back() == ':' ? content.size() - 1 : std::string::npos;
    if (colon == std::string::npos) throw InputError(path, "", "line " + std::to_string(number) + ": expected `key: value`, got \"" + content + "\"");
    const std::string key = unquoted(trimmed(content.substr(0, colon)));
    const std::string value = trimmed(content.substr(colon + 1));
    while (open.back().first >= indent) open.pop_back();
    nlohmann::json& parent = *open.back().second;
    if (!parent.is_object()) throw InputError(path, "", "line " + std::to_string(number) + ": a key inside a list, \"" + key + "\"");
    list_owner = nullptr;
    if (value.empty()) {
      parent[key] = nlohmann::json::object();
      open.emplace_back(indent, &parent[key]);
      list_owner = &parent[key], list_indent = indent;
    } else if (value == "|" || value == ">" || value.rfind("|-", 0) == 0 || value.rfind(">-", 0) == 0) {
      parent[key] = "";
      skip_deeper_than = indent;  // a block scalar's text
    } else {
      parent[key] = unquoted(value);
    }
  }
  return root;
}

namespace {
const std::vector<NemoKey>& nemo_keys() {
  static const std::vector<NemoKey> kKeys = {
      {"model.micro_batch_size", "--micro-batch-size"},
      {"model.global_batch_size", "--global-batch-size"},
      {"model.encoder_seq_length", "--seq-length"},
      {"model.max_position_embeddings", "--max-position-embeddings"},
      {"model.num_layers", "--num-layers"},
      {"model.hidden_size", "--hidden-size"},
      {"model.ffn_hidden_size", "--ffn-hidden-size"},
      {"model.num_attention_heads", "--num-attention-heads"},
      {"model.kv_channels", "--kv-channels"},
      {"model.tensor_model_parallel_size", "--tensor-model-parallel-size"},
      {"model.pipeline_model_parallel_size", "--pipeline-model-parallel-size"},
      {"model.virtual_pipeline_model_parallel_size", "--num-virtual-stages-per-pipeline-rank"},
      {"model.context_parallel_size", "--context-parallel-size"},
      {"model.account_for_embedding_in_pipeline_split", "--account-for-embedding-in-pipeline-split", NemoKey::kSwitchIfTrue},
      {"model.account_for_loss_in_pipeline_split", "--account-for-loss-in-pipeline-split", NemoKey::kSwitchIfTrue},
      {"model.num_layers_in_first_pipeline_stage", "--decoder-first-pipeline-num-layers"},
      {"model.num_layers_in_last_pipeline_stage", "--decoder-last-pipeline-num-layers"},
      {"model.expert_model_parallel_size", "--expert-model-parallel-size"},
      {"model.sequence_parallel", "--sequence-parallel", NemoKey::kSwitchIfTrue},
      {"model.share_embeddings_and_output_weights", "--untie-embeddings-and-output-weights", NemoKey::kSwitchIfFalse},
      {"model.bias", "--disable-bias-linear", NemoKey::kSwitchIfFalse},
      {"model.qk_layernorm", "--qk-layernorm", NemoKey::kSwitchIfTrue},
      {"model.hidden_dropout", "--hidden-dropout"},
      {"model.attention_dropout", "--attention-dropout"},
      {"model.make_vocab_size_divisible_by", "--make-vocab-size-divisible-by"},
      {"model.activations_checkpoint_granularity", "--recompute-granularity"},
      {"model.activations_checkpoint_method", "--recompute-method"},
      {"model.cpu_offloading", "--cpu-offloading", NemoKey::kSwitchIfTrue},
      {"model.fp8_params", "--fp8-param-gather", NemoKey::kSwitchIfTrue},
      {"model.cpu_offloading_num_layers", "--cpu-offloading-num-layers"},
      {"model.ub_tp_comm_overlap", "--tp-comm-overlap", NemoKey::kSwitchIfTrue},
      {"model.overlap_p2p_comm", "--overlap-p2p-communication", NemoKey::kSwitchIfTrue},
      {"model.optim.overlap_grad_sync", "--overlap-grad-reduce", NemoKey::kSwitchIfTrue},
      {"model.num_moe_experts", "--num-experts"},
      {"model.moe_router_topk", "--moe-router-topk"},
      {"model.moe_shared_expert_intermediate_size", "--moe-shared-expert-intermediate-size"},
      {"model.moe_shared_expert_overlap", "--moe-shared-expert-overlap", NemoKey::kSwitchIfTrue},
      {"trainer.gradient_clip_val", "--clip-grad"},
  };
  return kKeys;
}


// The key a reference in `key`'s value names: ${a.b} from the root; OmegaConf's ${.b} a
// sibling, ${..b} a sibling of the parent.
std::string referred_key(std::string reference, const std::string& key) {
  if (reference.empty() || reference.front() != '.') return reference;
  std::string base = key;
  for (; !reference.empty() && reference.front() == '.'; reference.erase(0, 1)) {
    const std::size_t dot = base.rfind('.');
    base = dot == std::string::npos ? "" : base.substr(0, dot);
  }
  return base.empty() ? reference : base + "." + reference;
}

// ${...} refers to another key: resolved, a few levels deep.
std::string resolved(std::string key, const std::map<std::string, std::string>& config) {
  std::string value = config.at(key);
  for (int depth = 0; depth < 8 && value.size() > 3 && value.rfind("${", 0) == 0 && value.back() == '}'; ++depth) {
    key = referred_key(value.substr(2, value.size() - 3), key);
    const auto found = config.find(key);
    if (found == config.end()) break;
    value = found->second;
  }
  return value;
}

// The Megatron arguments NeMo's special-cased keys stand for.
void special_keys(const std::map<std::string, std::string>& c, std::vector<std::pair<std::string, std::string>>& args) {
  const auto get = [&](const std::string& key) { return c.contains(key) ? resolved(key, c) : std::string(); };
  const std::string precision = get("trainer.precision");
  if (precision.rfind("bf16", 0) == 0) args.emplace_back("--bf16", "trainer.precision=" + precision);
  if (precision == "16" || precision.rfind("16-", 0) == 0) args.emplace_back("--fp16", "trainer.precision=" + precision);
  if (is_true(get("model.fp8"))) args.emplace_back("--fp8-format " + std::string(is_true(get("model.fp8_hybrid")) ? "hybrid" : "e4m3"), "model.fp8=True");
  const std::string activation = get("model.activation");
  if (activation.find("swiglu") != std::string::npos) args.emplace_back("--swiglu", "model.activation=" + activation);
  if (get("model.normalization") == "rmsnorm") args.emplace_back("--normalization RMSNorm", "model.normalization=rmsnorm");
  if (get("model.position_embedding_type") == "rope") args.emplace_back("--position-embedding-type rope", "model.position_embedding_type=rope");
  const std::string groups = get("model.num_query_groups");
  if (!is_null(groups) && groups != get("model.num_attention_heads")) {
    args.emplace_back("--group-query-attention --num-query-groups " + groups, "model.num_query_groups=" + groups);
  }
  // NeMo's and Megatron-Bridge's model configs fuse the loss unless told not to.
  const std::string fusion = get("model.cross_entropy_loss_fusion");
  if (fusion.empty() || is_true(fusion)) {
    args.emplace_back("--cross-entropy-loss-fusion", fusion.empty() ? "NeMo's default cross_entropy_loss_fusion=True" : "model.cross_entropy_loss_fusion=" + fusion);
  }
  const std::string optimizer = get("model.optim.name");
  if (optimizer.find("distributed_fused_adam") != std::string::npos) args.emplace_back("--use-distributed-optimizer", "model.optim.name=" + optimizer);
  const std::string tokenizer = get("model.tokenizer.type");
  if (get("model.tokenizer.library") == "megatron" && tokenizer == "GPT2BPETokenizer") args.emplace_back("--tokenizer-type GPT2BPETokenizer", "model.tokenizer.type=GPT2BPETokenizer");
  if (get("model.tokenizer.library") == "huggingface" && !tokenizer.empty()) args.emplace_back("--tokenizer-model " + tokenizer, "model.tokenizer.type=" + tokenizer);
}
}  // namespace

bool is_true(const std::string& value) { return value == "True" || value == "true" || value == "1"; }
bool is_null(const std::string& value) { return value == "null" || value == "None" || value == "~" || value.empty(); }

ConfigArgs args_from_table(const std::map<std::string, std::string>& config, const std::vector<NemoKey>& keys) {
  ConfigArgs out;
  for (const NemoKey& k : keys) {
    const auto found = config.find(k.key);
    if (found == config.end()) continue;
    const std::string& value = found->second;
    const std::string origin = std::string(k.key) + "=" + value;
    if (k.kind == NemoKey::kValue && !is_null(value)) out.args.emplace_back(std::string(k.flag) + " " + value, origin);
    if (k.kind == NemoKey::kSwitchIfTrue && is_true(value)) out.args.emplace_back(k.flag, origin);
    if (k.kind == NemoKey::kSwitchIfFalse && !is_true(value)) out.args.emplace_back(k.flag, origin);
  }
  return out;
}

Imported import_config_arguments(const std::map<std::string, std::string>& config, const ConfigArgs& a, const std::vector<std::string>& overrides,
                                 const std::string& gpu, int gpus) {
  std::vector<std::string> words = a.launcher;
  std::map<std::string, std::string> origin_of = a.launcher_origins;  // the first word of each argument -> its config key
  for (const auto& [arg, origin] : a.args) {
    words.push_back(arg);
    std::istringstream parts(arg);
    for (std::string part; parts >> part;) {
      if (part.rfind("--", 0) == 0) origin_of[part] = origin;
    }
  }
  Imported r = import_megatron(words, gpu, gpus);
  // The comment speaks the config's language: each mapped line names the key it came from, and
  // a flag listed as not modelled is named by its key, or followed by it when explained.
  for (std::string& line : r.mapped) {
    const std::string flag = line.substr(0, line.find(' '));
    if (const auto found = origin_of.find(flag); found != origin_of.end()) line = found->second + line.substr(line.find(" -> "));
  }
  for (std::string& line : r.not_modelled) {
    const auto found = origin_of.find(line.substr(0, line.find(' ')));
    if (found == origin_of.end()) continue;
    const bool bare = std::any_of(a.args.begin(), a.args.end(), [&](const auto& arg) { return arg.first == line; });
    line = bare ? found->second : line + " (" + found->second + ")";
  }
  r.dropped.clear();
  std::size_t unread = 0;
  for (const auto& entry : config) {
    const std::string& key = entry.first;  // not a structured binding: clang before 16 cannot capture one
    const std::string& value = entry.second;
    const bool used = std::any_of(a.args.begin(), a.args.end(), [&](const auto& arg) { return arg.second.rfind(key + "=", 0) == 0; }) ||
                      std::find(a.consulted.begin(), a.consulted.end(), key) != a.consulted.end();
    if (used) continue;
    const bool overridden = std::any_of(overrides.begin(), overrides.end(), [&](const std::string& o) { return o.rfind(key + "=", 0) == 0; });
    if (overridden) {
      r.not_modelled.push_back(key + "=" + value);
    } else {
      ++unread;
    }
  }
  if (unread > 0) r.dropped.push_back(std::to_string(unread) + " other keys of the config file, none of them one foresight models");
  return r;
}

Imported import_nemo(const std::vector<std::string>& command, const std::string& gpu, int gpus) {
  if (is_nemo2_launch(command)) return import_nemo2(command, gpu, gpus);
  std::string config_path, config_name;
  std::vector<std::string> overrides, dropped, not_modelled;
  for (std::size_t i = 0; i < command.size(); ++i) {
    const std::string& word = command[i];
    const std::size_t equals = word.find('=');
    const std::string flag = word.substr(0, equals);
    if (flag == "--config-path" || flag == "-cp" || flag == "--config-name" || flag == "-cn") {
      const std::optional<std::string> value = flag_value(command, i, equals == std::string::npos ? std::nullopt : std::optional(word.substr(equals + 1)));
      if (!value) throw InputError("", flag, "expected a value after it");
      (flag == "--config-path" || flag == "-cp" ? config_path : config_name) = *value;
    } else if (word.rfind("-", 0) != 0 && equals != std::string::npos) {
      overrides.push_back(word.substr(word.find_first_not_of('+')));  // +key=value and ++key=value add or force a key
    } else {
      (word.rfind("-", 0) == 0 ? not_modelled : dropped).push_back(word);
    }
  }
  std::map<std::string, std::string> raw;
  if (!config_name.empty()) {
    std::filesystem::path file = std::filesystem::path(config_path) / config_name;
    if (!file.has_extension()) file += ".yaml";
    flatten_yaml(read_yaml_mappings(file.string()), "", raw);
  }
  for (const std::string& o : overrides) raw[o.substr(0, o.find('='))] = o.substr(o.find('=') + 1);
  if (raw.empty()) throw InputError("", "the launch command", "no config: expected --config-path DIR --config-name NAME, or key=value overrides");
  std::map<std::string, std::string> config;
  for (const auto& entry : raw) config[entry.first] = resolved(entry.first, raw);

  ConfigArgs args = args_from_table(config, nemo_keys());
  special_keys(config, args.args);
  const auto count = [&](const char* key) { return config.contains(key) ? config.at(key) : std::string(); };
  if (!count("trainer.devices").empty() || !count("trainer.num_nodes").empty()) {
    args.launcher = {"torchrun", "--nproc_per_node", count("trainer.devices").empty() ? "8" : count("trainer.devices"), "--nnodes",
                     count("trainer.num_nodes").empty() ? "1" : count("trainer.num_nodes"), "nemo.py"};
  }
  args.launcher_origins = {{"--nproc_per_node", "trainer.devices=" + count("trainer.devices")}, {"--nnodes", "trainer.num_nodes=" + count("trainer.num_nodes")}};
  // Keys special_keys() reads beside the one its line names.
  args.consulted = {"trainer.devices", "trainer.num_nodes", "model.fp8_hybrid", "model.tokenizer.library", "model.cross_entropy_loss_fusion"};
  Imported r = import_config_arguments(config, args, overrides, gpu, gpus);
  r.dropped.insert(r.dropped.begin(), dropped.begin(), dropped.end());
  r.not_modelled.insert(r.not_modelled.begin(), not_modelled.begin(), not_modelled.end());
  r.scenario["name"] = "nemo " + r.scenario["name"].get<std::string>().substr(9);  // "megatron X" -> "nemo X"
  r.scenario["description"] = "Imported from a NeMo launch command by `foresight import`.";
  return r;
}

}  // namespace foresight
