#include "sim/runner/shell_commands.hpp"

#include <cctype>
#include <map>

#include "sim/input/input_error.hpp"

namespace foresight {
namespace {
bool is_separator(const std::string& word) { return word == ";" || word == "&" || word == "&&"; }

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || std::isdigit(static_cast<unsigned char>(c)) != 0; }

// The length of the NAME in "NAME=value", or 0 when the word is no assignment.
std::size_t assigned_name_length(const std::string& word) {
  std::size_t n = 0;
  while (n < word.size() && (n == 0 ? is_name_start(word[n]) : is_name_char(word[n]))) ++n;
  return n > 0 && n < word.size() && word[n] == '=' ? n : 0;
}

// Builtins whose arguments are assignments (or names) for the rest of the script.
bool is_declaration(const std::string& word) { return word == "export" || word == "readonly" || word == "declare" || word == "typeset"; }

// Splits one script into words, a command at a time.
class ShellReader {
 public:
  ShellReader(const std::string& text, const std::string& path) : text_(text), path_(path) {}

  std::vector<ShellCommand> commands() {
    while (at_ < text_.size()) read_next();
    end_command();
    return std::move(commands_);
  }

 private:
  char peek(std::size_t ahead = 0) const { return at_ + ahead < text_.size() ? text_[at_ + ahead] : '\0'; }

  void read_next() {
    const char c = text_[at_];
    if (const std::size_t length = continuation_length(); length > 0) {  // a continued line
      at_ += length;
      ++line_;
    } else if (c == '\\') {  // escapes the next character; at the very end, nothing
      if (at_ + 1 < text_.size()) word_ += text_[at_ + 1];
      at_ += 2;
      in_word_ = true;
    } else if (c == '\'' || c == '"') {
      read_quoted(c);
    } else if (c == '#' && !in_word_) {
      while (at_ < text_.size() && text_[at_] != '\n') ++at_;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      end_word();
      ++at_;
    } else if (c == '\n' || c == ';' || c == '&' || c == '|') {
      read_operator(c);
    } else if ((c == '>' || c == '<') && (!in_word_ || is_digits(word_))) {
      read_redirection();
    } else if (c == '$' && (is_name_start(peek(1)) || peek(1) == '{')) {
      read_expansion(false);
    } else {
      word_ += c;
      in_word_ = true;
      ++at_;
    }
  }

  // A backslash that ends its line (a Windows line too): its length, or 0.
  std::size_t continuation_length() const {
    if (peek() != '\\') return 0;
    if (peek(1) == '\n') return 2;
    return peek(1) == '\r' && peek(2) == '\n' ? 3 : 0;
  }

  static bool is_digits(const std::string& word) {
    for (const char d : word) {
      if (std::isdigit(static_cast<unsigned char>(d)) == 0) return false;
    }
    return true;
  }

  void read_quoted(char quote) {
    const int opened = line_;
    ++at_;
    in_word_ = true;
    while (at_ < text_.size() && text_[at_] != quote) {
      // Inside double quotes a backslash escapes only these; inside single quotes nothing.
      if (quote == '"' && text_[at_] == '\\' && std::string("\"\\$`").find(peek(1)) != std::string::npos && peek(1) != '\0') {
        ++at_;
      } else if (quote == '"' && text_[at_] == '$' && (is_name_start(peek(1)) || peek(1) == '{')) {
        read_expansion(true);
        continue;
      }
      if (text_[at_] == '\n') ++line_;
      word_ += text_[at_++];
    }
    if (at_ >= text_.size()) throw InputError(path_, "line " + std::to_string(opened), std::string("a ") + quote + " quote that never closes");
    ++at_;
  }

  // $NAME, ${NAME}, ${NAME:-default} or ${NAME-default}: a variable the script set before
  // (NAME=value, export NAME=value) gives its value, split into words outside quotes as bash
  // splits it, except in an assignment; an unset one its default, or else it stays as
  // written, so that an importer's message shows it.
  void read_expansion(bool quoted) {
    const std::size_t begin = at_;
    std::string name, fallback;
    bool has_fallback = false;
    if (peek(1) == '{') {
      const std::size_t close = text_.find('}', at_ + 2);
      const std::string inside = close == std::string::npos ? "" : text_.substr(at_ + 2, close - at_ - 2);
      std::size_t n = 0;
      while (n < inside.size() && (n == 0 ? is_name_start(inside[n]) : is_name_char(inside[n]))) ++n;
      const bool plain = n == inside.size(), defaulted = inside.compare(n, 2, ":-") == 0 || inside.compare(n, 1, "-") == 0;
      if (n == 0 || (!plain && !defaulted) || inside.find('\n') != std::string::npos) {  // not ours: kept as written
        word_ += text_[at_++];
        in_word_ = true;
        return;
      }
      name = inside.substr(0, n);
      has_fallback = !plain;
      if (has_fallback) fallback = inside.substr(inside[n] == ':' ? n + 2 : n + 1);
      at_ = close + 1;
    } else {
      ++at_;
      while (at_ < text_.size() && is_name_char(text_[at_])) name += text_[at_++];
    }
    const auto set = variables_.find(name);
    if (set == variables_.end() && !has_fallback) {
      word_ += text_.substr(begin, at_ - begin);
      in_word_ = true;
      return;
    }
    const std::string& value = set != variables_.end() ? set->second : fallback;
    if (quoted || in_assignment()) {
      word_ += value;
      in_word_ = true;
      return;
    }
    for (const char v : value) {
      if (v == ' ' || v == '\t' || v == '\n') {
        end_word();
      } else {
        word_ += v;
        in_word_ = true;
      }
    }
  }

