#pragma once
// What the launch-command importers share (docs/import.md): the scenario each builds with
// the lists its opening comment gives, and how a launch command's words are read.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace foresight {

struct ModelArch;
struct ImportOptions;

struct Imported {
  nlohmann::json scenario;
  std::vector<std::string> mapped;        // "--flag value -> key = value"
  std::vector<std::string> assumed;       // what the command leaves to its tool's defaults, or does not say
  std::vector<std::string> dropped;       // no effect on what foresight predicts
  std::vector<std::string> not_modelled;  // ignored: check it does not matter
};

std::string lower(std::string text);

// A serving engine's launch command (vllm serve, python -m sglang.launch_server, trtllm-serve)
// as a scenario: o.tool names the engine, o.command holds the words.
Imported translate_serving(const ImportOptions& o);

// Where TensorRT-LLM's LLM-API options come from: the YAML file, the label its lines in the
// scenario's comment take, and the path before each key in an error ("" or "context_servers.").
struct TrtllmOptionSource {
  std::string file, label, path_prefix;
};
// TensorRT-LLM's LLM-API options ("section.key" -> value, as a trtllm-serve YAML flattens)
// into `serving`, each listed as mapped, dropped or not modelled (import_command.cpp, beside
// trtllm-serve's flags). A value that does not read is an InputError naming the file and key.
void apply_trtllm_option_map(const std::map<std::string, std::string>& options, const TrtllmOptionSource& source,
                             nlohmann::json& serving, Imported& result);

// The flag's value as a finite number, or an InputError naming the flag.
double number_value(const std::string& flag, const std::string& text);
// The flag's value as a whole number of at least 1, or an InputError naming the flag.
std::int64_t whole_value(const std::string& flag, const std::string& text);

// The value that follows a flag, unless it came as --flag=value or the next word is a flag.
std::optional<std::string> flag_value(const std::vector<std::string>& words, std::size_t& i, std::optional<std::string> inline_value);

// A word of a command line as written: "--flag=value" gives the flag and its inline value.
struct WrittenFlag {
  std::string name;
  std::optional<std::string> inline_value;
};
WrittenFlag split_flag(const std::string& word);

// The model's HuggingFace id for a launch command, or the placeholder MODEL with a note
// saying where to put it when the scenario gives the model by its fields.
std::string launch_model_id(const ModelArch& model, std::vector<std::string>& notes);

// The catalog model whose source names this HuggingFace id, a local folder's config.json
// (as {"hf_config": path}), or nothing.
std::optional<nlohmann::json> catalog_model_for(const std::string& id);
// The reverse: the HuggingFace id a catalog model's source opens with ("meta-llama/Llama-3.1-8B
// config.json; ..."), the folder of a model read from a config.json, or "" for a model
// given by its fields.
std::string huggingface_id(const ModelArch& model);

// A number as a launch command writes it: the shortest text that reads back the same
// (0.9, 1e-05, 25).
std::string number_text(double value);
struct SpeculativeConfig;
// Speculative decoding's acceptance: one rate, or one per drafted position ("0.8/0.6/0.45").
std::string acceptance_text(const SpeculativeConfig& speculative);

// `text` without its leading and trailing spaces and tabs.
std::string trimmed(const std::string& text);

// A launch command written one group of words per line, continued with backslashes
// (empty groups left out), after its newline-ended comment lines.
std::string continued_lines(const std::vector<std::vector<std::string>>& groups);

// A bash array expanded unquoted splits "--fp8-format hybrid" into two words; one pasted
// with its quotes keeps it whole. Either way the words are the same.
std::vector<std::string> split_words(const std::vector<std::string>& command);

// The cluster a training launcher (torchrun, python -m torch.distributed.run, srun) says.
struct Launcher {
  std::int64_t per_node = 0, nodes = 0;
};

// Reads the launcher's words before `program` (an index into `words`), recording its GPU
// counts as mapped and its other options as dropped; the program word is dropped too.
void read_launcher(const std::vector<std::string>& words, std::size_t program, Launcher& launcher, Imported& r);

// The scenario's hardware from the launcher, or from `import --gpus` when it says nothing.
nlohmann::json launcher_hardware(const Launcher& launcher, const std::string& gpu, int gpus, Imported& r);

}  // namespace foresight
