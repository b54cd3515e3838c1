#include "sim/runner/import_megatron_bridge.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <sstream>

#include "models/model_arch.hpp"
#include "sim/input/input_error.hpp"
#include "sim/runner/import_nemo.hpp"

namespace foresight {

const std::vector<NemoKey>& megatron_bridge_keys() {
  static const std::vector<NemoKey> kKeys = {
      {"model.tensor_model_parallel_size", "--tensor-model-parallel-size"},
      {"model.pipeline_model_parallel_size", "--pipeline-model-parallel-size"},
      {"model.virtual_pipeline_model_parallel_size", "--num-virtual-stages-per-pipeline-rank"},
      {"model.context_parallel_size", "--context-parallel-size"},
      {"model.expert_model_parallel_size", "--expert-model-parallel-size"},
      {"model.expert_tensor_parallel_size", "--expert-tensor-parallel-size"},
      {"model.sequence_parallel", "--sequence-parallel", NemoKey::kSwitchIfTrue},
      {"model.num_layers_in_first_pipeline_stage", "--decoder-first-pipeline-num-layers"},
      {"model.num_layers_in_last_pipeline_stage", "--decoder-last-pipeline-num-layers"},
      {"model.pipeline_model_parallel_layout", "--pipeline-model-parallel-layout"},
      {"model.account_for_embedding_in_pipeline_split", "--account-for-embedding-in-pipeline-split", NemoKey::kSwitchIfTrue},
      {"model.account_for_loss_in_pipeline_split", "--account-for-loss-in-pipeline-split", NemoKey::kSwitchIfTrue},
      {"model.num_layers", "--num-layers"},
      {"model.hidden_size", "--hidden-size"},
      {"model.ffn_hidden_size", "--ffn-hidden-size"},
      {"model.num_attention_heads", "--num-attention-heads"},
      {"model.kv_channels", "--kv-channels"},
      {"model.seq_length", "--seq-length"},
      {"model.max_position_embeddings", "--max-position-embeddings"},
      {"model.vocab_size", "--vocab-size"},
      {"model.make_vocab_size_divisible_by", "--make-vocab-size-divisible-by"},
      {"model.share_embeddings_and_output_weights", "--untie-embeddings-and-output-weights", NemoKey::kSwitchIfFalse},
      {"model.add_bias_linear", "--disable-bias-linear", NemoKey::kSwitchIfFalse},
      {"model.add_qkv_bias", "--add-qkv-bias", NemoKey::kSwitchIfTrue},
      {"model.qk_layernorm", "--qk-layernorm", NemoKey::kSwitchIfTrue},
      {"model.hidden_dropout", "--hidden-dropout"},
      {"model.attention_dropout", "--attention-dropout"},
      {"model.multi_latent_attention", "--multi-latent-attention", NemoKey::kSwitchIfTrue},
      {"model.q_lora_rank", "--q-lora-rank"},
      {"model.kv_lora_rank", "--kv-lora-rank"},
      {"model.qk_head_dim", "--qk-head-dim"},
      {"model.qk_pos_emb_head_dim", "--qk-pos-emb-head-dim"},
      {"model.v_head_dim", "--v-head-dim"},
      {"model.num_moe_experts", "--num-experts"},
      {"model.moe_router_topk", "--moe-router-topk"},
      {"model.moe_ffn_hidden_size", "--moe-ffn-hidden-size"},
      {"model.moe_shared_expert_intermediate_size", "--moe-shared-expert-intermediate-size"},
      {"model.moe_token_dispatcher_type", "--moe-token-dispatcher-type"},
      {"model.moe_enable_deepep", "--moe-enable-deepep", NemoKey::kSwitchIfTrue},
      {"model.moe_shared_expert_overlap", "--moe-shared-expert-overlap", NemoKey::kSwitchIfTrue},
      {"model.moe_expert_capacity_factor", "--moe-expert-capacity-factor"},
      {"model.moe_pad_expert_input_to_capacity", "--moe-pad-expert-input-to-capacity", NemoKey::kSwitchIfTrue},
      {"model.recompute_granularity", "--recompute-granularity"},
      {"model.recompute_method", "--recompute-method"},
      {"model.recompute_modules", "--recompute-modules"},
      {"model.cpu_offloading", "--cpu-offloading", NemoKey::kSwitchIfTrue},
      {"model.cpu_offloading_num_layers", "--cpu-offloading-num-layers"},
      {"model.mtp_num_layers", "--mtp-num-layers"},
      {"model.tp_comm_overlap", "--tp-comm-overlap", NemoKey::kSwitchIfTrue},
      {"comm_overlap.tp_comm_overlap", "--tp-comm-overlap", NemoKey::kSwitchIfTrue},
      {"model.overlap_p2p_comm", "--overlap-p2p-communication", NemoKey::kSwitchIfTrue},
      {"model.overlap_moe_expert_parallel_comm", "--overlap-moe-expert-parallel-comm", NemoKey::kSwitchIfTrue},
      {"comm_overlap.overlap_moe_expert_parallel_comm", "--overlap-moe-expert-parallel-comm", NemoKey::kSwitchIfTrue},
      {"model.delay_wgrad_compute", "--delay-wgrad-compute", NemoKey::kSwitchIfTrue},
      {"comm_overlap.delay_wgrad_compute", "--delay-wgrad-compute", NemoKey::kSwitchIfTrue},
      {"model.cross_entropy_loss_fusion", "--cross-entropy-loss-fusion", NemoKey::kSwitchIfTrue},
      {"model.gradient_accumulation_fusion", "--no-gradient-accumulation-fusion", NemoKey::kSwitchIfFalse},
      {"model.calculate_per_token_loss", "--calculate-per-token-loss", NemoKey::kSwitchIfTrue},
      {"model.cuda_graph_impl", "--cuda-graph-impl"},
      {"train.micro_batch_size", "--micro-batch-size"},
      {"train.global_batch_size", "--global-batch-size"},
      {"ddp.overlap_grad_reduce", "--overlap-grad-reduce", NemoKey::kSwitchIfTrue},
      {"ddp.overlap_param_gather", "--overlap-param-gather", NemoKey::kSwitchIfTrue},
      {"ddp.use_distributed_optimizer", "--use-distributed-optimizer", NemoKey::kSwitchIfTrue},
      {"optimizer.use_distributed_optimizer", "--use-distributed-optimizer", NemoKey::kSwitchIfTrue},
      {"ddp.use_megatron_fsdp", "--use-megatron-fsdp", NemoKey::kSwitchIfTrue},
      {"dist.use_torch_fsdp2", "--use-torch-fsdp2", NemoKey::kSwitchIfTrue},
      {"optimizer.clip_grad", "--clip-grad"},
  };
  return kKeys;
}

namespace {

using Config = std::map<std::string, std::string>;

// A field's value, "" when absent or null.
std::string field(const Config& c, const std::string& key) {
  const auto found = c.find(key);
  return found == c.end() || is_null(found->second) ? std::string() : found->second;
}

// Megatron-Bridge applies the mixed_precision config over the model's and the DDP config's
// precision fields when it sets a run up, so its value wins; else the model's (or DDP's).
std::pair<std::string, std::string> precision_field(const Config& c, const std::string& name, const std::string& fallback_section = "model") {
  for (const std::string& section : {std::string("mixed_precision"), fallback_section}) {
    const std::string key = section + "." + name;
    if (c.contains(key)) return {key, field(c, key)};
  }
  return {"", ""};
}

void add(ConfigArgs& a, const std::string& arg, const std::pair<std::string, std::string>& from) { a.args.emplace_back(arg, from.first + "=" + from.second); }

void precision_args(const Config& c, ConfigArgs& a) {
  if (const auto bf16 = precision_field(c, "bf16"); is_true(bf16.second)) add(a, "--bf16", bf16);
  if (const auto fp16 = precision_field(c, "fp16"); is_true(fp16.second)) add(a, "--fp16", fp16);
  if (const auto fp8 = precision_field(c, "fp8"); !fp8.second.empty()) {
    add(a, "--fp8-format " + fp8.second, fp8);
    if (const auto recipe = precision_field(c, "fp8_recipe"); !recipe.second.empty()) add(a, "--fp8-recipe " + recipe.second, recipe);
  }
  if (const auto gather = precision_field(c, "fp8_param_gather", "ddp"); is_true(gather.second)) add(a, "--fp8-param-gather", gather);
  if (const auto ends = precision_field(c, "first_last_layers_bf16"); is_true(ends.second)) {
    add(a, "--first-last-layers-bf16", ends);
    for (const char* end : {"start", "end"}) {
      const std::string name = std::string("num_layers_at_") + end + "_in_bf16";
      if (const auto count = precision_field(c, name); !count.second.empty()) add(a, "--num-layers-at-" + std::string(end) + "-in-bf16 " + count.second, count);
    }
  }
  const auto fp32 = precision_field(c, "grad_reduce_in_fp32", "ddp");
  if (!fp32.first.empty() && !is_true(fp32.second)) add(a, "--grad-reduce-in-bf16", fp32);
}

// Fields whose Megatron argument depends on another's value.
void architecture_args(const Config& c, ConfigArgs& a) {
  const std::string groups = field(c, "model.num_query_groups");
  if (!groups.empty() && groups != field(c, "model.num_attention_heads")) {
    add(a, "--group-query-attention --num-query-groups " + groups, {"model.num_query_groups", groups});
  }
  if (field(c, "model.normalization") == "RMSNorm") add(a, "--normalization RMSNorm", {"model.normalization", "RMSNorm"});
  const std::string position = field(c, "model.position_embedding_type");
  if (position == "rope" || position == "yarn") add(a, "--position-embedding-type rope", {"model.position_embedding_type", position});  // YaRN rescales RoPE's frequencies
  const std::string activation = field(c, "model.activation_func._target_");
  if (is_true(field(c, "model.gated_linear_unit")) && activation.ends_with(".silu")) add(a, "--swiglu", {"model.activation_func._target_", activation});
  const std::string graphs = field(c, "model.cuda_graph_impl");
  if (const std::string scope = field(c, "model.cuda_graph_scope"); !graphs.empty() && graphs != "none" && !scope.empty()) {
    add(a, "--cuda-graph-scope " + scope, {"model.cuda_graph_scope", scope});
  }
  if (const std::string backend = field(c, "model.attention_backend"); !backend.empty()) {
    add(a, "--attention-backend " + backend.substr(backend.rfind('.') + 1), {"model.attention_backend", backend});  // AttnBackend.fused or fused
  }
  // 1, Megatron's "([0]*K+[1]*M)", or a list of 0 and 1 per layer (a YAML list, its items
  // joined by spaces): leading dense layers as Megatron's argument writes them.
  if (std::string frequency = field(c, "model.moe_layer_freq"); !frequency.empty() && frequency.front() != '(') {
    std::erase_if(frequency, [](char ch) { return ch == '[' || ch == ']' || ch == ','; });
    std::istringstream words(frequency);
    std::vector<std::string> flags;
    for (std::string word; words >> word;) flags.push_back(word);
    const auto dense = static_cast<std::size_t>(std::find(flags.begin(), flags.end(), "1") - flags.begin());
    const bool leading_dense = flags.size() > 1 && std::all_of(flags.begin() + static_cast<std::ptrdiff_t>(dense), flags.end(), [](const std::string& f) { return f == "1"; });
    const std::string value = flags.size() == 1 ? flags[0] : leading_dense ? "([0]*" + std::to_string(dense) + "+[1]*" + std::to_string(flags.size() - dense) + ")" : frequency;
    add(a, "--moe-layer-freq " + value, {"model.moe_layer_freq", field(c, "model.moe_layer_freq")});
  } else if (!frequency.empty()) {
    add(a, "--moe-layer-freq " + frequency, {"model.moe_layer_freq", frequency});
  }
  if (is_true(field(c, "ddp.use_megatron_fsdp"))) {
    if (const std::string sharding = field(c, "ddp.data_parallel_sharding_strategy"); !sharding.empty()) {
      add(a, "--data-parallel-sharding-strategy " + sharding, {"ddp.data_parallel_sharding_strategy", sharding});
    }
  }
  if (field(c, "model.seq_length").empty()) {
    for (const char* key : {"dataset.sequence_length", "dataset.seq_length"}) {
      if (const std::string length = field(c, key); !length.empty()) {
        add(a, "--seq-length " + length, {key, length});
        break;
      }
    }
  }
}

// The launch: the config file, key=value overrides, and train.sh's cluster flags.
struct Launch {
  std::string config;
  std::vector<std::string> overrides, dropped, not_modelled;
  std::string nodes, per_node;
};

Launch read_launch(const std::vector<std::string>& command) {
  Launch l;
  for (std::size_t i = 0; i < command.size(); ++i) {
    const std::string& word = command[i];
    const std::size_t equals = word.find('=');
    const std::string flag = word.substr(0, equals);
    const auto inline_value = equals == std::string::npos ? std::nullopt : std::optional(word.substr(equals + 1));
    if (flag == "--nodes" || flag == "-N" || flag == "--gpus-per-node" || flag == "--gpus_per_node") {
      const std::optional<std::string> value = flag_value(command, i, inline_value);
      if (!value) throw InputError("", flag, "expected a number after it");
      whole_value(flag, *value);
      (flag == "--nodes" || flag == "-N" ? l.nodes : l.per_node) = *value;
    } else if (flag == "--config-file" || flag == "--config_file") {
      const std::optional<std::string> value = flag_value(command, i, inline_value);
      if (!value) throw InputError("", flag, "expected the ConfigContainer's YAML file after it");
      l.config = *value;
    } else if (word.rfind("-", 0) != 0 && equals != std::string::npos) {
      l.overrides.push_back(word.substr(word.find_first_not_of('+')));
    } else if (word.rfind("-", 0) != 0 && (word.ends_with(".yaml") || word.ends_with(".yml")) && l.config.empty()) {
      l.config = word;
    } else {
      (word.rfind("-", 0) == 0 ? l.not_modelled : l.dropped).push_back(word);
    }
  }
  if (l.config.empty()) {
    throw InputError("", "the launch command", "no ConfigContainer YAML: expected a .yaml file (saved by logger.save_config_filepath, or a dry run's)");
  }
  return l;
}

// The catalog's model where hf_model_id names one of the config's shape: it holds what the
// fields that became Megatron arguments cannot say (windowed layers, attention sinks, the MoE
// activation). Lines about the model built from the fields then go.
void use_catalog_model(const Config& c, Imported& r) {
  const std::string id = field(c, "model.hf_model_id");
  if (id.empty()) return;
  const std::optional<nlohmann::json> name = catalog_model_for(id);
  const ModelArch* model = name && name->is_string() ? find_builtin_model(name->get<std::string>()) : nullptr;
  if (model == nullptr) {
    r.assumed.push_back("model.hf_model_id=" + id + ": not in the catalog (`foresight list models`), so the model is built from the config's fields");
    return;
  }
  const bool same = field(c, "model.num_layers") == std::to_string(model->layers) && field(c, "model.hidden_size") == std::to_string(model->hidden) &&
                    field(c, "model.num_attention_heads") == std::to_string(model->heads);
  if (!same) {
    r.assumed.push_back("model.hf_model_id=" + id + " names " + model->name + ", of another shape than the config's fields, which are used");
    return;
  }
  r.scenario["model"] = model->name;
  for (std::vector<std::string>* lines : {&r.mapped, &r.assumed}) {
    std::erase_if(*lines, [](const std::string& line) { return line.find("-> model.") != std::string::npos; });
  }
  r.mapped.insert(r.mapped.begin(), "model.hf_model_id=" + id + " -> model = \"" + model->name + "\" (the catalog's, of the fields' shape)");
}
}  // namespace

Imported import_megatron_bridge(const std::vector<std::string>& command, const std::string& gpu, int gpus) {
  const Launch launch = read_launch(command);
  Config config;
  flatten_yaml(read_yaml_mappings(launch.config), "", config);
  for (const std::string& o : launch.overrides) config[o.substr(0, o.find('='))] = o.substr(o.find('=') + 1);

  ConfigArgs args = args_from_table(config, megatron_bridge_keys());
  precision_args(config, args);
  architecture_args(config, args);
  if (!launch.nodes.empty() || !launch.per_node.empty()) {
    args.launcher = {"torchrun", "--nproc_per_node", launch.per_node.empty() ? "8" : launch.per_node, "--nnodes",
                     launch.nodes.empty() ? "1" : launch.nodes, "run_recipe.py"};
    args.launcher_origins = {{"--nproc_per_node", launch.per_node.empty() ? "no --gpus-per-node: 8" : "--gpus-per-node " + launch.per_node},
                             {"--nnodes", launch.nodes.empty() ? "no --nodes: 1" : "--nodes " + launch.nodes}};
  }
  // Read beside the table: they pick which of two fields wins, or only restate the shape.
  args.consulted = {"model.hf_model_id", "model.gated_linear_unit", "model.moe_layer_freq", "model.cuda_graph_scope", "model.bf16", "model.fp16", "model.fp8",
                    "model.fp8_recipe", "model.fp8_param_gather", "ddp.grad_reduce_in_fp32", "ddp.fp8_param_gather", "dataset.sequence_length",
                    "model.first_last_layers_bf16", "model.num_layers_at_start_in_bf16", "model.num_layers_at_end_in_bf16",
                    "mixed_precision.first_last_layers_bf16", "mixed_precision.num_layers_at_start_in_bf16",
                    "mixed_precision.num_layers_at_end_in_bf16"};
  Imported r = import_config_arguments(config, args, launch.overrides, gpu, gpus);
  use_catalog_model(config, r);
  const std::string name = r.scenario["model"].is_string() ? r.scenario["model"].get<std::string>() : r.scenario["name"].get<std::string>().substr(9);
  r.dropped.insert(r.dropped.begin(), launch.dropped.begin(), launch.dropped.end());
  r.not_modelled.insert(r.not_modelled.begin(), launch.not_modelled.begin(), launch.not_modelled.end());
  r.scenario["name"] = "megatron-bridge " + name;
  r.scenario["description"] = "Imported from a Megatron-Bridge ConfigContainer (" + launch.config + ") by `foresight import`.";
  return r;
}

}  // namespace foresight
