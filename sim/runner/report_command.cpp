#include "sim/runner/report_command.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <tuple>

#include <nlohmann/json.hpp>

#include "sim/input/csv_reader.hpp"
#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"
#include "sim/runner/results.hpp"
#include "sim/runner/svg_chart.hpp"

namespace foresight {
namespace {
constexpr std::size_t kMaxTracks = 64;

std::string fmt(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

std::string figures(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::string html = "<table>";
  for (const auto& [name, value] : rows) html += "<tr><th>" + html_escape(name) + "</th><td>" + html_escape(value) + "</td></tr>";
  return html + "</table>";
}

std::string section(const std::string& title, const std::string& source, const std::string& body) {
  return "<section><h2>" + html_escape(title) + "</h2><p class=\"source\">" + html_escape(source) + "</p>" + body + "</section>\n";
}

double number_at(const nlohmann::json& j, const char* key) { return j.contains(key) && j[key].is_number() ? j[key].get<double>() : NAN; }

// 0 when absent. Read through integer_within: get<int>() on 1e300 is undefined behaviour.
std::int64_t whole_number_at(const nlohmann::json& j, const char* key, const std::string& file, std::int64_t high = 1'000'000'000) {
  if (!j.is_object() || !j.contains(key)) return 0;
  const std::optional<std::int64_t> value = integer_within(j[key], 0, high);
  if (!value) throw InputError(file, key, "expected a whole number in 0.." + std::to_string(high) + ", got " + j[key].dump());
  return *value;
}

std::size_t row_index(const nlohmann::json& index, std::size_t rows, const std::string& file, const std::string& path) {
  const std::optional<std::int64_t> value = integer_within(index, 0, static_cast<std::int64_t>(rows) - 1);
  if (!value) throw InputError(file, path, "expected a row index below " + std::to_string(rows) + ", got " + index.dump());
  return static_cast<std::size_t>(*value);
}

std::string training_section(nlohmann::json& r, const std::string& file) {
  std::string body = figures({{"scenario", r.value("scenario", "")},
                              {"step time", fmt("%.4g s", number_at(r, "step_time_s"))},
                              {"throughput", axis_number(number_at(r, "tokens_per_second")) + " tokens/s"},
                              {"MFU", fmt("%.1f%%", 100 * number_at(r, "mfu"))},
                              {"compute cost model", r["cost_models"].value("compute", "")}});
  StackedBar time{"GPU 0", {}, 0};
  for (auto& c : r["compute_by_class"]) time.segments.push_back({c["op_class"].get<std::string>(), c["time_ps"].get<double>() * 1e-9});
  for (auto& [key, value] : r["time_gpu0_ps"].items()) {
    if (key != "compute_busy" && value.get<double>() > 0) time.segments.push_back({key, value.get<double>() * 1e-9});
  }
  body += stacked_bars_svg("Where GPU 0's step time goes", "ms", {time});
  nlohmann::json& m = r["memory_per_gpu_bytes"];
  StackedBar memory{"stage " + std::to_string(whole_number_at(m, "stage", file)), {}, number_at(m, "capacity") / 1e9};
  for (const char* key : {"weights", "gradients", "optimizer", "activations", "reserved"}) memory.segments.push_back({key, number_at(m, key) / 1e9});
  body += stacked_bars_svg("Memory per GPU by category (the fullest stage)", "GB", {memory});
  return section("Training step: " + r.value("scenario", ""), file, body);
}

std::string trace_section(nlohmann::json& trace, const std::string& file) {
  std::map<std::pair<int, int>, std::string> names;
  std::map<int, std::string> processes;
  std::map<std::pair<int, int>, TimelineTrack> tracks;
  for (auto& e : trace["traceEvents"]) {
    const std::string ph = e.value("ph", "");
    const int pid = static_cast<int>(whole_number_at(e, "pid", file)), tid = static_cast<int>(whole_number_at(e, "tid", file));
    if (ph == "M" && e.value("name", "") == "process_name") processes[pid] = e["args"].value("name", "");
    if (ph == "M" && e.value("name", "") == "thread_name") names[{pid, tid}] = e["args"].value("name", "");
    if (ph != "X") continue;
    const double start = e.value("ts", 0.0) / 1e3, end = start + e.value("dur", 0.0) / 1e3;  // us to ms
    tracks[{pid, tid}].spans.push_back({start, end, e.value("cat", e.value("name", ""))});
  }
  std::vector<TimelineTrack> rows;
  for (auto& [key, track] : tracks) {
    if (rows.size() == kMaxTracks) break;
    // Traces without metadata (serving runs) name tracks by their ids.
    const auto process = processes.find(key.first);
    const auto thread = names.find(key);
    track.name = (process != processes.end() ? process->second : "pid " + std::to_string(key.first)) + " " +
                 (thread != names.end() ? thread->second : "tid " + std::to_string(key.second));
    rows.push_back(std::move(track));
  }
  const std::string note = tracks.size() > kMaxTracks ? " (the first " + std::to_string(kMaxTracks) + " of " + std::to_string(tracks.size()) + " tracks)" : "";
  return section("Timeline per rank and stream" + note, file, timeline_svg("Kernels and transfers over time", "ms", rows));
}

std::string serving_section(nlohmann::json& r, const std::string& file) {
  nlohmann::json& latency = r["latency_s"];
  std::string body = figures({{"scenario", r.value("scenario", "")},
                              {"requests", std::to_string(whole_number_at(r, "requests", file, 1'000'000'000'000))},
                              {"throughput", axis_number(number_at(r["throughput"], "requests_per_s")) + " requests/s" + ", " +
                                                 axis_number(number_at(r["throughput"], "output_tokens_per_s")) + " output tokens/s"},
                              {"TTFT p99", fmt("%.4g s", number_at(latency["ttft"], "p99"))},
                              {"TPOT p99", fmt("%.4g s", number_at(latency["tpot"], "p99"))}});
  XyChart percentiles{.title = "Latency percentiles", .x_label = "percentile", .y_label = "seconds", .log_y = true};
  for (const char* metric : {"ttft", "tpot", "itl", "e2e", "queueing"}) {
    Series s{metric, category_color(metric), {}, {}, true, 3};
    for (const auto& [label, q] : {std::pair{"p50", 50.0}, std::pair{"p90", 90.0}, std::pair{"p99", 99.0}}) {
      s.points.emplace_back(q, number_at(latency[metric], label));
    }
    percentiles.series.push_back(std::move(s));
  }
  // The run's SLOs, in their metric's colour.
  for (const auto& [key, metric, name] : {std::tuple{"ttft_s", "ttft", "TTFT"}, std::tuple{"tpot_s", "tpot", "TPOT"}}) {
    const double slo = r.contains("slo") && r["slo"].is_object() ? number_at(r["slo"], key) : NAN;
    if (std::isfinite(slo) && slo > 0) percentiles.y_lines.push_back({std::string(name) + " SLO " + fmt("%.4g s", slo), slo, category_color(metric)});
  }
  body += percentiles.svg();
  nlohmann::json& series = r["time_series"];
  if (series.contains("rows") && !series["rows"].empty()) {
    std::map<double, std::pair<double, double>> totals;  // time: running, waiting over every replica
    for (auto& row : series["rows"]) {
      auto& [running, waiting] = totals[row[0].get<double>()];
      running += row[2].get<double>();
      waiting += row[3].get<double>();
    }
    XyChart queue{.title = "Requests running and waiting, all replicas", .x_label = "time (s)", .y_label = "requests"};
    Series running{"running", "#4e79a7", {}, {}, true, 0}, waiting{"waiting", "#e15759", {}, {}, true, 0};
    for (const auto& [t, counts] : totals) {
      running.points.emplace_back(t, counts.first);
      waiting.points.emplace_back(t, counts.second);
    }
    queue.series = {running, waiting};
    body += queue.svg(900, 300);
  }
  nlohmann::json& m = r["memory_per_gpu_bytes"];
  // The bar is what is used; the line is the memory CUDA reports ("usable"), which the engine sizes against.
  const double usable = number_at(m, "usable");
  StackedBar memory{"per GPU", {}, (std::isfinite(usable) ? usable : number_at(m, "capacity")) / 1e9};
  for (const auto& [key, value] : m.items()) {
    if (key != "capacity" && key != "usable" && value.is_number()) memory.segments.push_back({key, value.get<double>() / 1e9});
  }
  body += stacked_bars_svg("Memory per GPU by category", "GB", {memory});
  return section("Serving: " + r.value("scenario", ""), file, body);
}

std::string requests_section(const std::string& file) {
  CsvReader reader(file, "per-request CSV");
  const std::size_t columns[3] = {reader.column("ttft_s"), reader.column("tpot_s"), reader.column("e2e_s")};
  std::vector<double> values[3];
  std::vector<std::string> cells;
  while (reader.next(cells)) {
    for (int i = 0; i < 3; ++i) {
      if (columns[i] >= cells.size()) throw InputError(file, "", "line " + std::to_string(reader.line()) + ": fewer cells than the header");
      const std::string& cell = cells[columns[i]];
      if (cell.empty()) continue;
      try {
        std::size_t used = 0;
        const double value = std::stod(cell, &used);
        if (used != cell.size() || !std::isfinite(value)) throw std::invalid_argument("junk");
        values[i].push_back(value);
      } catch (const std::exception&) {
        throw InputError(file, "", "line " + std::to_string(reader.line()) + ": expected a number of seconds, got \"" + cell + "\"");
      }
    }
  }
  XyChart cdf{.title = "Latency CDFs over requests", .x_label = "seconds", .y_label = "fraction of requests", .log_x = true};
  const char* names[3] = {"TTFT", "TPOT", "end to end"};
  const char* metrics[3] = {"ttft", "tpot", "e2e"};  // the colours the percentile chart gives them
  for (int i = 0; i < 3; ++i) {
    std::sort(values[i].begin(), values[i].end());
    Series s{names[i], category_color(metrics[i]), {}, {}, true, 0};
    const std::size_t step = std::max<std::size_t>(1, values[i].size() / 400);  // a few hundred points draw the curve
    for (std::size_t j = 0; j < values[i].size(); j += step) s.points.emplace_back(values[i][j], static_cast<double>(j + 1) / static_cast<double>(values[i].size()));
    if (!values[i].empty()) s.points.emplace_back(values[i].back(), 1.0);
    cdf.series.push_back(std::move(s));
  }
  return section("Latency distribution (" + std::to_string(values[2].size()) + " requests)", file, cdf.svg(900, 360));
}

// A sweep's `--constraint` text, "memory_gb<=70", as the test it makes of a row's metrics.
struct SweepConstraint {
  std::string text, metric;
  bool at_most;
  double bound;
  bool holds(const nlohmann::json& metrics) const {
    const double value = number_at(metrics, metric.c_str());
    return std::isfinite(value) && (at_most ? value <= bound : value >= bound);
  }
};

std::vector<SweepConstraint> sweep_constraints(nlohmann::json& sweep, const std::string& file) {
  std::vector<SweepConstraint> constraints;
  if (!sweep.contains("constraints")) return constraints;
  for (auto& c : sweep["constraints"]) {
    const std::string text = c.is_string() ? c.get<std::string>() : "";
    const std::size_t op = std::min(text.find("<="), text.find(">="));
    try {
      std::size_t used = 0;
      const std::string bound = op == std::string::npos ? "" : text.substr(op + 2);
      const double value = std::stod(bound, &used);
      if (used != bound.size()) throw std::invalid_argument("junk");
      constraints.push_back({text, text.substr(0, op), text.compare(op, 2, "<=") == 0, value});
    } catch (const std::exception&) {
      throw InputError(file, "constraints", "expected constraints such as \"memory_gb<=70\", got " + c.dump());
    }
  }
  return constraints;
}

// Sorted by x, so that the front draws as a line.
Series sorted_by_x(const Series& s) {
  std::vector<std::size_t> order(s.points.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return s.points[a].first < s.points[b].first; });
  Series sorted = s;
  for (std::size_t i = 0; i < order.size(); ++i) {
    sorted.points[i] = s.points[order[i]];
    sorted.titles[i] = s.titles[order[i]];
  }
  return sorted;
}

// Each swept value against the objective: throughput versus request rate when the rate was swept.
std::string best_per_value_charts(nlohmann::json& sweep, const std::string& objective, const std::vector<bool>& eligible) {
  std::string body;
  for (auto& dimension : sweep["grid"]) {
    const std::string key = dimension.get<std::string>().substr(0, dimension.get<std::string>().find('='));
    std::map<double, double> best;
    std::size_t position = 0;
    for (auto& row : sweep["rows"]) {
      if (!eligible[position++]) continue;
      for (auto& a : row["set"]) {
        const std::string text = a.get<std::string>();
        if (text.rfind(key + "=", 0) != 0) continue;
        try {
          const double value = std::stod(text.substr(key.size() + 1));
          const double metric = number_at(row["metrics"], objective.c_str());
          auto [at, inserted] = best.try_emplace(value, metric);
          if (!inserted) at->second = std::max(at->second, metric);
        } catch (const std::exception&) {
        }
      }
    }
    if (best.size() < 2) continue;
    const bool rate = key.find("rate") != std::string::npos || key.find("speedup") != std::string::npos;
    XyChart chart{.title = (rate ? "Throughput versus request rate: best " : "Best ") + objective + " at each " + key, .x_label = key,
                  .y_label = objective, .series = {Series{objective, "#4e79a7", {best.begin(), best.end()}, {}, true, 3}}, .auto_log = true};
    body += chart.svg();
  }
  return body;
}

std::string sweep_section(nlohmann::json& sweep, const std::string& file) {
  const auto goal = [&file](const std::string& text) {  // "max tokens_per_s" -> "tokens_per_s"
    if (text.size() < 5 || (text.rfind("max ", 0) != 0 && text.rfind("min ", 0) != 0)) {
      throw InputError(file, "pareto", "expected goals such as \"max tokens_per_s\", got \"" + text + "\"");
    }
    return text.substr(4);
  };
  const std::string x = goal(sweep["pareto"][1].get<std::string>()), y = goal(sweep["pareto"][0].get<std::string>());
  const std::vector<SweepConstraint> constraints = sweep_constraints(sweep, file);
  std::vector<bool> on_front(sweep["rows"].size(), false), eligible(sweep["rows"].size(), false);
  for (auto& i : sweep["pareto_front"]) on_front[row_index(i, on_front.size(), file, "pareto_front")] = true;
  // Points that meet every constraint, points that run but miss one (rings), and points that
  // cannot run (out of memory: grey rings, where their metrics were estimated).
  Series passing{"meets the constraints", "#4e79a7", {}, {}, false, 3}, front{"Pareto front", "#d62728", {}, {}, true, 4};
  Series missing{"misses a constraint", "#f28e2b", {}, {}, false, 4, true}, failing{"cannot run", "#9a9a9a", {}, {}, false, 4, true};
  std::size_t not_drawn = 0, position = 0;
  for (auto& row : sweep["rows"]) {
    const std::size_t index = row_index(row["index"], on_front.size(), file, "rows[].index");
    const std::size_t at = position++;  // eligible is by position in rows, on_front by a row's index
    const double px = number_at(row["metrics"], x.c_str()), py = number_at(row["metrics"], y.c_str());
    std::string label;
    for (auto& a : row["set"]) label += a.get<std::string>() + " ";
    label += "(" + x + " " + axis_number(px) + ", " + y + " " + axis_number(py) + ")";
    std::string missed;
    for (const SweepConstraint& c : constraints) missed += c.holds(row["metrics"]) ? "" : (missed.empty() ? "" : ", ") + c.text;
    const bool runs = row["feasible"].get<bool>();
    eligible[at] = runs && missed.empty();
    Series& target = !runs ? failing : !missed.empty() ? missing : on_front[index] ? front : passing;
    if (!std::isfinite(px) || !std::isfinite(py)) {
      ++not_drawn;
      continue;
    }
    target.points.emplace_back(px, py);
    target.titles.push_back(label + (!runs ? ": " + row.value("reason", std::string("cannot run")) : !missed.empty() ? ": misses " + missed : ""));
  }
  XyChart scatter{.title = "Sweep: " + y + " against " + x + (not_drawn > 0 ? " (" + std::to_string(not_drawn) + " points without these metrics)" : ""),
                  .x_label = x, .y_label = y, .auto_log = true};
  for (Series* s : {&passing, &missing, &failing}) {
    if (!s->points.empty()) scatter.series.push_back(*s);
  }
  scatter.series.push_back(sorted_by_x(front));
  std::string body = scatter.svg(900, 420);
  body += best_per_value_charts(sweep, goal(sweep["objective"].get<std::string>()), eligible);
  return section("Sweep of " + std::to_string(sweep["rows"].size()) + " points", file, body);
}

// "serving.scheduler=vllm serving.max_num_seqs=64" -> "scheduler=vllm max_num_seqs=64": the
// keys' last parts, which tell the configurations apart.
std::string short_configuration(const std::string& configuration) {
  std::string out;
  std::size_t start = 0;
  while (start < configuration.size()) {
    const std::size_t end = std::min(configuration.find(' ', start), configuration.size());
    const std::string part = configuration.substr(start, end - start);
    const std::size_t equals = part.find('='), dot = part.rfind('.', equals);
    out += (out.empty() ? "" : " ") + (dot == std::string::npos || equals == std::string::npos ? part : part.substr(dot + 1));
    start = end + 1;
  }
  return out.empty() ? "(the scenario)" : out;
}

std::string capacity_section(nlohmann::json& capacity, const std::string& file) {
  std::vector<StackedBar> bars;
  for (auto& c : capacity["configurations"]) {
    bars.push_back({short_configuration(c["configuration"].get<std::string>()), {{"requests/s within the SLOs", c["capacity_requests_per_s"].get<double>()}}, 0});
  }
  return section("Serving capacity within " + capacity.value("slo", ""), file, stacked_bars_svg("Highest request rate within the SLOs", "requests/s", bars, 900));
}

std::string input_section(const std::string& path) {
  if (std::filesystem::path(path).extension() == ".csv") return requests_section(path);
  // Not const: a missing key then reads as null (a type error the report turns into an input
  // error), where const operator[] would be undefined behaviour.
  nlohmann::json j = load_json_file(path);
  if (j.is_object() && j.contains("traceEvents")) return trace_section(j, path);
  // Sweep files written before results named their format carry it under "kind".
  if (j.is_object() && (j.value("format", "") == "foresight.sweep.v1" || j.value("kind", "") == "foresight.sweep.v1")) return sweep_section(j, path);
  if (j.is_object() && j.value("workload", "") == "serving") return serving_section(j, path);
  if (j.is_object() && j.contains("step_time_s")) return training_section(j, path);
  if (j.is_object() && j.contains("configurations") && j.contains("slo")) return capacity_section(j, path);
  throw InputError(path, "", "not a file the report knows: expected results (foresight run --out), a trace (--trace), a per-request CSV "
                             "(--requests), a sweep (foresight sweep --out x.json) or a capacity table (foresight capacity --out)");
}

constexpr const char* kStyle =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}h1{font-size:22px}h2{font-size:17px;margin-top:32px;"
    "border-bottom:1px solid #ddd}.source{color:#777;font-size:12px}table{border-collapse:collapse;margin:8px 0}th{text-align:left;"
    "padding:2px 12px 2px 0;color:#555;font-weight:normal}td{padding:2px 0}svg{display:block;margin:12px 0}";
}  // namespace

int run_report_command(const ReportOptions& o, std::ostream& out) {
  if (o.inputs.empty()) throw InputError("", "report", "give one or more results, trace, requests, sweep or capacity files");
  std::string sections;
  for (const std::string& input : o.inputs) {
    try {
      sections += input_section(input);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(input, "", std::string("a field the report needs is missing or malformed: ") + e.what());
    }
  }
  const std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>foresight report</title><style>" +
                           std::string(kStyle) + "</style></head><body><h1>foresight report</h1>\n" + sections + "</body></html>\n";
  write_file_atomically(o.out_path, html);
  out << "Wrote " << o.out_path << " (" << html.size() / 1024 << " KB, " << o.inputs.size() << " input" << (o.inputs.size() == 1 ? "" : "s")
      << "); open it in any browser, no network needed\n";
  return 0;
}

}  // namespace foresight