  // The word being read is an assignment's (NAME=... among a command's leading assignments).
  bool in_assignment() const {
    if (assigned_name_length(word_) == 0) return false;
    for (std::size_t w = 0; w < current_.words.size(); ++w) {
      if (assigned_name_length(current_.words[w]) == 0 && !(w == 0 && is_declaration(current_.words[w]))) return false;
    }
    return true;
  }

  // A command of assignments alone (or export NAME=value ...) sets variables for the rest
  // of the script and runs nothing; assignments before a program are its environment only.
  bool set_variables(const std::vector<std::string>& words) {
    const std::size_t first = !words.empty() && is_declaration(words[0]) ? 1 : 0;
    for (std::size_t w = first; w < words.size(); ++w) {
      const bool bare_name = first == 1 && !words[w].empty() && !words[w].starts_with("-") && assigned_name_length(words[w] + "=") > 0;
      if (assigned_name_length(words[w]) == 0 && !bare_name) return false;
    }
    for (std::size_t w = first; w < words.size(); ++w) {
      if (const std::size_t n = assigned_name_length(words[w]); n > 0) variables_[words[w].substr(0, n)] = words[w].substr(n + 1);
    }
    return !words.empty();
  }

  void read_operator(char c) {
    end_word();
    if (c == '|') {  // the rest of a pipeline (| tee log, || true) is not the server's
      while (at_ < text_.size() && text_[at_] != '\n' && text_[at_] != ';' && !(text_[at_] == '&' && peek(1) != '>')) {
        if (const std::size_t length = continuation_length(); length > 0) {
          at_ += length;
          ++line_;
        } else {
          ++at_;
        }
      }
      return;
    }
    if (c == '&' && peek(1) == '>') {  // &> file
      ++at_;
      read_redirection();
      return;
    }
    if (c == '\n') ++line_;  // first: the next command starts on the next line
    end_command();
    at_ += c == '&' && peek(1) == '&' ? 2 : 1;
  }

  // > file, >> file, 2>&1, < file, >file: dropped with its target.
  void read_redirection() {
    word_.clear();
    in_word_ = false;
    while (peek() == '>' || peek() == '<') ++at_;
    if (peek() == '&') {
      ++at_;
      while (std::isdigit(static_cast<unsigned char>(peek())) != 0 || peek() == '-') ++at_;
      return;
    }
    while (peek() == ' ' || peek() == '\t') ++at_;
    while (at_ < text_.size() && std::string(" \t\r\n;&|").find(text_[at_]) == std::string::npos) {
      if (text_[at_] == '\'' || text_[at_] == '"') {
        read_quoted(text_[at_]);
      } else {
        ++at_;
      }
    }
    word_.clear();
    in_word_ = false;
  }

  void end_word() {
    if (in_word_) current_.words.push_back(word_);
    word_.clear();
    in_word_ = false;
  }

  void end_command() {
    end_word();
    if (!current_.words.empty() && !set_variables(current_.words)) commands_.push_back(std::move(current_));
    current_ = ShellCommand{};
    current_.line = line_;
  }

  const std::string& text_;
  const std::string& path_;
  std::size_t at_ = 0;
  int line_ = 1;
  std::string word_;
  bool in_word_ = false;
  ShellCommand current_{{}, 1};
  std::vector<ShellCommand> commands_;
  std::map<std::string, std::string> variables_;
};
}  // namespace

std::vector<ShellCommand> read_shell_commands(const std::string& text, const std::string& path) {
  return ShellReader(text, path).commands();
}

std::vector<ShellCommand> split_at_separators(const std::vector<std::string>& words) {
  std::vector<ShellCommand> commands(1);
  for (const std::string& word : words) {
    if (is_separator(word)) {
      if (!commands.back().words.empty()) commands.emplace_back();
    } else {
      commands.back().words.push_back(word);
    }
  }
  if (commands.back().words.empty()) commands.pop_back();
  return commands;
}

}  // namespace foresight
