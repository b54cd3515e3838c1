#include "sim/runner/import_support.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <exception>
#include <filesystem>
#include <sstream>

#include "models/model_arch.hpp"
#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"
#include "workloads/serving_config.hpp"

namespace foresight {
namespace {
// "meta-llama/Llama-3.1-70B-Instruct" and the catalog's "meta-llama/Llama-3.1-70B" name the
// same weights' shape: fine-tuning suffixes are dropped before comparing, and so is the
// "Meta-" Meta's older repositories put before the name ("Meta-Llama-3.1-8B").
// A checkpoint's name without its organisation (quantized re-uploads live under another:
// nvidia/Llama-3.1-8B-Instruct-FP8), its tuning suffixes and its quantization suffixes.
std::string base_model_id(const std::string& id) {
  std::string kept;
  std::size_t start = 0;
  std::string text = lower(id);
  if (const std::size_t slash = text.rfind('/'); slash != std::string::npos) text.erase(0, slash + 1);
  if (text.rfind("meta-", 0) == 0) text.erase(0, 5);
  static const char* const kSuffixes[] = {"instruct", "chat", "hf", "it", "base", "fp8", "fp4", "nvfp4", "awq", "gptq", "int4", "int8", "w8a8"};
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('-', start), text.size());
    const std::string part = text.substr(start, end - start);
    if (std::none_of(std::begin(kSuffixes), std::end(kSuffixes), [&](const char* s) { return part == s; })) kept += (kept.empty() ? "" : "-") + part;
    start = end + 1;
  }
  return kept;
}
}  // namespace

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

double number_value(const std::string& flag, const std::string& text) {
  try {
    std::size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size() && std::isfinite(value)) return value;
  } catch (const std::exception&) {
  }
  throw InputError("", flag, "expected a number, got \"" + text + "\"");
}

std::int64_t whole_value(const std::string& flag, const std::string& text) {
  const std::optional<std::int64_t> whole = integer_within(number_value(flag, text), 1, 100'000'000);
  if (!whole) throw InputError("", flag, "expected a whole number of at least 1, got \"" + text + "\"");
  return *whole;
}

WrittenFlag split_flag(const std::string& word) {
  const std::size_t equals = word.find('=');
  if (equals == std::string::npos) return {word, std::nullopt};
  return {word.substr(0, equals), word.substr(equals + 1)};
}

std::string launch_model_id(const ModelArch& model, std::vector<std::string>& notes) {
  const std::string id = huggingface_id(model);
  if (!id.empty()) return id;
  notes.push_back("the model is given by its fields: put its HuggingFace id or folder where MODEL stands");
  return "MODEL";
}

std::optional<std::string> flag_value(const std::vector<std::string>& words, std::size_t& i, std::optional<std::string> inline_value) {
  if (inline_value) return inline_value;
  if (i + 1 < words.size() && words[i + 1].rfind("-", 0) != 0) return words[++i];
  return std::nullopt;
}

std::optional<nlohmann::json> catalog_model_for(const std::string& id) {
  std::error_code error;  // a name too long for the file system is just not a folder
  if (std::filesystem::exists(std::filesystem::path(id) / "config.json", error)) {
    return nlohmann::json{{"hf_config", std::filesystem::absolute(std::filesystem::path(id) / "config.json").string()}};
  }
  for (const ModelArch& m : builtin_models()) {
    const std::string source_id = huggingface_id(m);
    if (!source_id.empty() && base_model_id(source_id) == base_model_id(id)) return nlohmann::json(m.name);
  }
  return std::nullopt;
}

std::string huggingface_id(const ModelArch& model) {
  const std::string hf = "HuggingFace config ";
  if (model.source.rfind(hf, 0) == 0) {
    const std::filesystem::path folder = std::filesystem::path(model.source.substr(hf.size())).parent_path();
    return folder.empty() ? "." : folder.string();
  }
  const std::string first = model.source.substr(0, model.source.find(' '));
  return first.find('/') != std::string::npos ? first : "";
}

