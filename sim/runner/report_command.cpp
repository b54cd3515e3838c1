#include "sim/runner/report_command.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "sim/csv_reader.hpp"
#include "sim/input_error.hpp"
#include "sim/json_document.hpp"
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
                              {"throughput", fmt("%.4g tokens/s", number_at(r, "tokens_per_second"))},
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
                              {"throughput", fmt("%.4g requests/s", number_at(r["throughput"], "requests_per_s")) + ", " +
                                                 fmt("%.4g output tokens/s", number_at(r["throughput"], "output_tokens_per_s"))},
                              {"TTFT p99", fmt("%.4g s", number_at(latency["ttft"], "p99"))},
                              {"TPOT p99", fmt("%.4g s", number_at(latency["tpot"], "p99"))}});
  XyChart percentiles{"Latency percentiles", "percentile", "seconds", false, true, {}};
  std::size_t k = 0;
  for (const char* metric : {"ttft", "tpot", "itl", "e2e", "queueing"}) {
    Series s{metric, category_color(std::to_string(k++) + metric), {}, {}, true, 3};
    for (const auto& [label, q] : {std::pair{"p50", 50.0}, std::pair{"p90", 90.0}, std::pair{"p99", 99.0}}) {
      s.points.emplace_back(q, number_at(latency[metric], label));
    }
    percentiles.series.push_back(std::move(s));
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
    XyChart queue{"Requests running and waiting, all replicas", "time (s)", "requests", false, false, {}};
    Series running{"running", "#4e79a7", {}, {}, true, 0}, waiting{"waiting", "#e15759", {}, {}, true, 0};
    for (const auto& [t, counts] : totals) {
      running.points.emplace_back(t, counts.first);
      waiting.points.emplace_back(t, counts.second);
    }
    queue.series = {running, waiting};
    body += queue.svg(900, 300);
  }
  nlohmann::json& m = r["memory_per_gpu_bytes"];
  StackedBar memory{"per GPU", {}, number_at(m, "capacity") / 1e9};
  for (const auto& [key, value] : m.items()) {
    if (key != "capacity" && value.is_number()) memory.segments.push_back({key, value.get<double>() / 1e9});
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
  XyChart cdf{"Latency CDFs over requests", "seconds", "fraction of requests", true, false, {}};
  const char* names[3] = {"TTFT", "TPOT", "end to end"};
  for (int i = 0; i < 3; ++i) {
    std::sort(values[i].begin(), values[i].end());
    Series s{names[i], category_color(std::string("cdf") + names[i]), {}, {}, true, 0};
    const std::size_t step = std::max<std::size_t>(1, values[i].size() / 400);  // a few hundred points draw the curve
    for (std::size_t j = 0; j < values[i].size(); j += step) s.points.emplace_back(values[i][j], static_cast<double>(j + 1) / static_cast<double>(values[i].size()));
    if (!values[i].empty()) s.points.emplace_back(values[i].back(), 1.0);
    cdf.series.push_back(std::move(s));
  }
  return section("Latency distribution (" + std::to_string(values[2].size()) + " requests)", file, cdf.svg(900, 360));
}

std::string sweep_section(nlohmann::json& sweep, const std::string& file) {
  const auto goal = [&file](const std::string& text) {  // "max tokens_per_s" -> "tokens_per_s"
    if (text.size() < 5 || (text.rfind("max ", 0) != 0 && text.rfind("min ", 0) != 0)) {
      throw InputError(file, "pareto", "expected goals such as \"max tokens_per_s\", got \"" + text + "\"");
    }
    return text.substr(4);
  };
  const std::string x = goal(sweep["pareto"][1].get<std::string>()), y = goal(sweep["pareto"][0].get<std::string>());
  std::vector<bool> on_front(sweep["rows"].size(), false);
  for (auto& i : sweep["pareto_front"]) on_front[row_index(i, on_front.size(), file, "pareto_front")] = true;
  Series all{"feasible points", "#9aa7b8", {}, {}, false, 3}, front{"Pareto front", "#d62728", {}, {}, true, 4};
  std::size_t infeasible = 0;
  for (auto& row : sweep["rows"]) {
    if (!row["feasible"].get<bool>()) {
      ++infeasible;
      continue;
    }
    const double px = number_at(row["metrics"], x.c_str()), py = number_at(row["metrics"], y.c_str());
    std::string label;
    for (auto& a : row["set"]) label += a.get<std::string>() + " ";
    Series& target = on_front[row_index(row["index"], on_front.size(), file, "rows[].index")] ? front : all;
    target.points.emplace_back(px, py);
    target.titles.push_back(label + "(" + x + " " + fmt("%.4g", px) + ", " + y + " " + fmt("%.4g", py) + ")");
  }
  std::vector<std::size_t> order(front.points.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return front.points[a].first < front.points[b].first; });
  Series sorted_front = front;
  for (std::size_t i = 0; i < order.size(); ++i) {
    sorted_front.points[i] = front.points[order[i]];
    sorted_front.titles[i] = front.titles[order[i]];
  }
  XyChart scatter{"Sweep: " + y + " against " + x + " (" + std::to_string(infeasible) + " infeasible points not shown)", x, y, false, false,
                  {all, sorted_front}};
  std::string body = scatter.svg(900, 420);
  // Each swept value against the objective: throughput versus request rate when the rate was swept.
  const std::string objective = goal(sweep["objective"].get<std::string>());
  for (auto& dimension : sweep["grid"]) {
    const std::string key = dimension.get<std::string>().substr(0, dimension.get<std::string>().find('='));
    std::map<double, double> best;
    for (auto& row : sweep["rows"]) {
      if (!row["feasible"].get<bool>()) continue;
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
    Series line{objective, "#4e79a7", {best.begin(), best.end()}, {}, true, 3};
    const bool rate = key.find("rate") != std::string::npos || key.find("speedup") != std::string::npos;
    body += XyChart{(rate ? "Throughput versus request rate: best " : "Best ") + objective + " at each " + key, key, objective, false, false, {line}}.svg();
  }
  return section("Sweep of " + std::to_string(sweep["rows"].size()) + " points", file, body);
}

std::string capacity_section(nlohmann::json& capacity, const std::string& file) {
  std::vector<StackedBar> bars;
  for (auto& c : capacity["configurations"]) {
    bars.push_back({c["configuration"].get<std::string>().substr(0, 18), {{"requests/s within the SLOs", c["capacity_requests_per_s"].get<double>()}}, 0});
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
