#include "sim/runner/import_torchtitan.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "models/model_arch.hpp"
#include "sim/input/input_error.hpp"
#include "sim/runner/toml_values.hpp"

namespace foresight {
namespace {
const char* const kCommand = "the launch command";

// torchtitan's model flavors that have a catalog model of the same shape. Its llama3
// flavors are Llama 3.1's (128k positions).
const std::map<std::string, std::map<std::string, std::string>>& catalog_flavors() {
  static const std::map<std::string, std::map<std::string, std::string>> kFlavors = {
      {"llama3", {{"8B", "llama31_8b"}, {"70B", "llama31_70b"}, {"405B", "llama3_405b"}}},
      {"llama2", {{"7B", "llama2_7b"}, {"70B", "llama2_70b"}}},
      {"qwen3", {{"8B", "qwen3_8b"}, {"32B", "qwen3_32b"}, {"30B-A3B", "qwen3_30b_a3b"}, {"235B-A22B", "qwen3_235b_a22b"}}},
  };
  return kFlavors;
}

bool is_program(const std::string& word) {
  const auto ends_with = [&](const char* tail) {
    const std::string t = tail;
    return word.size() > t.size() && word.compare(word.size() - t.size(), t.size(), t) == 0;
  };
  return ends_with(".py") || ends_with(".sh") || word.rfind("torchtitan.", 0) == 0;
}

// NAME=value before the program (torchtitan's run_train.sh reads NGPU and CONFIG_FILE).
bool is_environment(const std::string& word) {
  const std::size_t equals = word.find('=');
  return equals != std::string::npos && equals > 0 &&
         std::all_of(word.begin(), word.begin() + static_cast<std::ptrdiff_t>(equals),
                     [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; });
}

// "--training.seq-len" -> "training.seq_len"; tyro writes a false switch as --section.no-key.
std::pair<std::string, std::optional<std::string>> override_key(std::string flag) {
  flag.erase(0, flag.find_first_not_of('-'));
  std::replace(flag.begin(), flag.end(), '-', '_');
  const std::size_t dot = flag.rfind('.');
  if (dot != std::string::npos && flag.compare(dot + 1, 3, "no_") == 0) return {flag.substr(0, dot + 1) + flag.substr(dot + 4), "false"};
  return {flag, std::nullopt};
}

// The config as read (file, then command-line overrides), with each key's origin and what
// the import has read of it.
class TitanConfig {
 public:
  void set(const std::string& key, const std::string& value, bool from_command) {
    values_[key] = {value, from_command};
  }
  bool empty() const { return values_.empty(); }
  // The first of `keys` given (the releases' names for one setting), all marked read.
  std::optional<std::pair<std::string, std::string>> take(std::initializer_list<const char*> keys) {
    std::optional<std::pair<std::string, std::string>> found;
    for (const char* key : keys) {
      read_.insert(key);
      const auto at = values_.find(key);
      if (!found && at != values_.end()) found = std::pair{std::string(key), at->second.value};
    }
    return found;
  }
  // How a key was given: `--key value` on the command line or `key = value` in the file.
  std::string given(const std::string& key) const {
    const Entry& e = values_.at(key);
    return e.from_command ? "--" + key + " " + e.value : key + " = " + e.value;
  }
  const std::string& value(const std::string& key) const { return values_.at(key).value; }
  bool has(const std::string& key) const { return values_.contains(key); }
  std::vector<std::string> unread() const {
    std::vector<std::string> rest;
    for (const auto& entry : values_) {
      if (!read_.contains(entry.first)) rest.push_back(entry.first);
    }
    return rest;
  }

 private:
  struct Entry {
    std::string value;
    bool from_command = false;
  };
  std::map<std::string, Entry> values_;
  std::set<std::string> read_;
};

bool truthy(const std::string& value) { return lower(value) == "true" || value == "1"; }

// Reads one setting: its value, recorded as mapped to `key` (with the value it becomes),
// or nothing when the config does not give it.
class Reader {
 public:
  Reader(TitanConfig& values, Imported& result) : config(values), r(result) {}
  TitanConfig& config;
  Imported& r;

