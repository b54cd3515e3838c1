#include "sim/json_document.hpp"

#include <fstream>
#include <sstream>

#include "sim/input_error.hpp"

namespace foresight {

nlohmann::json parse_json_text(std::string_view text, const std::string& source_name) {
  try {
    return nlohmann::json::parse(text.begin(), text.end(), nullptr, true, /*ignore_comments=*/true);
  } catch (const nlohmann::json::parse_error& e) {
    std::size_t line = 1;
    std::size_t column = 1;
    const std::size_t stop = e.byte == 0 ? 0 : std::min<std::size_t>(e.byte - 1, text.size());
    for (std::size_t i = 0; i < stop; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string detail = e.what();
    if (const auto at = detail.find("; last read"); at != std::string::npos) {
      detail = detail.substr(at + 2);
    } else if (const auto colon = detail.rfind(": "); colon != std::string::npos) {
      detail = detail.substr(colon + 2);
    }
    throw InputError(source_name, "",
                     "not valid JSON at line " + std::to_string(line) + ", column " +
                         std::to_string(column) + ": " + detail);
  }
}

nlohmann::json load_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot open the file (does it exist and is it readable?)");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_json_text(text.str(), path);
}

void apply_override(nlohmann::json& document, std::string_view assignment) {
  const std::string flag = "--set " + std::string(assignment);
  const auto equals = assignment.find('=');
  if (equals == std::string_view::npos || equals == 0) {
    throw InputError(flag, "", "expected key.path=value");
  }
  const std::string path(assignment.substr(0, equals));
  const std::string value_text(assignment.substr(equals + 1));
  nlohmann::json value = nlohmann::json::parse(value_text, nullptr, false);
  if (value.is_discarded()) value = value_text;

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
