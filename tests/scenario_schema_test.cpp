// The JSON Schema of scenario files (foresight reference --schema): the shipped copy is the
// generated one, every shipped scenario passes it, and files with known mistakes fail it at
// the path foresight itself names. The checker below covers the keywords the schema uses.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

using foresight::testing::read_json_file;
using foresight::testing::run_cli;
using foresight::testing::source_path;

namespace {
bool has_type(const nlohmann::json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "string") return value.is_string();
  if (type == "boolean") return value.is_boolean();
  if (type == "number") return value.is_number();
  if (type == "integer") return value.is_number_integer() || (value.is_number_float() && value.get<double>() == static_cast<double>(static_cast<long long>(value.get<double>())));
  return false;
}

// The JSON paths (a.b.c) where `value` breaks `schema`; empty when it conforms.
void violations(const nlohmann::json& schema, const nlohmann::json& value, const std::string& path, std::vector<std::string>& found) {
  if (schema.contains("anyOf")) {
    const bool any = std::any_of(schema["anyOf"].begin(), schema["anyOf"].end(), [&](const nlohmann::json& option) {
      std::vector<std::string> inner;
      violations(option, value, path, inner);
      return inner.empty();
    });
    if (!any) found.push_back(path);
    return;
  }
  if (schema.contains("const") && value != schema["const"]) found.push_back(path);
  if (schema.contains("type") && !has_type(value, schema["type"])) return found.push_back(path);
  if (schema.contains("enum") && std::find(schema["enum"].begin(), schema["enum"].end(), value) == schema["enum"].end()) found.push_back(path);
  if (value.is_number()) {
    const double x = value.get<double>();
    if ((schema.contains("minimum") && x < schema["minimum"].get<double>()) || (schema.contains("maximum") && x > schema["maximum"].get<double>()) ||
        (schema.contains("exclusiveMinimum") && x <= schema["exclusiveMinimum"].get<double>())) {
      found.push_back(path);
    }
  }
  if (!value.is_object() || !schema.contains("properties")) return;
  for (const auto& [key, child] : value.items()) {
    const std::string child_path = path.empty() ? key : path + "." + key;
    if (schema["properties"].contains(key)) {
      violations(schema["properties"][key], child, child_path, found);
    } else if (schema.value("additionalProperties", true) == false) {
      found.push_back(child_path);
    }
  }
}

std::vector<std::string> violations(const nlohmann::json& schema, const nlohmann::json& value) {
  std::vector<std::string> found;
  violations(schema, value, "", found);
  return found;
}
}  // namespace

TEST_CASE("docs/scenario.schema.json is the generated JSON Schema, every shipped scenario passes it, and known mistakes fail it") {
  const auto r = run_cli({"reference", "--schema"});
  REQUIRE(r.status == 0);
  const nlohmann::json schema = nlohmann::json::parse(r.out);
  // Regenerate with scripts/generate_reference.sh.
  CHECK(read_json_file(source_path("docs/scenario.schema.json")) == schema);
  CHECK(schema["properties"]["training"]["properties"]["parallel"]["properties"]["dp"]["anyOf"][1]["const"] == "auto");

  int scenarios = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(source_path("scenarios"))) {
    if (entry.path().extension() != ".json") continue;
    const nlohmann::json document = read_json_file(entry.path().string());
    if (!document.is_object() || !(document.contains("training") || document.contains("serving") || document.contains("hardware"))) continue;
    CAPTURE(entry.path().string());
    CHECK(violations(schema, document).empty());
    ++scenarios;
  }
  CHECK(scenarios >= 40);

  // The mistakes foresight validate names in these files, found by the schema too.
  const std::pair<const char*, std::vector<std::string>> bad[] = {
      {"tests/data/bad/many_problems.json", {"trainig", "cost_model.name", "hardware.topology.bandwith_gbps"}},
      {"tests/data/bad/serving_problems.json", {"serving.scheduler", "serving.traffic.rate"}},
      {"tests/data/bad/training_options_problems.json", {"training.dropout", "training.recompute"}},
  };
  for (const auto& [file, paths] : bad) {
    const std::string name = file;  // clang before 16 cannot capture a structured binding
    CAPTURE(name);
    const std::vector<std::string> found = violations(schema, read_json_file(source_path(name)));
    for (const std::string& path : paths) CHECK_MESSAGE(std::find(found.begin(), found.end(), path) != found.end(), path);
  }
}