  std::optional<std::string> text(std::initializer_list<const char*> keys) {
    const auto found = config.take(keys);
    if (!found) return std::nullopt;
    last_ = found->first;
    return found->second;
  }
  std::optional<std::int64_t> whole(std::initializer_list<const char*> keys, std::int64_t least = 1) {
    const std::optional<std::string> value = text(keys);
    if (!value) return std::nullopt;
    const double number = number_value(last_, *value);
    if (number < static_cast<double>(least) || number != std::floor(number) || number > 1e8) {
      throw InputError("", last_, "expected a whole number of at least " + std::to_string(least) + ", got \"" + *value + "\"");
    }
    return static_cast<std::int64_t>(number);
  }
  void map(const std::string& key, const nlohmann::json& value) { r.mapped.push_back(config.given(last_) + " -> " + key + " = " + value.dump()); }
  const std::string& last() const { return last_; }

 private:
  std::string last_;
};

nlohmann::json model_for(Reader& read, Imported& r) {
  const std::optional<std::string> name = read.text({"model.name"});
  const std::string name_key = read.last();
  const std::optional<std::string> flavor = read.text({"model.flavor"});
  if (!name || !flavor) throw InputError("", "model.flavor", "expected the config's [model] name and flavor (llama3 and 8B, say)");
  const auto family = catalog_flavors().find(*name);
  if (family == catalog_flavors().end()) {
    throw InputError("", name_key, "no catalog model for torchtitan's \"" + *name + "\": foresight knows its llama3, llama2 and qwen3 flavors");
  }
  const auto model = family->second.find(*flavor);
  if (model == family->second.end()) {
    std::string known;
    for (const auto& entry : family->second) known += (known.empty() ? "" : ", ") + entry.first;
    throw InputError("", "model.flavor", "no catalog model for " + *name + " \"" + *flavor + "\": foresight knows " + known);
  }
  r.mapped.push_back("model.name = " + *name + ", model.flavor = " + *flavor + " -> model = \"" + model->second + "\"");
  return model->second;
}

struct Layout {
  std::int64_t tp = 1, pp = 1, cp = 1, replicate = 1, shard = 1;
  std::int64_t dp() const { return replicate * shard; }
};

Layout read_layout(Reader& read, std::int64_t world, nlohmann::json& p, Imported& r) {
  Layout l;
  const auto degree = [&](std::initializer_list<const char*> keys, const char* key, std::int64_t& into) {
    if (const auto given = read.whole(keys)) {
      into = *given;
      read.map(std::string("training.parallel.") + key, into);
    }
    p[key] = into;
  };
  degree({"parallelism.tensor_parallel_degree", "training.tensor_parallel_degree"}, "tp", l.tp);
  degree({"parallelism.pipeline_parallel_degree", "experimental.pipeline_parallel_degree"}, "pp", l.pp);
  degree({"parallelism.context_parallel_degree", "experimental.context_parallel_degree"}, "cp", l.cp);
  if (const auto rep = read.whole({"parallelism.data_parallel_replicate_degree", "training.data_parallel_replicate_degree"})) l.replicate = *rep;
  const std::string replicate_key = read.last();
  const std::optional<std::string> shard = read.text({"parallelism.data_parallel_shard_degree", "training.data_parallel_shard_degree"});
  const std::int64_t others = l.replicate * l.tp * l.pp * l.cp;
  if (!shard || number_value(read.last(), *shard) == -1) {
    if (world % others != 0) {
      throw InputError("", "parallelism", "the job's " + std::to_string(world) + " GPUs do not divide by data_parallel_replicate x tensor x pipeline x context = " + std::to_string(others));
    }
    l.shard = world / others;
    r.assumed.push_back("data_parallel_shard_degree -1 (torchtitan's default): the GPUs left, " + std::to_string(l.shard));
  } else {
    l.shard = read.whole({"parallelism.data_parallel_shard_degree", "training.data_parallel_shard_degree"}).value();
    if (l.shard * others != world) {
      throw InputError("", read.last(), "data_parallel_shard x replicate x tensor x pipeline x context = " + std::to_string(l.shard * others) +
                                            ", but the job has " + std::to_string(world) + " GPUs");
    }
  }
  p["dp"] = l.dp();
  r.mapped.push_back("data_parallel_replicate " + std::to_string(l.replicate) + " x data_parallel_shard " + std::to_string(l.shard) +
                     " -> training.parallel.dp = " + std::to_string(l.dp()));
  if (l.tp > 1) p["sequence_parallel"] = true;  // torchtitan's TP always shards norms by sequence
  if (l.cp > 1) {
    p["cp_ring"] = "pytorch";
    r.mapped.push_back("CP through PyTorch's context_parallel -> training.parallel.cp_ring = \"pytorch\"");
  }
  if (l.shard > 1 && l.pp == 1) {
    p["zero_stage"] = 3;
    p["fsdp"] = "fsdp2";
    if (l.replicate > 1) r.not_modelled.push_back(replicate_key + " = " + std::to_string(l.replicate) + " (HSDP): modelled as FSDP over all " + std::to_string(l.dp()) + " data-parallel ranks");
  } else if (l.shard > 1) {
    // With PP, torchtitan leaves each stage's parameters gathered after their first forward
    // (reshard_after_forward off) and reduces gradients once, at the last micro-batch.
    p["zero_stage"] = 1;
    r.mapped.push_back("FSDP inside pipeline stages (gathered through the step, reduced once) -> training.parallel.zero_stage = 1");
  } else {
    p["zero_stage"] = 0;  // DDP over the replicas
  }
  return l;
}

// torchtitan's EP borrows every CP rank, and with expert_tensor_parallel_degree 1 (its
// default) every TP rank, besides some of dp_shard (ParallelDims._validate); foresight's EP
// is carved out of DP with experts split over TP as the dense weights are, so it keeps each
// GPU's share of the experts: ep / cp, / tp too when ETP is 1.
void read_expert_parallel(Reader& read, const Layout& l, bool moe, nlohmann::json& p, Imported& r) {
  const std::optional<std::int64_t> ep = read.whole({"parallelism.expert_parallel_degree"});
  if (!ep || *ep == 1) return;
  const std::string ep_key = read.last();
  if (!moe) throw InputError("", ep_key, "expert parallelism needs a mixture-of-experts model");
  std::int64_t etp = 1;
  if (const auto given = read.whole({"parallelism.expert_tensor_parallel_degree"})) etp = *given;
  if (etp != 1 && etp != l.tp) throw InputError("", read.last(), "torchtitan supports expert_tensor_parallel_degree 1 or the TP degree, got " + std::to_string(etp));
  const std::int64_t borrowed = l.cp * (etp == 1 ? l.tp : 1);
  if (*ep % borrowed != 0 || (l.shard * borrowed) % *ep != 0) {
    const std::string what = borrowed == 1 ? "data_parallel_shard" : "data_parallel_shard x CP" + std::string(etp == 1 ? " x TP" : "");
    throw InputError("", ep_key, std::to_string(*ep) + " must divide " + what + " = " + std::to_string(l.shard * borrowed) +
                                     (borrowed == 1 ? "" : " and be a multiple of " + std::to_string(borrowed)));
  }
  p["ep"] = *ep / borrowed;
  r.mapped.push_back(read.config.given(ep_key) + " -> training.parallel.ep = " + std::to_string(*ep / borrowed));
  if (borrowed == 1) return;
  const bool tp_borrowed = etp == 1 && l.tp > 1;
  const std::string ranks = l.cp > 1 && tp_borrowed ? "CP and TP" : l.cp > 1 ? "CP" : "TP";
  r.not_modelled.push_back("EP across " + ranks + (tp_borrowed ? " (expert_tensor_parallel_degree 1)" : "") +
                           " ranks: modelled as EP over data-parallel ranks with the same experts per GPU, all-to-alls within them");
}

// Layers per stage from split points ("layers.8", one per stage boundary), which also set
// how many stages there are.
std::vector<std::int64_t> split_at_points(const std::string& key, const std::string& text, std::int64_t layers, std::int64_t pp) {
  std::vector<std::string> points;
  for (const std::string& item : toml_strings(text)) {
    std::istringstream parts(item);
    for (std::string point; std::getline(parts, point, ',');) {
      point.erase(0, point.find_first_not_of(' '));
      point.erase(point.find_last_not_of(' ') + 1);
      if (!point.empty()) points.push_back(point);
    }
  }
  std::vector<std::int64_t> counts;
  std::int64_t previous = 0;
  for (const std::string& point : points) {
    const std::string digits = point.rfind("layers.", 0) == 0 ? point.substr(7) : "";
    const bool whole = !digits.empty() && digits.size() <= 9 && digits.find_first_not_of("0123456789") == std::string::npos;
    const std::int64_t at = whole ? std::stoll(digits) : -1;
    if (at <= previous || at >= layers) {
      throw InputError("", key, "expected increasing points \"layers.N\" with 0 < N < " + std::to_string(layers) + ", got \"" + point + "\"");
    }
    counts.push_back(at - previous);
    previous = at;
  }
  counts.push_back(layers - previous);
  if (static_cast<std::int64_t>(counts.size()) % pp != 0) {
    throw InputError("", key, std::to_string(points.size()) + " points make " + std::to_string(counts.size()) +
                                  " stages, not a multiple of the pipeline degree " + std::to_string(pp));
  }
  return counts;
}

// torchtitan's split when none is given. Late 2024 (generate_split_points): the first stage
// the base share, middle stages one more while any remain, the last the rest. 2025
// (generate_llm_fqn_per_model_part): the embedding and the norm and output count as a layer
// each, the total split evenly with the first stages one more, the two ends one less.
std::vector<std::int64_t> default_split(std::int64_t layers, std::int64_t stages, bool late_2024) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(stages));
  if (late_2024) {
    std::int64_t extra = layers % stages, used = 0;
    for (std::int64_t s = 0; s + 1 < stages; ++s) {
      const bool more = s > 0 && extra > 0;
      extra -= more ? 1 : 0;
      used += counts[static_cast<std::size_t>(s)] = layers / stages + (more ? 1 : 0);
    }
    counts.back() = layers - used;
    return counts;
  }
  const std::int64_t effective = layers + 2;
  for (std::int64_t s = 0; s < stages; ++s) counts[static_cast<std::size_t>(s)] = effective / stages + (s < effective % stages ? 1 : 0);
  counts.front() -= 1;
  counts.back() -= 1;
  return counts;
}

