#include "sim/runner/sweep_analysis.hpp"

#include <algorithm>
#include <cmath>

#include "sim/input/input_error.hpp"

namespace foresight {
namespace {
bool better(double a, double b, const Goal& goal) { return goal.maximize ? a > b : a < b; }
bool at_least_as_good(double a, double b, const Goal& goal) { return goal.maximize ? a >= b : a <= b; }

bool eligible(const SweepRow& row, const Goal& goal, const std::vector<Constraint>& constraints) {
  if (!row.feasible || std::isnan(row.metric(goal.metric))) return false;
  return std::all_of(constraints.begin(), constraints.end(), [&](const Constraint& c) { return c.holds(row); });
}
}  // namespace

std::string Goal::text() const { return (maximize ? "max " : "min ") + metric; }

Goal parse_goal(const std::string& text, bool serving, const std::string& flag) {
  if (text == "throughput") return {serving ? "output_tokens_per_s" : "tokens_per_s", true};
  if (text == "cost") return {"usd_per_million_tokens", false};
  if (text == "latency") return {serving ? "e2e_p99_s" : "step_time_s", false};
  const auto colon = text.find(':');
  const std::string direction = text.substr(0, colon);
  if (colon == std::string::npos || colon + 1 == text.size() || (direction != "max" && direction != "min")) {
    throw InputError("", flag, "\"" + text + "\": expected throughput, cost, latency, or max:METRIC / min:METRIC");
  }
  return {text.substr(colon + 1), direction == "max"};
}

bool Constraint::holds(const SweepRow& row) const {
  const double actual = row.metric(metric);
  return !std::isnan(actual) && (at_most ? actual <= value : actual >= value);
}

std::vector<Constraint> parse_constraints(const std::vector<std::string>& texts) {
  std::vector<Constraint> constraints;
  for (const std::string& text : texts) {
    const auto le = text.find("<="), ge = text.find(">=");
    const auto at = le != std::string::npos ? le : ge;
    Constraint c;
    c.text = text;
    c.at_most = le != std::string::npos;
    std::size_t used = 0;
    try {
      if (at == std::string::npos || at == 0) throw std::invalid_argument("no operator");
      c.metric = text.substr(0, at);
      c.value = std::stod(text.substr(at + 2), &used);
      if (used != text.size() - at - 2) throw std::invalid_argument("trailing text");
    } catch (const std::exception&) {
      throw InputError("", "--constraint", "\"" + text + "\": expected METRIC<=NUMBER or METRIC>=NUMBER, like memory_gb<=70");
    }
    constraints.push_back(c);
  }
  return constraints;
}

std::vector<const SweepRow*> ranked(const std::vector<SweepRow>& rows, const Goal& goal, const std::vector<Constraint>& constraints) {
  std::vector<const SweepRow*> kept;
  for (const SweepRow& row : rows) {
    if (eligible(row, goal, constraints)) kept.push_back(&row);
  }
  std::stable_sort(kept.begin(), kept.end(), [&](const SweepRow* a, const SweepRow* b) { return better(a->metric(goal.metric), b->metric(goal.metric), goal); });
  return kept;
}

std::vector<const SweepRow*> pareto_front(const std::vector<SweepRow>& rows, const Goal& first, const Goal& second,
                                          const std::vector<Constraint>& constraints) {
  std::vector<const SweepRow*> front;
  const std::vector<const SweepRow*> candidates = ranked(rows, first, constraints);
  for (const SweepRow* row : candidates) {
    if (std::isnan(row->metric(second.metric))) continue;
    const bool dominated = std::any_of(candidates.begin(), candidates.end(), [&](const SweepRow* other) {
      const double o1 = other->metric(first.metric), o2 = other->metric(second.metric);
      const double r1 = row->metric(first.metric), r2 = row->metric(second.metric);
      return at_least_as_good(o1, r1, first) && at_least_as_good(o2, r2, second) && (better(o1, r1, first) || better(o2, r2, second));
    });
    if (!dominated) front.push_back(row);
  }
  return front;
}

}  // namespace foresight
