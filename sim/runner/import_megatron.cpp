#include "sim/runner/import_megatron.hpp"

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "models/model_arch.hpp"
#include "sim/input/input_error.hpp"
#include "sim/runner/megatron_layout.hpp"
#include "workloads/training_config.hpp"

namespace foresight {
namespace {
const char* const kCommand = "the launch command";

bool is_script(const std::string& word) { return word.size() > 3 && word.compare(word.size() - 3, 3, ".py") == 0; }

// Reads the launcher's words, up to and including the training script; returns where
// Megatron's own arguments start.
std::size_t read_megatron_launcher(const std::vector<std::string>& words, Launcher& launcher, Imported& r) {
  const auto script = std::find_if(words.begin(), words.end(), is_script);
  if (script == words.end()) {
    if (!words.empty() && words.front().rfind("--", 0) == 0) return 0;  // the arguments alone
    throw InputError("", kCommand, "expected pretrain_gpt.py and its arguments, expanded as the shell runs them (`bash -x` prints them)");
  }
  const auto at = static_cast<std::size_t>(script - words.begin());
  read_launcher(words, at, launcher, r);
  return at + 1;
}

// Megatron's arguments: each flag's value (the last one given wins, as argparse has it),
// with the words after it up to the next flag; "" for a switch.
class MegatronArgs {
 public:
  MegatronArgs(const std::vector<std::string>& words, std::size_t start, Imported& r) : r_(r) {
    for (std::size_t i = start; i < words.size(); ++i) {
      if (words[i].rfind("--", 0) != 0) {
        r.not_modelled.push_back(words[i]);  // a stray word: a positional argument Megatron does not take
        continue;
      }
      const std::size_t equals = words[i].find('=');
      const std::string flag = words[i].substr(0, equals);
      std::string value = equals == std::string::npos ? "" : words[i].substr(equals + 1);
      while (equals == std::string::npos && i + 1 < words.size() && words[i + 1].rfind("--", 0) != 0) {
        value += (value.empty() ? "" : " ") + words[++i];
      }
      std::erase_if(given_, [&](const auto& g) { return g.first == flag; });
      given_.emplace_back(flag, value);
    }
  }

  bool has(const std::string& flag) const { return find(flag) != given_.end(); }
  // The flag's value, left unread.
  std::optional<std::string> peek(const std::string& flag) const {
    const auto at = find(flag);
    return at == given_.end() ? std::nullopt : std::optional(at->second);
  }
  // The flag's value, marked as read: it is not listed again among the dropped.
  std::optional<std::string> take(const std::string& flag) {
    const auto at = find(flag);
    if (at == given_.end()) return std::nullopt;
    read_.insert(flag);
    return at->second;
  }
  std::optional<std::int64_t> whole(const std::string& flag) {
    const std::optional<std::string> value = take(flag);
    return value ? std::optional(whole_value(flag, *value)) : std::nullopt;
  }
  std::optional<double> number(const std::string& flag) {
    const std::optional<std::string> value = take(flag);
    return value ? std::optional(number_value(flag, *value)) : std::nullopt;
  }
  // Records that `flag` (as given) set `key`.
  void map(const std::string& flag, const std::string& key, const nlohmann::json& value) {
    const auto at = find(flag);
    r_.mapped.push_back(flag + (at != given_.end() && !at->second.empty() ? " " + at->second : "") + " -> " + key + " = " + value.dump());
  }
  std::vector<std::pair<std::string, std::string>> unread() const {
    std::vector<std::pair<std::string, std::string>> rest;
    for (const auto& g : given_) {
      if (!read_.contains(g.first)) rest.push_back(g);
    }
    return rest;
  }

