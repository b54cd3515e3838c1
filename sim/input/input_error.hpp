#pragma once
// Bad user input (scenario, trace, profile, CLI flag) is reported as an InputError that
// carries every problem found, each naming the file, the JSON path and what was expected.
// The CLI turns it into exit status 2; asserts are kept for internal invariants.
#include <stdexcept>
#include <string>
#include <vector>

namespace foresight {

struct Problem {
  std::string file;
  std::string path;  // "training.parallel.tp", "" for the document as a whole
  std::string message;
};

std::string format_problem(const Problem& problem);

class InputError : public std::runtime_error {
 public:
  explicit InputError(std::vector<Problem> problems);
  InputError(std::string file, std::string path, std::string message)
      : InputError(std::vector<Problem>{{std::move(file), std::move(path), std::move(message)}}) {}
  const std::vector<Problem>& problems() const { return problems_; }

 private:
  std::vector<Problem> problems_;
};

// Collects problems while a whole document is read, so that one run reports them all.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}
  void error(std::string path, std::string message);
  bool empty() const { return problems_.empty(); }
  const std::string& file() const { return file_; }
  const std::vector<Problem>& problems() const { return problems_; }
  void throw_if_any() const;

 private:
  std::string file_;
  std::vector<Problem> problems_;
};

// The closest candidate within a small edit distance, or "" when none is close.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);
// " (did you mean \"x\"?)" for the closest candidate, or "" when none is close.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace foresight
