#pragma once
// Loading JSON documents with errors that name the file and the line, and applying
// command-line overrides (`--set path.to.key=value`) before the document is validated,
// so an override goes through exactly the checks the file does.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace foresight {

// How deep a document may nest; deeper input is refused as an input error.
inline constexpr int kMaxJsonDepth = 64;

// Throws InputError naming the file unless it is a file or a pipe: a device such as
// /dev/zero would be read forever. Every input file is opened through it.
void refuse_device(const std::string& path);

// The whole file, opened through refuse_device and logged in the thread's InputLog; throws
// InputError naming it ("cannot open the <what>") if it cannot be read.
std::string read_input_file(const std::string& path, std::string_view what = "file (does it exist and is it readable?)");

// Throws InputError naming the file (and line:column for syntax errors), for numbers
// beyond a double's range and for nesting deeper than kMaxJsonDepth.
nlohmann::json load_json_file(const std::string& path);
nlohmann::json parse_json_text(std::string_view text, const std::string& source_name);

// Throws InputError naming `source_name` and `path` unless `text` is valid UTF-8.
void require_utf8(std::string_view text, const std::string& source_name, const std::string& path);

// `value` as a whole number in [low, high], or nullopt. nlohmann's get<int>() casts a
// float such as 1e300 without a range check, which is undefined behaviour; whole floats
// (3.0) are accepted because writers such as Python's json emit them.
std::optional<std::int64_t> integer_within(const nlohmann::json& value, std::int64_t low, std::int64_t high);

// `assignment` is "a.b.c=value". The value is read as JSON when it parses as JSON
// (numbers, true/false, null, arrays, objects, quoted strings) and as a bare string
// otherwise, so `--set model=llama3_8b` needs no quotes. Missing objects on the path are
// created; a path through a non-object is an InputError naming the flag.
void apply_override(nlohmann::json& document, std::string_view assignment);

}  // namespace foresight
