#include "sim/input/object_reader.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace foresight {
namespace {
const nlohmann::json& empty_object() {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  return kEmpty;
}

std::string describe(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(value.type_name()) + " " + text;
}

std::string format_number(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", value);
  return buf;
}

// "> 0 and <= 1", "" when unconstrained
std::string range_text(const FieldInfo& info) {
  std::string text;
  const auto add = [&text](const std::string& part) { text += (text.empty() ? "" : " and ") + part; };
  if (info.positive && !(info.min && *info.min > 0)) add("> 0");
  if (info.min) add(">= " + format_number(*info.min));
  if (info.max) add("<= " + format_number(*info.max));
  return text;
}

// A field that states no bound of its own gets one from its unit, so that every value
// keeps downstream arithmetic exact: picosecond clocks, int32 token counts, and times
// from sizes over rates (1 GB at 1 MB/s is 1,000 s, not 1e300).
struct UnitBounds {
  std::string_view unit;
  double min_when_positive;  // 0: none
  double max;
};
constexpr UnitBounds kUnitBounds[] = {
    {"us", 0, 1e6},      {"ms", 0, 1e6},       {"s", 0, 1e6},       {"TFLOP/s", 1e-3, 1e6}, {"GB/s", 1e-3, 1e6},
    {"TB/s", 1e-6, 1e3}, {"MHz", 1, 1e5},      {"W", 1e-3, 1e6},    {"GiB", 0, 1e7},        {"GB", 0, 1e7},
    {"MB", 0, 1e10},     {"tokens", 0, 1e9},   {"keys", 0, 1e9},    {"sequences", 0, 1e9},  {"requests/s", 1e-9, 1e9},
};
constexpr double kUnitlessMax = 1e12;

FieldInfo bounded(const FieldInfo& given) {
  FieldInfo info = given;
  double max = kUnitlessMax;
  for (const UnitBounds& bounds : kUnitBounds) {
    if (bounds.unit != info.unit) continue;
    max = bounds.max;
    if (info.positive && !info.min && bounds.min_when_positive > 0) info.min = bounds.min_when_positive;
  }
  if (!info.max) info.max = max;
  return info;
}

// The smallest meaningful non-zero value of a rate unit (0 may mean "unsupported").
double unit_floor(std::string_view unit) {
  for (const UnitBounds& bounds : kUnitBounds) {
    if (bounds.unit == unit) return bounds.min_when_positive;
  }
  return 0;
}

std::string expected_range(const FieldInfo& info, bool integral) {
  std::string text = integral ? "an integer" : "a number";
  const std::string range = range_text(info);
  if (!range.empty()) text += " " + range;
  if (!info.unit.empty()) text += " (" + std::string(info.unit) + ")";
  return text;
}

std::string join_choices(const std::vector<std::string>& choices) {
  std::string text;
  for (const std::string& choice : choices) text += (text.empty() ? "" : ", ") + choice;
  return text;
}
}  // namespace

ObjectReader::ObjectReader(const nlohmann::json& node, std::string path, Diagnostics& diagnostics)
    : node_(&node), path_(std::move(path)), diagnostics_(&diagnostics) {
  if (!node.is_object()) {
    diagnostics_->error(path_, "expected an object, got " + describe(node));
    node_ = &empty_object();
  }
}

ObjectReader::ObjectReader(std::vector<FieldDoc>& docs, std::string path, Diagnostics* diagnostics)
    : node_(&empty_object()), path_(std::move(path)), diagnostics_(diagnostics), docs_(&docs) {
  if (diagnostics_ == nullptr) {
    own_diagnostics_ = std::make_unique<Diagnostics>("");
    diagnostics_ = own_diagnostics_.get();
  }
}

ObjectReader ObjectReader::documenting(std::vector<FieldDoc>& docs, std::string path) {
  return ObjectReader(docs, std::move(path), nullptr);
}

ObjectReader::ObjectReader(ObjectReader&& other) noexcept
    : node_(other.node_), path_(std::move(other.path_)), diagnostics_(other.diagnostics_),
      docs_(other.docs_), known_(std::move(other.known_)), finished_(other.finished_),
      doc_tag_(std::move(other.doc_tag_)), own_diagnostics_(std::move(other.own_diagnostics_)) {
  other.finished_ = true;
}

