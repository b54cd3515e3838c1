#include "sim/runner/shell_commands.hpp"

#include <cctype>

#include "sim/input/input_error.hpp"

namespace foresight {
namespace {
bool is_separator(const std::string& word) { return word == ";" || word == "&" || word == "&&"; }

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
      if (quote == '"' && text_[at_] == '\\' && std::string("\"\\$`").find(peek(1)) != std::string::npos && peek(1) != '\0') ++at_;
      if (text_[at_] == '\n') ++line_;
      word_ += text_[at_++];
    }
    if (at_ >= text_.size()) throw InputError(path_, "line " + std::to_string(opened), std::string("a ") + quote + " quote that never closes");
    ++at_;
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
    if (!current_.words.empty()) commands_.push_back(std::move(current_));
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
