#include "sim/runner/scenario_schema.hpp"

#include <map>
#include <string>

namespace foresight {
namespace {
nlohmann::json object_schema() { return {{"type", "object"}, {"properties", nlohmann::json::object()}, {"additionalProperties", false}}; }

nlohmann::json number_schema(const FieldDoc& field) {
  nlohmann::json schema = {{"type", field.type.rfind("integer", 0) == 0 ? "integer" : "number"}};
  if (field.min) schema["minimum"] = *field.min;
  if (field.positive && !(field.min && *field.min > 0)) schema["exclusiveMinimum"] = 0;
  if (field.max) schema["maximum"] = *field.max;
  return schema;
}

// The schema of one key; `children` is where the keys below it go (a JSON pointer), if any.
nlohmann::json field_schema(const FieldDoc& field, std::string& children) {
  nlohmann::json schema;
  if (field.type == "object") {
    schema = object_schema();
    children = "/properties";
  } else if (field.type == "string or object") {
    schema = {{"anyOf", {{{"type", "string"}}, object_schema()}}};
    children = "/anyOf/1/properties";
  } else if (field.type == "number or array of numbers") {
    schema = {{"anyOf", {{{"type", "number"}}, {{"type", "array"}, {"items", {{"type", "number"}}}}}}};
  } else if (field.type.rfind("number", 0) == 0 || field.type.rfind("integer", 0) == 0) {
    schema = number_schema(field);
    if (!field.or_string.empty()) schema = {{"anyOf", {schema, {{"const", field.or_string}}}}};
  } else if (field.type == "string") {
    schema = {{"type", "string"}};
    if (!field.choices.empty()) schema["enum"] = field.choices;
  } else if (field.type == "boolean") {
    schema = {{"type", "boolean"}};
  }
  schema["description"] = field.doc + (field.unit.empty() ? "" : " Unit: " + field.unit + ".");
  // Defaults that are JSON values ("unnamed" in quotes, 8, true) are given to the editor.
  const nlohmann::json value = nlohmann::json::parse(field.default_value, nullptr, false);
  if (!value.is_discarded() && !value.is_object()) schema["default"] = value;
  return schema;
}
}  // namespace

nlohmann::json scenario_json_schema(const std::vector<FieldDoc>& reference) {
  nlohmann::json schema = {{"$schema", "https://json-schema.org/draft/2020-12/schema"},
                           {"title", "foresight scenario"},
                           {"description", "A foresight scenario file (docs/scenario-reference.md)."}};
  schema.update(object_schema());
  // Where each documented object keeps its keys, by JSON path ("" is the document).
  std::map<std::string, nlohmann::json::json_pointer> properties_of = {{"", nlohmann::json::json_pointer("/properties")}};
  for (const FieldDoc& field : reference) {
    const auto dot = field.path.rfind('.');
    const std::string parent = dot == std::string::npos ? "" : field.path.substr(0, dot);
    const std::string key = dot == std::string::npos ? field.path : field.path.substr(dot + 1);
    const auto found = properties_of.find(parent);
    if (found == properties_of.end()) continue;  // below a key that is not an object: nothing to hang it on
    nlohmann::json& siblings = schema[found->second];
    // A key documented once per cost model ([roofline], [learned], ...) is one key here.
    const bool seen = siblings.contains(key);
    std::string children;
    nlohmann::json node = field_schema(field, children);
    if (!seen) siblings[key] = std::move(node);
    if (!children.empty()) properties_of.emplace(field.path, found->second / key / nlohmann::json::json_pointer(children));
  }
  return schema;
}

}  // namespace foresight