 private:
  std::vector<std::pair<std::string, std::string>>::const_iterator find(const std::string& flag) const {
    return std::find_if(given_.begin(), given_.end(), [&](const auto& g) { return g.first == flag; });
  }
  Imported& r_;
  std::vector<std::pair<std::string, std::string>> given_;
  std::set<std::string> read_;
};

// Sets `key` in `object` from an integer flag; returns the value, or `fallback` when absent.
std::int64_t whole_into(MegatronArgs& a, const std::string& flag, nlohmann::json& object, const std::string& key, const std::string& path,
                        std::int64_t fallback) {
  const std::optional<std::int64_t> value = a.whole(flag);
  if (!value) return fallback;
  object[key] = *value;
  a.map(flag, path + key, *value);
  return *value;
}

// Megatron pads its vocabulary to a multiple of make_vocab_size_divisible_by x TP.
std::int64_t vocabulary(MegatronArgs& a, Imported& r, std::int64_t tp) {
  std::int64_t vocab = 0;
  std::string from;
  const std::optional<std::string> tokenizer = a.take("--tokenizer-type");
  const std::optional<std::string> tokenizer_model = a.take("--tokenizer-model");
  if (const auto size = a.whole("--vocab-size")) {
    vocab = *size, from = "--vocab-size " + std::to_string(*size);
  } else if (tokenizer ? *tokenizer == "GPT2BPETokenizer" : a.has("--merge-file")) {  // pretrain_gpt.py's default tokenizer
    vocab = 50257, from = "GPT-2's BPE vocabulary (50,257 tokens)";
  } else if (const auto model = tokenizer_model ? catalog_model_for(*tokenizer_model) : std::nullopt; model && model->is_string()) {
    vocab = find_builtin_model(model->get<std::string>())->vocab, from = "the vocabulary of " + *tokenizer_model;
  } else {
    vocab = 128256, from = "no vocabulary size in the command (--vocab-size): Llama 3's 128,256 tokens";
  }
  const std::int64_t multiple = a.whole("--make-vocab-size-divisible-by").value_or(128) * tp;
  const std::int64_t padded = (vocab + multiple - 1) / multiple * multiple;
  if (a.has("--vocab-size") && padded == vocab) {
    a.map("--vocab-size", "model.vocab", vocab);
  } else {
    r.assumed.push_back(from + ", padded to a multiple of " + std::to_string(multiple) + " -> model.vocab = " + std::to_string(padded));
  }
  return padded;
}

// --moe-layer-freq: 1 (every layer routes), or a list whose leading zeros are dense layers,
// as DeepSeek-V3's "([0]*3+[1]*58)" writes it; other patterns (experts every Nth layer) are refused.
std::int64_t leading_dense_layers(const std::string& value, std::int64_t layers) {
  if (value == "1") return 0;
  std::int64_t dense = 0, routed = 0;
  char close = 0;
  const int matched = std::sscanf(value.c_str(), "([0]*%" SCNd64 "+[1]*%" SCNd64 "%c", &dense, &routed, &close);
  const int bare = matched == 3 ? 0 : std::sscanf(value.c_str(), "[0]*%" SCNd64 "+[1]*%" SCNd64, &dense, &routed);
  if (!((matched == 3 && close == ')') || bare == 2) || dense < 0 || routed < 1 || dense + routed != layers) {
    throw InputError("", "--moe-layer-freq", "expected 1 or \"([0]*K+[1]*M)\" with K + M = --num-layers (" + std::to_string(layers) +
                                                 "): only leading dense layers are modelled, got \"" + value + "\"");
  }
  return dense;
}

// Megatron-core's multi-latent attention, with its defaults: queries straight from the hidden
// state unless --q-lora-rank, a key/value latent of 512, 128-wide nope and value heads and a
// 64-wide rotary part.
void read_latent_attention(MegatronArgs& a, nlohmann::json& m) {
  m["kv_latent"] = whole_into(a, "--kv-lora-rank", m, "kv_latent", "model.", 512);
  a.map("--multi-latent-attention", "model.kv_latent", m["kv_latent"]);
  m["q_latent"] = whole_into(a, "--q-lora-rank", m, "q_latent", "model.", 0);
  const std::int64_t rope = whole_into(a, "--qk-pos-emb-head-dim", m, "rope_head_dim", "model.", 64);
  m["rope_head_dim"] = rope;
  m["v_head_dim"] = whole_into(a, "--v-head-dim", m, "v_head_dim", "model.", 128);
  const std::optional<std::int64_t> nope = a.whole("--qk-head-dim");
  m["head_dim"] = nope.value_or(128) + rope;
  if (nope) a.map("--qk-head-dim", "model.head_dim", m["head_dim"]);
  m["kv_heads"] = m["heads"];  // every head's key and value come up from the latent
}

nlohmann::json architecture(MegatronArgs& a, Imported& r, std::int64_t tp, std::int64_t sequence) {
  nlohmann::json m;
  const auto required = [&](const char* flag, const char* key) {
    const std::int64_t value = whole_into(a, flag, m, key, "model.", 0);
    if (value == 0) throw InputError("", kCommand, std::string("no ") + flag + ": expected pretrain_gpt.py's model arguments");
    return value;
  };
  const std::int64_t layers = required("--num-layers", "layers"), hidden = required("--hidden-size", "hidden");
  const std::int64_t heads = required("--num-attention-heads", "heads");
  m["name"] = "gpt_" + std::to_string(layers) + "x" + std::to_string(hidden);
  const bool swiglu = a.take("--swiglu").has_value();
  m["gated_mlp"] = swiglu;
  m["activation"] = swiglu ? "silu" : "gelu";
  if (swiglu) a.map("--swiglu", "model.gated_mlp", true);
  const std::int64_t ffn = swiglu ? (4 * hidden * 2 / 3) / 64 * 64 : 4 * hidden;
  if (whole_into(a, "--ffn-hidden-size", m, "ffn_hidden", "model.", 0) == 0) {
    m["ffn_hidden"] = ffn;
    r.assumed.push_back(std::string("Megatron's default MLP width, ") + (swiglu ? "4h x 2/3 rounded down to 64" : "4h") + " -> model.ffn_hidden = " + std::to_string(ffn));
  }
  if (whole_into(a, "--kv-channels", m, "head_dim", "model.", 0) == 0) m["head_dim"] = hidden / heads;
  const bool grouped = a.take("--group-query-attention").has_value();
  m["kv_heads"] = heads;
  if (grouped) m["kv_heads"] = whole_into(a, "--num-query-groups", m, "kv_heads", "model.", 1);
  if (whole_into(a, "--max-position-embeddings", m, "max_positions", "model.", 0) == 0) m["max_positions"] = sequence;
  m["norm"] = "layernorm";
  if (const auto norm = a.take("--normalization"); norm && *norm == "RMSNorm") m["norm"] = "rmsnorm";
  if (a.has("--normalization")) a.map("--normalization", "model.norm", m["norm"]);
  m["position"] = "learned";
  if (a.take("--use-rotary-position-embeddings") || a.take("--position-embedding-type").value_or("") == "rope") {
    m["position"] = "rotary";
    a.map(a.has("--position-embedding-type") ? "--position-embedding-type" : "--use-rotary-position-embeddings", "model.position", "rotary");
  }
  m["tied_embeddings"] = !a.take("--untie-embeddings-and-output-weights").has_value();
  if (!m["tied_embeddings"]) a.map("--untie-embeddings-and-output-weights", "model.tied_embeddings", false);
  m["linear_bias"] = !a.take("--disable-bias-linear").has_value();
  if (!m["linear_bias"]) a.map("--disable-bias-linear", "model.linear_bias", false);
  m["qkv_bias"] = a.take("--add-qkv-bias").has_value() && !m["linear_bias"];
  if (m["qkv_bias"]) a.map("--add-qkv-bias", "model.qkv_bias", true);
  m["qk_norm"] = a.take("--qk-layernorm").has_value();
  if (m["qk_norm"]) a.map("--qk-layernorm", "model.qk_norm", true);
  if (whole_into(a, "--num-experts", m, "experts", "model.", 0) > 0) {
    m["experts_per_token"] = whole_into(a, "--moe-router-topk", m, "experts_per_token", "model.", 2);
    const std::int64_t dense_ffn = m["ffn_hidden"];
    whole_into(a, "--moe-ffn-hidden-size", m, "ffn_hidden", "model.", 0);
    whole_into(a, "--moe-shared-expert-intermediate-size", m, "shared_expert_ffn", "model.", 0);
    if (const std::optional<std::string> frequency = a.take("--moe-layer-freq")) {
      const std::int64_t dense = leading_dense_layers(*frequency, layers);
      if (dense > 0) {
        m["dense_layers"] = dense;
        m["dense_ffn"] = dense_ffn;  // --ffn-hidden-size is the dense layers' MLP beside --moe-ffn-hidden-size
      }
      a.map("--moe-layer-freq", "model.dense_layers", dense);
    }
  }
  if (a.take("--multi-latent-attention")) read_latent_attention(a, m);
  m["vocab"] = vocabulary(a, r, tp);
  return m;
}

// The catalog's name for the same shape, if it has one.
nlohmann::json catalog_name_or(const nlohmann::json& model) {
  for (const ModelArch& c : builtin_models()) {
    const bool same = c.layers == model["layers"] && c.hidden == model["hidden"] && c.heads == model["heads"] && c.kv_heads == model["kv_heads"] &&
                      c.head_dim == model["head_dim"] && c.ffn_hidden == model["ffn_hidden"] && c.vocab == model["vocab"] &&
                      c.gated_mlp == model["gated_mlp"] && c.tied_embeddings == model["tied_embeddings"] && c.linear_bias == model["linear_bias"] &&
                      c.qkv_bias == model["qkv_bias"] && c.qk_norm == model["qk_norm"] && c.experts == model.value("experts", 0) &&
                      c.shared_expert_ffn == model.value("shared_expert_ffn", 0) &&
                      c.mla.kv_rank == model.value("kv_latent", 0) && c.mla.q_rank == model.value("q_latent", 0) &&
                      c.dense_layers == model.value("dense_layers", 0) &&
                      c.sliding_window == 0 &&
                      (c.norm == NormKind::kRmsNorm) == (model["norm"] == "rmsnorm") &&
                      (c.position == PositionKind::kRotary) == (model["position"] == "rotary") && c.max_positions == model["max_positions"] &&
                      c.encoder_layers == 0;
    if (same) return c.name;
  }
  return model;
}

// --first-last-layers-bf16: fp8 training keeps the first and last decoder layers in bf16, one
// at each end unless told (TransformerConfig's num_layers_at_start_in_bf16 and _at_end_in_bf16).
void set_bf16_layers(MegatronArgs& a, Imported& r, nlohmann::json& t, bool fp8) {
  const bool ends_in_bf16 = a.take("--first-last-layers-bf16").has_value();
  const std::optional<std::int64_t> start = a.whole("--num-layers-at-start-in-bf16"), end = a.whole("--num-layers-at-end-in-bf16");
  if (!ends_in_bf16) {
    if (start) r.dropped.push_back("--num-layers-at-start-in-bf16 (without --first-last-layers-bf16 Megatron does not read it)");
    if (end) r.dropped.push_back("--num-layers-at-end-in-bf16 (without --first-last-layers-bf16 Megatron does not read it)");
    return;
  }
  if (!fp8) {
    r.dropped.push_back("--first-last-layers-bf16 (without --fp8-format every layer runs in bf16)");
    return;
  }
  const auto set = [&](const char* flag, const char* key, std::optional<std::int64_t> given) {
    t[key] = given.value_or(1);
    if (given) {
      a.map(flag, std::string("training.") + key, *given);
    } else {
      r.assumed.push_back(std::string("--first-last-layers-bf16 without ") + flag + ": Megatron keeps 1 layer -> training." + key + " = 1");
    }
  };
  set("--num-layers-at-start-in-bf16", "bf16_layers_at_start", start);
  set("--num-layers-at-end-in-bf16", "bf16_layers_at_end", end);
}

void set_precision(MegatronArgs& a, Imported& r, nlohmann::json& t) {
  const bool fp8 = a.has("--fp8-format"), bf16 = a.take("--bf16").has_value(), fp16 = a.take("--fp16").has_value();
  t["dtype"] = fp8 ? "fp8" : bf16 ? "bf16" : fp16 ? "fp16" : "fp32";
  if (fp8) a.take("--fp8-format");
  if (fp8 || bf16 || fp16) {
    a.map(fp8 ? "--fp8-format" : bf16 ? "--bf16" : "--fp16", "training.dtype", t["dtype"]);
  } else {
    r.assumed.push_back("no --bf16, --fp16 or --fp8-format: Megatron trains in fp32 -> training.dtype = \"fp32\"");
  }
  if (const auto recipe = a.take("--fp8-recipe")) {
    if (*recipe == "delayed" || *recipe == "tensorwise") {
      t["fp8_recipe"] = *recipe == "delayed" ? "delayed" : "current";
      a.map("--fp8-recipe", "training.fp8_recipe", t["fp8_recipe"]);
    } else {
      r.not_modelled.push_back("--fp8-recipe " + *recipe + " (block and MX scaling: timed as delayed scaling)");
    }
  }
  if (a.take("--fp8-param-gather")) {
    if (fp8) {
      t["fp8_param_gather"] = true;
      a.map("--fp8-param-gather", "training.fp8_param_gather", true);
    } else {
      r.dropped.push_back("--fp8-param-gather (without --fp8-format: no fp8 weights to gather)");
    }
  }
  set_bf16_layers(a, r, t, fp8);
  // bf16 training accumulates and reduces gradients in fp32 unless told otherwise (Megatron's
  // arguments.py); fp16 training in fp16, fp32 training in fp32.
  const bool reduce_in_16 = a.take("--grad-reduce-in-bf16").has_value() || (fp16 && !bf16 && !fp8);
  const bool reduce_in_32 = a.take("--accumulate-allreduce-grads-in-fp32").has_value();
  t["grad_dtype"] = reduce_in_32 || !reduce_in_16 ? "fp32" : "bf16";
  if (a.has("--grad-reduce-in-bf16") || a.has("--accumulate-allreduce-grads-in-fp32")) {
    a.map(reduce_in_32 ? "--accumulate-allreduce-grads-in-fp32" : "--grad-reduce-in-bf16", "training.grad_dtype", t["grad_dtype"]);
  } else {
    const char* why = bf16 || fp8 ? "bf16 training's gradients in fp32" : fp16 ? "fp16 training's gradients in fp16 (2 bytes, as bf16)" : "fp32 training's gradients in fp32";
    r.assumed.push_back(std::string("Megatron reduces ") + why + " -> training.grad_dtype = " + t["grad_dtype"].get<std::string>());
  }
}

// The distributed optimizer shards optimizer state (ZeRO-1); Megatron-FSDP and PyTorch
// FSDP2 shard what --data-parallel-sharding-strategy says, parameters too by default.
void set_sharding(MegatronArgs& a, nlohmann::json& p) {
  p["zero_stage"] = 0;
  if (a.take("--use-distributed-optimizer")) p["zero_stage"] = 1, a.map("--use-distributed-optimizer", "training.parallel.zero_stage", 1);
  const bool fsdp2 = a.take("--use-torch-fsdp2").has_value();
  const std::string megatron_flag = a.has("--use-custom-fsdp") ? "--use-custom-fsdp" : "--use-megatron-fsdp";  // the older name
  const bool megatron_fsdp = a.take(megatron_flag).has_value();
  if (!fsdp2 && !megatron_fsdp) return;
  const std::string strategy = a.take("--data-parallel-sharding-strategy").value_or("optim_grads_params");
  const std::array<std::string, 4> stages = {"no_shard", "optim", "optim_grads", "optim_grads_params"};
  const auto stage = std::find(stages.begin(), stages.end(), strategy);
  if (stage == stages.end()) throw InputError("", "--data-parallel-sharding-strategy", "expected no_shard, optim, optim_grads or optim_grads_params, got \"" + strategy + "\"");
  p["zero_stage"] = stage - stages.begin();
  p["fsdp"] = fsdp2 ? "fsdp2" : "megatron";
  a.map(fsdp2 ? "--use-torch-fsdp2" : megatron_flag, "training.parallel.fsdp", p["fsdp"]);
}

// How the layers split over the virtual stages: an explicit layout, or an even share with
// the first and last stages' counts given, or reduced by one where the embedding or the loss
// counts as a layer (Megatron-core's get_num_layers_to_build).
void set_stage_split(MegatronArgs& a, nlohmann::json& p, std::int64_t layers, std::int64_t stages, Imported& r) {
  const bool first = a.has("--decoder-first-pipeline-num-layers") || a.has("--decoder-last-pipeline-num-layers");
  if (const std::optional<std::string> text = a.take("--pipeline-model-parallel-layout")) {
    if (first) throw InputError("", "--pipeline-model-parallel-layout", "Megatron takes it or --decoder-first/last-pipeline-num-layers, not both");
    const MegatronLayout layout = parse_megatron_layout(*text);
    if (static_cast<std::int64_t>(layout.layers.size()) != stages) {
      throw InputError("", "--pipeline-model-parallel-layout", "has " + std::to_string(layout.layers.size()) +
                                                                   " stages; pipeline x virtual stages = " + std::to_string(stages));
    }
    if (!layout.embedding_first || !layout.loss_last) r.not_modelled.push_back("--pipeline-model-parallel-layout: E or L off the first or last stage (timed there)");
    const std::int64_t mtp = a.peek("--mtp-num-layers") ? whole_value("--mtp-num-layers", *a.peek("--mtp-num-layers")) : 0;
    if (layout.mtp_layers != mtp) {
      throw InputError("", "--pipeline-model-parallel-layout", "places " + std::to_string(layout.mtp_layers) +
                                                                   " MTP layers (m) where --mtp-num-layers asks for " + std::to_string(mtp));
    }
    if (!layout.mtp_last) r.not_modelled.push_back("--pipeline-model-parallel-layout: MTP layers (m) off the last stage (timed there)");
    p["stage_layers"] = layout.layers;
    a.map("--pipeline-model-parallel-layout", "training.parallel.stage_layers", layout.layers);
    return;
  }
  whole_into(a, "--decoder-first-pipeline-num-layers", p, "first_stage_layers", "training.parallel.", 0);
  whole_into(a, "--decoder-last-pipeline-num-layers", p, "last_stage_layers", "training.parallel.", 0);
  const bool embedding = a.take("--account-for-embedding-in-pipeline-split").has_value();
  const bool loss = a.take("--account-for-loss-in-pipeline-split").has_value();
  if (!embedding && !loss) return;
  const std::string flag = embedding ? "--account-for-embedding-in-pipeline-split" : "--account-for-loss-in-pipeline-split";
  if (first) throw InputError("", flag, "Megatron takes it or --decoder-first/last-pipeline-num-layers, not both");
  const std::int64_t counted = layers + (embedding ? 1 : 0) + (loss ? 1 : 0);
  if (counted % stages != 0) {
    throw InputError("", flag, "the " + std::to_string(layers) + " layers with the embedding or loss counted (" + std::to_string(counted) +
                                   ") must split evenly over pipeline x virtual stages = " + std::to_string(stages));
  }
  const std::int64_t share = counted / stages;
  if (embedding) p["first_stage_layers"] = share - 1, a.map("--account-for-embedding-in-pipeline-split", "training.parallel.first_stage_layers", share - 1);
  if (loss) p["last_stage_layers"] = share - 1, a.map("--account-for-loss-in-pipeline-split", "training.parallel.last_stage_layers", share - 1);
}

void set_layout(MegatronArgs& a, nlohmann::json& t, std::int64_t layers, Imported& r) {
  nlohmann::json& p = t["parallel"];
  const std::int64_t tp = whole_into(a, "--tensor-model-parallel-size", p, "tp", "training.parallel.", 1);
  const std::int64_t pp = whole_into(a, "--pipeline-model-parallel-size", p, "pp", "training.parallel.", 1);
  whole_into(a, "--context-parallel-size", p, "cp", "training.parallel.", 1);
  whole_into(a, "--expert-model-parallel-size", p, "ep", "training.parallel.", 1);
  // Expert TP: the TP (Megatron's default) or 1, MoE parallel folding; another is not modelled.
  if (const auto expert_tp = a.peek("--expert-tensor-parallel-size")) {
    const std::int64_t value = whole_value("--expert-tensor-parallel-size", *expert_tp);
    if (value == tp) {
      a.take("--expert-tensor-parallel-size");
      a.map("--expert-tensor-parallel-size", "training.parallel.expert_tp", 0);
    } else if (value == 1) {
      a.take("--expert-tensor-parallel-size");
      p["expert_tp"] = 1;
      a.map("--expert-tensor-parallel-size", "training.parallel.expert_tp", 1);
    }
  }
  p["dp"] = "auto";
  std::int64_t chunks = 1;
  if (const auto per_chunk = a.whole("--num-layers-per-virtual-pipeline-stage")) {
    chunks = std::max<std::int64_t>(1, layers / pp / *per_chunk);
    a.map("--num-layers-per-virtual-pipeline-stage", "training.parallel.virtual_stages", chunks);
  } else if (const auto virtual_stages = a.whole("--num-virtual-stages-per-pipeline-rank")) {
    chunks = *virtual_stages;
    a.map("--num-virtual-stages-per-pipeline-rank", "training.parallel.virtual_stages", chunks);
  }
  std::int64_t positions = pp * chunks;
  // BitPipe's authors' Megatron-LM fork (wuhouming/BitPipe): two copies of the model, each in a
  // V of two chunks per stage, so four chunks a stage over 2 pp positions along the model.
  if (a.take("--enable-bitpipe-schedule")) {
    p["schedule"] = "bitpipe", p["virtual_stages"] = 4, positions = 2 * pp;
    a.map("--enable-bitpipe-schedule", "training.parallel.schedule", "bitpipe");
  } else if (chunks > 1) {
    p["schedule"] = "interleaved_1f1b", p["virtual_stages"] = chunks;
  }
  if (pp > 1) set_stage_split(a, p, layers, positions, r);
  if (a.take("--sequence-parallel")) {
    p["sequence_parallel"] = tp > 1;  // Megatron turns it off at TP 1
    a.map("--sequence-parallel", "training.parallel.sequence_parallel", tp > 1);
  }
  if (a.take("--tp-comm-overlap")) p["tp_comm_overlap"] = true, a.map("--tp-comm-overlap", "training.parallel.tp_comm_overlap", true);
  if (a.take("--overlap-moe-expert-parallel-comm")) {
    p["moe_a2a_overlap"] = true, a.map("--overlap-moe-expert-parallel-comm", "training.parallel.moe_a2a_overlap", true);
  }
  if (a.take("--delay-wgrad-compute")) {
    p["delay_wgrad_compute"] = true, a.map("--delay-wgrad-compute", "training.parallel.delay_wgrad_compute", true);
  }
  for (const std::string flag : {"--overlap-p2p-communication", "--no-overlap-p2p-communication"}) {
    if (a.take(flag)) p["overlap_p2p"] = !flag.starts_with("--no-"), a.map(flag, "training.parallel.overlap_p2p", p["overlap_p2p"]);
  }
  set_sharding(a, p);
}

// Selective recomputation reruns the --recompute-modules (core attention by default); a
// recompute method (uniform or block) is one of full recomputation's, and the older
// --checkpoint-activations meant full. Modules foresight does not know are rerun as nothing.
// A module the model does not have reruns nothing in Megatron: it is dropped, said so.
std::string missing_module(const std::string& module, const nlohmann::json& model) {
  const bool moe = model.value("experts", 0) > 0;
  if ((module == "moe" || module == "moe_act") && !moe) return "the model has no experts";
  if (module == "shared_experts" && model.value("shared_expert_ffn", 0) == 0) return "the model has no shared expert";
  if (module == "mla_up_proj" && !model.contains("kv_latent")) return "the model has no latent attention";
  if (module == "mlp" && moe && model.value("dense_layers", 0) == 0) return "the model has no dense MLP";
  return "";
}

void set_recompute_modules(MegatronArgs& a, Imported& r, nlohmann::json& t, const nlohmann::json& model) {
  const auto modules = a.take("--recompute-modules");
  if (!modules) return;
  nlohmann::json kept = nlohmann::json::array();
  std::istringstream words(*modules);
  for (std::string module; words >> module;) {
    const auto known = [&](const auto& entry) { return module == entry.first; };
    if (!std::any_of(std::begin(kRecomputedModuleNames), std::end(kRecomputedModuleNames), known)) {
      r.not_modelled.push_back("--recompute-modules " + module + ": not rerun");
    } else if (const std::string why = missing_module(module, model); !why.empty()) {
      r.dropped.push_back("--recompute-modules " + module + " (" + why + ")");
    } else {
      kept.push_back(module);
    }
  }
  t["recompute_modules"] = kept;
  a.map("--recompute-modules", "training.recompute_modules", kept);
}

void set_recompute(MegatronArgs& a, Imported& r, nlohmann::json& t, const nlohmann::json& model) {
  std::string recompute = "none", flag;
  if (a.take("--recompute-activations")) recompute = "selective", flag = "--recompute-activations";
  for (const char* method : {"--checkpoint-activations", "--recompute-method", "--activations-checkpoint-method"}) {
    if (a.take(method)) recompute = "full", flag = method;
  }
  if (const auto granularity = a.take("--recompute-granularity")) {
    if (*granularity != "full" && *granularity != "selective") throw InputError("", "--recompute-granularity", "expected full or selective, got \"" + *granularity + "\"");
    recompute = *granularity, flag = "--recompute-granularity";
  }
  t["recompute"] = recompute;
  if (!flag.empty()) a.map(flag, "training.recompute", recompute);
  if (recompute == "selective") set_recompute_modules(a, r, t, model);
}

// Multi-token prediction's depths (--mtp-num-layers), trained on the last stage.
void set_mtp(MegatronArgs& a, nlohmann::json& t) {
  const std::optional<std::int64_t> depths = a.whole("--mtp-num-layers");
  if (!depths || *depths == 0) return;
  t["mtp_layers"] = *depths;
  a.map("--mtp-num-layers", "training.mtp_layers", *depths);
}

// Megatron offloads the activations of --cpu-offloading-num-layers layers only with
// --cpu-offloading on.
void set_offload(MegatronArgs& a, Imported& r, nlohmann::json& t) {
  const bool on = a.take("--cpu-offloading").has_value();
  const std::optional<std::int64_t> layers = a.whole("--cpu-offloading-num-layers");
  if (!on) {
    if (layers) r.dropped.push_back("--cpu-offloading-num-layers " + std::to_string(*layers) + " (without --cpu-offloading: nothing offloaded)");
    return;
  }
  t["activation_offload_layers"] = layers.value_or(0);
  a.map(layers ? "--cpu-offloading-num-layers" : "--cpu-offloading", "training.activation_offload_layers", t["activation_offload_layers"]);
}

// Transformer Engine's fused attention is cuDNN's; flash is FlashAttention; unfused and
// Megatron's local implementation without flash attention run the two matmuls and a softmax.
void set_attention(MegatronArgs& a, Imported& r, nlohmann::json& t) {
  if (const auto backend = a.take("--attention-backend")) {
    const std::string kernel = *backend == "fused" ? "cudnn" : *backend == "flash" ? "flash" : *backend == "unfused" || *backend == "local" ? "unfused" : "";
    if (!kernel.empty()) {
      t["attention_kernel"] = kernel;
      a.map("--attention-backend", "training.attention_kernel", kernel);
      return;
    }
  }
  if (a.take("--use-flash-attn")) {
    t["attention_kernel"] = "flash";
    a.map("--use-flash-attn", "training.attention_kernel", "flash");
  } else if (a.take("--transformer-impl").value_or("") == "local") {
    t["attention_kernel"] = "unfused";
    a.map("--transformer-impl", "training.attention_kernel", "unfused");
  } else {
    t["attention_kernel"] = "flash";
    r.assumed.push_back("no attention backend in the command (Transformer Engine picks one) -> training.attention_kernel = \"flash\"");
  }
}

// Megatron's dropout defaults to 0.1 on attention scores and hidden states; the kernels cost
// the same whatever the probability, so the larger one is kept.
void set_regularization(MegatronArgs& a, Imported& r, nlohmann::json& t) {
  const std::optional<double> attention = a.number("--attention-dropout"), hidden = a.number("--hidden-dropout");
  const double dropout = std::max(attention.value_or(0.1), hidden.value_or(0.1));
  t["dropout"] = dropout;
  if (attention || hidden) {
    a.map(attention ? "--attention-dropout" : "--hidden-dropout", "training.dropout", dropout);
  } else {
    r.assumed.push_back("Megatron's default --attention-dropout and --hidden-dropout 0.1 -> training.dropout = 0.1");
  }
  if (const auto clip = a.number("--clip-grad")) {
    t["grad_clip"] = *clip > 0;
    a.map("--clip-grad", "training.grad_clip", t["grad_clip"]);
  }
}

// Without --cross-entropy-loss-fusion Megatron casts the logits to fp32 and runs the
// softmax cross-entropy a kernel per step.
void set_cross_entropy(MegatronArgs& a, Imported& r, nlohmann::json& t) {
  if (a.take("--cross-entropy-loss-fusion")) {
    t["cross_entropy"] = "fused";
    a.map("--cross-entropy-loss-fusion", "training.cross_entropy", "fused");
  } else {
    t["cross_entropy"] = "fp32";
    r.assumed.push_back("no --cross-entropy-loss-fusion: the loss over fp32 logits -> training.cross_entropy = \"fp32\"");
  }
}

// Megatron's weight-gradient GEMMs add into the gradient buffer unless told not to.
void set_grad_accumulation(MegatronArgs& a, nlohmann::json& t) {
  if (!a.take("--no-gradient-accumulation-fusion")) return;
  t["grad_accumulation_fusion"] = false;
  a.map("--no-gradient-accumulation-fusion", "training.grad_accumulation_fusion", false);
}

// The distributed optimizer's gather of updated weights closes the step unless
// --overlap-param-gather moves it into the next step's forward.
void set_param_gather_overlap(MegatronArgs& a, nlohmann::json& t) {
  if (!a.take("--overlap-param-gather")) return;
  t["overlap_param_gather"] = true;
  a.map("--overlap-param-gather", "training.overlap_param_gather", true);
}

// Gradients are reduced after the backward pass unless --overlap-grad-reduce, or PyTorch's
// DDP (--DDP-impl torch, 2021-2022 Megatron), overlaps them with it.
void set_grad_overlap(MegatronArgs& a, Imported& r, nlohmann::json& t) {
  const bool overlap = a.take("--overlap-grad-reduce").has_value();
  const bool torch_ddp = a.take("--DDP-impl").value_or("") == "torch";
  t["overlap_grad_reduce"] = overlap || torch_ddp;
  if (overlap || a.has("--DDP-impl")) {
    a.map(overlap ? "--overlap-grad-reduce" : "--DDP-impl", "training.overlap_grad_reduce", t["overlap_grad_reduce"]);
  } else {
    r.assumed.push_back("no --overlap-grad-reduce: gradients are reduced after the backward pass -> training.overlap_grad_reduce = false");
  }
}

// The token dispatcher: alltoall as foresight's alltoall; flex (DeepEP or HybridEP behind it)
// as deepep; allgather, Megatron's default without the flag, is not modelled and runs as
// alltoall.
void set_dispatcher(MegatronArgs& a, Imported& r, nlohmann::json& t) {
  const std::optional<std::string> given = a.take("--moe-token-dispatcher-type");
  a.take("--moe-flex-dispatcher-backend");
  a.take("--moe-enable-deepep");
  if (given == "flex") {
    t["moe_dispatcher"] = "deepep";
    a.map("--moe-token-dispatcher-type", "training.moe_dispatcher", "deepep");
  } else if (given == "alltoall") {
    t["moe_dispatcher"] = "alltoall";
    a.map("--moe-token-dispatcher-type", "training.moe_dispatcher", "alltoall");
  } else {
    t["moe_dispatcher"] = "alltoall";
    r.not_modelled.push_back("--moe-token-dispatcher-type " + given.value_or("allgather (Megatron's default)") +
                             ": modelled as alltoall -> training.moe_dispatcher = \"alltoall\"");
  }
  if (a.take("--moe-shared-expert-overlap")) {
    t["moe_shared_expert_overlap"] = true;
    a.map("--moe-shared-expert-overlap", "training.moe_shared_expert_overlap", true);
  }
}

// MoE routing is dropless unless --moe-expert-capacity-factor gives each expert a capacity.
// CUDA graphs: --cuda-graph-impl (or the older --enable-cuda-graph) captures whole layers
// unless --cuda-graph-scope names parts of them; parts foresight does not know (mamba) run
// eagerly.
void set_host(MegatronArgs& a, Imported& r, nlohmann::json& t, bool moe) {
  if (const auto factor = a.number("--moe-expert-capacity-factor")) {
    t["moe_routing"] = "capacity";
    a.map("--moe-expert-capacity-factor", "training.moe_routing", "capacity");
    a.take("--moe-pad-expert-input-to-capacity");
  } else if (moe) {
    t["moe_routing"] = "dropless";
    r.assumed.push_back("no --moe-expert-capacity-factor: dropless routing -> training.moe_routing = \"dropless\"");
  }
  const bool deprecated = a.take("--enable-cuda-graph").has_value();
  const std::string impl = a.take("--cuda-graph-impl").value_or(deprecated ? "local" : "none");
  if (impl == "none") return;
  const std::optional<std::string> scope_text = a.take("--cuda-graph-scope");
  nlohmann::json scopes = nlohmann::json::array();
  std::istringstream words(scope_text.value_or(""));
  for (std::string word; words >> word;) {
    if (word == "full" || word == "full_iteration") continue;  // whole layers (and the rest of the step, which foresight launches eagerly)
    if (!is_graph_scope(word)) {
      r.not_modelled.push_back("--cuda-graph-scope " + word + ": launched eagerly");
      continue;
    }
    scopes.push_back(word);
  }
  const bool dropless = moe && t.value("moe_routing", "dropless") == "dropless";
  const bool captures_experts = scopes.empty() || std::find(scopes.begin(), scopes.end(), "moe") != scopes.end();
  if (dropless && captures_experts) {
    r.not_modelled.push_back("--cuda-graph-impl " + impl + " over dropless MoE layers, which Megatron leaves eager");
    return;
  }
  t["host"]["cuda_graphs"] = true;
  a.map(deprecated ? "--enable-cuda-graph" : "--cuda-graph-impl", "training.host.cuda_graphs", true);
  if (scopes.empty()) return;
  t["host"]["cuda_graph_scope"] = scopes;
  a.map("--cuda-graph-scope", "training.host.cuda_graph_scope", scopes);
}

// What nothing read: arguments with no effect on the prediction are dropped, the rest are
// listed as not modelled.
void list_unread(const MegatronArgs& a, Imported& r) {
  static const std::array<const char*, 44> kNoEffect = {
      "--data-", "--mock-data", "--split", "--vocab-file", "--merge-file", "--save", "--load", "--log", "--tensorboard", "--wandb",
      "--eval-", "--train-iters", "--train-samples", "--lr", "--min-lr", "--decoupled-", "--weight-decay", "--adam-", "--init-method",
      "--seed", "--exit-", "--ckpt-", "--distributed-timeout", "--num-workers", "--no-mmap-bin-files", "--no-create-attention-mask",
      "--use-mcore-models", "--loss-scale", "--initial-loss-scale", "--min-loss-scale", "--hysteresis", "--profile", "--rotary-",
      "--apply-layernorm-1p", "--tiktoken", "--fp8-amax", "--fp8-margin", "--timing-log", "--use-checkpoint-args", "--no-load",
      "--norm-epsilon", "--calculate-per-token-loss", "--distributed-backend", "--use-cpu-initialization"};
  for (const auto& given : a.unread()) {
    const std::string& flag = given.first;  // not a structured binding: clang before 16 cannot capture one
    const std::string& value = given.second;
    const bool no_effect = std::any_of(kNoEffect.begin(), kNoEffect.end(), [&](const char* prefix) { return flag.rfind(prefix, 0) == 0; });
    (no_effect ? r.dropped : r.not_modelled).push_back(flag + (value.empty() ? "" : " " + value));
  }
}
}  // namespace

Imported import_megatron(const std::vector<std::string>& command, const std::string& gpu, int gpus) {
  Imported r;
  const std::vector<std::string> words = split_words(command);
  Launcher launcher;
  const std::size_t start = read_megatron_launcher(words, launcher, r);
  MegatronArgs a(words, start, r);
  nlohmann::json t;
  const std::optional<std::int64_t> sequence = a.whole("--seq-length");
  if (!sequence) throw InputError("", kCommand, "no --seq-length: expected pretrain_gpt.py's training arguments");
  t["sequence_length"] = *sequence;
  a.map("--seq-length", "training.sequence_length", *sequence);
  const std::int64_t micro = whole_into(a, "--micro-batch-size", t, "micro_batch", "training.", 1);
  const std::optional<std::string> layers = a.peek("--num-layers");
  set_layout(a, t, layers ? whole_value("--num-layers", *layers) : 1, r);
  const std::int64_t tp = t["parallel"].value("tp", 1);
  nlohmann::json model = architecture(a, r, tp, *sequence);
  set_precision(a, r, t);
  set_recompute(a, r, t, model);
  set_offload(a, r, t);
  set_mtp(a, t);
  set_attention(a, r, t);
  set_regularization(a, r, t);
  set_cross_entropy(a, r, t);
  set_grad_accumulation(a, t);
  set_grad_overlap(a, r, t);
  set_param_gather_overlap(a, t);
  set_host(a, r, t, model.value("experts", 0) > 0);
  if (model.value("experts", 0) > 0) set_dispatcher(a, r, t);
  const nlohmann::json h = launcher_hardware(launcher, gpu, gpus, r);
  if (whole_into(a, "--global-batch-size", t, "global_batch", "training.", 0) == 0) {
    const std::int64_t world = launcher.per_node > 0 ? launcher.per_node * std::max<std::int64_t>(1, launcher.nodes) : gpus > 0 ? gpus : 8;
    const nlohmann::json& p = t["parallel"];
    const std::int64_t dp = std::max<std::int64_t>(1, world / (tp * p.value("pp", 1) * p.value("cp", 1)));
    t["global_batch"] = micro * dp;
    r.assumed.push_back("no --global-batch-size: Megatron's micro-batch x data-parallel size -> training.global_batch = " + std::to_string(micro * dp));
  }
  list_unread(a, r);
  const nlohmann::json named = catalog_name_or(model);
  r.scenario = {{"name", "megatron " + (named.is_string() ? named.get<std::string>() : model["name"].get<std::string>())},
                {"description", "Imported from a Megatron-LM launch command by `foresight import`."},
                {"hardware", h},
                {"model", named},
                {"training", t}};
  return r;
}

}  // namespace foresight