ObjectReader::~ObjectReader() { report_unknown_keys(); }

bool ObjectReader::has(std::string_view key) const { return node_->contains(key); }

std::string ObjectReader::child_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const nlohmann::json* ObjectReader::lookup(std::string_view key) {
  known_.emplace_back(key);
  const auto it = node_->find(key);
  return it == node_->end() ? nullptr : &*it;
}

void ObjectReader::error(std::string_view key, std::string message) {
  diagnostics_->error(key.empty() ? path_ : child_path(key), std::move(message));
}

void ObjectReader::document(std::string_view key, std::string_view type, const FieldInfo& given,
                            std::string default_value) {
  const FieldInfo info = type == "number" || type == "integer" ? bounded(given) : given;
  known_.emplace_back(key);
  std::string doc = doc_tag_ + std::string(info.doc);
  if (!info.choices.empty()) doc += " One of: " + join_choices(info.choices) + ".";
  const std::string range = range_text(info);
  if (!range.empty()) doc += " Range: " + range + ".";
  std::string full_type(type);
  if (!info.or_string.empty()) full_type += " or \"" + std::string(info.or_string) + "\"";
  docs_->push_back({child_path(key), std::move(full_type), std::string(info.unit), std::move(default_value), std::move(doc), info.min, info.max,
                    info.positive, info.choices, std::string(info.or_string)});
}

bool ObjectReader::check_range(std::string_view key, double value, const FieldInfo& given,
                               bool integral) {
  const FieldInfo info = bounded(given);
  if (const double floor = unit_floor(info.unit); value > 0 && value < floor) {
    error(key, "expected 0 or at least " + format_number(floor) + " (" + std::string(info.unit) + "), got " + format_number(value));
    return false;
  }
  const bool ok = (!info.positive || value > 0) && (!info.min || value >= *info.min) &&
                  (!info.max || value <= *info.max);
  if (!ok) error(key, "expected " + expected_range(info, integral) + ", got " + format_number(value));
  return ok;
}

std::optional<double> ObjectReader::read_number(std::string_view key, const FieldInfo& info,
                                                bool integral) {
  const nlohmann::json* value = lookup(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number()) {
    error(key, "expected " + expected_range(bounded(info), integral) + ", got " + describe(*value));
    return std::nullopt;
  }
  const double number = value->get<double>();
  if (integral && (!std::isfinite(number) || number != std::floor(number) ||
                   std::fabs(number) > 9.0e15)) {
    error(key, "expected " + expected_range(bounded(info), true) + ", got " + describe(*value));
    return std::nullopt;
  }
  if (!check_range(key, number, info, integral)) return std::nullopt;
  return number;
}

double ObjectReader::number(std::string_view key, double fallback, const FieldInfo& info) {
  if (docs_) {
    document(key, "number", info, format_number(fallback));
    return fallback;
  }
  return read_number(key, info, false).value_or(fallback);
}

std::optional<double> ObjectReader::optional_number(std::string_view key, const FieldInfo& info) {
  if (docs_) {
    document(key, "number", info, "(none)");
    return std::nullopt;
  }
  return read_number(key, info, false);
}

double ObjectReader::required_number(std::string_view key, const FieldInfo& info) {
  if (docs_) {
    document(key, "number", info, "(required)");
    return info.min.value_or(1.0);
  }
  if (!has(key)) {
    lookup(key);
    error(key, "is required: expected " + expected_range(info, false));
    return info.min.value_or(1.0);
  }
  return read_number(key, info, false).value_or(info.min.value_or(1.0));
}

std::int64_t ObjectReader::integer(std::string_view key, std::int64_t fallback,
                                   const FieldInfo& info) {
  if (docs_) {
    document(key, "integer", info, std::to_string(fallback));
    return fallback;
  }
  const auto value = read_number(key, info, true);
  return value ? static_cast<std::int64_t>(*value) : fallback;
}

std::int64_t ObjectReader::required_integer(std::string_view key, const FieldInfo& info) {
  const auto placeholder = static_cast<std::int64_t>(info.min.value_or(1.0));
  if (docs_) {
    document(key, "integer", info, "(required)");
    return placeholder;
  }
  if (!has(key)) {
    lookup(key);
    error(key, "is required: expected " + expected_range(info, true));
    return placeholder;
  }
  const auto value = read_number(key, info, true);
  return value ? static_cast<std::int64_t>(*value) : placeholder;
}

