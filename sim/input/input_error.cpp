#include "sim/input/input_error.hpp"

#include <algorithm>

namespace foresight {
namespace {
std::string join(const std::vector<Problem>& problems) {
  std::string text;
  for (const Problem& problem : problems) {
    if (!text.empty()) text += '\n';
    text += format_problem(problem);
  }
  return text;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
      diagonal = above;
    }
  }
  return row[b.size()];
}
}  // namespace

std::string format_problem(const Problem& problem) {
  std::string text = problem.file;
  if (!problem.path.empty()) text += (text.empty() ? "" : ": ") + problem.path;
  return text + (text.empty() ? "" : ": ") + problem.message;
}

InputError::InputError(std::vector<Problem> problems)
    : std::runtime_error(join(problems)), problems_(std::move(problems)) {}

void Diagnostics::error(std::string path, std::string message) {
  problems_.push_back({file_, std::move(path), std::move(message)});
}

void Diagnostics::throw_if_any() const {
  if (!problems_.empty()) throw InputError(problems_);
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  // A name typed without its suffix ("h100" for "h100_sxm") is the likeliest intent.
  std::string best;
  for (const std::string& candidate : candidates) {
    const bool extends = word.size() >= 3 && candidate.rfind(word, 0) == 0;
    if (extends && (best.empty() || candidate.size() < best.size())) best = candidate;
  }
  if (!best.empty()) return best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const std::string& candidate : candidates) {
    const std::size_t d = edit_distance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string suggestion = closest_match(word, candidates);
  return suggestion.empty() ? std::string() : " (did you mean \"" + suggestion + "\"?)";
}

}  // namespace foresight
