#pragma once
// Loading JSON documents with errors that name the file and the line, and applying
// command-line overrides (`--set path.to.key=value`) before the document is validated,
// so an override goes through exactly the checks the file does.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace foresight {

// Throws InputError naming the file (and line:column for syntax errors).
nlohmann::json load_json_file(const std::string& path);
nlohmann::json parse_json_text(std::string_view text, const std::string& source_name);

// `assignment` is "a.b.c=value". The value is read as JSON when it parses as JSON
// (numbers, true/false, null, arrays, objects, quoted strings) and as a bare string
// otherwise, so `--set model=llama3_8b` needs no quotes. Missing objects on the path are
// created; a path through a non-object is an InputError naming the flag.
void apply_override(nlohmann::json& document, std::string_view assignment);

}  // namespace foresight
