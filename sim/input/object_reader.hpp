#pragma once
// Reads one JSON object into typed values, checking every key. The same parse code runs
// in a documenting mode that records each key's type, unit, default and description,
// so the scenario reference (docs/scenario-reference.md) is generated from the code that
// enforces it and cannot drift from it.
//
// Unknown keys are reported when the reader is destroyed (after every known key has been
// asked for), each with a "did you mean" suggestion.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sim/input/input_error.hpp"

namespace foresight {

struct FieldInfo {
  std::string_view doc;
  std::string_view unit = {};
  std::optional<double> min = {};  // inclusive
  std::optional<double> max = {};  // inclusive
  bool positive = false;           // strictly greater than zero
  std::vector<std::string> choices = {};
  std::string_view or_string = {};  // a word accepted in place of the number ("auto")
};

struct FieldDoc {
  std::string path;
  std::string type;
  std::string unit;
  std::string default_value;
  std::string doc;
  // The same checks as data, for the JSON Schema (scenario_schema.hpp).
  std::optional<double> min = {}, max = {};
  bool positive = false;
  std::vector<std::string> choices = {};
  std::string or_string = {};
};

// Whether `problem` is the report of a key the reader does not know.
bool is_unknown_key(const Problem& problem);

class ObjectReader {
 public:
  ObjectReader(const nlohmann::json& node, std::string path, Diagnostics& diagnostics);
  // The reader keeps a pointer to `node`: a temporary would dangle.
  ObjectReader(const nlohmann::json&& node, std::string path, Diagnostics& diagnostics) = delete;
  static ObjectReader documenting(std::vector<FieldDoc>& docs, std::string path = {});
  ObjectReader(ObjectReader&& other) noexcept;
  ObjectReader(const ObjectReader&) = delete;
  ObjectReader& operator=(const ObjectReader&) = delete;
  ObjectReader& operator=(ObjectReader&&) = delete;
  ~ObjectReader();

  bool is_documenting() const { return docs_ != nullptr; }
  bool has(std::string_view key) const;
  const std::string& path() const { return path_; }
  std::string child_path(std::string_view key) const;
  Diagnostics& diagnostics() { return *diagnostics_; }

  double number(std::string_view key, double fallback, const FieldInfo& info);
  std::optional<double> optional_number(std::string_view key, const FieldInfo& info);
  double required_number(std::string_view key, const FieldInfo& info);
  std::int64_t integer(std::string_view key, std::int64_t fallback, const FieldInfo& info);
  std::int64_t required_integer(std::string_view key, const FieldInfo& info);
  bool boolean(std::string_view key, bool fallback, std::string_view doc);
  std::string string(std::string_view key, std::string fallback, const FieldInfo& info);
  std::string required_string(std::string_view key, const FieldInfo& info);

  // A nested object; an absent key reads as an empty object so its defaults apply.
  ObjectReader object(std::string_view key, std::string_view doc);
  // The raw value for keys that accept several forms (a preset name or an object);
  // nullptr when absent or when documenting. `type` and `doc` go into the reference.
  const nlohmann::json* raw(std::string_view key, std::string_view type, std::string_view doc);

  // Documenting mode only: the fields of `key`'s object form, documented under the same
  // path as the key itself (which raw() already described), each doc prefixed by `tag`.
  ObjectReader documenting_child(std::string_view key, std::string tag = {});

  void error(std::string_view key, std::string message);
  // For foreign formats (a HuggingFace config.json) whose extra keys are not ours to judge.
  void ignore_unknown_keys() { finished_ = true; }

 private:
  ObjectReader(std::vector<FieldDoc>& docs, std::string path, Diagnostics* diagnostics);
  const nlohmann::json* lookup(std::string_view key);
  void document(std::string_view key, std::string_view type, const FieldInfo& info,
                std::string default_value);
  std::optional<double> read_number(std::string_view key, const FieldInfo& info, bool integral);
  bool check_range(std::string_view key, double value, const FieldInfo& info, bool integral);
  void report_unknown_keys();

  const nlohmann::json* node_ = nullptr;
  std::string path_;
  Diagnostics* diagnostics_ = nullptr;
  std::vector<FieldDoc>* docs_ = nullptr;
  std::vector<std::string> known_;
  bool finished_ = false;
  std::string doc_tag_;
  std::unique_ptr<Diagnostics> own_diagnostics_;  // documenting mode has no file
};

// Writes the recorded docs as a Markdown table.
std::string format_reference_table(const std::vector<FieldDoc>& docs);

}  // namespace foresight
