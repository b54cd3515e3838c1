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

namespace foresight {
namespace {
// "meta-llama/Llama-3.1-70B-Instruct" and the catalog's "meta-llama/Llama-3.1-70B" name the
// same weights' shape: fine-tuning suffixes are dropped before comparing, and so is the
// "Meta-" Meta's older repositories put before the name ("Meta-Llama-3.1-8B").
std::string base_model_id(const std::string& id) {
  std::string kept;
  std::size_t start = 0;
  std::string text = lower(id);
  if (const std::size_t slash = text.find('/'); slash != std::string::npos && text.compare(slash + 1, 5, "meta-") == 0) text.erase(slash + 1, 5);
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('-', start), text.size());
    const std::string part = text.substr(start, end - start);
    if (part != "instruct" && part != "chat" && part != "hf" && part != "it" && part != "base") kept += (kept.empty() ? "" : "-") + part;
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

}  // namespace foresight