// How the layers split over the stages: the given split points, or torchtitan's default.
void read_split(Reader& read, const Layout& l, std::int64_t layers, nlohmann::json& p, Imported& r) {
  const std::int64_t stages = l.pp * p.value("virtual_stages", std::int64_t{1});
  std::vector<std::int64_t> counts;
  if (const auto points = read.text({"parallelism.pipeline_parallel_split_points", "experimental.pipeline_parallel_split_points"})) {
    const std::string key = read.last();
    counts = split_at_points(key, *points, layers, l.pp);
    // The points set the stage count: one per rank for single-stage schedules, several for looped ones.
    const std::int64_t chunks = static_cast<std::int64_t>(counts.size()) / l.pp;
    const std::string schedule = p.value("schedule", std::string("1f1b"));
    const bool looped = schedule == "interleaved_1f1b";
    const std::int64_t per_rank = schedule == "zb_v" || schedule == "dualpipev" ? 2 : 1;  // what the schedule runs on each rank, unless looped
    if (!looped && chunks != per_rank) {
      throw InputError("", key, "make " + std::to_string(counts.size()) + " stages, but " + schedule + " runs " + std::to_string(per_rank) +
                                    " per pipeline rank (" + std::to_string(l.pp) + " ranks)");
    }
    if (looped) p["virtual_stages"] = chunks;
    read.map("training.parallel.stage_layers", counts);
  } else {
    if (stages > layers) throw InputError("", "parallelism.pipeline_parallel_degree", "more pipeline stages (" + std::to_string(stages) + ") than layers");
    const bool late_2024 = read.config.has("experimental.pipeline_parallel_degree");
    counts = default_split(layers, stages, late_2024);
    nlohmann::json shown = counts;
    r.assumed.push_back(std::string("no pipeline_parallel_split_points: torchtitan's default split (") +
                        (late_2024 ? "late 2024's generate_split_points" : "generate_llm_fqn_per_model_part, the embedding and the output a layer each") +
                        ") -> training.parallel.stage_layers = " + shown.dump());
  }
  p["stage_layers"] = counts;
}

