#pragma once
// The values of a TOML file as "table.key" -> text, for the training configs torchtitan
// reads (docs/import.md): tables ([a] and [a.b]), dotted keys, strings (quotes removed),
// numbers, booleans and arrays (kept as written, on one line: ["float8", "mx"]). Inline
// tables and arrays of tables, which those configs do not use, are refused by name.
#include <map>
#include <string>
#include <vector>

namespace foresight {

// Throws InputError naming the file and line for what it cannot read.
std::map<std::string, std::string> read_toml_values(const std::string& path);

// The strings of an array value as read_toml_values keeps it (["a", 'b'] -> a, b), or the
// value itself when it is not an array.
std::vector<std::string> toml_strings(const std::string& value);

}  // namespace foresight