bool ObjectReader::boolean(std::string_view key, bool fallback, std::string_view doc) {
  if (docs_) {
    document(key, "boolean", FieldInfo{doc}, fallback ? "true" : "false");
    return fallback;
  }
  const nlohmann::json* value = lookup(key);
  if (value == nullptr) return fallback;
  if (!value->is_boolean()) {
    error(key, "expected true or false, got " + describe(*value));
    return fallback;
  }
  return value->get<bool>();
}

std::string ObjectReader::string(std::string_view key, std::string fallback, const FieldInfo& info) {
  if (docs_) {
    document(key, "string", info, fallback.empty() ? "\"\"" : "\"" + fallback + "\"");
    return fallback;
  }
  const nlohmann::json* value = lookup(key);
  if (value == nullptr) return fallback;
  if (!value->is_string()) {
    const std::string expected = info.choices.empty() ? "a string" : "one of " + join_choices(info.choices);
    error(key, "expected " + expected + ", got " + describe(*value));
    return fallback;
  }
  std::string text = value->get<std::string>();
  if (!info.choices.empty() &&
      std::find(info.choices.begin(), info.choices.end(), text) == info.choices.end()) {
    error(key, "unknown value \"" + text + "\": expected one of " + join_choices(info.choices) +
                   did_you_mean(text, info.choices));
    return fallback;
  }
  return text;
}

std::string ObjectReader::required_string(std::string_view key, const FieldInfo& info) {
  if (docs_) {
    document(key, "string", info, "(required)");
    return info.choices.empty() ? std::string() : info.choices.front();
  }
  if (!has(key)) {
    lookup(key);
    error(key, "is required: expected a string");
    return info.choices.empty() ? std::string() : info.choices.front();
  }
  return string(key, info.choices.empty() ? std::string() : info.choices.front(), info);
}

ObjectReader ObjectReader::object(std::string_view key, std::string_view doc) {
  if (docs_) {
    document(key, "object", FieldInfo{doc}, "{}");
    return ObjectReader(*docs_, child_path(key), diagnostics_);
  }
  const nlohmann::json* value = lookup(key);
  return ObjectReader(value ? *value : empty_object(), child_path(key), *diagnostics_);
}

ObjectReader ObjectReader::documenting_child(std::string_view key, std::string tag) {
  if (!docs_) throw std::logic_error("documenting_child on a reader that is not documenting");
  ObjectReader child(*docs_, key.empty() ? path_ : child_path(key), diagnostics_);
  child.doc_tag_ = std::move(tag);
  return child;
}

const nlohmann::json* ObjectReader::raw(std::string_view key, std::string_view type,
                                        std::string_view doc) {
  if (docs_) {
    document(key, type, FieldInfo{doc}, "(see below)");
    return nullptr;
  }
  return lookup(key);
}

namespace {
constexpr std::string_view kUnknownKey = "unknown key \"";
}  // namespace

bool is_unknown_key(const Problem& problem) { return problem.message.rfind(kUnknownKey, 0) == 0; }

void ObjectReader::report_unknown_keys() {
  if (finished_ || docs_) return;
  finished_ = true;
  for (const auto& item : node_->items()) {
    if (std::find(known_.begin(), known_.end(), item.key()) != known_.end()) continue;
    std::string message = std::string(kUnknownKey) + item.key() + "\"";
    const std::string suggestion = did_you_mean(item.key(), known_);
    if (!suggestion.empty()) {
      message += suggestion;
    } else if (!known_.empty()) {
      message += "; known keys here: " + join_choices(known_);
    }
    diagnostics_->error(child_path(item.key()), message);
  }
}

std::string format_reference_table(const std::vector<FieldDoc>& docs) {
  std::string text = "| key | type | unit | default | meaning |\n|---|---|---|---|---|\n";
  for (const FieldDoc& doc : docs) {
    text += "| `" + doc.path + "` | " + doc.type + " | " + doc.unit + " | " + doc.default_value +
            " | " + doc.doc + " |\n";
  }
  return text;
}

}  // namespace foresight