// torchtitan's schedule names, old and new, as foresight's.
void read_schedule(Reader& read, const Layout& l, std::int64_t layers, nlohmann::json& p, Imported& r) {
  const std::optional<std::string> schedule = read.text({"parallelism.pipeline_parallel_schedule", "experimental.pipeline_parallel_schedule"});
  const std::string schedule_key = read.last();
  if (l.pp == 1) return;
  const std::string name = schedule ? lower(*schedule) : "1f1b";
  if (name == "1f1b" || name == "gpipe") {
    p["schedule"] = name;
  } else if (name == "zbvzerobubble" || name == "zbv" || name == "zb_v") {
    p["schedule"] = "zb_v";  // two stages per rank in a V
    p["virtual_stages"] = 2;
  } else if (name == "dualpipev") {
    p["schedule"] = "dualpipev";  // PyTorch's ScheduleDualPipeV: the same V
    p["virtual_stages"] = 2;
  } else {
    p["schedule"] = "interleaved_1f1b";
    if (name != "interleaved1f1b" && name != "interleaved_1f1b" && name != "flexible_interleaved_1f1b") {
      r.not_modelled.push_back(schedule_key + " = " + *schedule + ": modelled as interleaved 1F1B");
    }
    std::int64_t chunks = 2;  // torchtitan's two stages per rank when nothing says how many layers each holds
    if (const auto per_stage = read.whole({"parallelism.pipeline_parallel_layers_per_stage"})) {
      chunks = std::max<std::int64_t>(1, (layers + *per_stage - 1) / *per_stage / l.pp);
      read.map("training.parallel.virtual_stages", chunks);
    } else {
      r.assumed.push_back("no pipeline_parallel_layers_per_stage: two stages per rank -> training.parallel.virtual_stages = 2");
    }
    p["virtual_stages"] = chunks;
  }
  if (schedule) r.mapped.push_back(read.config.given(schedule_key) + " -> training.parallel.schedule = " + p["schedule"].dump());
  read_split(read, l, layers, p, r);
}

