#include "workloads/training_config.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "models/model_arch.hpp"
#include "sim/input/object_reader.hpp"
#include "workloads/pipeline_schedule.hpp"

namespace foresight {
namespace {
Dtype read_dtype(ObjectReader& r, const char* key, Dtype fallback, std::vector<std::string> allowed,
                 std::string_view doc) {
  const std::string name = r.string(key, std::string(dtype_name(fallback)), {doc, "", {}, {}, false, allowed});
  return parse_dtype(name).value_or(fallback);
}

}  // namespace

std::vector<std::int64_t> TrainingConfig::layers_per_virtual_stage(std::int64_t layers) const {
  const std::int64_t count = positions();
  if (!stage_layers.empty()) {
    std::int64_t sum = 0;
    for (std::int64_t n : stage_layers) sum += n;
    const bool fits = static_cast<std::int64_t>(stage_layers.size()) == count && sum == layers;
    return fits ? stage_layers : std::vector<std::int64_t>{};
  }
  std::vector<std::int64_t> split(static_cast<std::size_t>(count), -1);
  if (first_stage_layers >= 0) split.front() = first_stage_layers;
  if (last_stage_layers >= 0) {
    if (count == 1 && first_stage_layers >= 0 && first_stage_layers != last_stage_layers) return {};
    split.back() = last_stage_layers;
  }
  std::int64_t rest = layers, open = 0;
  for (std::int64_t n : split) {
    if (n >= 0) rest -= n;
    else ++open;
  }
  if (rest < 0 || (open == 0 ? rest != 0 : rest % open != 0)) return {};
  for (std::int64_t& n : split) {
    if (n < 0) n = rest / open;
  }
  return split;
}

std::unique_ptr<PipelineSchedule> TrainingConfig::make_schedule() const {
  auto made = make_pipeline_schedule(schedule, virtual_stages);
  return moe_a2a_overlap ? combine_forward_backward(std::move(made)) : std::move(made);
}

int TrainingConfig::virtual_stage(int stage, int chunk) const {
  return make_pipeline_schedule(schedule, virtual_stages)->virtual_stage(stage, chunk, static_cast<int>(pp));
}

std::int64_t TrainingConfig::pipeline_copies() const {
  const auto names = pipeline_schedule_names();
  if (virtual_stages < 1 || std::find(names.begin(), names.end(), schedule) == names.end()) return 1;  // reported where read
  const auto placed = make_pipeline_schedule(schedule, virtual_stages);
  return placed->chunks() == virtual_stages ? placed->model_copies() : 1;  // else check_pipeline asks for its chunks
}

bool TrainingConfig::holds_position(int stage, int position) const {
  for (int chunk = 0; chunk < virtual_stages; ++chunk) {
    if (this->position(stage, chunk) == position) return true;
  }
  return false;
}

int TrainingConfig::stage_of(int virtual_stage) const {
  return make_pipeline_schedule(schedule, virtual_stages)->stage_of(virtual_stage, static_cast<int>(pp));
}

namespace {
// Megatron-core's own checks on --overlap-moe-expert-parallel-comm (arguments.py).
void check_combined_forward_backward(ObjectReader& r, const TrainingConfig& c, const ModelArch& model, const PipelineSchedule& schedule) {
  if (!c.moe_a2a_overlap) return;
  auto& diag = r.diagnostics();
  const std::string key = r.child_path("parallel") + ".moe_a2a_overlap";
  if (!model.is_moe() || c.ep < 2) {
    diag.error(key, "the expert all-to-all overlap hides expert-parallel all-to-alls: it needs an MoE model with ep > 1");
  }
  const bool looped = schedule.name() == "interleaved_1f1b";
  if (!(looped || (c.pp == 1 && schedule.name() == "1f1b"))) {
    diag.error(key, "Megatron-core pairs forwards with backwards only without pipelining (pp 1) or in the interleaved "
                    "schedule: set schedule: interleaved_1f1b (got " + c.schedule + " with pp " + std::to_string(c.pp) + ")");
  }
  if (c.recompute == Recompute::kFull) {
    diag.error(key, "Megatron-core refuses full recomputation with the expert all-to-all overlap: use recompute: selective");
  }
  if (c.moe_shared_expert_overlap) {
    diag.error(key, "Megatron-core refuses the shared expert's overlap with the expert all-to-all overlap (transformer_config.py): "
                    "set moe_shared_expert_overlap: false");
  }
}

// Megatron-core's check on --delay-wgrad-compute (transformer_config.py): only with the
// expert all-to-all overlap.
void check_delayed_weight_gradients(ObjectReader& r, const TrainingConfig& c) {
  if (c.delay_wgrad_compute && !c.moe_a2a_overlap) {
    r.diagnostics().error(r.child_path("parallel") + ".delay_wgrad_compute",
                          "Megatron-core delays the experts' weight gradients only with the expert all-to-all overlap: set moe_a2a_overlap: true");
  }
}

void check_pipeline(ObjectReader& r, const TrainingConfig& c, const ModelArch& model, int gpus, int gpus_per_node) {
  auto& diag = r.diagnostics();
  const std::string parallel = r.child_path("parallel");
  const std::int64_t virtual_stages = c.positions();
  const std::string copies = c.pipeline_copies() > 1 ? " / " + std::to_string(c.pipeline_copies()) + " copies of the model" : "";
  if (c.pp > 1 && model.encoder_layers > 0) {
    diag.error(parallel + ".pp", "pipeline parallelism over encoder-decoder models is not supported yet; use pp = 1");
  }
  if (!c.stage_layers.empty() && c.layers_per_virtual_stage(model.layers).empty()) {
    std::int64_t sum = 0;
    for (std::int64_t n : c.stage_layers) sum += n;
    diag.error(parallel + ".stage_layers", "expected one count per virtual stage (pp x virtual_stages" + copies + " = " + std::to_string(virtual_stages) +
                                               ") summing to the model's " + std::to_string(model.layers) + " layers; got " +
                                               std::to_string(c.stage_layers.size()) + " summing to " + std::to_string(sum));
  } else if (!c.balance_stages && c.layers_per_virtual_stage(model.layers).empty()) {
    const bool even = c.first_stage_layers < 0 && c.last_stage_layers < 0;
    diag.error(parallel + (even ? ".pp" : ".first_stage_layers"),
               even ? "pp x virtual_stages" + copies + " = " + std::to_string(virtual_stages) + " must divide the model's " +
                          std::to_string(model.layers) + " layers"
                    : "the model's " + std::to_string(model.layers) + " layers do not split into first_stage_layers, " +
                          "last_stage_layers and an even share for the other " + std::to_string(virtual_stages) +
                          " virtual stages");
  }
  const auto names = pipeline_schedule_names();
  if (std::find(names.begin(), names.end(), c.schedule) == names.end()) return;  // reported where it was read
  const auto schedule = make_pipeline_schedule(c.schedule, c.virtual_stages);
  check_combined_forward_backward(r, c, model, *schedule);
  if (c.virtual_stages > 1 && schedule->chunks() == 1) {
    diag.error(parallel + ".virtual_stages", "virtual_stages > 1 needs a looped schedule (interleaved_1f1b or breadth_first), not " + c.schedule);
  }
  if (schedule->chunks() != c.virtual_stages) {
    diag.error(parallel + ".virtual_stages", c.schedule + " places " + std::to_string(schedule->chunks()) +
                                                 " chunks on each stage: set virtual_stages: " + std::to_string(schedule->chunks()));
  }
  const std::int64_t micro_batches = c.global_batch / std::max<std::int64_t>(1, c.dp * c.micro_batch);
  if (const std::string why = schedule->unsupported_reason(static_cast<int>(c.pp), static_cast<int>(micro_batches)); !why.empty()) {
    diag.error(parallel + ".schedule", why);
  }
  if (schedule->model_copies() > 1 && c.zero_stage == 3) {
    diag.error(parallel + ".zero_stage", c.schedule + " keeps two copies of each stage's weights whole; ZeRO-3 with it is not modelled: use zero_stage 0 or 1");
  }
  // Stage s holds ranks [s dp tp, (s+1) dp tp): a stage must fill whole nodes, or nodes
  // must hold whole stages, so that DP groups split evenly over nodes.
  const std::int64_t stage = c.dp * c.replica_ranks();
  if (c.pp > 1 && gpus > gpus_per_node && stage % gpus_per_node != 0 && gpus_per_node % stage != 0) {
    diag.error(parallel + ".pp", "dp x cp x tp = " + std::to_string(stage) + " GPUs per pipeline stage must fill whole nodes of " +
                                     std::to_string(gpus_per_node) + " or divide one");
  }
}

void check_context_parallel(ObjectReader& r, const TrainingConfig& c, const ModelArch& model) {
  if (c.cp == 1) return;
  auto& diag = r.diagnostics();
  const std::string cp = r.child_path("parallel") + ".cp";
  // Load balancing under the causal mask gives each rank two of 2 cp chunks.
  if (c.sequence % (2 * c.cp * (c.sequence_parallel ? c.tp : 1)) != 0) {
    diag.error(cp, "sequence_length " + std::to_string(c.sequence) + " must split into 2 x cp" +
                       (c.sequence_parallel ? " x tp" : "") + " equal chunks");
  }
  if (c.attention == AttentionKernel::kUnfused) {
    diag.error(cp, "context parallelism runs attention as ring passes of a fused kernel: use attention_kernel: flash");
  }
  if (model.is_encoder_decoder()) diag.error(cp, "context parallelism over encoder-decoder models is not supported; use cp = 1");
}

void read_stage_layers(ObjectReader& p, TrainingConfig& c) {
  const nlohmann::json* counts = p.raw("stage_layers", "array of integers",
      "Layers on each virtual stage, in pipeline order (virtual stage v = chunk x pp + stage; zb_v: chunk 0 of stage s is s, "
      "chunk 1 is 2 pp - 1 - s; chimera and bitpipe: one count per position of one copy, pp of them for chimera and 2 pp "
      "for bitpipe, which both copies split alike), e.g. [7, 8, 8, 7]: "
      "Megatron's --pipeline-model-parallel-layout, torchtitan's split points. The first also holds the embedding, the "
      "last the head and loss. \"balanced\": the counts that even out the stages' kernel time (the embedding's and the "
      "head's included) under this scenario's cost model. Absent: first_stage_layers, last_stage_layers and an even share "
      "for the rest.");
  if (counts == nullptr) return;
  const std::string where = p.child_path("stage_layers");
  if (c.first_stage_layers >= 0 || c.last_stage_layers >= 0) {
    p.diagnostics().error(where, "give either stage_layers or first_stage_layers / last_stage_layers, not both");
    return;
  }
  if (counts->is_string() && counts->get<std::string>() == "balanced") {
    c.balance_stages = true;
    return;
  }
  if (!counts->is_array() || counts->empty()) {
    p.diagnostics().error(where, "expected \"balanced\" or a non-empty array of layer counts, one per virtual stage");
    return;
  }
  for (const nlohmann::json& n : *counts) {
    if (!n.is_number_integer() || n.get<std::int64_t>() < 0 || n.get<std::int64_t>() > 1'000'000) {
      p.diagnostics().error(where, "expected whole layer counts from 0 to 1,000,000, got " + n.dump());
      c.stage_layers.clear();
      return;
    }
    c.stage_layers.push_back(n.get<std::int64_t>());
  }
}

void read_graph_scopes(ObjectReader& h, TrainingHost& host) {
  const nlohmann::json* scopes = h.raw("cuda_graph_scope", "array of strings",
      "With cuda_graphs: capture only these parts of each decoder layer (Megatron's --cuda-graph-scope): attn (the "
      "attention block with its norm), mlp (a dense MLP block), moe_router (an MoE layer's norm, router and top-k), "
      "moe_preprocess (its permutation), moe (the rest of it: dispatch, experts, combine; capacity routing only); each run "
      "of consecutive captured kernels is one replay, the rest launch eagerly. Absent or empty: the whole layer.");
  if (scopes == nullptr) return;
  const std::string where = h.child_path("cuda_graph_scope");
  if (!scopes->is_array()) {
    h.diagnostics().error(where, "expected an array of scope names (" + graph_scope_list() + ")");
    return;
  }
  for (const nlohmann::json& scope : *scopes) {
    if (!scope.is_string() || !is_graph_scope(scope.get<std::string>())) {
      h.diagnostics().error(where, "unknown scope " + scope.dump() + ": expected one of " + graph_scope_list());
      continue;
    }
    host.graph_scopes.push_back(scope.get<std::string>());
  }
}

bool* recompute_module_flag(RecomputedModules& m, const std::string& name) {
  for (const auto& [known, flag] : kRecomputedModuleNames) {
    if (name == known) return &(m.*flag);
  }
  return nullptr;
}

void read_recompute_modules(ObjectReader& r, TrainingConfig& c) {
  const nlohmann::json* modules = r.raw("recompute_modules", "array of strings",
      "With recompute: selective, the modules rerun in backward (Megatron's --recompute-modules, which other recompute "
      "settings ignore, as Megatron does; default [\"core_attn\"]): "
      "core_attn (core attention; frees the unfused path's s x s scores), layernorm (each block's norm; frees the norm "
      "output its first GEMM keeps), moe_act (the experts' activation; frees its output, which the down projection keeps), "
      "mlp (a dense MLP; frees all but its input), shared_experts (the shared expert, likewise), mla_up_proj (latent "
      "attention's up projections and rotary embedding; frees the heads' Q, K and V), moe (a whole MoE block: router, "
      "dispatch, experts, combine and shared expert; frees all but its input). Each module's forward runs again before "
      "its layer's backward.");
  if (modules == nullptr || r.is_documenting()) return;
  const std::string where = r.child_path("recompute_modules");
  if (!modules->is_array()) {
    r.diagnostics().error(where, "expected an array of module names (core_attn, layernorm, moe_act, mlp, shared_experts, mla_up_proj, moe)");
    return;
  }
  c.recompute_modules = {};
  for (const nlohmann::json& module : *modules) {
    bool* flag = module.is_string() ? recompute_module_flag(c.recompute_modules, module.get<std::string>()) : nullptr;
    if (flag == nullptr) {
      r.diagnostics().error(where, "unknown module " + module.dump() + ": expected core_attn, layernorm, moe_act, mlp, shared_experts, mla_up_proj or moe");
      continue;
    }
    *flag = true;
  }
}

// Modules the model does not have cannot be rerun.
void check_recompute_modules(ObjectReader& r, const TrainingConfig& c, const ModelArch& model) {
  if (c.recompute != Recompute::kSelective) return;
  const RecomputedModules& m = c.recompute_modules;
  const std::string where = r.child_path("recompute_modules");
  if (m.moe_act && !model.is_moe()) r.diagnostics().error(where, "moe_act: " + model.name + " has no experts");
  if (m.moe && !model.is_moe()) r.diagnostics().error(where, "moe: " + model.name + " has no experts");
  if (m.mla_up_proj && !model.latent_attention()) r.diagnostics().error(where, "mla_up_proj: " + model.name + " has no latent attention");
  if (m.shared_experts && model.shared_expert_ffn == 0) r.diagnostics().error(where, "shared_experts: " + model.name + " has no shared expert");
  if (m.mlp && model.is_moe() && model.dense_layers == 0) {
    r.diagnostics().error(where, "mlp: " + model.name + " has no dense MLP (its layers' MLPs are experts: moe_act, shared_experts)");
  }
}

void check_expert_parallel(ObjectReader& r, const TrainingConfig& c, const ModelArch& model) {
  auto& diag = r.diagnostics();
  // Captured graphs replay fixed shapes; a dropless layer's shapes change with its routing,
  // after its permutation: the parts before it can be captured.
  const auto& scopes = c.host.graph_scopes;
  const bool captures_experts = scopes.empty() || std::find(scopes.begin(), scopes.end(), "moe") != scopes.end();
  if (c.host.cuda_graphs && captures_experts && model.is_moe() && c.dropless_routing) {
    diag.error(r.child_path("host") + ".cuda_graphs",
               "a CUDA graph cannot capture a dropless MoE layer, whose shapes follow its routing: set moe_routing: capacity "
               "(Megatron's --moe-expert-capacity-factor with --moe-pad-expert-input-to-capacity), capture parts of the "
               "layer (cuda_graph_scope: attn, moe_router, moe_preprocess) or leave the graphs off");
  }
  if (c.moe_shared_expert_overlap) {
    const std::string key = r.child_path("moe_shared_expert_overlap");
    if (!model.is_moe() || model.shared_expert_ffn == 0) {
      diag.error(key, "the overlap runs the shared expert beside the expert all-to-alls: it needs an MoE model with a shared expert");
    } else if (c.ep < 2) {
      diag.error(key, "with ep 1 there is no expert all-to-all to run the shared expert beside: set ep > 1");
    }
    if (c.recompute == Recompute::kSelective && c.recompute_modules.shared_experts) {
      diag.error(key, "Megatron-core refuses the shared_experts recompute module with the shared expert's overlap");
    }
  }
  if (c.expert_load > 1 && (!model.is_moe() || c.ep < 2)) {
    diag.error(r.child_path("expert_load"), "routing imbalance is across expert-parallel ranks: it needs an MoE model with ep > 1");
  }
  if (c.experts_folded() && model.is_moe()) {  // EP groups of ep consecutive ranks over TP x CP x DP
    const std::string folded = r.child_path("parallel") + ".expert_tp";
    const std::int64_t stage_ranks = c.tp * c.cp * c.dp;
    if ((c.ep % c.tp != 0 && c.tp % c.ep != 0) || stage_ranks % c.ep != 0) {
      diag.error(r.child_path("parallel") + ".ep", "with expert_tp 1, ep = " + std::to_string(c.ep) + " must divide or be a multiple of tp = " +
                                                   std::to_string(c.tp) + ", and divide tp x cp x dp = " + std::to_string(stage_ranks));
    }
    if (!c.sequence_parallel) diag.error(folded, "expert_tp 1 with tp > 1 needs sequence_parallel, as Megatron-core's MoE layers do");
  }
  if (c.ep == 1) return;
  const std::string ep = r.child_path("parallel") + ".ep";
  if (!model.is_moe()) {
    diag.error(ep, "expert parallelism needs a mixture-of-experts model; " + model.name + " is dense");
    return;
  }
  if (model.experts % c.ep != 0) {
    diag.error(ep, "ep = " + std::to_string(c.ep) + " must divide the model's " + std::to_string(model.experts) + " experts");
  }
  if (c.experts_folded()) return;
  if (c.dp % c.ep != 0) diag.error(ep, "ep = " + std::to_string(c.ep) + " must divide dp = " + std::to_string(c.dp));
}

// training.documents and training.packing (workloads/document_packing.hpp); reads
// sequence_length first. A trace's file is relative to the scenario's directory.
void read_documents(ObjectReader& r, TrainingConfig& c, const std::string& scenario_dir) {
  const bool given = !r.is_documenting() && r.has("documents");
  if (r.is_documenting() || given) {
    auto d = r.object("documents", "The lengths of the training set's documents, which packing turns into sequences.");
    DocumentLengths lengths;
    lengths.distribution = d.string("distribution", "fixed",
        {"fixed (tokens), uniform (min to max), lognormal (median, sigma) or trace (a data set's lengths, drawn by row from file).",
         "", {}, {}, false, {"fixed", "uniform", "lognormal", "trace"}});
    const bool fixed = lengths.distribution == "fixed", uniform = lengths.distribution == "uniform";
    if (d.is_documenting() || fixed) lengths.tokens = d.integer("tokens", 2048, {"Tokens per document, when fixed.", "tokens", 1.0, 1e8});
    if (d.is_documenting() || uniform) {
      lengths.min = d.integer("min", 1, {"Fewest tokens, when uniform.", "tokens", 1.0, 1e8});
      lengths.max = d.integer("max", 4096, {"Most tokens, when uniform.", "tokens", 1.0, 1e8});
      if (lengths.max < lengths.min && !d.is_documenting()) d.error("max", "max " + std::to_string(lengths.max) + " must be at least min " + std::to_string(lengths.min));
    }
    if (d.is_documenting() || lengths.distribution == "lognormal") {
      lengths.median = d.number("median", 1024, {"Median tokens, when lognormal.", "tokens", 1.0, 1e8});
      lengths.sigma = d.number("sigma", 1, {"Standard deviation of the log of the length, when lognormal.", "", 0.0, 10.0});
    }
    if (d.is_documenting() || lengths.distribution == "trace") {
      std::string file = d.required_string("file", {"A CSV of the data set's documents, one a row, relative to the scenario's "
                                                   "directory (when trace)."});
      const std::string column = d.string("column", "tokens", {"The column of `file` holding each document's length in tokens "
                                                                "(when trace)."});
      if (!file.empty() && !scenario_dir.empty() && std::filesystem::path(file).is_relative()) {
        file = (std::filesystem::path(scenario_dir) / file).string();
      }
      if (!d.is_documenting() && !file.empty()) lengths.trace = read_document_lengths(file, column);
    }
    if (given) c.documents = lengths;
  }
  const std::string packing = r.string("packing", given ? "mask" : "concat",
      {"How documents become sequences: concat (end to end, attention across them), mask (end to end under a document "
       "mask: attention meets only a token's own document; the default with documents) or pad (one document per sequence, "
       "cut at sequence_length and padded; throughput and MFU count the data's tokens only).", "", {}, {}, false,
       {"concat", "mask", "pad"}});
  c.packing = packing == "mask" ? Packing::kMask : packing == "pad" ? Packing::kPad : Packing::kConcat;
  const std::string pad_to = r.string("pad_to", "sequence",
      {"With packing pad: what each micro-batch is padded to: sequence (sequence_length), longest (its longest document, "
       "Hugging Face's padding=\"longest\"), bucketed (its longest, after the step's documents are grouped by length, "
       "the shortest together: length-grouped sampling, what DynaPipe's dynamic micro-batching builds on) or balanced "
       "(its longest, grouped by length, a micro-batch holding more of the short documents and fewer of the long ones, up "
       "to micro_batch x sequence_length padded tokens, cut so that the micro-batches' summed work plus (pp - 1) times the "
       "costliest is least: DynaPipe's dynamic micro-batch sizes at a fixed count). Each micro-batch then runs at its own "
       "tokens and attention (docs/training.md, \"Documents and packing\").", "", {}, {}, false,
       {"sequence", "longest", "bucketed", "balanced"}});
  c.pad_to = pad_to == "longest"    ? PadTo::kLongest
             : pad_to == "bucketed" ? PadTo::kBucketed
             : pad_to == "balanced" ? PadTo::kBalanced
                                    : PadTo::kSequence;
  if (c.pad_to != PadTo::kSequence && c.packing != Packing::kPad && !r.is_documenting()) {
    r.error("pad_to", "pad_to " + pad_to + " pads documents: it needs packing pad (with training.documents)");
  }
  const std::string balance = r.string("document_balance", "random",
      {"How a step's sequences are dealt to the data-parallel ranks under packing mask: random (a shuffling sampler's, "
       "Megatron's and torchtitan's: the step waits for the rank whose documents cost most) or cost (a balancing "
       "loader's: largest masked attention work first, each to the rank with the least so far; with pipeline stages or "
       "the sequence CP split, each replica's documents also packed into its micro-batches so, WLB-LLM's workload-aware "
       "packing; docs/training.md, \"Documents and packing\").", "", {}, {}, false, {"random", "cost"}});
  c.document_balance = balance == "cost" ? DocumentBalance::kCost : DocumentBalance::kRandom;
  c.packing_max_tokens = r.number("packing_max_tokens", 1,
      {"With document_balance cost, and pipeline stages or the sequence CP split: the most tokens a micro-batch may hold "
       "over micro_batch x sequence_length (WLB-LLM's variable-length packing: micro-batches of short documents take more "
       "tokens, those of long ones fewer, evening their compute; 1: every micro-batch full length). Activation memory is "
       "checked as if every micro-batch in flight held the most.", "", 1.0, 4.0});
  const std::string split = r.string("cp_split", "document",
      {"How context parallelism cuts document-masked sequences over its ranks, each span into 2 x cp chunks, rank c "
       "taking chunks c and 2cp-1-c: document (each document so: Transformer Engine's THD format, as Megatron runs "
       "packed sequences; every rank the same work) or sequence (the packed sequence so: Llama 3's all-gather CP under "
       "a document mask; each CP group waits for its rank with the most work; docs/training.md, \"Documents and "
       "packing\").", "", {}, {}, false, {"document", "sequence"}});
  c.cp_split = split == "sequence" ? CpSplit::kSequence : CpSplit::kDocument;
  if (r.is_documenting()) return;
  if (c.document_balance == DocumentBalance::kCost && c.packing != Packing::kMask) {
    r.error("document_balance", "cost balances document-masked attention: it needs packing mask (with training.documents)");
  }
  c.outlier_delay_tokens = r.integer("outlier_delay_tokens", 0,
      {"With document_balance cost, and pipeline stages or the sequence CP split: documents (or, past sequence_length, "
       "their whole-sequence pieces) of at least this many tokens wait until every micro-batch can take one (WLB-LLM's "
       "outlier delay), so that over many steps each micro-batch carries the same share of them; the step simulated is "
       "that long-run mean. 0: none.", "tokens", 0.0, 1e9});
  if (c.outlier_delay_tokens > 0 && c.document_balance != DocumentBalance::kCost) {
    r.error("outlier_delay_tokens", "outlier delay is part of packing by cost: it needs document_balance cost");
  }
  if (c.packing_max_tokens > 1 && c.document_balance != DocumentBalance::kCost) {
    r.error("packing_max_tokens", "variable-length packing packs documents by cost: it needs document_balance cost");
  }
  if (c.cp_split == CpSplit::kSequence && c.packing != Packing::kMask) {
    r.error("cp_split", "sequence cuts document-masked sequences: it needs packing mask (with training.documents)");
  }
  if (c.packing != Packing::kConcat && !c.documents) r.error("packing", "packing " + packing + " needs training.documents (their lengths)");
  if (!c.documents) return;
  if (c.documents->distribution == "trace" && !c.documents->trace) return;  // its missing file is reported
  if (c.document_length > 0) r.error("document_length", "give document_length or documents, not both");
  c.packed = pack_documents(*c.documents, c.sequence);
  if (c.packing == Packing::kMask) c.document_length = static_cast<std::int64_t>(std::ceil(c.packed.masked_length));
}

// Megatron-core's TransformerConfig refuses CPU offloading with pipeline parallelism or
// recomputation, and of all the layers or more.
void check_offload(ObjectReader& r, const TrainingConfig& c, const ModelArch& model) {
  if (c.offload_layers == 0) return;
  const std::string why = "activation offloading";
  if (c.offload_layers >= model.layers) {
    r.error("activation_offload_layers", std::to_string(c.offload_layers) + " must be below the model's " +
                                             std::to_string(model.layers) + " layers, as Megatron-core requires");
  } else if (c.pp > 1) {
    r.error("activation_offload_layers", why + " needs pp 1: Megatron-core does not offload with pipeline parallelism");
  } else if (c.recompute != Recompute::kNone) {
    r.error("activation_offload_layers", why + " needs recompute: none: Megatron-core does not offload recomputed layers");
  } else if (model.is_encoder_decoder()) {
    r.error("activation_offload_layers", why + " is modelled for decoder-only models; " + model.name + " is an encoder-decoder");
  }
}

// The layers LoRA adapts, by the names NeMo (linear_qkv, ...), Hugging Face PEFT (q_proj,
// ...) and foresight (qkv, proj, fc1, fc2) give them: each sets one of foresight's four.
bool* lora_module_flag(LoraConfig& lora, const std::string& name) {
  static const std::pair<const char*, bool LoraConfig::*> kNames[] = {
      {"qkv", &LoraConfig::qkv},       {"linear_qkv", &LoraConfig::qkv}, {"q_proj", &LoraConfig::qkv},
      {"k_proj", &LoraConfig::qkv},    {"v_proj", &LoraConfig::qkv},     {"proj", &LoraConfig::proj},
      {"linear_proj", &LoraConfig::proj}, {"o_proj", &LoraConfig::proj},  {"fc1", &LoraConfig::fc1},
      {"linear_fc1", &LoraConfig::fc1}, {"gate_proj", &LoraConfig::fc1},  {"up_proj", &LoraConfig::fc1},
      {"fc2", &LoraConfig::fc2},       {"linear_fc2", &LoraConfig::fc2}, {"down_proj", &LoraConfig::fc2}};
  for (const auto& [key, flag] : kNames) {
    if (name == key) return &(lora.*flag);
  }
  return nullptr;
}

void read_lora(ObjectReader& parent, TrainingConfig& c) {
  if (!parent.has("lora") && !parent.is_documenting()) return;
  auto r = parent.object("lora", "LoRA fine-tuning (Hu et al. 2021): the model's weights frozen, a trainable pair of rank-r matrices "
                                 "beside each adapted linear layer (docs/training.md, \"LoRA fine-tuning\"). Frozen weights run "
                                 "no weight-gradient GEMM; only the adapters hold gradients, optimizer state and a DP reduction.");
  c.lora.rank = r.integer("rank", kNemoLoraDim,
      {"The adapters' rank (NeMo's dim, PEFT's r; default 32, NeMo's LoRA default).", "", 1.0, 65536.0});
  const nlohmann::json* modules = r.raw("target_modules", "array of strings",
      "The linear layers adapted in every decoder layer (default all four, NeMo's default): qkv, proj, fc1, fc2, or "
      "NeMo's (linear_qkv, linear_proj, linear_fc1, linear_fc2) or Hugging Face PEFT's names (q_proj, k_proj, v_proj: qkv; "
      "o_proj: proj; gate_proj, up_proj: fc1; down_proj: fc2). A routed or shared expert's layers are not adapted.");
  if (modules == nullptr || r.is_documenting()) return;
  const std::string where = r.child_path("target_modules");
  if (!modules->is_array() || modules->empty()) {
    r.diagnostics().error(where, "expected a non-empty array of layer names (qkv, proj, fc1, fc2)");
    return;
  }
  c.lora.qkv = c.lora.proj = c.lora.fc1 = c.lora.fc2 = false;
  for (const nlohmann::json& module : *modules) {
    bool* flag = module.is_string() ? lora_module_flag(c.lora, module.get<std::string>()) : nullptr;
    if (flag == nullptr) {
      const std::string named = module.is_string() ? "\"" + module.get<std::string>() + "\"" : std::string("a ") + module.type_name();
      r.diagnostics().error(where, "unknown layer " + named + ": expected qkv, proj, fc1, fc2 (or linear_qkv, q_proj, o_proj, gate_proj, down_proj, ...)");
      continue;
    }
    *flag = true;
  }
}

// What the LoRA model covers: adapters on standard attention and dense MLPs, gradients and
// optimizer state of the adapters alone, reduced over DP in Megatron's buckets or, under
// ZeRO-3, each layer's after its backward.
void check_lora(ObjectReader& r, const TrainingConfig& c, const ModelArch& model) {
  if (!c.lora.on()) return;
  auto& diag = r.diagnostics();
  const std::string where = r.child_path("lora");
  if (model.latent_attention() && (c.lora.qkv || c.lora.proj)) {
    diag.error(where + ".target_modules", model.name + " has latent attention, whose projections LoRA here does not adapt: "
                                          "adapt fc1 and fc2 only");
  }
  if (model.is_moe() && model.dense_layers == 0 && !c.lora.qkv && !c.lora.proj) {
    diag.error(where + ".target_modules", model.name + "'s MLPs are experts, which are not adapted: adapt qkv or proj");
  }
  if (c.onebit_adam || c.local_sgd()) {
    diag.error(where, "LoRA with 1-bit Adam or local SGD is not modelled: their exchanges are sized by the whole model's weights");
  }
}

void check_consistency(ObjectReader& r, const TrainingConfig& c, const ModelArch& model, int gpus, int gpus_per_node) {
  if (r.is_documenting()) return;
  auto& diag = r.diagnostics();
  check_recompute_modules(r, c, model);
  check_lora(r, c, model);
  if (c.recompute == Recompute::kSelectiveOp && (model.is_moe() || model.is_encoder_decoder())) {
    diag.error(r.child_path("recompute"), "selective_op is torchtitan's policy for dense decoder layers; " + model.name +
                                              " is " + (model.is_moe() ? "a mixture of experts" : "an encoder-decoder") +
                                              ": use none, selective or full");
  }
  const std::string parallel = r.child_path("parallel");
  if (c.gpus() != gpus) {
    diag.error(parallel, "tp x cp x dp x pp = " + std::to_string(c.gpus()) + " must equal the cluster's " + std::to_string(gpus) +
                             " GPUs (hardware.topology.gpus x nodes)");
  }
  check_pipeline(r, c, model, gpus, gpus_per_node);
  if (gpus > gpus_per_node && gpus_per_node % c.tp != 0) {
    diag.error(parallel + ".tp", "tp = " + std::to_string(c.tp) + " must divide the " + std::to_string(gpus_per_node) +
                                     " GPUs of a node: tensor parallelism stays inside a node");
  }
  if (model.heads % c.tp != 0) {
    diag.error(parallel + ".tp", "tp = " + std::to_string(c.tp) + " must divide the model's " +
                                     std::to_string(model.heads) + " attention heads");
  }
  if (model.shared_expert_ffn % c.tp != 0) {
    diag.error(parallel + ".tp", "tp = " + std::to_string(c.tp) + " must divide shared_expert_ffn " +
                                     std::to_string(model.shared_expert_ffn));
  }
  if (model.ffn_hidden % c.tp != 0) {
    diag.error(parallel + ".tp", "tp = " + std::to_string(c.tp) + " must divide ffn_hidden " +
                                     std::to_string(model.ffn_hidden));
  }
  if (c.global_batch % (c.dp * c.micro_batch) != 0) {
    r.error("global_batch", "global_batch " + std::to_string(c.global_batch) +
                                " must be a multiple of dp x micro_batch = " + std::to_string(c.dp * c.micro_batch));
  }
  if (c.tp_comm_overlap && !c.sequence_parallel && c.tp > 1) {
    diag.error(parallel + ".tp_comm_overlap", "TP communication overlap needs sequence_parallel: true (it overlaps the "
                                              "all-gathers and reduce-scatters that sequence parallelism uses)");
  }
  check_context_parallel(r, c, model);
  if (c.document_length > 0 && c.attention == AttentionKernel::kUnfused) {
    r.error("document_length", "a document mask saves work only in a fused attention kernel: use attention_kernel: flash, "
                               "flash3 or cudnn");
  }
  check_expert_parallel(r, c, model);
  check_delayed_weight_gradients(r, c);
  if (c.overlap_param_gather && c.zero_stage == 0) {
    r.error("overlap_param_gather", "there is no gather of updated weights to overlap without a sharded optimizer (Megatron's "
                                    "--overlap-param-gather needs --use-distributed-optimizer): set parallel.zero_stage 1 or 2");
  }
  check_offload(r, c, model);
  if (c.plain_sgd && (c.onebit_adam || c.local_sgd())) {
    r.error("optimizer", "sgd keeps no optimizer state: 1-bit Adam compresses Adam's momentum, and local SGD's inner "
                         "optimizer is Adam here");
  }
  if (c.onebit_adam && (c.zero_stage != 0 || c.cp > 1 || c.ep > 1 || c.local_sgd())) {
    r.error("grad_compression", "1-bit Adam keeps a whole optimizer per rank and compresses the DP group's exchange: it needs "
                                "zero_stage 0, no context or expert parallelism and no local SGD, as DeepSpeed's OneBitAdam does");
  }
  if (c.stragglers.on() && c.local_sgd()) {
    r.error("stragglers", "local SGD's inner steps do not synchronize the replicas, which the stragglers model assumes every "
                          "step: set local_sgd.period 1 or stalls_per_gpu_hour 0");
  }
  if (c.fp8_gradients && (c.zero_stage == 3 || c.local_sgd())) {
    r.error("grad_compression", "fp8 reduces the gradient buckets of zero_stage 0-2 every step; ZeRO-3 reduce-scatters each "
                                "unit's gradients (use parallel.zero_quantized_gradients, ZeRO++'s int4, there) and local "
                                "SGD reduces none (its average's precision is local_sgd.sync_dtype)");
  }
  if (c.bf16_layers_at_start + c.bf16_layers_at_end > 0 && c.dtype != Dtype::kFp8) {
    r.error(c.bf16_layers_at_start > 0 ? "bf16_layers_at_start" : "bf16_layers_at_end",
            "keeping decoder layers in bf16 is a choice fp8 training makes: it needs dtype fp8");
  }
  if (c.bf16_layers_at_start + c.bf16_layers_at_end > model.layers) {
    r.error("bf16_layers_at_end", "bf16_layers_at_start + bf16_layers_at_end = " +
                                      std::to_string(c.bf16_layers_at_start + c.bf16_layers_at_end) + " is more than the model's " +
                                      std::to_string(model.layers) + " decoder layers");
  }
  if (c.fp8_param_gather && (c.dtype != Dtype::kFp8 || c.zero_stage == 0)) {
    r.error("fp8_param_gather", "gathering weights in fp8 needs dtype fp8 and sharded data parallelism (zero_stage 1-3), as "
                                "Megatron's --fp8-param-gather does");
  }
  if (c.sequence_parallel && c.sequence % c.tp != 0) {
    diag.error(parallel + ".sequence_parallel", "sequence_length must be divisible by tp");
  }
  // Every kernel of every micro-batch and layer on every simulated rank becomes an op:
  // refuse graphs that would not fit in memory rather than swap or crash (about 100 bytes
  // per op). One TP rank and one DP replica stand for their groups unless
  // simulate_all_ranks; every CP rank and pipeline stage is simulated.
  const double ops = estimated_graph_ops(model, c);
  if (ops > kMaxGraphOps) {
    r.error("global_batch", "this step would expand to about " + std::to_string(static_cast<long long>(ops)) +
                                " ops, more than the " + std::to_string(static_cast<long long>(kMaxGraphOps)) +
                                " that fit in memory" +
                                (c.simulate_all_ranks ? std::string(": simulate_all_ranks: false simulates one rank of each TP "
                                                                    "group and DP replica set, with the same result")
                                                      : std::string(": foresight cannot expand a step this large yet")));
  }
  if (c.sequence > model.max_positions && model.max_positions > 0) {
    r.error("sequence_length", "sequence_length " + std::to_string(c.sequence) + " exceeds the model's " +
                                   std::to_string(model.max_positions) + " positions");
  }
}
}  // namespace

double estimated_graph_ops(const ModelArch& model, const TrainingConfig& c) {
  const double kernels_per_layer = 60;
  const double micro_batches = static_cast<double>(c.global_batch / std::max<std::int64_t>(1, c.dp * c.micro_batch));
  const double simulated_ranks = static_cast<double>(c.simulated_tp_ranks() * c.cp * c.simulated_replicas());
  return micro_batches * static_cast<double>(model.layers + model.encoder_layers) * kernels_per_layer * simulated_ranks;
}

namespace {
// DeepSpeed's zero_optimization keys, under training.parallel beside zero_stage.
void read_zeropp(ObjectReader& p, TrainingConfig& c) {
  c.zero_quantized_weights = p.boolean("zero_quantized_weights", c.zero_quantized_weights,
      "ZeRO++ qwZ (DeepSpeed's zero_quantized_weights; needs zero_stage 3): every weight all-gather over the DP group "
      "carries int8, each rank quantizing its shard before it and dequantizing the gathered unit after it "
      "(docs/training.md, \"ZeRO++\").");
  c.zero_hpz_partition_size = p.integer("zero_hpz_partition_size", c.zero_hpz_partition_size,
      {"ZeRO++ hpZ (DeepSpeed's zero_hpz_partition_size; needs zero_stage 3): each group of this many consecutive DP ranks "
       "(a node's) keeps a second bf16 copy of the weights sharded among them, so that backward gathers stay inside the "
       "group; 1: off. Must divide the DP x CP group.", "ranks", 1.0, 1e6});
  c.zero_quantized_gradients = p.boolean("zero_quantized_gradients", c.zero_quantized_gradients,
      "ZeRO++ qgZ (DeepSpeed's zero_quantized_gradients; needs zero_stage 3): gradients reduced in int4 by a two-hop "
      "all-to-all, quantized before it and dequantized and summed after each hop.");
  if (p.is_documenting()) return;
  const bool any = c.zero_quantized_weights || c.zero_hpz_partition_size > 1 || c.zero_quantized_gradients;
  if (!any) return;
  const std::string key = c.zero_quantized_weights ? "zero_quantized_weights"
                          : c.zero_hpz_partition_size > 1 ? "zero_hpz_partition_size" : "zero_quantized_gradients";
  if (c.zero_stage != 3) p.error(key, "ZeRO++ runs on ZeRO-3: set zero_stage 3");
  if (c.pp > 1 || c.ep > 1) p.error(key, "ZeRO++ is modelled without pipeline stages or expert parallelism (DeepSpeed's ZeRO-3 has neither)");
  if (c.fsdp2_copies) p.error(key, "ZeRO++ is DeepSpeed's; fsdp: fsdp2 is PyTorch's FSDP2");
  if (c.zero_quantized_weights && c.fp8_param_gather) p.error(key, "choose one of zero_quantized_weights and fp8_param_gather");
  if ((c.dp * c.cp) % c.zero_hpz_partition_size != 0) {
    p.error("zero_hpz_partition_size", std::to_string(c.zero_hpz_partition_size) + " must divide the DP x CP group of " +
                                           std::to_string(c.dp * c.cp) + " ranks");
  }
}

void read_local_sgd(ObjectReader& parent, TrainingConfig& c) {
  auto r = parent.object("local_sgd", "Local SGD (DiLoCo, Douillard et al. 2023): each DP replica takes optimizer steps on its own "
                                      "gradients and the replicas average their weights every few steps (docs/training.md, \"Local SGD\").");
  c.local_sgd_period = r.integer("period", c.local_sgd_period,
      {"Steps between weight averages (DiLoCo's H); the steps between reduce no gradients across DP. 1: off, every step "
       "reduces its gradients.", "steps", 1.0, 1e6});
  const std::string sync = r.string("sync_dtype", c.local_sgd_sync_name(),
      {"What the average carries: each replica's change since the last one (DiLoCo's outer gradient); fp8 and fp4: quantized to "
       "a byte or half a byte before the all-reduce (Streaming DiLoCo quantizes it to 4 bits).", "", {}, {}, false,
       {"fp32", "bf16", "fp8", "fp4"}});
  c.local_sgd_fp4 = sync == "fp4";
  if (!c.local_sgd_fp4) c.local_sgd_dtype = parse_dtype(sync).value_or(c.local_sgd_dtype);
  c.local_sgd_fragments = r.integer("fragments", c.local_sgd_fragments,
      {"Streaming DiLoCo (Douillard et al. 2025): the weights in this many fragments, each averaged every period steps at "
       "staggered offsets, so one fragment's average every period / fragments steps, each moving 1 / fragments of the bytes. "
       "1: the whole model at once.", "", 1.0, 1e6});
  c.local_sgd_overlap_steps = r.integer("overlap_steps", c.local_sgd_overlap_steps,
      {"Streaming DiLoCo's overlap: an average's all-reduce runs beside this many inner steps, sharing links with their "
       "traffic, and its result is merged after them; the steps wait only for what it takes beyond them. 0: the step waits "
       "for the all-reduce.", "steps", 0.0, 1e6});
  c.local_sgd_replicas = r.integer("replicas", c.local_sgd_replicas,
      {"How many replicas average their weights: each is dp / replicas consecutive data-parallel ranks that reduce gradients "
       "every step and shard under zero_stage as one model copy (DiLoCo over FSDP or HSDP groups, as torchft runs it); the "
       "average all-reduces each rank's shard with its counterparts in the other replicas. 0: dp, every DP rank a replica of "
       "its own.", "", 0.0, 1e6});
  if (r.is_documenting()) return;
  if (!c.local_sgd()) {
    if (c.local_sgd_replicas > 0) r.error("replicas", "says how many replicas local SGD averages: set period above 1");
    if (c.local_sgd_fragments > 1) r.error("fragments", "splits local SGD's averages: set period above 1");
    if (c.local_sgd_overlap_steps > 0) r.error("overlap_steps", "overlaps local SGD's averages: set period above 1");
    return;
  }
  if (c.local_sgd_period % c.local_sgd_fragments != 0) {
    r.error("fragments", std::to_string(c.local_sgd_fragments) + " must divide period = " + std::to_string(c.local_sgd_period) +
                             ": the fragments' averages come at even offsets within the period");
  } else if (c.local_sgd_overlap_steps > c.local_sgd_interval()) {
    r.error("overlap_steps", "must be at most period / fragments = " + std::to_string(c.local_sgd_interval()) +
                                 " steps, so that one average is in flight at a time");
  }
  if (c.local_sgd_replicas > 0 && (c.local_sgd_replicas < 2 || c.dp % c.local_sgd_replicas != 0)) {
    r.error("replicas", "must be 2 or more and divide dp = " + std::to_string(c.dp));
  }
  if (c.zero_stage != 0 && c.outer_replicas() == c.dp) {
    r.error("period", "with every DP rank a replica of its own, each keeps a whole optimizer: set training.parallel.zero_stage 0, "
                      "or local_sgd.replicas below dp to shard within replicas");
  }
  if (c.zero_hpz_partition_size > 1) r.error("period", "local SGD is modelled without ZeRO++'s hpZ partitions");
  if (c.cp > 1 || c.ep > 1) r.error("period", "local SGD is modelled without context or expert parallelism, whose groups reduce every step");
  if (c.dp == 1) r.error("period", "local SGD needs data-parallel replicas (dp > 1)");
}

void read_target(ObjectReader& parent, TargetSettings& t) {
  auto r = parent.object("target", "The run this step belongs to: the time, GPU-hours and cost to reach it (docs/training.md, "
                                   "\"Time to target\").");
  t.tokens = r.number("tokens", t.tokens, {"Tokens to train on (0 with steps 0: no target).", "tokens", 0.0, 1e18});
  t.steps = r.integer("steps", t.steps, {"Optimizer steps to run instead of a token count.", "", 0.0, 1e12});
  t.critical_batch_tokens = r.number("critical_batch_tokens", t.critical_batch_tokens,
      {"The gradient noise scale B_noise in tokens (McCandlish et al. 2018): `tokens` is what a batch far below it needs, and a "
       "batch of B tokens needs (1 + B / B_noise) times as many (0: the batch does not change the tokens needed).", "tokens", 0.0, 1e18});
  t.gpu_hour_price = r.number("gpu_hour_price", t.gpu_hour_price,
                              {"Price of one GPU-hour, in any currency, for the cost to target (0: no cost).", "", 0.0, 1e9});
  if (r.is_documenting()) return;
  if (t.tokens > 0 && t.steps > 0) r.error("steps", "give the target as tokens or as steps, not both");
  if (t.steps > 0 && t.critical_batch_tokens > 0) r.error("critical_batch_tokens", "scales a token target; with steps the step count is the target");
}

void read_reliability(ObjectReader& parent, ReliabilitySettings& s) {
  auto r = parent.object("reliability", "Failures, checkpoints and restarts on the way to the target (Daly's checkpoint-restart model).");
  s.enabled = r.boolean("enabled", s.enabled, "Count failures, checkpoints and restarts in the time to target (off: failure-free).");
  s.gpu_mtbf_hours = r.number("gpu_mtbf_hours", s.gpu_mtbf_hours,
      {"GPU-hours between job failures per GPU; the job's mean time between failures is this over its GPUs (default: Llama 3's "
       "419 unexpected interruptions in 54 days on 16,384 H100s).", "h", {}, 1e12, true});
  s.checkpoint_interval_minutes = r.number("checkpoint_interval_minutes", s.checkpoint_interval_minutes,
      {"Work between checkpoints (0: Daly's optimum for the checkpoint time and the job's failure rate).", "min", 0.0, 1e9});
  s.checkpoint_gbps_per_gpu = r.number("checkpoint_gbps_per_gpu", s.checkpoint_gbps_per_gpu,
      {"Checkpoint write bandwidth per GPU; each GPU writes its share of the weights and optimizer state (default: Llama 3's "
       "2 TB/s of storage over its 16,384 GPUs).", "GB/s", {}, 1e6, true});
  s.restart_minutes = r.number("restart_minutes", s.restart_minutes,
      {"Time from a failure to training again: reschedule, initialize, load the checkpoint (assumed: no published measurement).",
       "min", 0.0, 1e9});
}

void read_stragglers(ObjectReader& parent, StragglerSettings& s) {
  auto r = parent.object("stragglers", "Transient stalls, one GPU at a time, that the synchronous step waits out (docs/training.md, "
                                       "\"Stragglers that come and go\"): a Poisson process per GPU; a stall holds every GPU coupled to it in the "
                                       "step, and the step waits for the coupled group that stalled longest. Off by default.");
  s.stalls_per_gpu_hour = r.number("stalls_per_gpu_hour", s.stalls_per_gpu_hour,
      {"Stalls each GPU suffers an hour (0: none; no measured default).", "1/h", 0.0, 3600.0});
  s.stall_ms = r.number("stall_ms", s.stall_ms, {"How long each stall lasts (0: none).", "ms", 0.0, 3.6e6});
}
}  // namespace

TrainingConfig read_training(ObjectReader& parent, const ModelArch& model, int gpus, int gpus_per_node,
                             const std::string& scenario_dir) {
  auto r = parent.object("training", "One optimizer step of training.");
  TrainingConfig c;
  // Upper bounds keep token and FLOP products far from integer overflow.
  c.global_batch = r.integer("global_batch", c.global_batch, {"Sequences per optimizer step.", "sequences", 1.0, 1e8});
  c.micro_batch = r.integer("micro_batch", c.micro_batch, {"Sequences per forward/backward pass.", "sequences", 1.0, 1e5});
  c.sequence = r.integer("sequence_length", c.sequence, {"Tokens per sequence.", "tokens", 1.0, 1e8});
  c.dtype = read_dtype(r, "dtype", c.dtype, {"bf16", "fp16", "fp8", "fp32", "tf32"},
                       "Compute precision (fp8: GEMMs in fp8, the rest in bf16).");
  c.fp8_current_scaling = r.string("fp8_recipe", "delayed",
      {"FP8 scaling: delayed (scale from the amax history, Transformer Engine's default) or current (an amax pass over "
       "each tensor before its cast: TE's Float8CurrentScaling, NeMo's FP8-CS).", "", {}, {}, false, {"delayed", "current"}}) == "current";
  c.fp8_amax_fused = r.boolean("fp8_amax_fused", c.fp8_amax_fused,
      "With fp8_recipe current: a GEMM input that a norm or an activation produces gets its amax from that kernel, as "
      "Transformer Engine 2.6+ computes it (its PRs 2004 and 2013), and only the other inputs an amax pass of their own; "
      "false: every cast has its amax pass (torchao / torchtitan, Transformer Engine before 2.6).");
  c.fp8_saved_inputs = r.boolean("fp8_saved_inputs", c.fp8_saved_inputs,
      "With dtype fp8: each fp8 linear layer keeps its input for the weight gradient as an fp8 copy, one byte an element, "
      "as Transformer Engine does (Megatron, NeMo); false: it keeps the bf16 input and casts it again in backward, as "
      "torchao's Float8Linear does (torchtitan). Changes the activations' memory only.");
  c.fp8_param_gather = r.boolean("fp8_param_gather", c.fp8_param_gather,
      "With dtype fp8 and sharded data parallelism (zero_stage 1-3): the decoder layers' weights are gathered in fp8, one "
      "byte a parameter instead of two, the embedding and the output layer in bf16 (Megatron's --fp8-param-gather, "
      "Megatron-Bridge's fp8_param_gather, torchtitan's enable_fsdp_float8_all_gather). Changes the all-gathers only.");
  c.bf16_layers_at_start = r.integer("bf16_layers_at_start", c.bf16_layers_at_start,
      {"With dtype fp8: the first decoder layers that run wholly in bf16, GEMMs and weight gathers (Megatron's "
       "--first-last-layers-bf16 with --num-layers-at-start-in-bf16; Megatron-Bridge's and NeMo 2.0's "
       "bf16_with_fp8_current_scaling_mixed keep 1, their performance scripts 0).", "layers", 0.0, 1e6});
  c.bf16_layers_at_end = r.integer("bf16_layers_at_end", c.bf16_layers_at_end,
      {"With dtype fp8: the last decoder layers that run wholly in bf16 (Megatron's --num-layers-at-end-in-bf16; 1 in "
       "bf16_with_fp8_current_scaling_mixed). Multi-token prediction's layers stay in fp8.", "layers", 0.0, 1e6});
  c.grad_dtype = read_dtype(r, "grad_dtype", c.grad_dtype, {"bf16", "fp32"},
                            "Gradient buffers and their data-parallel reduction.");
  const std::string compression = r.string("grad_compression", "none",
      {"Gradient communication: none (each gradient reduced in grad_dtype); fp8 (FP8-LM's and MS-AMP's: each bucket's "
       "gradients scaled by a per-tensor factor the DP group shares and reduced in FP8, one byte a gradient, then cast back "
       "to grad_dtype; docs/training.md, \"FP8 gradient reduction\"); or onebit_adam (1-bit Adam's compression stage, "
       "DeepSpeed's OneBitAdam after its freeze_step: nothing reduced in backward; the optimizer exchanges each rank's "
       "momentum as signs and a scale per chunk, with error feedback; docs/training.md, \"1-bit Adam\"). 1-bit Adam's "
       "warmup steps run as none.", "", {}, {}, false, {"none", "fp8", "onebit_adam"}});
  c.onebit_adam = compression == "onebit_adam";
  c.onebit_freeze_step = r.integer("freeze_step", c.onebit_freeze_step,
      {"With grad_compression onebit_adam: the warmup steps that run uncompressed before the compression stage (DeepSpeed's "
       "OneBitAdam freeze_step and its default; the 1-bit Adam paper warms up for 15-25% of the run). The step printed is the "
       "compressed one; the time to target runs the first freeze_step steps at the uncompressed step's time.",
       "steps", 0.0, 1e12});
  if (!c.onebit_adam && r.has("freeze_step")) r.error("freeze_step", "is 1-bit Adam's warmup: set grad_compression to onebit_adam");
  c.fp8_gradients = compression == "fp8";
  {
    auto p = r.object("parallel", "Parallel layout.");
    c.tp = p.integer("tp", c.tp, {"Tensor-parallel degree (Megatron-style).", "", 1.0, 1024.0});
    c.cp = p.integer("cp", c.cp, {"Context-parallel degree: each rank holds sequence_length / cp tokens and attention "
                                  "passes K and V around the CP group in a ring (Megatron-core CP).", "", 1.0, 1024.0});
    const std::string ring = p.string("cp_ring", "transformer_engine",
        {"How context parallelism's ring runs: transformer_engine (Megatron-core's and NeMo's: K and V at the model's KV "
         "width, each step's output corrected into the result by a fused bf16 kernel, the gradients accumulated in bf16), "
         "pytorch (torch.distributed's context_parallel as torchtitan runs it: K and V expanded to every query head, the "
         "steps' outputs merged in fp32 by eager kernels, K's and V's fp32 gradients passed one hop a step), fused (an "
         "idealized ring whose merges happen inside the attention kernels), or all_gather (no ring, as Meta ran Llama 3: "
         "the whole sequence's K and V all-gathered before one attention kernel and again in backward, dK and dV "
         "reduce-scattered after it, each waited for); docs/training.md, \"Context parallelism's merges\".",
         "", {}, {}, false, {"transformer_engine", "pytorch", "fused", "all_gather"}});
    c.cp_ring = ring == "pytorch"      ? CpRing::kPyTorch
                : ring == "fused"      ? CpRing::kFused
                : ring == "all_gather" ? CpRing::kAllGather
                                       : CpRing::kTransformerEngine;
    // "auto": whatever the cluster leaves over, so that sweeps over tp, cp and pp keep
    // covering the GPUs.
    const nlohmann::json* dp = p.is_documenting() ? nullptr : p.raw("dp", "", "");
    const bool auto_dp = dp != nullptr && dp->is_string() && dp->get<std::string>() == "auto";
    if (!auto_dp) c.dp = p.integer("dp", c.dp, {"Data-parallel degree, or \"auto\": the cluster's GPUs over tp x cp x pp.", "", 1.0, 1e6, false, {}, "auto"});
    c.ep = p.integer("ep", c.ep, {"Expert-parallel degree for MoE models, carved out of dp: each rank holds experts / ep experts "
                                  "and all-to-alls carry tokens to them and back (Megatron-core's EP).", "", 1.0, 1e6});
    c.expert_tp = p.integer("expert_tp", c.expert_tp,
        {"Expert tensor parallelism for MoE models: 0 (the default), the TP, each expert sliced over the TP group and EP "
         "across DP replicas; or 1, Megatron's MoE parallel folding (--expert-tensor-parallel-size 1): whole experts, each "
         "EP group ep consecutive ranks of a stage, TP (then CP) ranks included (ep a divisor or a multiple of tp, dividing "
         "tp x cp x dp; "
         "with ep 1 every rank holds every expert and routes its own tokens).", "", 0.0, 1.0});
    c.pp = p.integer("pp", c.pp, {"Pipeline-parallel degree: stages, each a block of consecutive layers (docs/pipeline.md).", "", 1.0, 1024.0});
    if (auto_dp) {
      const std::int64_t others = c.tp * c.cp * c.pp;
      if (gpus % others != 0) p.error("dp", "auto: tp x cp x pp = " + std::to_string(others) + " does not divide the cluster's " + std::to_string(gpus) + " GPUs");
      c.dp = std::max<std::int64_t>(1, gpus / others);
    }
    c.schedule = p.string("schedule", c.schedule, {"Pipeline schedule (docs/pipeline.md); chimera, bitpipe and dualpipe hold two copies of the model "
                                                   "in pipelines running in opposite directions (Li and Hoefler SC'21; Wu et al. 2024; DeepSeek-V3), "
                                                   "bitpipe each copy in zb_v's V; dualpipev runs DualPipe's steps on zb_v's V with one copy.",
                                                   "", {}, {}, false, pipeline_schedule_names()});
    c.virtual_stages = static_cast<int>(p.integer("virtual_stages", c.virtual_stages,
        {"Model chunks per pipeline stage, for interleaved_1f1b and breadth_first; 2 for zb_v, dualpipev, chimera and dualpipe (for the last two one is a copy); 4 for bitpipe (two a copy).", "", 1.0, 64.0}));
    c.first_stage_layers = p.integer("first_stage_layers", c.first_stage_layers,
        {"Layers on the first virtual stage (which also holds the embedding); -1: an even share.", "", -1.0, 1e6});
    c.last_stage_layers = p.integer("last_stage_layers", c.last_stage_layers,
        {"Layers on the last virtual stage (which also holds the head and loss); -1: an even share.", "", -1.0, 1e6});
    read_stage_layers(p, c);
    c.sequence_parallel = p.boolean("sequence_parallel", c.sequence_parallel,
                                    "Shard norms and residuals by sequence across the TP group (Korthikanti et al. 2022).");
    c.overlap_p2p = p.boolean("overlap_p2p", c.overlap_p2p,
        "Post each pipeline receive ahead of the unit that needs it, so that the transfer overlaps the receiver's "
        "compute (Megatron's overlap_p2p_comm); off, a stage waits for each transfer in its program order.");
    c.tp_comm_overlap = p.boolean("tp_comm_overlap", c.tp_comm_overlap,
        "Run each TP all-gather beside the GEMM that consumes it and each reduce-scatter beside the GEMM that produces it "
        "(Megatron-core's tp_comm_overlap, Transformer Engine userbuffers); needs sequence_parallel.");
    c.moe_a2a_overlap = p.boolean("moe_a2a_overlap", c.moe_a2a_overlap,
        "MoE: run each micro-batch's forward beside the previous one's backward, layer by layer, so that one's expert "
        "all-to-alls hide behind the other's compute (Megatron-core's --overlap-moe-expert-parallel-comm, Megatron-Bridge's "
        "moe_a2a_overlap, combined 1F1B): one more forward in each stage's warm-up, and so one more micro-batch's "
        "activations held. Needs ep > 1 and pp 1 or schedule interleaved_1f1b; not with full recomputation.");
    c.delay_wgrad_compute = p.boolean("delay_wgrad_compute", c.delay_wgrad_compute,
        "With moe_a2a_overlap: each MoE layer's expert weight gradients wait until its input gradient has gone into the "
        "dispatch's backward all-to-all and run beside it, instead of right after the input gradients (Megatron-core's "
        "--delay-wgrad-compute, Megatron-Bridge's comm_overlap.delay_wgrad_compute). The attention's weight gradients, "
        "which Megatron moves beside the next layer's combine, stay where they are.");
    c.tp_comm_overlap_backward_rs = p.boolean("tp_comm_overlap_backward_rs", c.tp_comm_overlap_backward_rs,
        "With tp_comm_overlap: overlap the backward reduce-scatter of the input gradient too (Megatron-core overlaps it "
        "with the weight-gradient GEMM). false for PyTorch's async TP (torchtitan), whose compiler pass fuses matmul + "
        "reduce-scatter only in the forward graph: in the backward one the reduce-scatter takes a sum of matmuls.");
    c.tp_comm_overlap_separate_sum = p.boolean("tp_comm_overlap_separate_sum", c.tp_comm_overlap_separate_sum,
        "With tp_comm_overlap: an overlapped reduce-scatter moves each destination's partial product whole and the "
        "receiver adds the tp partials in a kernel of its own after the GEMM's last chunk, reading all of them (PyTorch's "
        "async TP: fused_matmul_reduce_scatter's torch.sum over its stacked partials; true for torchtitan). false: the "
        "exchange adds them as it goes, beside the GEMM (Transformer Engine's userbuffers, Megatron-core).");
    c.fsdp2_copies = p.string("fsdp", "megatron",
        {"How ZeRO-3 runs: megatron (Megatron-FSDP: gathers into and reduces from persistent buffers, no copies) or fsdp2 "
         "(PyTorch FSDP2: an all-gather copy-out of every gathered unit and a reduce-scatter copy-in of its gradients, at "
         "the 650-700 GB/s its authors measured on H100).", "", {}, {}, false, {"megatron", "fsdp2"}}) == "fsdp2";
    c.zero_stage = static_cast<int>(p.integer("zero_stage", c.zero_stage,
        {"ZeRO stage over the DP (x CP) group: 0 replicates optimizer state, 1 shards it (Megatron's distributed optimizer), "
         "2 also shards gradients, 3 also shards parameters and gathers each layer's before it runs, forward and backward "
         "(FSDP full sharding).", "", 0.0, 3.0}));
    read_zeropp(p, c);
  }
  const std::string attention = r.string("attention_kernel", "flash",
      {"Core attention: flash (one fused FlashAttention-2-class kernel, as PyTorch SDPA and flash-attn 2 run it), "
       "flash3 or cudnn (Hopper's warp-specialized FlashAttention-3 / cuDNN 9 fused attention, Transformer Engine's pick on "
       "H100; FlashAttention-2-class elsewhere), or unfused (two batched matmuls around a softmax over the full s x s "
       "scores, as Megatron-LM ran before 2022).", "", {}, {}, false, {"flash", "flash3", "cudnn", "unfused"}});
  c.attention = attention == "unfused"                         ? AttentionKernel::kUnfused
                : attention == "flash3" || attention == "cudnn" ? AttentionKernel::kFlash3
                                                                 : AttentionKernel::kFlash;
  c.document_length = r.integer("document_length", c.document_length,
      {"Tokens per packed document under a document mask (Llama 3's intra-document attention): fused attention meets only "
       "its own document's keys; 0: one document per sequence.", "tokens", 0.0, 1e8});
  read_documents(r, c, scenario_dir);
  const std::string elementwise = r.string("elementwise", "fused",
      {"How RMSNorm, the rotary embedding and the gated activation run: fused (one kernel each: Transformer Engine, "
       "Megatron-LM, torch.compile) or eager (PyTorch without torch.compile, as torchtitan's and Hugging Face's models "
       "run by default: PyTorch's separate ops with their fp32 upcasts). LayerNorm is one kernel either way.",
       "", {}, {}, false, {"fused", "eager"}});
  c.eager_elementwise = elementwise == "eager";
  const std::string cross_entropy = r.string("cross_entropy", "fused",
      {"How the loss runs over the logits: fused (one pass in the activation dtype: Megatron's "
       "--cross-entropy-loss-fusion, NeMo's and Megatron-Bridge's default, Liger, Transformer Engine) or fp32 (the logits "
       "cast to fp32 and a kernel per softmax step, about 9x the memory traffic: Megatron-LM's default, PyTorch eager's "
       "F.cross_entropy on upcast logits as torchtitan and Hugging Face run it).", "", {}, {}, false, {"fused", "fp32"}});
  c.fp32_cross_entropy = cross_entropy == "fp32";
  c.grad_accumulation_fusion = r.boolean("grad_accumulation_fusion", c.grad_accumulation_fusion,
      "Each weight-gradient GEMM adds its result into the rank's gradient buffer (grad_dtype) itself (Megatron's "
      "--gradient-accumulation-fusion, on by default with Transformer Engine); false: it writes a fresh gradient in the "
      "model's dtype, which a hook then adds into the buffer, one memory pass over every weight's gradient each "
      "micro-batch (Megatron's --no-gradient-accumulation-fusion; Megatron-Bridge turns it off with Megatron-FSDP).");
  c.expert_load = r.number("expert_load", c.expert_load,
      {"MoE routing imbalance: tokens the busiest expert-parallel rank receives over the mean (1: balanced, as benchmark "
       "tables force it); that rank's expert GEMMs and the all-to-alls scale by it, and every rank waits for it.", "", 1.0, 1e3});
  c.dropless_routing = r.string("moe_routing", "dropless",
      {"How MoE routing bounds each expert's tokens: dropless (Megatron's and torchtitan's default: every token reaches "
       "its experts, so the counts are known only on the GPU and the host copies them back before it launches each "
       "layer's dispatch, waiting for the GPU) or capacity (a fixed capacity per expert, tokens beyond it dropped and the "
       "rest padded to it: static shapes, no wait).", "", {}, {}, false, {"dropless", "capacity"}}) == "dropless";
  c.sorts_received_by_expert = r.string("moe_dispatcher", "alltoall",
      {"How MoE tokens reach their experts' ranks: alltoall (Megatron-core's all-to-all dispatcher, as Megatron-Bridge's recipes set it: the token-side permute, "
       "the all-to-all, then, with more than one expert on a rank, a copy of the received rows into expert order, and "
       "the reverse before the combine, forward and backward) or deepep (DeepEP through Megatron's flex dispatcher or "
       "NeMo AutoModel: the received rows are permuted into expert order once, with no further copy).",
       "", {}, {}, false, {"alltoall", "deepep"}}) == "alltoall";
  c.moe_shared_expert_overlap = r.boolean("moe_shared_expert_overlap", c.moe_shared_expert_overlap,
      "MoE with a shared expert: run its up projection and activation beside the dispatch all-to-all and its down "
      "projection beside the combine, on a stream of their own, instead of after the routed experts (Megatron-core's "
      "--moe-shared-expert-overlap). Needs the all-to-alls (ep > 1); not with the shared_experts recompute module.");
  {
    auto h = r.object("host", "The host thread that launches each rank's kernels: the GPU cannot start a kernel before it is launched.");
    c.host.launch_seconds = h.number("launch_us", c.host.launch_seconds * 1e6,
        {"Host time per kernel launched eagerly: PyTorch's dispatch and the framework's Python (default: 21.8 us, fitted "
         "on Splitwise's launch-bound decode of Llama-2-70B with vLLM on a DGX H100); 0: launches never hold the GPU up.",
         "us", 0.0, 1e3}) * 1e-6;
    c.host.cuda_graphs = h.boolean("cuda_graphs", c.host.cuda_graphs,
        "Replay each decoder layer's forward and backward from a captured CUDA graph (Megatron's --cuda-graph-impl, "
        "torch.compile's reduce-overhead mode): one launch per layer and pass instead of one per kernel.");
    read_graph_scopes(h, c.host);
    c.host.graph_launch_seconds = h.number("graph_launch_us", c.host.graph_launch_seconds * 1e6,
        {"Host time to replay one CUDA graph (default: 80 us, Vidur's CPU profile of vLLM's model_execution_launch on a "
         "DGX A100).", "us", 0.0, 1e4}) * 1e-6;
  }
  c.dropout = r.number("dropout", c.dropout,
      {"Dropout probability on attention scores and hidden states (Megatron's --attention-dropout and --hidden-dropout); "
       "above 0 the dropout kernels run and keep their masks, and fused attention draws a random number per score "
       "element forward and again backward, at a cost that does not depend on the value.", "", 0.0, 1.0, false});
  const std::string recompute = r.string("recompute", "none",
      {"Activation recomputation: none; selective reruns the recompute_modules (default: core attention, which frees its "
       "s x s tensors; unfused attention only holds any); full keeps only each layer's input and reruns the layer; selective_op is "
       "torchtitan's op-level policy (selective_ac_option = \"op\"): it keeps attention's output and every other matmul's "
       "and reruns the rest.",
       "", {}, {}, false, {"none", "selective", "full", "selective_op"}});
  c.recompute = recompute == "full"           ? Recompute::kFull
                : recompute == "selective"    ? Recompute::kSelective
                : recompute == "selective_op" ? Recompute::kSelectiveOp
                                              : Recompute::kNone;
  read_recompute_modules(r, c);
  c.recompute_every = r.integer("recompute_every", c.recompute_every,
      {"With full recomputation, rerun only every Nth layer (the Nth, 2Nth, ...), the others keeping all their "
       "activations: torchtitan's layer-level selective checkpointing (selective_ac_option = N, its default 2); 1: every layer.",
       "layers", 1.0, 1e6});
  if (c.recompute_every > 1 && c.recompute != Recompute::kFull && !r.is_documenting()) {
    r.error("recompute_every", "rerunning every Nth layer needs recompute: full");
  }
  c.offload_layers = r.integer("activation_offload_layers", c.offload_layers,
      {"Decoder layers whose saved activations go to pinned host memory after their forward and come back before their "
       "backward (Megatron's --cpu-offloading-num-layers, Transformer Engine's CPU offload): the first N layers, each "
       "copy at the GPU's host_copy_gbps beside the compute that follows, which waits for it only when the copy outlasts "
       "its window (docs/training.md, \"Activation offloading\"); the GPU keeps the other layers' activations. Needs pp 1 "
       "and no recomputation, as Megatron-core does; 0: none.", "layers", 0.0, 1e6});
  c.mtp_layers = r.integer("mtp_layers", c.mtp_layers,
      {"Multi-token prediction depths trained beside the next-token loss (DeepSeek-V3's MTP; Megatron's --mtp-num-layers), "
       "held by the last pipeline stage as Megatron-core holds them: each looks up the embedding of the tokens one further "
       "ahead, normalizes it and the previous depth's hidden states, projects their concatenation from 2h to h, runs one "
       "more decoder layer of the model's (its MoE layer) and the output head with its loss; with pp > 1 the last stage "
       "also holds a copy of the embedding (docs/training.md, \"Multi-token prediction\"). 0: none.", "depths", 0.0, 16.0});
  if (c.mtp_layers > 0 && model.is_encoder_decoder() && !r.is_documenting()) {
    r.error("mtp_layers", "multi-token prediction is modelled for decoder-only models; " + model.name + " is an encoder-decoder");
  }
  c.plain_sgd = r.string("optimizer", "adam",
      {"The optimizer step: adam (mixed precision: fp32 master weights, momentum and variance, 12 bytes a parameter of "
       "state, as Megatron-LM, NeMo and torchtitan train) or sgd (torch.optim.SGD without momentum on weights kept in the "
       "model's dtype, as a bare PyTorch loop over a bf16 model runs it: no optimizer state, one pass reading each weight "
       "and its gradient and writing the weight).", "", {}, {}, false, {"adam", "sgd"}}) == "sgd";
  c.grad_clip = r.boolean("grad_clip", c.grad_clip,
      "Clip gradients by their global norm before the optimizer (Megatron-LM's --clip-grad and NeMo's gradient_clip_val "
      "default to 1.0): a read of each rank's gradient shard and an all-reduce of the squared norms.");
  c.overlap_grad_reduce = r.boolean("overlap_grad_reduce", c.overlap_grad_reduce,
                                    "Reduce gradient buckets during backward instead of after it.");
  c.overlap_param_gather = r.boolean("overlap_param_gather", c.overlap_param_gather,
      "With the optimizer sharded (zero_stage 1 or 2): the all-gather of the updated weights starts after the optimizer "
      "and each layer's forward in the next step waits only for its own weights, one layer's gather ahead of the "
      "forward, instead of the whole gather closing the step (Megatron's --overlap-param-gather, Megatron-Bridge's "
      "ddp.overlap_param_gather). Simulated in steady state: the step opens with the gather its previous optimizer "
      "started.");
  c.grad_bucket_bytes = r.number("grad_bucket_mb", c.grad_bucket_bytes / 1e6,
                                 {"Gradient bucket size for the data-parallel reduction.", "MB", {}, {}, true}) * 1e6;
  {
    auto i = r.object("interference", "Compute-communication interference: kernels beside an NCCL collective lose its SMs and HBM traffic.");
    c.interference.enabled = i.boolean("enabled", c.interference.enabled,
        "Slow compute kernels that start while a collective runs on their GPU (off: overlap is free).");
    c.interference.sms_per_collective = static_cast<int>(i.integer("sms_per_collective", c.interference.sms_per_collective,
        {"SMs each collective holds (NCCL channels; 16 on H100 clusters).", "", 0.0, 1024.0}));
    c.interference.sms_per_send_recv = static_cast<int>(i.integer("sms_per_send_recv", c.interference.sms_per_send_recv,
        {"SMs each pipeline send/recv holds (NCCL's channels per peer, typically 2).", "", 0.0, 1024.0}));
    c.interference.send_recv = i.boolean("send_recv", c.interference.send_recv,
        "Let pipeline send/recv slow the kernels beside them too (off: about 1.5% on the kernels they overlap, at twice "
        "the simulation's events).");
  }
  read_local_sgd(r, c);
  read_lora(r, c);
  read_target(r, c.target);
  read_reliability(r, c.reliability);
  read_stragglers(r, c.stragglers);
  c.simulate_all_ranks = r.boolean("simulate_all_ranks", c.simulate_all_ranks,
      "Simulate every data-parallel replica; by default one stands for all (they run the same program; DP collectives still "
      "run over the whole group on the network).");
  c.reserved_bytes = r.number("reserved_memory_gb", c.reserved_bytes / 1e9,
                              {"Memory outside tensors: CUDA context, NCCL buffers, allocator slack.", "GB", 0.0}) * 1e9;
  check_consistency(r, c, model, gpus, gpus_per_node);
  return c;
}

const std::vector<std::string>& graph_scope_names() {
  static const std::vector<std::string> kNames = {"attn", "mlp", "moe_router", "moe_preprocess", "moe"};
  return kNames;
}

bool is_graph_scope(const std::string& name) {
  const auto& names = graph_scope_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string graph_scope_list() {
  std::string list;
  for (const std::string& name : graph_scope_names()) list += (list.empty() ? "" : ", ") + name;
  return list;
}

std::string graph_scope_of(const std::string& op_name, bool moe) {
  const auto starts = [&](const char* prefix) { return op_name.rfind(prefix, 0) == 0; };
  if (starts("attn.")) return "attn";
  if (starts("mlp.")) return !moe ? "mlp" : starts("mlp.norm") ? "moe_router" : "moe";  // an MoE layer's norm goes with its router
  if (starts("moe.router") || starts("moe.topk")) return "moe_router";
  if (starts("moe.permute")) return "moe_preprocess";
  if (starts("moe.") || starts("ep.")) return "moe";
  return "";
}

}  // namespace foresight
