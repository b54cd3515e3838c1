#include "sim/runner/import_nemo2.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

#include "models/model_arch.hpp"
#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"
#include "sim/runner/import_megatron.hpp"
#include "sim/runner/import_nemo.hpp"

namespace foresight {
namespace {

// A pretraining recipe's defaults, as its file in NVIDIA/NeMo (nemo/collections/llm/recipes/)
// sets them: the trainer's layout, pretrain_recipe()'s node count (which is not always the
// trainer's), the mock data's shape and the strategy's DDP config.
struct Recipe {
  const char* factory;
  const char* model;   // the catalog model of the recipe's model config
  const char* source;  // the recipe file and the commit it was read at
  int tp, pp, vp, cp, ep;
  bool sequence_parallel;
  int nodes;
  int sequence, global_batch, micro_batch;
  bool overlap;            // the DDP config overlaps the gradient reduction and the parameter gathers
  bool tp_comm_overlap;    // what performance mode (or the _performance factory) turns on
  int expert_tp = 0;       // the trainer's expert_tensor_parallel_size; 0: not set (the TP)
  bool full_recompute = false;  // recompute_granularity full, method uniform, one layer at a time
  // DeepSeek-V3's further settings (deepseek_v3.py): the end stages' layers, selective
  // recomputation's modules, the token dispatcher, multi-token prediction (its factory's
  // use_mtp) and gradients reduced in bf16.
  int first_stage_layers = 0, last_stage_layers = 0;  // 0: not set
  const char* recompute_modules = "";                 // selective recomputation's, "": none
  const char* dispatcher = "";                        // model.config.moe_token_dispatcher_type, "": the model's
  int mtp_layers = 0;
  bool grad_reduce_bf16 = false;
};

const std::vector<Recipe>& recipes() {
  // A DDP config left out is MegatronStrategy's "megatron": DistributedDataParallelConfig with
  // check_for_nan_in_grad only, so no overlap.
  static const std::vector<Recipe> kRecipes = {
      {"llama3_8b", "llama3_8b", "llama3_8b.py at 00617962", 1, 1, 0, 2, 1, false, 1, 8192, 512, 1, false, false},
      {"llama31_8b", "llama31_8b", "llama31_8b.py at 0a8b017a", 1, 1, 0, 2, 1, false, 1, 8192, 512, 1, true, true},
      {"llama3_70b", "llama3_70b", "llama3_70b.py at 0189a3b3", 4, 4, 5, 2, 1, true, 4, 8192, 512, 1, true, true},
      {"llama31_70b", "llama31_70b", "llama31_70b.py at 25445927", 4, 4, 5, 2, 1, true, 1, 8192, 512, 1, true, true},
      {"llama31_405b", "llama3_405b", "llama31_405b.py at 00aa2e12", 8, 9, 2, 4, 1, true, 1, 8192, 512, 1, true, true},
      {"mixtral_8x7b", "mixtral_8x7b", "mixtral_8x7b.py at 0067c7b5", 1, 4, 8, 1, 8, true, 2, 8192, 512, 1, false, false},
      {"qwen3_30b_a3b", "qwen3_30b_a3b", "qwen3_30b_a3b.py at 011a2b51, qwen3.py's qwen3_trainer at 2c5b5343", 4, 2, 0, 1, 4, true, 1,
       4096, 32, 2, false, false, 1, true},
      // pretrain_recipe leaves qwen3_trainer's expert_parallelism unset (EP 1) beside its
      // expert TP of 1: every TP rank holds every expert whole.
      {"qwen3_235b_a22b", "qwen3_235b_a22b", "qwen3_235b_a22b.py and qwen3.py's qwen3_trainer at 2c5b5343", 8, 1, 0, 1, 1, true, 1,
       4096, 32, 1, false, false, 1, false},
      // deepseek.py's trainer asks for the embedding and the loss to count in the pipeline
      // split; the recipe sets the end stages' layers instead (3 and 2), which foresight takes.
      {"deepseek_v3", "deepseek_v3", "deepseek_v3.py at 00f65ddf, deepseek.py's trainer at 2341b2bd", 2, 16, 0, 1, 64, true, 128,
       4096, 4096, 1, true, false, 1, false, 3, 2, "['mla_up_proj', 'layernorm', 'moe', 'mlp']", "flex", 1, true},
  };
  return kRecipes;
}

const Recipe& recipe_named(const std::string& factory) {
  for (const Recipe& r : recipes()) {
    if (factory == r.factory) return r;
  }
  std::string known;
  for (const Recipe& r : recipes()) known += (known.empty() ? "" : ", ") + std::string(r.factory);
  throw InputError("", "--factory", "no NeMo 2.0 pretraining recipe foresight knows by \"" + factory + "\": it knows " + known +
                                        " (for another model, import the Megatron arguments its run logs: foresight import megatron)");
}

// NeMo 2.0's settings and the Megatron-LM arguments they are.
const std::vector<NemoKey>& nemo2_keys() {
  static const std::vector<NemoKey> kKeys = {
      {"trainer.strategy.tensor_model_parallel_size", "--tensor-model-parallel-size"},
      {"trainer.strategy.pipeline_model_parallel_size", "--pipeline-model-parallel-size"},
      {"trainer.strategy.virtual_pipeline_model_parallel_size", "--num-virtual-stages-per-pipeline-rank"},
      {"trainer.strategy.context_parallel_size", "--context-parallel-size"},
      {"trainer.strategy.expert_model_parallel_size", "--expert-model-parallel-size"},
      {"trainer.strategy.expert_tensor_parallel_size", "--expert-tensor-parallel-size"},
      {"trainer.strategy.sequence_parallel", "--sequence-parallel", NemoKey::kSwitchIfTrue},
      {"trainer.strategy.num_layers_in_first_pipeline_stage", "--decoder-first-pipeline-num-layers"},
      {"trainer.strategy.num_layers_in_last_pipeline_stage", "--decoder-last-pipeline-num-layers"},
      {"trainer.strategy.account_for_embedding_in_pipeline_split", "--account-for-embedding-in-pipeline-split", NemoKey::kSwitchIfTrue},
      {"trainer.strategy.account_for_loss_in_pipeline_split", "--account-for-loss-in-pipeline-split", NemoKey::kSwitchIfTrue},
      {"trainer.strategy.ddp.overlap_grad_reduce", "--overlap-grad-reduce", NemoKey::kSwitchIfTrue},
      {"trainer.strategy.ddp.overlap_param_gather", "--overlap-param-gather", NemoKey::kSwitchIfTrue},
      {"trainer.strategy.ddp.grad_reduce_in_fp32", "--grad-reduce-in-bf16", NemoKey::kSwitchIfFalse},
      {"data.seq_length", "--seq-length"},
      {"data.global_batch_size", "--global-batch-size"},
      {"data.micro_batch_size", "--micro-batch-size"},
      {"model.config.hidden_dropout", "--hidden-dropout"},
      {"model.config.attention_dropout", "--attention-dropout"},
      {"model.config.recompute_granularity", "--recompute-granularity"},
      {"model.config.recompute_method", "--recompute-method"},
      {"model.config.cross_entropy_loss_fusion", "--cross-entropy-loss-fusion", NemoKey::kSwitchIfTrue},
      {"model.config.gradient_accumulation_fusion", "--no-gradient-accumulation-fusion", NemoKey::kSwitchIfFalse},
      {"model.config.moe_token_dispatcher_type", "--moe-token-dispatcher-type"},
      {"model.config.moe_enable_deepep", "--moe-enable-deepep", NemoKey::kSwitchIfTrue},
      {"model.config.moe_shared_expert_overlap", "--moe-shared-expert-overlap", NemoKey::kSwitchIfTrue},
      {"model.config.cpu_offloading", "--cpu-offloading", NemoKey::kSwitchIfTrue},
      {"model.config.cpu_offloading_num_layers", "--cpu-offloading-num-layers"},
      {"model.config.mtp_num_layers", "--mtp-num-layers"},
      {"optim.config.use_distributed_optimizer", "--use-distributed-optimizer", NemoKey::kSwitchIfTrue},
      {"optim.config.clip_grad", "--clip-grad"},
      {"trainer.callbacks.MegatronCommOverlapCallback.tp_comm_overlap", "--tp-comm-overlap", NemoKey::kSwitchIfTrue},
  };
  return kKeys;
}

// Keys read beside the table: the cluster and the precision plugin, and those that only
// restate another (the model's sequence length is the data's).
bool read_elsewhere(const std::string& key) {
  return key == "trainer.num_nodes" || key == "trainer.devices" || key == "trainer.plugins" || key == "model.config.recompute_modules" ||
         key == "trainer.plugins.first_last_layers_bf16" || key == "trainer.plugins.num_layers_at_start_in_bf16" ||
         key == "trainer.plugins.num_layers_at_end_in_bf16" ||
         key == "model.config.seq_length";
}

// Settings with no effect on a step's time: how long to train, logging, checkpoints, learning rates.
bool no_effect(const std::string& key) {
  static const std::vector<std::string> kPrefixes = {"trainer.max_steps", "trainer.val_check_interval", "trainer.log_every_n_steps", "trainer.limit_",
                                                     "trainer.enable_checkpointing", "log.", "resume.", "optim.config.lr", "optim.config.min_lr",
                                                     "optim.config.weight_decay", "optim.config.adam_", "optim.lr_scheduler.", "data.num_workers",
                                                     "data.tokenizer", "data.paths", "data.data_prefix", "data.seed", "run.", "executor."};
  return std::any_of(kPrefixes.begin(), kPrefixes.end(), [&](const std::string& prefix) { return key.rfind(prefix, 0) == 0; });
}

std::string stripped(const std::string& text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t begin = 0, end = text.size();
  while (begin < end && space(text[begin])) ++begin;
  while (end > begin && space(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

// A Python literal as text: quotes removed; a call such as bf16_with_fp8_mixed() by its name.
std::string python_value(std::string text) {
  text = stripped(text);
  if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'') && text.back() == text.front()) return text.substr(1, text.size() - 2);
  if (text.size() > 2 && text.compare(text.size() - 2, 2, "()") == 0) return text.substr(0, text.size() - 2);
  return text;
}

// Whether each character of Python text is code (outside a string literal), and how many
// brackets are open around it: the one state every reader of a script's text below keeps.
struct PythonScan {
  int depth = 0;
  char quote = 0;
  // True when `c` is code; a bracket it opens or closes changes the depth.
  bool code(char c) {
    if (quote != 0) {
      if (c == quote) quote = 0;
      return false;
    }
    if (c == '"' || c == '\'') {
      quote = c;
      return false;
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    return true;
  }
};

bool closes(char c) { return c == ')' || c == ']' || c == '}'; }

// The text between the parenthesis at `open` and its match, or nothing if it never closes.
std::optional<std::string> parenthesised(const std::string& text, std::size_t open) {
  PythonScan scan;
  for (std::size_t i = open; i < text.size(); ++i) {
    if (scan.code(text[i]) && closes(text[i]) && scan.depth == 0) return text.substr(open + 1, i - open - 1);
  }
  return std::nullopt;
}

// A call's keyword arguments: name -> the value's text. Positional ones are not read.
std::map<std::string, std::string> keyword_arguments(const std::string& inside) {
  std::map<std::string, std::string> args;
  PythonScan scan;
  std::string piece;
  const auto take = [&] {
    const std::size_t equals = piece.find('=');
    if (equals != std::string::npos) args[stripped(piece.substr(0, equals))] = python_value(piece.substr(equals + 1));
    piece.clear();
  };
  for (const char c : inside) {
    if (scan.code(c) && c == ',' && scan.depth == 0) {
      take();
    } else {
      piece += c;
    }
  }
  take();
  return args;
}

// What a launch asks of a recipe: the factory, its call's arguments, the settings on top in
// order, and the words nothing reads.
struct RecipeLaunch {
  std::string factory;
  std::string where;  // "--factory" or the script's path
  bool performance = false;
  std::map<std::string, std::string> arguments;
  std::vector<std::pair<std::string, std::string>> settings;
  std::vector<std::string> dropped, not_modelled;
};

// "llama3_70b", "llama3_70b(num_nodes=4)", "llama3_70b_performance",
// "llama3_70b.pretrain_recipe_performance(num_nodes=4)".
void read_factory(const std::string& text, RecipeLaunch& launch) {
  const std::size_t open = text.find('(');
  std::string name = trimmed(text.substr(0, open));
  if (open != std::string::npos) {
    const std::optional<std::string> inside = parenthesised(text, open);
    if (!inside) throw InputError("", "--factory", "the call's parenthesis never closes: \"" + text + "\"");
    launch.arguments = keyword_arguments(*inside);
  }
  for (const std::string suffix : {".pretrain_recipe_performance", "_performance"}) {
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      name.erase(name.size() - suffix.size());
      launch.performance = true;
    }
  }
  if (const std::size_t dot = name.find(".pretrain_recipe"); dot != std::string::npos) name.erase(dot);
  if (name.rfind("llm.", 0) == 0) name.erase(0, 4);
  launch.factory = name;
}

RecipeLaunch read_cli(const std::vector<std::string>& command) {
  RecipeLaunch launch;
  launch.where = "--factory";
  for (std::size_t i = 0; i < command.size(); ++i) {
    const std::string& word = command[i];
    const WrittenFlag flag = split_flag(word);
    if (flag.name == "--factory" || flag.name == "-f") {
      const std::optional<std::string> value = flag_value(command, i, flag.inline_value);
      if (!value) throw InputError("", "--factory", "expected a recipe's name after it, such as llama3_8b");
      read_factory(*value, launch);
    } else if (word == "finetune") {
      throw InputError("", "the launch command", "a NeMo 2.0 finetune recipe (LoRA or SFT on SQuAD) is not modelled: import its pretrain recipe "
                                                 "with the finetune run's layout set by key=value overrides");
    } else if (word == "nemo" || word == "llm" || word == "pretrain" || word == "-y" || word == "--yes") {
      continue;
    } else if (word.rfind('-', 0) != 0 && word.find('=') != std::string::npos) {
      const std::string setting = word.substr(word.find_first_not_of('+'));
      launch.settings.emplace_back(setting.substr(0, setting.find('=')), python_value(setting.substr(setting.find('=') + 1)));
    } else {
      (word.rfind('-', 0) == 0 ? launch.not_modelled : launch.dropped).push_back(word);
    }
  }
  if (launch.factory.empty()) throw InputError("", "the launch command", "expected --factory NAME, such as: nemo llm pretrain --factory llama3_8b");
  return launch;
}

bool identifier_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

bool is_identifier(const std::string& text) {
  return !text.empty() && std::isdigit(static_cast<unsigned char>(text.front())) == 0 && std::all_of(text.begin(), text.end(), identifier_char);
}

bool is_dotted_name(const std::string& text) {
  std::istringstream parts(text);
  std::string part;
  bool any = false;
  while (std::getline(parts, part, '.')) {
    if (!is_identifier(part)) return false;
    any = true;
  }
  return any && text.back() != '.';
}

// A line of Python without its comment: a # outside quotes.
std::string code_of(const std::string& line) {
  PythonScan scan;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (scan.code(line[i]) && line[i] == '#') return line.substr(0, i);
  }
  return line;
}

// "lhs = rhs" split at its assignment: the first '=' outside brackets and quotes that is not
// part of ==, <=, >=, != or a keyword argument inside a call.
std::optional<std::pair<std::string, std::string>> assignment_of(const std::string& line) {
  PythonScan scan;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (!scan.code(line[i]) || line[i] != '=' || scan.depth != 0) continue;
    const bool compared = (i + 1 < line.size() && line[i + 1] == '=') || (i > 0 && std::string("=<>!").find(line[i - 1]) != std::string::npos);
    if (compared) return std::nullopt;
    return std::make_pair(stripped(line.substr(0, i)), stripped(line.substr(i + 1)));
  }
  return std::nullopt;
}

// The literal a script binds `name` to (a parameter's default, `nodes: int = 2`, or a
// constant, `NODES = 2`): digits, True, False, None or a quoted string on one line.
std::optional<std::string> bound_literal(const std::string& text, const std::string& name) {
  for (std::size_t at = text.find(name); at != std::string::npos; at = text.find(name, at + 1)) {
    const std::size_t end = at + name.size();
    if ((at > 0 && (identifier_char(text[at - 1]) || text[at - 1] == '.')) || (end < text.size() && identifier_char(text[end]))) continue;
    std::size_t i = end;
    const auto skip_spaces = [&] {
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    };
    skip_spaces();
    if (i < text.size() && text[i] == ':') {  // a type annotation
      ++i;
      while (i < text.size() && (identifier_char(text[i]) || std::string(" \t.[],").find(text[i]) != std::string::npos)) ++i;
    }
    if (i >= text.size() || text[i] != '=' || (i + 1 < text.size() && text[i + 1] == '=')) continue;
    ++i;
    skip_spaces();
    std::size_t stop = i;
    if (stop < text.size() && (text[stop] == '"' || text[stop] == '\'')) {
      stop = text.find_first_of(std::string(1, text[i]) + "\n", i + 1);
      if (stop == std::string::npos || text[stop] == '\n') continue;
      ++stop;
    } else {
      while (stop < text.size() && identifier_char(text[stop])) ++stop;
    }
    const std::string literal = text.substr(i, stop - i);
    const bool number = !literal.empty() && std::all_of(literal.begin(), literal.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
    if (number || literal == "True" || literal == "False" || literal == "None" || (literal.size() >= 2 && literal.front() == literal.back() && (literal.front() == '"' || literal.front() == '\''))) {
      return python_value(literal);
    }
  }
  return std::nullopt;
}

// A name the script binds to a literal stands for that literal; anything else stays as written.
std::string script_literal(const std::string& text, const std::string& value) {
  if (!is_identifier(value) || value == "True" || value == "False" || value == "None") return value;
  return bound_literal(text, value).value_or(value);
}

// The script's lines with where each starts.
std::vector<std::pair<std::size_t, std::string>> lines_of(const std::string& text) {
  std::vector<std::pair<std::size_t, std::string>> lines;
  for (std::size_t start = 0; start <= text.size();) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    lines.emplace_back(start, text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// The line `VAR = PATH.FACTORY.pretrain_recipe(` (or pretrain_recipe_performance): the
// variable, the factory with its function, and where the call's parenthesis opens in the text.
struct RecipeCall {
  std::string variable, function;
  std::size_t open = 0, line = 0;
};

std::optional<RecipeCall> recipe_call(const std::vector<std::pair<std::size_t, std::string>>& lines) {
  for (std::size_t n = 0; n < lines.size(); ++n) {
    const std::string code = code_of(lines[n].second);
    if (code.find(".pretrain_recipe") == std::string::npos) continue;
    const auto assigned = assignment_of(code);
    if (!assigned || !is_identifier(assigned->first)) continue;
    const std::size_t open = assigned->second.find('(');
    if (open == std::string::npos) continue;
    const std::string path = stripped(assigned->second.substr(0, open));
    const std::size_t dot = path.rfind('.');
    if (!is_dotted_name(path) || dot == std::string::npos) continue;
    const std::string function = path.substr(dot + 1);
    if (function != "pretrain_recipe" && function != "pretrain_recipe_performance") continue;
    const std::size_t factory_dot = path.rfind('.', dot - 1);
    const std::string factory = path.substr(factory_dot == std::string::npos ? 0 : factory_dot + 1);
    const std::size_t equals = code.find('=');
    return RecipeCall{assigned->first, factory, lines[n].first + code.find('(', equals), n};
  }
  return std::nullopt;
}

// `tp_comm_overlap=True` (or False) inside the MegatronCommOverlapCallback's parentheses.
std::optional<std::string> callback_overlap(const std::string& text, std::size_t from) {
  const std::size_t callback = text.find("MegatronCommOverlapCallback", from);
  if (callback == std::string::npos) return std::nullopt;
  const std::size_t close = text.find(')', callback);
  const std::string inside = text.substr(callback, close == std::string::npos ? std::string::npos : close - callback);
  const std::map<std::string, std::string> arguments = keyword_arguments(inside.substr(inside.find(',') == std::string::npos ? inside.size() : inside.find(',') + 1));
  const auto found = arguments.find("tp_comm_overlap");
  if (found == arguments.end()) return std::nullopt;
  return found->second;
}

// The script's recipe: `recipe = llm.llama3_8b.pretrain_recipe(...)` (or `llama3_8b.pretrain_recipe`
// after `from nemo.collections.llm.recipes import llama3_8b`), then `recipe.a.b = value` lines and
// an appended MegatronCommOverlapCallback's tp_comm_overlap. Read line by line, not run.
RecipeLaunch read_script(const std::string& path) {
  const std::string text = read_input_file(path, "NeMo 2.0 script");
  RecipeLaunch launch;
  launch.where = path;
  const std::vector<std::pair<std::size_t, std::string>> lines = lines_of(text);
  const std::optional<RecipeCall> call = recipe_call(lines);
  if (!call) {
    throw InputError(path, "", "no recipe: expected a line such as `recipe = llm.llama3_8b.pretrain_recipe(num_nodes=1, num_gpus_per_node=8)`");
  }
  read_factory(call->function, launch);
  const std::optional<std::string> inside = parenthesised(text, call->open);
  if (!inside) throw InputError(path, "", "the call to pretrain_recipe never closes its parenthesis");
  launch.arguments = keyword_arguments(*inside);
  for (auto& argument : launch.arguments) argument.second = script_literal(text, argument.second);
  const std::string prefix = call->variable + ".";
  for (std::size_t n = call->line + 1; n < lines.size(); ++n) {
    const std::string code = stripped(code_of(lines[n].second));
    if (code.rfind(prefix, 0) != 0) continue;
    const auto assigned = assignment_of(code);
    if (!assigned || !is_dotted_name(assigned->first)) continue;
    launch.settings.emplace_back(assigned->first.substr(prefix.size()), script_literal(text, python_value(assigned->second)));
  }
  if (const std::optional<std::string> overlap = callback_overlap(text, call->open)) {
    launch.settings.emplace_back("trainer.callbacks.MegatronCommOverlapCallback.tp_comm_overlap", *overlap);
  }
  return launch;
}

// The recipe's defaults as settings, then the factory's arguments, then the launch's.
std::map<std::string, std::string> settings_of(const Recipe& recipe, const RecipeLaunch& launch, std::vector<std::string>& not_modelled) {
  std::map<std::string, std::string> s = {
      {"trainer.strategy.tensor_model_parallel_size", std::to_string(recipe.tp)},
      {"trainer.strategy.pipeline_model_parallel_size", std::to_string(recipe.pp)},
      {"trainer.strategy.virtual_pipeline_model_parallel_size", recipe.vp > 0 ? std::to_string(recipe.vp) : "None"},
      {"trainer.strategy.context_parallel_size", std::to_string(recipe.cp)},
      {"trainer.strategy.expert_model_parallel_size", std::to_string(recipe.ep)},
      {"trainer.strategy.expert_tensor_parallel_size", recipe.expert_tp > 0 ? std::to_string(recipe.expert_tp) : "None"},
      {"trainer.strategy.sequence_parallel", recipe.sequence_parallel ? "True" : "False"},
      {"trainer.strategy.ddp.overlap_grad_reduce", recipe.overlap ? "True" : "False"},
      {"trainer.strategy.ddp.overlap_param_gather", recipe.overlap ? "True" : "False"},
      {"trainer.num_nodes", std::to_string(recipe.nodes)},
      {"trainer.devices", "8"},
      {"trainer.plugins", "bf16_mixed"},
      {"data.seq_length", std::to_string(recipe.sequence)},
      {"data.global_batch_size", std::to_string(recipe.global_batch)},
      {"data.micro_batch_size", std::to_string(recipe.micro_batch)},
      {"optim.config.use_distributed_optimizer", "True"},  // distributed_fused_adam_with_cosine_annealing
      {"model.config.cross_entropy_loss_fusion", "True"},  // NeMo's GPTConfig default
      {"model.config.hidden_dropout", "0.0"},             // NeMo's LlamaConfig and MixtralConfig
      {"model.config.attention_dropout", "0.0"},
  };
  if (recipe.full_recompute) s["model.config.recompute_granularity"] = "full", s["model.config.recompute_method"] = "uniform";
  if (*recipe.recompute_modules != '\0') {
    s["model.config.recompute_granularity"] = "selective";
    s["model.config.recompute_modules"] = recipe.recompute_modules;
  }
  if (recipe.first_stage_layers > 0) s["trainer.strategy.num_layers_in_first_pipeline_stage"] = std::to_string(recipe.first_stage_layers);
  if (recipe.last_stage_layers > 0) s["trainer.strategy.num_layers_in_last_pipeline_stage"] = std::to_string(recipe.last_stage_layers);
  if (*recipe.dispatcher != '\0') s["model.config.moe_token_dispatcher_type"] = recipe.dispatcher;
  if (recipe.mtp_layers > 0) s["model.config.mtp_num_layers"] = std::to_string(recipe.mtp_layers);
  if (recipe.grad_reduce_bf16) s["trainer.strategy.ddp.grad_reduce_in_fp32"] = "False";
  const bool performance = launch.performance || is_true(launch.arguments.count("performance_mode") ? launch.arguments.at("performance_mode") : "");
  if (performance && recipe.tp_comm_overlap) s["trainer.callbacks.MegatronCommOverlapCallback.tp_comm_overlap"] = "True";
  for (const auto& [name, value] : launch.arguments) {
    if (name == "num_nodes") {
      s["trainer.num_nodes"] = value;
    } else if (name == "num_gpus_per_node") {
      s["trainer.devices"] = value;
    } else if (name == "use_mtp" && recipe.mtp_layers > 0) {  // the factory's model(use_mtp)
      s["model.config.mtp_num_layers"] = is_true(value) ? std::to_string(recipe.mtp_layers) : "None";
    } else if (name != "performance_mode" && name != "dir" && name != "name" && name != "fn") {
      not_modelled.push_back(std::string(recipe.factory) + "(" + name + "=" + value + ")");
    }
  }
  for (const auto& [key, value] : launch.settings) s[key] = value;
  return s;
}

// Several recipes' pretrain_recipe() defaults to one node where their layout needs more (Llama
// 3.1 70B's TP 4 x PP 4 x CP 2 on 8 GPUs): NeMo stops there, and so does the import, saying how
// to go on.
void require_whole_layout(const Recipe& recipe, const std::map<std::string, std::string>& s) {
  const auto count = [&](const char* key) {
    const std::string& value = s.at(key);
    return is_null(value) ? std::int64_t{1} : whole_value(key, value);
  };
  const std::int64_t model_parallel = count("trainer.strategy.tensor_model_parallel_size") * count("trainer.strategy.pipeline_model_parallel_size") *
                                      count("trainer.strategy.context_parallel_size");
  const std::int64_t per_node = count("trainer.devices"), gpus = per_node * count("trainer.num_nodes");
  if (gpus % model_parallel == 0) return;
  throw InputError("", "trainer.num_nodes",
                   std::string(recipe.factory) + "'s layout, TP x PP x CP = " + std::to_string(model_parallel) + ", needs a multiple of " +
                       std::to_string(model_parallel) + " GPUs, and the launch gives " + std::to_string(gpus) + " (trainer.num_nodes=" +
                       s.at("trainer.num_nodes") + " x trainer.devices=" + s.at("trainer.devices") + "): set trainer.num_nodes=" + std::to_string((model_parallel + per_node - 1) / per_node) +
                       " (or more), or a smaller layout");
}

// The precision plugin as Megatron's flags (nemo/collections/llm/recipes/precision/mixed_precision.py).
std::vector<std::string> precision_flags(const std::string& plugin, std::vector<std::string>& not_modelled) {
  if (plugin == "bf16_mixed" || plugin == "bf16-mixed") return {"--bf16"};
  if (plugin == "fp16_mixed" || plugin == "16-mixed") return {"--fp16"};
  if (plugin == "bf16_with_fp8_mixed") return {"--bf16", "--fp8-format", "hybrid", "--fp8-recipe", "delayed"};
  if (plugin == "bf16_with_fp8_current_scaling_mixed") return {"--bf16", "--fp8-format", "hybrid", "--fp8-recipe", "tensorwise"};
  if (plugin == "bf16_with_mxfp8_mixed") return {"--bf16", "--fp8-format", "e4m3", "--fp8-recipe", "mxfp8"};
  if (plugin == "bf16_with_fp8_subchannel_scaling_mixed") return {"--bf16", "--fp8-format", "e4m3", "--fp8-recipe", "blockwise"};
  not_modelled.push_back("trainer.plugins=" + plugin + " (an unknown precision plugin: timed as bf16_mixed)");
  return {"--bf16"};
}

// Each Megatron argument's first flag -> the NeMo setting it came from, for the comment.
using Origins = std::map<std::string, std::string>;

// The plugin's first and last decoder layers kept in bf16: bf16_with_fp8_current_scaling_mixed
// keeps one of each (first_last_layers_bf16 and its counts), which settings of the plugin's
// fields override.
void add_bf16_layers(const std::map<std::string, std::string>& s, std::vector<std::string>& w, Origins& origin) {
  const std::string plugin = "trainer.plugins=" + s.at("trainer.plugins");
  const auto setting = [&](const std::string& field) { return s.find("trainer.plugins." + field); };
  const auto on = setting("first_last_layers_bf16");
  const bool keeps = on != s.end() ? is_true(on->second) : s.at("trainer.plugins") == "bf16_with_fp8_current_scaling_mixed";
  if (!keeps) return;
  w.push_back("--first-last-layers-bf16");
  origin["--first-last-layers-bf16"] = on != s.end() ? on->first + "=" + on->second : plugin;
  for (const char* end : {"start", "end"}) {
    const std::string field = std::string("num_layers_at_") + end + "_in_bf16", flag = "--num-layers-at-" + std::string(end) + "-in-bf16";
    const auto count = setting(field);
    w.insert(w.end(), {flag, count != s.end() ? count->second : "1"});
    origin[flag] = count != s.end() ? count->first + "=" + count->second : plugin;
  }
}

// "['layernorm', 'moe_act']" -> "layernorm moe_act".
std::string module_list(const std::string& value) {
  std::string words;
  for (const char c : value) words += std::string("[]'\",").find(c) == std::string::npos ? c : ' ';
  std::istringstream in(words);
  std::string out;
  for (std::string w; in >> w;) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::vector<std::string> megatron_words(const Recipe& recipe, const std::map<std::string, std::string>& s, Origins& origin,
                                        std::vector<std::string>& not_modelled) {
  const ModelArch& model = *find_builtin_model(recipe.model);
  std::vector<std::string> w = {"torchrun", "--nproc_per_node", s.at("trainer.devices"), "--nnodes", s.at("trainer.num_nodes"), "nemo2.py",
                                "--num-layers", std::to_string(model.layers), "--hidden-size", std::to_string(model.hidden),
                                "--num-attention-heads", std::to_string(model.heads)};
  if (model.is_moe()) w.insert(w.end(), {"--num-experts", std::to_string(model.experts), "--moe-router-topk", std::to_string(model.experts_per_token)});
  // What the recompute modules ask of the architecture: its latent attention, shared expert
  // and leading dense layers (the catalog model replaces the rest).
  if (model.latent_attention()) w.push_back("--multi-latent-attention");
  if (model.shared_expert_ffn > 0) w.insert(w.end(), {"--moe-shared-expert-intermediate-size", std::to_string(model.shared_expert_ffn)});
  if (model.is_moe() && model.dense_layers > 0) {
    w.insert(w.end(), {"--moe-layer-freq", "([0]*" + std::to_string(model.dense_layers) + "+[1]*" + std::to_string(model.layers - model.dense_layers) + ")"});
  }
  origin["--nproc_per_node"] = "trainer.devices=" + s.at("trainer.devices");
  origin["--nnodes"] = "trainer.num_nodes=" + s.at("trainer.num_nodes");
  for (const std::string& flag : precision_flags(s.at("trainer.plugins"), not_modelled)) {
    w.push_back(flag);
    if (flag.rfind("--", 0) == 0) origin[flag] = "trainer.plugins=" + s.at("trainer.plugins");
  }
  add_bf16_layers(s, w, origin);
  for (const NemoKey& k : nemo2_keys()) {
    const auto found = s.find(k.key);
    if (found == s.end()) continue;
    const std::string& value = found->second;
    const bool on = (k.kind == NemoKey::kSwitchIfTrue && is_true(value)) || (k.kind == NemoKey::kSwitchIfFalse && !is_true(value));
    if (k.kind == NemoKey::kValue && !is_null(value)) w.insert(w.end(), {k.flag, value});
    if (k.kind != NemoKey::kValue && on) w.push_back(k.flag);
    origin[k.flag] = std::string(k.key) + "=" + value;
  }
  if (const auto modules = s.find("model.config.recompute_modules"); modules != s.end()) {
    w.insert(w.end(), {"--recompute-modules", module_list(modules->second)});
    origin["--recompute-modules"] = "model.config.recompute_modules=" + modules->second;
  }
  return w;
}

// "--flag value -> key" lines say the NeMo setting instead of the Megatron flag.
void relabel(std::vector<std::string>& lines, const Origins& origin) {
  for (std::string& line : lines) {
    const std::string flag = line.substr(0, line.find(' '));
    const auto found = origin.find(flag);
    if (found == origin.end()) continue;
    const std::size_t arrow = line.find(" -> ");
    line = found->second + (arrow == std::string::npos ? "" : line.substr(arrow));
  }
}

// The model is the catalog's: lines about the architecture flags that stood in for it go, and
// so does the launcher the words were given to read the cluster.
void drop_architecture_lines(std::vector<std::string>& lines) {
  std::erase_if(lines, [](const std::string& line) {
    return line.find("-> model.") != std::string::npos || line.rfind("--num-layers ", 0) == 0 || line.rfind("--hidden-size", 0) == 0 ||
           line.rfind("--num-attention-heads", 0) == 0 || line.rfind("--num-experts", 0) == 0 || line.rfind("--moe-router-topk", 0) == 0 ||
           line == "torchrun" || line.rfind("nemo2.py", 0) == 0;
  });
}
}  // namespace

std::vector<std::string> nemo2_factories() {
  std::vector<std::string> names;
  for (const Recipe& r : recipes()) names.emplace_back(r.factory);
  return names;
}

bool is_nemo2_launch(const std::vector<std::string>& command) {
  for (const std::string& word : command) {
    const std::string flag = split_flag(word).name;
    if (flag == "--factory" || flag == "-f") return true;
    if (word.size() > 3 && word.compare(word.size() - 3, 3, ".py") == 0 && std::filesystem::is_regular_file(word)) {
      std::ifstream in(word);
      std::ostringstream text;
      text << in.rdbuf();
      if (text.str().find("pretrain_recipe") != std::string::npos) return true;
    }
  }
  return false;
}

Imported import_nemo2(const std::vector<std::string>& command, const std::string& gpu, int gpus) {
  RecipeLaunch launch;
  const auto script = std::find_if(command.begin(), command.end(), [](const std::string& w) { return w.size() > 3 && w.compare(w.size() - 3, 3, ".py") == 0; });
  const bool cli = std::any_of(command.begin(), command.end(), [](const std::string& w) { return split_flag(w).name == "--factory" || split_flag(w).name == "-f"; });
  launch = cli || script == command.end() ? read_cli(command) : read_script(*script);
  if (!cli && script != command.end()) {
    for (const std::string& word : command) {
      if (&word != &*script) launch.dropped.push_back(word);  // python, torchrun and their options
    }
  }
  const Recipe& recipe = recipe_named(launch.factory);
  std::vector<std::string> not_modelled = launch.not_modelled;
  const std::map<std::string, std::string> settings = settings_of(recipe, launch, not_modelled);
  require_whole_layout(recipe, settings);
  Origins origin;
  const std::vector<std::string> words = megatron_words(recipe, settings, origin, not_modelled);
  Imported r = import_megatron(words, gpu, gpus);
  r.scenario["model"] = recipe.model;
  r.scenario["name"] = std::string("nemo2 ") + recipe.factory;
  r.scenario["description"] = "Imported from a NeMo 2.0 launch of the " + std::string(recipe.factory) + " pretraining recipe by `foresight import` (" +
                              recipe.source + ").";
  for (std::vector<std::string>* list : {&r.mapped, &r.assumed, &r.dropped, &r.not_modelled}) {
    drop_architecture_lines(*list);
    relabel(*list, origin);
  }
  r.mapped.insert(r.mapped.begin(), std::string(launch.where == "--factory" ? "--factory " : "") + recipe.factory + " -> model = \"" + recipe.model +
                                        "\", and the recipe's defaults (NVIDIA/NeMo nemo/collections/llm/recipes/" + recipe.source + ")");
  r.dropped.insert(r.dropped.end(), launch.dropped.begin(), launch.dropped.end());
  r.not_modelled.insert(r.not_modelled.end(), not_modelled.begin(), not_modelled.end());
  // Settings neither the table nor the precision plugin reads.
  for (const auto& setting : launch.settings) {
    const std::string& key = setting.first;  // not a structured binding: clang before 16 cannot capture one
    const bool read = read_elsewhere(key) || std::any_of(nemo2_keys().begin(), nemo2_keys().end(), [&](const NemoKey& k) { return key == k.key; });
    if (!read) (no_effect(key) ? r.dropped : r.not_modelled).push_back(key + "=" + setting.second);
  }
  return r;
}

}  // namespace foresight