// A pipeline's micro-batch: today's pipeline_parallel_microbatch_size (default 1), or late
// 2024's pipeline_parallel_microbatches, whose default was one micro-batch per pipeline rank
// (pipeline_parallel_degree) until torchtitan PR 781 (2025-01-07) made it one per stage.
std::int64_t pipeline_micro_batch(Reader& read, std::int64_t local, std::int64_t ranks, std::int64_t stages, Imported& r) {
  std::int64_t micro = 1;
  if (const auto size = read.whole({"parallelism.pipeline_parallel_microbatch_size"})) {
    micro = *size;
  } else if (const auto count = read.whole({"experimental.pipeline_parallel_microbatches"})) {
    if (local % *count != 0) throw InputError("", read.last(), "must divide the local batch " + std::to_string(local));
    micro = local / *count;
  } else if (read.config.has("experimental.pipeline_parallel_degree")) {
    micro = std::max<std::int64_t>(1, local / ranks);
    std::string assumed = "no pipeline_parallel_microbatches: late-2024 torchtitan's default, one per pipeline rank (" + std::to_string(ranks) +
                          ") -> training.micro_batch = " + std::to_string(micro);
    if (stages > ranks) {
      assumed += " (from torchtitan PR 781 of 2025-01-07 on, one per stage: " + std::to_string(stages) + ", micro-batch " +
                 std::to_string(std::max<std::int64_t>(1, local / stages)) + ")";
    }
    r.assumed.push_back(assumed);
    return micro;
  } else {
    r.assumed.push_back("no pipeline_parallel_microbatch_size: torchtitan's default, 1");
  }
  if (local % micro != 0) throw InputError("", "parallelism.pipeline_parallel_microbatch_size", "must divide the local batch " + std::to_string(local));
  return micro;
}

