#pragma once
// A JSON Schema (draft 2020-12) of scenario files, made from the same field documentation
// as the scenario reference, so that editors complete keys, show each key's meaning and
// flag unknown keys, wrong types and values out of range while a scenario is written.
// It is looser than foresight in one way: checks that involve several keys (tp dividing
// the heads, required fields of an object form) are left to `foresight validate`.
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/input/object_reader.hpp"

namespace foresight {

nlohmann::json scenario_json_schema(const std::vector<FieldDoc>& reference);

}  // namespace foresight
