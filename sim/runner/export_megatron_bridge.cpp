#include "sim/runner/export_megatron_bridge.hpp"

#include <map>
#include <utility>

#include "sim/runner/export_megatron.hpp"
#include "sim/runner/import_megatron_bridge.hpp"
#include "sim/runner/import_support.hpp"

namespace foresight {
namespace {

// A flag of the launch and the words after it.
struct Argument {
  std::string flag;
  std::vector<std::string> values;
};

std::vector<Argument> arguments_of(const std::vector<std::vector<std::string>>& lines) {
  std::vector<Argument> out;
  for (std::size_t i = 1; i < lines.size(); ++i) {  // lines[0] is torchrun's
    for (std::string word : lines[i]) {
      if (word.rfind("--", 0) == 0) {
        out.push_back({word, {}});
        continue;
      }
      if (word.size() >= 2 && word.front() == '\'' && word.back() == '\'') word = word.substr(1, word.size() - 2);  // quoted for the shell
      if (!out.empty()) out.back().values.push_back(word);
    }
  }
  return out;
}

// Fields in the order they are first set, by section.
class Fields {
 public:
  void set(const std::string& key, const std::string& value) {
    const std::size_t dot = key.find('.');
    auto& section = sections_[key.substr(0, dot)];
    for (auto& [name, existing] : section) {
      if (name == key.substr(dot + 1)) {
        existing = value;
        return;
      }
    }
    section.emplace_back(key.substr(dot + 1), value);
    if (std::find(order_.begin(), order_.end(), key.substr(0, dot)) == order_.end()) order_.push_back(key.substr(0, dot));
  }
  std::string yaml() const {
    std::string text;
    for (const std::string& name : order_) {
      text += name + ":\n";
      for (const auto& [field, value] : sections_.at(name)) text += "  " + field + ":" + (value.rfind("\n", 0) == 0 ? "" : " ") + value + "\n";
    }
    return text;
  }