// Activation checkpointing: none, full, op-level ("op") or every Nth layer (a number).
void read_recompute(Reader& read, bool moe, nlohmann::json& t, Imported& r) {
  const std::optional<std::string> mode = read.text({"activation_checkpoint.mode"});
  const std::optional<std::string> option = read.text({"activation_checkpoint.selective_ac_option"});
  const std::string m = mode ? lower(*mode) : "selective";
  const std::string o = option ? lower(*option) : "2";
  if (!mode) r.assumed.push_back("no activation_checkpoint.mode: torchtitan's default, selective");
  if (m == "none") {
    t["recompute"] = "none";
  } else if (m == "full") {
    t["recompute"] = "full";
  } else if (m != "selective") {
    throw InputError("", "activation_checkpoint.mode", "expected none, selective or full, got \"" + *mode + "\"");
  } else if (o == "op") {
    t["recompute"] = moe ? "none" : "selective_op";
    if (moe) r.not_modelled.push_back("op-level selective checkpointing of a mixture of experts: modelled without recomputation");
  } else {
    const std::int64_t every = whole_value("activation_checkpoint.selective_ac_option", o == "0" ? "1" : o);
    t["recompute"] = "full";
    if (every > 1) t["recompute_every"] = every;
    if (!option) r.assumed.push_back("no activation_checkpoint.selective_ac_option: torchtitan's default, every 2nd layer");
  }
  r.mapped.push_back("activation_checkpoint: " + m + (m == "selective" ? " (" + o + ")" : "") + " -> training.recompute = " + t["recompute"].dump() +
                     (t.contains("recompute_every") ? ", training.recompute_every = " + t["recompute_every"].dump() : ""));
}

// Float8 (torchao, tensorwise by default) and the parameters' and reductions' dtypes.
void read_precision(Reader& read, nlohmann::json& t, Imported& r) {
  bool float8 = false;
  if (const auto enabled = read.text({"float8.enable_float8_linear"})) float8 = truthy(*enabled);
  if (const auto converters = read.text({"model.converters"})) {
    for (const std::string& c : toml_strings(*converters)) {
      if (c.find("float8") != std::string::npos) float8 = true;
      if (c.find("mx") != std::string::npos) r.not_modelled.push_back("model.converters " + c + ": MX formats are not modelled");
    }
  }
  const std::optional<std::string> param = read.text({"training.mixed_precision_param"});
  if (float8) {
    t["dtype"] = "fp8";
    t["fp8_recipe"] = "current";
    t["fp8_amax_fused"] = false;     // torchao's amax is an op of its own
    t["fp8_saved_inputs"] = false;   // and its Float8Linear keeps bf16 inputs for backward
    r.mapped.push_back("Float8 linear layers (torchao, tensorwise dynamic scaling) -> training.dtype = \"fp8\", training.fp8_recipe = \"current\"");
    if (const auto recipe = read.text({"float8.recipe_name", "quantize.linear.float8.recipe_name"}); recipe && lower(*recipe) != "tensorwise") {
      r.not_modelled.push_back(read.last() + " = " + *recipe + ": modelled as tensorwise (current) scaling");
    }
    // FSDP2 gathers the Float8 weights cast on each shard; without sharding nothing is gathered.
    const auto gather = read.text({"float8.enable_fsdp_float8_all_gather", "quantize.linear.float8.enable_fsdp_float8_all_gather"});
    if (gather && truthy(*gather) && t["parallel"].value("zero_stage", 0) > 0) {
      t["fp8_param_gather"] = true;
      read.map("training.fp8_param_gather", true);
    }
  } else if (param) {
    t["dtype"] = lower(*param) == "float32" ? "fp32" : "bf16";
    r.mapped.push_back(read.config.given("training.mixed_precision_param") + " -> training.dtype = " + t["dtype"].dump());
  } else {
    t["dtype"] = "bf16";
  }
  const std::optional<std::string> reduce = read.text({"training.mixed_precision_reduce"});
  t["grad_dtype"] = reduce && lower(*reduce) == "bfloat16" ? "bf16" : "fp32";
  if (reduce) {
    read.map("training.grad_dtype", t["grad_dtype"]);
  } else {
    r.assumed.push_back("no training.mixed_precision_reduce: torchtitan's default, float32 -> training.grad_dtype = \"fp32\"");
  }
}

