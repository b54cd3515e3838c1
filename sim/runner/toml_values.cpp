#include "sim/runner/toml_values.hpp"

#include <fstream>
#include <vector>

#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"
#include "sim/runner/import_support.hpp"

namespace foresight {
namespace {

// Walks `text` outside its strings: calls `visit(i)` for each character not in a string and
// returns false if a string is left open. Basic strings ("...") take backslash escapes.
template <typename Visit>
bool outside_strings(const std::string& text, Visit visit) {
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (quote == '"' && c == '\\') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (!visit(i)) {
      return true;
    }
  }
  return quote == 0;
}

std::string without_comment(const std::string& line) {
  std::size_t end = line.size();
  outside_strings(line, [&](std::size_t i) {
    if (line[i] != '#') return true;
    end = i;
    return false;
  });
  return line.substr(0, end);
}

// Brackets opened minus closed, outside strings.
int bracket_depth(const std::string& text) {
  int depth = 0;
  outside_strings(text, [&](std::size_t i) {
    depth += text[i] == '[' ? 1 : text[i] == ']' ? -1 : 0;
    return true;
  });
  return depth;
}

// "a . 'b c'" -> "a.b c".
std::string dotted_key(const std::string& text) {
  std::string key, part;
  char quote = 0;
  for (const char c : text) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        part += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '.') {
      key += trimmed(part) + ".";
      part.clear();
    } else {
      part += c;
    }
  }
  return key + trimmed(part);
}

std::string unescaped(const std::string& body) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out += body[i];
      continue;
    }
    const char c = body[++i];
    out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
  }
  return out;
}

// A scalar as written: a string's contents, or a number or boolean's text.
std::string scalar(const std::string& text) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') return unescaped(text.substr(1, text.size() - 2));
  if (text.size() >= 2 && text.front() == '\'' && text.back() == '\'') return text.substr(1, text.size() - 2);
  return text;
}
}  // namespace

std::map<std::string, std::string> read_toml_values(const std::string& path) {
  refuse_device(path);
  std::ifstream in(path);
  if (!in) throw InputError(path, "", "cannot open the config file");
  std::map<std::string, std::string> values;
  std::string table, raw;
  for (int number = 1; std::getline(in, raw); ++number) {
    const std::string where = "line " + std::to_string(number);
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    require_utf8(raw, path, where);  // values reach the scenario's JSON
    std::string line = trimmed(without_comment(raw));
    if (line.empty()) continue;
    if (line.rfind("[[", 0) == 0) throw InputError(path, where, "arrays of tables ([[...]]) are not read; a torchtitan config has none");
    if (line.front() == '[') {
      if (line.back() != ']') throw InputError(path, where, "expected a table header [name], got \"" + line + "\"");
      table = dotted_key(line.substr(1, line.size() - 2));
      continue;
    }
    std::size_t equals = std::string::npos;
    outside_strings(line, [&](std::size_t i) {
      if (line[i] != '=') return true;
      equals = i;
      return false;
    });
    if (equals == std::string::npos) throw InputError(path, where, "expected `key = value`, got \"" + line + "\"");
    const std::string key = (table.empty() ? "" : table + ".") + dotted_key(line.substr(0, equals));
    std::string value = trimmed(line.substr(equals + 1));
    if (value.empty()) throw InputError(path, where, "no value after `=`");
    if (value.front() == '{') throw InputError(path, where, "inline tables ({...}) are not read; write the table as [" + key + "]");
    if (value.rfind("\"\"\"", 0) == 0 || value.rfind("'''", 0) == 0) {
      const std::string fence = value.substr(0, 3);
      std::string text = value.substr(3);
      while (text.find(fence) == std::string::npos && std::getline(in, raw)) {
        require_utf8(raw, path, "line " + std::to_string(++number));
        text += '\n';
        text += raw;
      }
      if (text.find(fence) == std::string::npos) throw InputError(path, where, "a multi-line string is not closed");
      value = text.substr(0, text.find(fence));
    } else if (value.front() == '[') {
      while (bracket_depth(value) > 0 && std::getline(in, raw)) {
        require_utf8(raw, path, "line " + std::to_string(++number));
        value += ' ';
        value += trimmed(without_comment(raw));
      }
      if (bracket_depth(value) != 0) throw InputError(path, where, "the array's brackets do not balance");
    } else {
      value = scalar(value);
    }
    if (!values.emplace(key, value).second) throw InputError(path, where, "`" + key + "` is defined twice");
  }
  return values;
}

std::vector<std::string> toml_strings(const std::string& value) {
  if (value.empty() || value.front() != '[' || value.back() != ']') return {value};
  const std::string body = value.substr(1, value.size() - 2);
  std::vector<std::string> items;
  std::size_t start = 0;
  const auto take = [&](std::size_t end) {
    const std::string item = scalar(trimmed(body.substr(start, end - start)));
    if (!item.empty()) items.push_back(item);
    start = end + 1;
  };
  outside_strings(body, [&](std::size_t i) {
    if (body[i] == ',') take(i);
    return true;
  });
  take(body.size());
  return items;
}

}  // namespace foresight