 private:
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> sections_;
  std::vector<std::string> order_;
};

// A YAML scalar: quoted where a plain one would mean something else ('|' starts a block).
std::string scalar(const std::string& value) {
  const bool plain = !value.empty() && value.find_first_of("|>*&!%@`#'\"{}[],:") == std::string::npos;
  return plain ? value : "\"" + value + "\"";
}

std::string block_list(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += "\n  - " + scalar(item);
  return text;
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

// Arguments whose field is not one table row read backwards.
bool set_special(const Argument& a, Fields& f) {
  const std::string value = joined(a.values);
  if (a.flag == "--swiglu") {
    f.set("model.gated_linear_unit", "true");
    f.set("model.activation_func", "\n    _call_: false\n    _target_: torch.nn.functional.silu");
  } else if (a.flag == "--normalization") {
    f.set("model.normalization", value);
  } else if (a.flag == "--position-embedding-type") {
    f.set("model.position_embedding_type", value);
  } else if (a.flag == "--group-query-attention") {
  } else if (a.flag == "--num-query-groups") {
    f.set("model.num_query_groups", value);
  } else if (a.flag == "--bf16" || a.flag == "--fp16") {
    f.set("mixed_precision." + a.flag.substr(2), "true");
  } else if (a.flag == "--fp8-format") {
    f.set("mixed_precision.fp8", value);
  } else if (a.flag == "--fp8-recipe") {
    f.set("mixed_precision.fp8_recipe", value);
  } else if (a.flag == "--fp8-param-gather") {
    f.set("mixed_precision.fp8_param_gather", "true");
  } else if (a.flag == "--first-last-layers-bf16") {
    f.set("mixed_precision.first_last_layers_bf16", "true");
  } else if (a.flag == "--num-layers-at-start-in-bf16" || a.flag == "--num-layers-at-end-in-bf16") {
    f.set(a.flag == "--num-layers-at-start-in-bf16" ? "mixed_precision.num_layers_at_start_in_bf16" : "mixed_precision.num_layers_at_end_in_bf16", value);
  } else if (a.flag == "--grad-reduce-in-bf16" || a.flag == "--accumulate-allreduce-grads-in-fp32") {
    f.set("mixed_precision.grad_reduce_in_fp32", a.flag == "--grad-reduce-in-bf16" ? "false" : "true");
  } else if (a.flag == "--data-parallel-sharding-strategy") {
    f.set("ddp.data_parallel_sharding_strategy", value);
  } else if (a.flag == "--cuda-graph-scope" || a.flag == "--recompute-modules") {
    f.set(a.flag == "--cuda-graph-scope" ? "model.cuda_graph_scope" : "model.recompute_modules", block_list(a.values));
  } else if (a.flag == "--attention-backend") {
    f.set("model.attention_backend", value);
  } else if (a.flag == "--moe-layer-freq") {
    f.set("model.moe_layer_freq", scalar(value));
  } else if (a.flag == "--moe-flex-dispatcher-backend") {
    f.set("model.moe_flex_dispatcher_backend", value);
  } else {
    return false;
  }
  return true;
}

// Every table row of the flag, read backwards (the distributed optimizer is DDP's and the optimizer's).
bool set_from_table(const Argument& a, Fields& f) {
  bool found = false;
  for (const NemoKey& k : megatron_bridge_keys()) {
    if (a.flag != k.flag) continue;
    found = true;
    if (k.kind == NemoKey::kValue) f.set(k.key, scalar(joined(a.values)));
    if (k.kind == NemoKey::kSwitchIfTrue) f.set(k.key, "true");
    if (k.kind == NemoKey::kSwitchIfFalse) f.set(k.key, "false");
    const std::string key = k.key;
    if (key == "model.tp_comm_overlap" || key == "model.overlap_moe_expert_parallel_comm") break;  // comm_overlap's row restates it
  }
  return found;
}
}  // namespace

std::string megatron_bridge_config_text(const Scenario& s, const std::string& label) {
  MegatronLaunch launch = megatron_launch(s);
  Fields fields;
  if (const std::string id = huggingface_id(s.model); id.find('/') != std::string::npos) fields.set("model.hf_model_id", id);
  for (const Argument& a : arguments_of(launch.lines)) {
    if (!set_special(a, fields) && !set_from_table(a, fields)) launch.notes.push_back(a.flag + " " + joined(a.values) + ": no ConfigContainer field foresight knows");
  }
  const std::vector<std::string>& torchrun = launch.lines.front();  // torchrun --nproc_per_node G --nnodes N pretrain_gpt.py
  std::string text = "# foresight export megatron-bridge: " + label + "\n";
  text += "# A ConfigContainer override file: apply it to the model's pretraining recipe, and run on " + torchrun[4] + " node(s) of " +
          torchrun[2] + " GPUs (train.sh --nodes " + torchrun[4] + " --gpus-per-node " + torchrun[2] + ").\n";
  text += "# Add your data, tokenizer, checkpoint and learning-rate settings.\n";
  // Megatron-Bridge fine-tunes with LoRA through its finetuning recipes' peft, not a field of the pretraining recipe.
  if (s.training.lora.on()) {
    std::erase_if(launch.notes, [](const std::string& note) { return note == kMegatronLoraNote; });
    text += "# LoRA: use the model's finetuning recipe with peft = LoRA(target_modules=[\"" + adapted_layers(s.training.lora, true, "\", \"") +
            "\"], dim=" + std::to_string(s.training.lora.rank) + ") (megatron.bridge.peft.lora); the pretraining recipe trains every weight.\n";
  }
  for (const std::string& note : launch.notes) text += "# Not expressible as ConfigContainer fields: " + note + "\n";
  if (s.fabric.nodes > 1) text += "# The cluster's fabric (NICs, switches) is the scenario's hardware.topology, not part of the config.\n";
  return text + fields.yaml();
}

}  // namespace foresight