std::string number_text(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

std::string acceptance_text(const SpeculativeConfig& speculative) {
  const auto joined = [](const std::vector<double>& rates) {
    std::string text;
    for (double rate : rates) {
      if (!text.empty()) text += '/';
      text += number_text(rate);
    }
    return text;
  };
  if (speculative.grows_tree()) return joined(speculative.acceptance_by_rank) + " by rank";
  if (speculative.acceptance_by_position.empty()) return number_text(speculative.acceptance);
  return joined(speculative.acceptance_by_position);
}

std::string trimmed(const std::string& text) {
  const std::size_t first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::string continued_lines(const std::vector<std::vector<std::string>>& groups) {
  std::string text;
  std::size_t written = 0;
  for (const std::vector<std::string>& words : groups) {
    if (words.empty()) continue;
    std::string line;
    for (const std::string& word : words) line += (line.empty() ? "" : " ") + word;
    text += (written++ == 0 ? "" : " \\\n    ") + line;
  }
  return text + "\n";
}

std::vector<std::string> split_words(const std::vector<std::string>& command) {
  std::vector<std::string> words;
  for (const std::string& word : command) {
    std::istringstream parts(word);
    for (std::string part; parts >> part;) words.push_back(part);
  }
  return words;
}

namespace {
// A launcher's count, which may be "8", "h100:8" (srun's --gpus-per-node) or torchrun's
// elastic "1:4" (its least).
std::int64_t launcher_count(const std::string& flag, const std::string& text) {
  const std::size_t colon = text.find(':');
  const bool elastic = flag == "--nnodes";
  return whole_value(flag, colon == std::string::npos ? text : elastic ? text.substr(0, colon) : text.substr(colon + 1));
}
}  // namespace

void read_launcher(const std::vector<std::string>& words, std::size_t program, Launcher& launcher, Imported& r) {
  for (std::size_t i = 0; i < program; ++i) {
    const std::size_t equals = words[i].find('=');
    const std::string flag = words[i].substr(0, equals);
    const bool per_node = flag == "--nproc_per_node" || flag == "--nproc-per-node" || flag == "--ntasks-per-node" || flag == "--gpus-per-node";
    const bool nodes = flag == "--nnodes" || flag == "--nodes" || flag == "-N";
    if (!per_node && !nodes) {  // a launcher's option and the value after it, if one comes before the program
      const bool valued = words[i].rfind("-", 0) == 0 && equals == std::string::npos && i + 1 < program && words[i + 1].rfind("-", 0) != 0;
      r.dropped.push_back(valued ? words[i] + " " + words[i + 1] : words[i]);
      i += valued ? 1 : 0;
      continue;
    }
    const std::optional<std::string> value = flag_value(words, i, equals == std::string::npos ? std::nullopt : std::optional(words[i].substr(equals + 1)));
    if (!value) throw InputError("", flag, "expected a value after it");
    const std::int64_t count = launcher_count(flag, *value);
    (per_node ? launcher.per_node : launcher.nodes) = count;
    r.mapped.push_back(flag + " " + *value + " -> hardware.topology." + (per_node ? "gpus" : "nodes") + " = " + std::to_string(count));
  }
  if (program < words.size()) r.dropped.push_back(words[program]);
}

nlohmann::json launcher_hardware(const Launcher& launcher, const std::string& gpu, int gpus, Imported& r) {
  nlohmann::json h = {{"gpu", gpu}};
  if (launcher.per_node > 0 || launcher.nodes > 0) {
    h["topology"] = {{"preset", "nvswitch_node"}, {"gpus", launcher.per_node > 0 ? launcher.per_node : 8}, {"nodes", std::max<std::int64_t>(1, launcher.nodes)}};
    if (launcher.per_node == 0) r.assumed.push_back("no GPUs per node in the launcher -> hardware.topology.gpus = 8");
  } else if (gpus > 0) {
    h["gpus"] = gpus;
    r.mapped.push_back("import --gpus " + std::to_string(gpus) + " -> hardware.gpus = " + std::to_string(gpus));
  } else {
    r.assumed.push_back("no launcher saying how many GPUs (torchrun --nproc_per_node/--nnodes, srun -N/--ntasks-per-node, or import --gpus): one node of 8");
  }
  return h;
}

}  // namespace foresight
