#include "sim/runner/sweep_command.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include "sim/input/json_document.hpp"
#include "sim/input/object_reader.hpp"
#include "sim/engine/progress.hpp"
#include "sim/runner/results.hpp"
#include "sim/runner/sweep_analysis.hpp"
#include "sim/runner/sweep_mpi.hpp"

namespace foresight {
namespace {
std::string value_text(const nlohmann::json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

}  // namespace

void read_sweep_spec(SweepOptions& o) {
  const nlohmann::json document = load_json_file(o.spec_path);
  Diagnostics diagnostics(o.spec_path);
  {
    ObjectReader r(document, "", diagnostics);
    const std::string scenario = r.string("scenario", "", {"The scenario file, relative to this file; default: the built-in one."});
    if (!scenario.empty()) o.scenario = (std::filesystem::path(o.spec_path).parent_path() / scenario).string();
    if (const nlohmann::json* set = r.raw("set", "array of strings", "key=value overrides for every point.")) {
      if (!set->is_array()) r.error("set", "expected an array of \"key=value\" strings");
      for (const auto& item : *set) o.overrides.push_back(value_text(item));
    }
    static const nlohmann::json kNoGrid = nlohmann::json::object();
    const nlohmann::json* grid = r.raw("grid", "object", "Each key's values, as arrays; every combination is a point.");
    if (grid == nullptr || !grid->is_object() || grid->empty()) {
      r.error("grid", "expected an object of key: [values]");
      grid = &kNoGrid;
    }
    for (const auto& [key, values] : grid->items()) {
      if (!values.is_array() || values.empty()) {
        diagnostics.error("grid." + key, "expected a non-empty array of values");
        continue;
      }
      GridDimension dimension{key, {}};
      for (const auto& value : values) dimension.values.push_back(value_text(value));
      o.spec_grid.push_back(std::move(dimension));
    }
    o.objective = r.string("objective", o.objective, {"throughput, cost, latency, or max:METRIC / min:METRIC."});
    if (const nlohmann::json* constraints = r.raw("constraints", "array of strings", "METRIC<=NUMBER or METRIC>=NUMBER.")) {
      for (const auto& c : *constraints) o.constraints.push_back(value_text(c));
    }
    o.pareto = r.string("pareto", o.pareto, {"Two goals for the Pareto front, \"goal,goal\"."});
    o.gpu_hour_usd = r.number("gpu_hour_usd", o.gpu_hour_usd, {"Price of one GPU hour, for the cost metrics.", "USD", 0.0});
    o.sample = r.integer("sample", o.sample, {"Run this many grid points drawn at random (0: all).", "", 0.0});
    o.seed = static_cast<std::uint64_t>(r.integer("seed", static_cast<std::int64_t>(o.seed), {"Seed of the draw.", "", 0.0}));
  }
  diagnostics.throw_if_any();
}

namespace {

std::string csv_cell(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::vector<std::string> metric_names(const std::vector<SweepRow>& rows) {
  std::vector<std::string> names;
  for (const SweepRow& row : rows) {
    for (const auto& [name, value] : row.metrics) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  return names;
}

}  // namespace

// One column per swept key, so that a spreadsheet or pandas can group by each.
std::string rows_csv(const std::vector<SweepRow>& rows, const std::vector<GridDimension>& dimensions) {
  const std::vector<std::string> names = metric_names(rows);
  std::string text = "index";
  for (const GridDimension& dimension : dimensions) text.append(",").append(csv_cell(dimension.key));
  text += ",feasible,reason";
  for (const std::string& name : names) text += "," + name;
  text += "\n";
  for (const SweepRow& row : rows) {
    text += std::to_string(row.index);
    for (std::size_t d = 0; d < dimensions.size(); ++d) text.append(",").append(csv_cell(row.assignments.at(d).substr(dimensions[d].key.size() + 1)));
    text += std::string(",") + (row.feasible ? "true" : "false") + "," + csv_cell(row.reason);
    for (const std::string& name : names) {
      const double value = row.metric(name);
      char cell[32] = "";
      if (!std::isnan(value)) std::snprintf(cell, sizeof cell, "%.6g", value);
      text += std::string(",") + cell;
    }
    text += "\n";
  }
  return text;
}

namespace {
// The grid as "key=v1,v2,..." lines, for the results file and the report.
std::vector<std::string> grid_labels(const std::vector<GridDimension>& dimensions) {
  std::vector<std::string> labels;
  for (const GridDimension& dimension : dimensions) {
    std::string label = dimension.key + "=";
    for (std::size_t i = 0; i < dimension.values.size(); ++i) label += (i > 0 ? "," : "") + dimension.values[i];
    labels.push_back(std::move(label));
  }
  return labels;
}

nlohmann::json sweep_json(const SweepOptions& o, const std::vector<GridDimension>& dimensions, const std::vector<SweepRow>& rows, const Goal& objective,
                          const std::vector<const SweepRow*>& best, const std::pair<Goal, Goal>& pareto, const std::vector<const SweepRow*>& front) {
  nlohmann::json all = nlohmann::json::array(), best_indices = nlohmann::json::array(), front_indices = nlohmann::json::array();
  for (const SweepRow& row : rows) all.push_back(row.to_json());
  for (const SweepRow* row : best) best_indices.push_back(row->index);
  for (const SweepRow* row : front) front_indices.push_back(row->index);
  return {{"format", "foresight.sweep.v1"}, {"scenario", o.scenario.empty() ? "(built-in default)" : o.scenario}, {"set", o.overrides},
          {"grid", grid_labels(dimensions)}, {"objective", objective.text()}, {"constraints", o.constraints},
          {"pareto", {pareto.first.text(), pareto.second.text()}}, {"best", best_indices}, {"pareto_front", front_indices}, {"rows", all}};
}

std::string format_row(const SweepRow& row, const std::vector<std::string>& columns) {
  std::string text;
  char cell[32];
  for (const std::string& name : columns) {
    std::snprintf(cell, sizeof cell, " %15.4g", row.metric(name));
    text += cell;
  }
  return text + "  " + row.label() + "\n";
}

}  // namespace

void print_rows(std::ostream& out, const std::string& title, const std::vector<const SweepRow*>& rows, const std::vector<std::string>& columns,
                std::size_t limit) {
  out << title << "\n";
  char header[32];
  out << " ";
  for (const std::string& name : columns) {
    std::snprintf(header, sizeof header, " %15.15s", name.c_str());
    out << header;
  }
  out << "  set\n";
  for (std::size_t i = 0; i < rows.size() && i < limit; ++i) out << " " << format_row(*rows[i], columns);
  if (rows.size() > limit) out << "  ... " << rows.size() - limit << " more in the results file\n";
}

namespace {
// Groups infeasible points by what was wrong (the JSON paths of the problems, or "out of
// memory"), with one example each.
void print_infeasible(std::ostream& out, const std::vector<SweepRow>& rows) {
  std::map<std::string, std::pair<int, const SweepRow*>> groups;
  for (const SweepRow& row : rows) {
    if (row.feasible) continue;
    std::string key;
    if (row.reason.rfind("out of memory", 0) == 0) {
      key = "out of memory";
    } else {
      for (std::size_t start = 0; start < row.reason.size();) {
        const std::size_t end = std::min(row.reason.find("; ", start), row.reason.size());
        const std::string path = row.reason.substr(start, row.reason.find(':', start) - start);
        if (key.find(path) == std::string::npos) key += (key.empty() ? "" : ", ") + path;
        start = end + 2;
      }
    }
    auto& [count, example] = groups.try_emplace(key, 0, &row).first->second;
    ++count;
  }
  if (groups.empty()) return;
  out << "\nInfeasible points, by what was wrong (one example each):\n";
  for (const auto& [key, group] : groups) {
    char line[64];
    std::snprintf(line, sizeof line, "  %5d  ", group.first);
    out << line << key << "\n         e.g. " << group.second->label() << ": " << group.second->reason << "\n";
  }
}

// A misspelled metric would leave every point failing its constraint, or none ranked.
void check_metric(const std::string& metric, bool serving, const std::string& flag) {
  const std::vector<std::string>& names = sweep_metric_names(serving);
  if (std::find(names.begin(), names.end(), metric) != names.end()) return;
  std::string message = "unknown metric \"" + metric + "\"" + did_you_mean(metric, names) + "; " + (serving ? "serving" : "training") + " sweeps report";
  for (const std::string& name : names) message += (&name == &names.front() ? " " : ", ") + name;
  throw InputError("", flag, message);
}

// The scenario of the sweep's first point, if it loads (grid values may be needed for it to).
std::optional<Scenario> points_example(const SweepSpec& spec) {
  std::vector<std::string> overrides = spec.overrides;
  if (!spec.points.empty()) overrides.insert(overrides.end(), spec.points.front().begin(), spec.points.front().end());
  try {
    return spec.scenario.empty() ? default_scenario(overrides) : load_scenario(spec.scenario, overrides);
  } catch (const InputError&) {
    return std::nullopt;
  }
}

// The *_to_target metrics exist only where training.target is set: refuse them up front
// rather than rank every point by a missing value.
void check_target_metrics(const SweepSpec& spec, const std::optional<Scenario>& example,
                          const std::vector<std::pair<std::string, std::string>>& uses) {
  if (!example || example->is_serving || example->training.target.set()) return;
  for (const auto& [metric, flag] : uses) {
    if (metric.size() > 10 && metric.compare(metric.size() - 10, 10, "_to_target") == 0) {
      throw InputError(spec.scenario, flag, metric + " needs a target: set training.target.tokens (or .steps), e.g. --set training.target.tokens=1e12");
    }
  }
}

std::pair<Goal, Goal> pareto_goals(const SweepOptions& o, const Goal& objective, bool serving) {
  if (!o.pareto.empty()) {
    const auto comma = o.pareto.find(',');
    if (comma == std::string::npos) throw InputError("", "--pareto", "\"" + o.pareto + "\": expected two goals, like max:tokens_per_s,min:gpus");
    return {parse_goal(o.pareto.substr(0, comma), serving, "--pareto"), parse_goal(o.pareto.substr(comma + 1), serving, "--pareto")};
  }
  const Goal throughput = parse_goal("throughput", serving, "--pareto");
  if (objective.metric != throughput.metric) return {objective, throughput};
  return {objective, serving ? Goal{"e2e_p99_s", false} : Goal{"gpus", false}};
}
}  // namespace

SweepPlan plan_sweep(SweepOptions& o) {
  if (!o.spec_path.empty()) read_sweep_spec(o);
  SweepPlan plan;
  // Serving or training decides what "throughput" and "latency" mean; the points
  // themselves may need their grid values to be valid, so only the document is read here.
  plan.serving = !o.scenario.empty() && load_json_file(o.scenario).contains("serving");
  std::vector<GridDimension>& dimensions = plan.dimensions;
  if (!o.gpus.empty()) {
    if (plan.serving) throw InputError(o.scenario, "--gpus", "a serving scenario is sized by serving.replicas, serving.tp and serving.pp");
    dimensions.push_back(parse_grid_flag("hardware.gpus=" + o.gpus, "--gpus"));
    o.overrides.insert(o.overrides.begin(), "training.parallel.dp=auto");  // before --set, so an explicit dp still wins
  }
  for (const std::string& flag : o.grid) dimensions.push_back(parse_grid_flag(flag, "--grid"));
  dimensions.insert(dimensions.end(), o.spec_grid.begin(), o.spec_grid.end());
  if (dimensions.empty()) throw InputError("", "--grid", "a sweep needs at least one --grid key=v1,v2,... (or a --spec file with a grid)");
  for (const std::string& path : o.out_paths) {
    const std::string extension = std::filesystem::path(path).extension().string();
    if (extension != ".csv" && extension != ".json") throw InputError(path, "--out", "expected a .csv or .json file name");
    // Said before the sweep runs, not after minutes of it.
    const std::filesystem::path folder = std::filesystem::path(path).parent_path();
    std::error_code error;
    if (!folder.empty() && !std::filesystem::is_directory(folder, error)) throw InputError(path, "--out", "the folder " + folder.string() + " does not exist");
  }
  std::vector<std::vector<std::string>> points = grid_points(dimensions);
  plan.grid_size = points.size();
  if (o.sample > 0) points = sample_points(std::move(points), static_cast<std::size_t>(o.sample), o.seed);
  plan.spec = SweepSpec{o.scenario, o.overrides, std::move(points), o.gpu_hour_usd};
  if (!o.cache_dir.empty()) {
    plan.cache = std::make_shared<const ResultCache>(o.cache_dir);
    plan.spec.cache = plan.cache.get();
  }
  plan.objective = parse_goal(o.objective, plan.serving, "--objective");
  plan.constraints = parse_constraints(o.constraints);
  plan.pareto = pareto_goals(o, plan.objective, plan.serving);
  check_metric(plan.objective.metric, plan.serving, "--objective");
  check_metric(plan.pareto.first.metric, plan.serving, "--pareto");
  check_metric(plan.pareto.second.metric, plan.serving, "--pareto");
  for (const Constraint& c : plan.constraints) check_metric(c.metric, plan.serving, "--constraint");
  check_grid_keys(plan.spec, dimensions);
  std::vector<std::pair<std::string, std::string>> uses = {{plan.objective.metric, "--objective"}};
  if (!o.pareto.empty()) uses.insert(uses.end(), {{plan.pareto.first.metric, "--pareto"}, {plan.pareto.second.metric, "--pareto"}});
  for (const Constraint& c : plan.constraints) uses.emplace_back(c.metric, "--constraint");
  check_target_metrics(plan.spec, points_example(plan.spec), uses);
  return plan;
}

int run_sweep_command(SweepOptions o, std::ostream& out) {
  const SweepPlan plan = plan_sweep(o);
  const SweepSpec& spec = plan.spec;
  const std::vector<GridDimension>& dimensions = plan.dimensions;
  const Goal& objective = plan.objective;
  const std::vector<Constraint>& constraints = plan.constraints;
  const std::pair<Goal, Goal>& pareto = plan.pareto;

  const MpiSession mpi;
  const int threads = thread_count(o.threads);
  const auto start = std::chrono::steady_clock::now();
  // Points dealt by their cost, so that a grid whose dimensions change the cost in step with
  // the ranks' count (micro-batch 1 and 8 over two ranks) does not leave one rank the slow half.
  const std::vector<int> owner = mpi.size() > 1 ? deal_by_cost(point_costs(spec, threads), mpi.size()) : std::vector<int>(spec.points.size(), 0);
  const auto mine = [&](std::size_t i) { return owner[i] == mpi.rank(); };
  Progress progress(mpi.size() > 1 ? "sweep (rank 0's share)" : "sweep", static_cast<int>(std::count(owner.begin(), owner.end(), mpi.rank())),
                    o.quiet || mpi.rank() != 0);
  const std::vector<SweepRow> rows = mpi.gather(run_sweep_points(spec, threads, mine, [&](const SweepRow& row) { progress.step(row.label()); }));
  progress.finish();
  if (mpi.rank() != 0) return 0;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const std::vector<const SweepRow*> best = ranked(rows, objective, constraints);
  const std::vector<const SweepRow*> front = pareto_front(rows, pareto.first, pareto.second, constraints);
  const auto feasible = std::count_if(rows.begin(), rows.end(), [](const SweepRow& r) { return r.feasible; });
  char line[256];
  std::snprintf(line, sizeof line, "# foresight sweep: %zu points (%lld feasible, %zu meet the constraints) in %.1f s on %d thread%s x %d rank%s\n",
                rows.size(), static_cast<long long>(feasible), best.size(), seconds, threads, threads == 1 ? "" : "s", mpi.size(),
                mpi.size() == 1 ? "" : "s");
  out << line;
  if (plan.cache && mpi.size() == 1) {
    out << "# " << plan.cache->hits() << " of them from the cache in " << plan.cache->folder() << ", " << plan.cache->stores()
        << " simulated and kept there\n";
  }
  if (spec.points.size() < plan.grid_size) {
    out << "# a random sample of " << spec.points.size() << " of the grid's " << plan.grid_size << " points (seed " << o.seed << ")\n";
  }
  out << "# objective: " << objective.text();
  for (const Constraint& c : constraints) out << (&c == &constraints.front() ? "; constraints: " : ", ") << c.text;
  out << "\n\n";
  std::vector<std::string> columns = {objective.metric};
  for (const std::string& name : {pareto.first.metric, pareto.second.metric, std::string("gpus"), std::string("usd_per_million_tokens")}) {
    if (std::find(columns.begin(), columns.end(), name) == columns.end()) columns.push_back(name);
  }
  print_rows(out, "Best points (" + objective.text() + "):", best, columns, static_cast<std::size_t>(o.top));
  out << "\n";
  print_rows(out, "Pareto front (" + pareto.first.text() + ", " + pareto.second.text() + "):", front, columns, 20);
  print_infeasible(out, rows);
  for (const std::string& path : o.out_paths) {
    const bool csv = std::filesystem::path(path).extension() == ".csv";
    write_file_atomically(path, csv ? rows_csv(rows, dimensions) : sweep_json(o, dimensions, rows, objective, best, pareto, front).dump(1) + "\n");
    out << "Wrote " << rows.size() << " rows to " << path << "\n";
  }
  return 0;
}

}  // namespace foresight