// torch.compile fuses the norms, rotary embedding and activation; eager runs PyTorch's ops.
// The loss, F.cross_entropy on fp32 logits, stays eager under training.compile (torchtitan
// left it uncompiled for CUDA errors until compile.components, whose default holds "loss").
void read_compile(Reader& read, nlohmann::json& t, Imported& r) {
  bool compiled = false, loss_compiled = false;
  if (const auto old = read.text({"training.compile"})) compiled = truthy(*old);
  if (const auto enabled = read.text({"compile.enable"})) {
    compiled = loss_compiled = truthy(*enabled);
    if (const auto components = read.text({"compile.components"})) {
      const std::vector<std::string> parts = toml_strings(*components);
      compiled = compiled && std::find(parts.begin(), parts.end(), "model") != parts.end();
      loss_compiled = loss_compiled && std::find(parts.begin(), parts.end(), "loss") != parts.end();
    }
  }
  t["elementwise"] = compiled ? "fused" : "eager";
  r.mapped.push_back(std::string(compiled ? "torch.compile on the model" : "no torch.compile (eager)") + " -> training.elementwise = " + t["elementwise"].dump());
  t["cross_entropy"] = loss_compiled ? "fused" : "fp32";
  r.mapped.push_back(std::string(loss_compiled ? "torch.compile on the loss" : "the loss uncompiled (F.cross_entropy on fp32 logits)") +
                     " -> training.cross_entropy = " + t["cross_entropy"].dump());
  if (const auto norm = read.text({"model.norm_type"}); norm && *norm == "fused_rmsnorm" && !compiled) {
    r.not_modelled.push_back("model.norm_type = fused_rmsnorm: its Triton RMSNorm is one kernel; modelled as eager PyTorch's");
  }
}

// Keys with no effect on the step's time or memory.
bool has_no_effect(const std::string& key) {
  static const std::array<const char*, 20> kPrefixes = {
      "job.", "profiling.", "metrics.", "optimizer.", "lr_scheduler.", "checkpoint.", "comm.", "validation.", "fault_tolerance.",
      "memory_estimation.", "model.tokenizer_path", "model.hf_assets_path", "training.dataset", "training.steps", "training.warmup_steps",
      "training.seed", "training.deterministic", "training.gc_freq", "float8.filter_fqns", "debug."};
  return std::any_of(kPrefixes.begin(), kPrefixes.end(), [&](const char* prefix) { return key.rfind(prefix, 0) == 0; });
}
}  // namespace

