#include "sim/input/json_document.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sim/input/input_error.hpp"
#include "sim/input/input_log.hpp"

namespace foresight {

namespace {

// Where `text` stands at byte `offset`, as "line L, column C".
std::string position_of(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i < std::min(offset, text.size()); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// The byte offset of the first invalid UTF-8 sequence, or npos: RFC 3629's well-formed
// sequences only (no overlong forms, surrogates or code points past U+10FFFF), which is
// what nlohmann's dump() accepts.
std::size_t invalid_utf8_at(std::string_view text) {
  const auto byte = [&text](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
    if (lead < 0x80) {
      length = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    if (length > 1 && (byte(i + 1) < low || byte(i + 1) > high)) return i;
    for (std::size_t k = 2; k < length; ++k) {
      if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return i;
    }
    i += length;
  }
  return std::string_view::npos;
}

}  // namespace

std::optional<std::int64_t> integer_within(const nlohmann::json& value, std::int64_t low, std::int64_t high) {
  if (value.is_number_unsigned()) {
    const std::uint64_t v = value.get<std::uint64_t>();
    if (high < 0 || v > static_cast<std::uint64_t>(high) || static_cast<std::int64_t>(v) < low) return std::nullopt;
    return static_cast<std::int64_t>(v);
  }
  if (value.is_number_integer()) {
    const std::int64_t v = value.get<std::int64_t>();
    return v >= low && v <= high ? std::optional(v) : std::nullopt;
  }
  if (!value.is_number_float()) return std::nullopt;
  const double v = value.get<double>();
  // Checked as doubles before the cast, so out-of-range values never reach it; past 2^53 a
  // float no longer holds whole numbers exactly.
  constexpr double kExactLimit = 9007199254740992.0;
  if (!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > kExactLimit) return std::nullopt;
  if (v < static_cast<double>(low) || v > static_cast<double>(high)) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

void require_utf8(std::string_view text, const std::string& source_name, const std::string& path) {
  if (const std::size_t at = invalid_utf8_at(text); at != std::string_view::npos) {
    throw InputError(source_name, path, "not UTF-8 text (an invalid byte at offset " + std::to_string(at) + ")");
  }
}

namespace {
// The most arrays and objects open at once, brackets inside strings and comments aside.
int deepest_nesting(std::string_view text) {
  int depth = 0, deepest = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\') ++i;
      }
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      i = std::min(text.find('\n', i), text.size());
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      const std::size_t end = text.find("*/", i + 2);
      i = end == std::string_view::npos ? text.size() : end + 1;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}
}  // namespace

nlohmann::json parse_json_text(std::string_view text, const std::string& source_name) {
  // Documents nest a few levels; a limit keeps recursive walks (dump, destruction, the
  // readers) far from the stack's end on hostile input. It is checked by a scan first, not
  // by a parser callback: nlohmann's callback parser looks through a container's elements
  // at each nested object's end, quadratic in a trace's long arrays.
  if (deepest_nesting(text) > kMaxJsonDepth) {
    throw InputError(source_name, "", "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  try {
    return nlohmann::json::parse(text.begin(), text.end(), nullptr, true, /*ignore_comments=*/true);
  } catch (const nlohmann::json::out_of_range& e) {
    // nlohmann reports a number beyond double's range (1e400) this way, with no position.
    std::string detail = e.what();
    if (const auto close = detail.find("] "); close != std::string::npos) detail = detail.substr(close + 2);
    throw InputError(source_name, "", "not valid JSON: " + detail + " (numbers must fit a double)");
  } catch (const nlohmann::json::parse_error& e) {
    std::string detail = e.what();
    if (const auto at = detail.find("; last read"); at != std::string::npos) {
      detail = detail.substr(at + 2);
    } else if (const auto colon = detail.rfind(": "); colon != std::string::npos) {
      detail = detail.substr(colon + 2);
    }
    throw InputError(source_name, "", "not valid JSON at " + position_of(text, e.byte == 0 ? 0 : e.byte - 1) + ": " + detail);
  }
}

void refuse_device(const std::string& path) {
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (error) return;  // opening it names what is wrong
  if (std::filesystem::is_character_file(status) || std::filesystem::is_block_file(status) || std::filesystem::is_socket(status)) {
    throw InputError(path, "", "a device, not a file: give a file (or a pipe)");
  }
}

std::string read_input_file(const std::string& path, std::string_view what) {
  refuse_device(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot open the " + std::string(what));
  std::ostringstream text;
  text << in.rdbuf();
  std::string bytes = text.str();
  InputLog::record(path, bytes);
  return bytes;
}

nlohmann::json load_json_file(const std::string& path) { return parse_json_text(read_input_file(path), path); }

void apply_override(nlohmann::json& document, std::string_view assignment) {
  require_utf8(assignment, "--set", "");
  const std::string flag = "--set " + std::string(assignment);
  const auto equals = assignment.find('=');
  if (equals == std::string_view::npos || equals == 0) {
    throw InputError(flag, "", "expected key.path=value");
  }
  const std::string path(assignment.substr(0, equals));
  const std::string value_text(assignment.substr(equals + 1));
  nlohmann::json value;
  try {
    value = parse_json_text(value_text, flag);
  } catch (const InputError&) {
    value = value_text;  // a bare word
  }

  nlohmann::json* node = &document;
  std::size_t begin = 0;
  std::string walked;
  for (;;) {
    const std::size_t dot = path.find('.', begin);
    const std::string key = path.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin);
    if (key.empty()) throw InputError(flag, path, "empty key in the path");
    if (node->is_null()) *node = nlohmann::json::object();
    if (!node->is_object()) {
      throw InputError(flag, walked, std::string("cannot set a key inside a ") + node->type_name());
    }
    walked += (walked.empty() ? "" : ".") + key;
    node = &(*node)[key];
    if (dot == std::string::npos) break;
    begin = dot + 1;
  }
  *node = std::move(value);
}

}  // namespace foresight
