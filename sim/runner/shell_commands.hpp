#pragma once
// The commands of a launch script as bash splits them, for the importers that take several
// servers' commands at once: comments, backslash-continued lines, quotes, and the separators
// between commands (a newline, ;, &, &&). Variables the script sets (NAME=value, export
// NAME=value) expand where it uses them ($NAME, ${NAME}, ${NAME:-default}), split into words
// outside double quotes; those commands run nothing and are not returned. Not a shell: unset
// variables, globs and substitutions stay as written; redirections are dropped, and so is
// whatever a command pipes into (| tee log).
#include <string>
#include <vector>

namespace foresight {

struct ShellCommand {
  std::vector<std::string> words;
  int line = 0;  // where it starts, from 1; 0 for words given on foresight's command line
};

// A script's text; `path` names it in errors (an unterminated quote).
std::vector<ShellCommand> read_shell_commands(const std::string& text, const std::string& path);

// Words from foresight's command line, split where a word is a separator (";", "&" or "&&",
// quoted so that the shell passes it on).
std::vector<ShellCommand> split_at_separators(const std::vector<std::string>& words);

}  // namespace foresight