Imported import_torchtitan(const std::vector<std::string>& command, const std::string& gpu, int gpus) {
  Imported r;
  std::vector<std::string> words = split_words(command);
  Launcher launcher;
  std::string config_file;
  // run_train.sh's variables, then the launcher up to the program.
  std::vector<std::string> launch;
  std::size_t program = words.size();
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (is_program(words[i])) {
      program = launch.size();
      launch.insert(launch.end(), words.begin() + static_cast<std::ptrdiff_t>(i), words.end());
      break;
    }
    if (!is_environment(words[i])) {
      launch.push_back(words[i]);
      continue;
    }
    const std::string name = words[i].substr(0, words[i].find('='));
    const std::string value = words[i].substr(words[i].find('=') + 1);
    if (name == "NGPU") {
      launcher.per_node = whole_value("NGPU", value);
      r.mapped.push_back(words[i] + " -> hardware.topology.gpus = " + std::to_string(launcher.per_node));
    } else if (name == "CONFIG_FILE") {
      config_file = value;
    } else {
      r.dropped.push_back(words[i]);
    }
  }
  std::size_t start = 0;
  if (program < launch.size()) {
    const std::int64_t per_node = launcher.per_node;
    read_launcher(launch, program, launcher, r);
    if (launcher.per_node == 0) launcher.per_node = per_node;
    start = program + 1;
  } else if (launch.empty() || launch.front().rfind("--", 0) != 0) {
    throw InputError("", kCommand, "expected torchtitan's trainer (-m torchtitan.train, train.py or run_train.sh) and its arguments");
  }
  // --section.key value, --section.key=value, or a switch.
  TitanConfig config;
  std::vector<std::pair<std::string, std::string>> overrides;
  for (std::size_t i = start; i < launch.size(); ++i) {
    const std::string& word = launch[i];
    if (word.rfind("--", 0) != 0) {
      r.not_modelled.push_back(word);
      continue;
    }
    const std::size_t equals = word.find('=');
    auto [key, switch_value] = override_key(word.substr(0, equals));
    std::optional<std::string> value = equals == std::string::npos ? std::nullopt : std::optional(word.substr(equals + 1));
    if (!value && i + 1 < launch.size() && launch[i + 1].rfind("--", 0) != 0) value = launch[++i];
    if (!value) value = switch_value.value_or("true");
    if (key == "job.config_file") {
      config_file = *value;
    } else {
      overrides.emplace_back(key, *value);
    }
  }
  if (!config_file.empty()) {
    for (const auto& entry : read_toml_values(config_file)) config.set(entry.first, entry.second, false);
  }
  for (const auto& entry : overrides) config.set(entry.first, entry.second, true);
  if (config.empty()) throw InputError("", kCommand, "no config: expected --job.config_file FILE.toml (or CONFIG_FILE=...), or --section.key overrides");

  Reader read(config, r);
  const nlohmann::json model = model_for(read, r);
  const ModelArch& arch = *find_builtin_model(model.get<std::string>());
  nlohmann::json t;
  std::int64_t sequence = 2048;
  if (const auto given = read.whole({"training.seq_len"})) {
    sequence = *given;
    read.map("training.sequence_length", sequence);
  } else {
    r.assumed.push_back("no training.seq_len: torchtitan's default, 2048");
  }
  t["sequence_length"] = sequence;
  const bool launched = launcher.per_node > 0 || launcher.nodes > 0;
  const std::int64_t world = launched ? (launcher.per_node > 0 ? launcher.per_node : 8) * std::max<std::int64_t>(1, launcher.nodes) : gpus > 0 ? gpus : 8;
  nlohmann::json p;
  const Layout layout = read_layout(read, world, p, r);
  read_expert_parallel(read, layout, arch.is_moe(), p, r);
  read_schedule(read, layout, arch.layers, p, r);
  const std::optional<std::int64_t> local_given = read.whole({"training.local_batch_size", "training.batch_size"});
  const std::int64_t local = local_given.value_or(8);
  if (!local_given) r.assumed.push_back("no training.local_batch_size: torchtitan's default, 8");
  std::int64_t micro = local;
  if (layout.pp > 1) micro = pipeline_micro_batch(read, local, layout.pp, layout.pp * p.value("virtual_stages", 1), r);
  t["micro_batch"] = micro;
  std::int64_t global = local * layout.dp();
  if (const auto g = read.text({"training.global_batch_size"}); g && number_value(read.last(), *g) > 0) {
    global = read.whole({"training.global_batch_size"}).value();
    if (global % (local * layout.dp()) != 0) {
      throw InputError("", "training.global_batch_size", "must be a multiple of local_batch_size x data-parallel degree = " + std::to_string(local * layout.dp()));
    }
  }
  t["global_batch"] = global;
  r.mapped.push_back("local batch " + std::to_string(local) + " x data-parallel " + std::to_string(layout.dp()) + " -> training.micro_batch = " +
                     std::to_string(micro) + ", training.global_batch = " + std::to_string(global));
  if (const auto async_tp = read.text({"parallelism.enable_async_tensor_parallel", "experimental.enable_async_tensor_parallel"}); async_tp && truthy(*async_tp) && layout.tp > 1) {
    p["tp_comm_overlap"] = true;
    read.map("training.parallel.tp_comm_overlap", true);
    // PyTorch's micro-pipeline TP pass finds matmul + reduce-scatter only in the forward
    // graph (pytorch/pytorch PR 149946's review).
    p["tp_comm_overlap_backward_rs"] = false;
    // Its fused_matmul_reduce_scatter sums the stacked partials in a kernel of its own.
    p["tp_comm_overlap_separate_sum"] = true;
  }
  t["parallel"] = p;
  read_recompute(read, arch.is_moe(), t, r);
  read_precision(read, t, r);
  read_compile(read, t, r);
  if (const auto norm = read.text({"training.max_norm"})) {
    t["grad_clip"] = number_value(read.last(), *norm) > 0;
    read.map("training.grad_clip", t["grad_clip"]);
  }
  t["attention_kernel"] = "flash";
  r.assumed.push_back("attention: PyTorch SDPA's FlashAttention-2 -> training.attention_kernel = \"flash\"");
  for (const std::string& key : config.unread()) {
    // A Float8 option matters only when it is switched on and Float8 runs.
    const bool idle_float8 = key.rfind("float8.", 0) == 0 && (t["dtype"] != "fp8" || lower(config.value(key)) == "false");
    (has_no_effect(key) || idle_float8 ? r.dropped : r.not_modelled).push_back(config.given(key));
  }
  r.scenario = {{"name", "torchtitan " + model.get<std::string>()},
                {"description", "Imported from a torchtitan launch command by `foresight import`."},
                {"hardware", launcher_hardware(launcher, gpu, gpus, r)},
                {"model", model},
                {"training", t}};
  return r;
}

}  // namespace foresight
