#include "sim/runner/regress_command.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "sim/input/json_document.hpp"
#include "sim/engine/progress.hpp"
#include "sim/input/object_reader.hpp"
#include "sim/runner/results.hpp"
#include "sim/runner/sweep.hpp"

namespace foresight {
namespace {
constexpr const char* kFormat = "foresight.regress.v1";

struct Case {
  std::string name, scenario;  // scenario as written in the file (relative to it)
  std::vector<std::string> overrides;
  std::vector<std::pair<std::string, double>> expected;  // empty: record every metric on --update
  std::vector<std::pair<std::string, double>> tolerances;
};

struct Baseline {
  double default_tolerance = 1e-3;
  std::vector<Case> cases;
};

std::vector<std::pair<std::string, double>> read_numbers(ObjectReader& r, const char* key, std::string_view doc) {
  std::vector<std::pair<std::string, double>> numbers;
  const nlohmann::json* object = r.raw(key, "object", doc);
  if (object == nullptr) return numbers;
  if (!object->is_object()) {
    r.error(key, "expected an object of metric: number");
    return numbers;
  }
  for (const auto& [name, value] : object->items()) {
    if (!value.is_number()) {
      r.diagnostics().error(r.child_path(key) + "." + name, "expected a number");
      continue;
    }
    numbers.emplace_back(name, value.get<double>());
  }
  return numbers;
}

Baseline read_baseline(const std::string& path) {
  const nlohmann::json document = load_json_file(path);
  Diagnostics diagnostics(path);
  Baseline b;
  {
    ObjectReader root(document, "", diagnostics);
    root.required_string("format", {"The baseline format.", "", {}, {}, false, {kFormat}});
    b.default_tolerance = root.number("tolerance", b.default_tolerance, {"Relative change allowed for every metric.", "", 0.0});
    const nlohmann::json* cases = root.raw("cases", "array", "The scenarios of the suite.");
    if (cases == nullptr || !cases->is_array() || cases->empty()) root.error("cases", "expected a non-empty array of cases");
    for (std::size_t i = 0; cases && cases->is_array() && i < cases->size(); ++i) {
      ObjectReader r((*cases)[i], "cases[" + std::to_string(i) + "]", diagnostics);
      Case c;
      c.name = r.required_string("name", {"Shown in the table."});
      c.scenario = r.string("scenario", "", {"Scenario file, relative to the baseline; default: the built-in one."});
      if (const nlohmann::json* set = r.raw("set", "array of strings", "key=value overrides.")) {
        for (const auto& item : *set) c.overrides.push_back(item.is_string() ? item.get<std::string>() : item.dump());
      }
      c.expected = read_numbers(r, "metrics", "The stored predictions.");
      c.tolerances = read_numbers(r, "tolerances", "Relative tolerances for this case's metrics.");
      b.cases.push_back(std::move(c));
    }
  }
  diagnostics.throw_if_any();
  return b;
}

double find(const std::vector<std::pair<std::string, double>>& values, const std::string& name, double fallback) {
  for (const auto& [key, value] : values) {
    if (key == name) return value;
  }
  return fallback;
}

nlohmann::json baseline_json(const Baseline& b, const std::vector<SweepRow>& rows) {
  nlohmann::json cases = nlohmann::json::array();
  for (std::size_t i = 0; i < b.cases.size(); ++i) {
    const Case& c = b.cases[i];
    nlohmann::json metrics = nlohmann::json::object(), tolerances = nlohmann::json::object();
    for (const auto& [name, value] : rows[i].metrics) {
      if (c.expected.empty() || !std::isnan(find(c.expected, name, NAN))) metrics[name] = value;
    }
    for (const auto& [name, value] : c.tolerances) tolerances[name] = value;
    nlohmann::json entry = {{"name", c.name}, {"scenario", c.scenario}, {"set", c.overrides}, {"metrics", metrics}};
    if (!c.tolerances.empty()) entry["tolerances"] = tolerances;
    cases.push_back(std::move(entry));
  }
  return {{"format", kFormat}, {"tolerance", b.default_tolerance}, {"cases", cases}};
}
}  // namespace

int run_regress_command(const RegressOptions& o, std::ostream& out) {
  const Baseline baseline = read_baseline(o.baseline);
  const std::filesystem::path folder = std::filesystem::path(o.baseline).parent_path();
  std::vector<SweepRow> rows(baseline.cases.size());
  // On stderr, once the suite has taken a second.
  Progress progress("regress", static_cast<int>(baseline.cases.size()), false, 1.0);
  parallel_for(baseline.cases.size(), o.threads, [&](std::size_t i) {
    const Case& c = baseline.cases[i];
    rows[i] = run_sweep_point({c.scenario.empty() ? "" : (folder / c.scenario).string(), c.overrides, {{}}, 2.0}, 0);
    progress.step(c.name);
  });
  progress.finish();
  int changed = 0, failed = 0;
  char line[320];
  std::snprintf(line, sizeof line, "# %-30s %-24s %14s %14s %9s %8s  %s\n", "case", "metric", "baseline", "now", "change", "allowed", "status");
  out << "# foresight regress: " << baseline.cases.size() << " cases from " << o.baseline << "\n" << line;
  for (std::size_t i = 0; i < baseline.cases.size(); ++i) {
    const Case& c = baseline.cases[i];
    if (rows[i].metrics.empty()) {  // the scenario did not read; out-of-memory results are still predictions
      ++failed;
      out << "  " << c.name << ": FAILED TO RUN: " << rows[i].reason << "\n";
      continue;
    }
    for (const auto& [name, expected] : c.expected) {
      const double now = rows[i].metric(name);
      const double change = expected != 0 ? now / expected - 1 : now - expected;
      const double allowed = find(c.tolerances, name, baseline.default_tolerance);
      const bool moved = std::isnan(now) || std::fabs(change) > allowed;
      changed += moved ? 1 : 0;
      std::snprintf(line, sizeof line, "  %-30s %-24s %14.6g %14.6g %+8.3f%% %7.3f%%  %s\n", c.name.c_str(), name.c_str(), expected, now, 100 * change,
                    100 * allowed, std::isnan(now) ? "MISSING" : moved ? "CHANGED" : "ok");
      out << line;
    }
  }
  if (o.update) {
    if (failed > 0) throw InputError(o.baseline, "cases", std::to_string(failed) + " cases failed to run; not updating the baseline");
    write_file_atomically(o.baseline, baseline_json(baseline, rows).dump(2) + "\n");
    out << "Updated " << o.baseline << " with the values now predicted.\n";
    return 0;
  }
  out << (changed + failed == 0 ? "All predictions within tolerance.\n"
                                : std::to_string(changed) + " predictions moved beyond tolerance, " + std::to_string(failed) +
                                      " cases failed to run: a regression unless intended (accept with --update).\n");
  return changed + failed == 0 ? 0 : 1;
}

}  // namespace foresight
