#include "workloads/serving_traffic.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sim/csv_reader.hpp"
#include "sim/json_document.hpp"
#include "sim/input_error.hpp"
#include "sim/random.hpp"

namespace foresight {
namespace {
std::int32_t draw_length(RandomStream& rng, const LengthDistribution& d) {
  if (d.max == d.min) return static_cast<std::int32_t>(d.min);
  const auto span = static_cast<std::uint64_t>(d.max - d.min + 1);
  return static_cast<std::int32_t>(d.min + static_cast<std::int64_t>(rng.next_u64() % span));
}

double draw_gap(RandomStream& rng, const TrafficConfig& t) {
  const double mean = 1 / t.rate;
  switch (t.arrival) {
    case ArrivalProcess::kConstant: return mean;
    case ArrivalProcess::kInstant: return 0;
    case ArrivalProcess::kPoisson: return rng.exponential(mean);
    case ArrivalProcess::kGamma: {
      const double shape = 1 / (t.cv * t.cv);
      return rng.gamma(shape, mean / shape);
    }
  }
  return mean;
}

std::vector<Request> trace_requests(const std::string& path, std::int64_t limit, double speedup);

std::vector<Request> synthetic_requests(const TrafficConfig& t, std::uint64_t seed) {
  RandomStream arrivals(seed, "serving.arrivals");
  RandomStream lengths(seed, "serving.lengths");
  RandomStream prefixes(seed, "serving.prefixes");
  RandomStream adapters(seed, "serving.adapters");
  const std::vector<Request> pool = t.lengths_from.empty() ? std::vector<Request>{} : trace_requests(t.lengths_from, 0, 1);
  std::vector<Request> requests(static_cast<std::size_t>(t.requests));
  double now = 0;
  for (Request& r : requests) {
    now += draw_gap(arrivals, t);
    r.arrival = from_seconds(now);
    if (pool.empty()) {
      r.prompt_tokens = draw_length(lengths, t.prompt);
      r.output_tokens = draw_length(lengths, t.output);
    } else {
      const Request& drawn = pool[static_cast<std::size_t>(lengths.next_u64() % pool.size())];
      r.prompt_tokens = drawn.prompt_tokens;
      r.output_tokens = drawn.output_tokens;
    }
    if (t.adapters > 0) r.adapter = static_cast<std::int32_t>(adapters.next_u64() % static_cast<std::uint64_t>(t.adapters));
    if (t.prefix_groups > 0 && t.prefix_tokens > 0) {
      r.prefix_group = static_cast<std::int32_t>(prefixes.next_u64() % static_cast<std::uint64_t>(t.prefix_groups));
      r.prefix_tokens = static_cast<std::int32_t>(std::min<std::int64_t>(t.prefix_tokens, r.prompt_tokens));
    }
  }
  return requests;
}

// Bounds that keep a trace row's values exact downstream: token counts fit an int32 with
// room for a request's whole context, and arrivals fit the simulator's picosecond clock.
constexpr double kMaxTraceTokens = 1e8;
constexpr double kMaxTraceSeconds = 1e6;

void check_trace_value(const std::string& path, const std::string& where, const char* name, double value) {
  const bool tokens = std::string_view(name) != "arrived_at";
  const double limit = tokens ? kMaxTraceTokens : kMaxTraceSeconds;
  if (value > limit) {
    throw InputError(path, "", where + ": " + name + " must be at most " + (tokens ? "100,000,000 tokens" : "1,000,000 s (after trace_speedup)"));
  }
}

// The Splitwise / Vidur trace columns: arrived_at (s), num_prefill_tokens, num_decode_tokens.
// At most `limit` rows (0: all), arrival times divided by `speedup`.
std::vector<Request> csv_requests(const std::string& path, std::int64_t limit, double speedup) {
  CsvReader reader(path, "trace");
  const char* names[] = {"arrived_at", "num_prefill_tokens", "num_decode_tokens"};
  std::size_t column[3];
  for (int i = 0; i < 3; ++i) column[i] = reader.column(names[i]);
  // Optional: requests with the same prefix_id share their first prefix_tokens tokens.
  const std::optional<std::size_t> prefix_id = reader.find_column("prefix_id"), prefix_tokens = reader.find_column("prefix_tokens");
  const std::optional<std::size_t> adapter_id = reader.find_column("adapter_id");
  if (prefix_id.has_value() != prefix_tokens.has_value()) {
    throw InputError(path, "", "line 1: prefix_id and prefix_tokens come together (one is in the header without the other)");
  }
  std::vector<Request> requests;
  std::vector<std::string> cells;
  while (reader.next(cells)) {
    if (limit > 0 && static_cast<std::int64_t>(requests.size()) >= limit) break;
    const int number = reader.line();
    double values[3];
    for (int i = 0; i < 3; ++i) {
      const std::string where = "line " + std::to_string(number) + ", column " + names[i];
      try {
        std::size_t used = 0;
        if (column[i] >= cells.size()) throw std::invalid_argument("missing");
        values[i] = std::stod(cells[column[i]], &used);
        if (used != cells[column[i]].size() || !std::isfinite(values[i])) throw std::invalid_argument("junk");
      } catch (const std::exception&) {
        throw InputError(path, "", where + ": expected a number, got \"" + (column[i] < cells.size() ? cells[column[i]] : "") + "\"");
      }
      if (values[i] < (i == 0 ? 0 : 1)) throw InputError(path, "", where + ": must be " + (i == 0 ? ">= 0" : ">= 1"));
      check_trace_value(path, where, names[i], i == 0 ? values[i] / speedup : values[i]);
    }
    Request request{from_seconds(values[0] / speedup), static_cast<std::int32_t>(values[1]), static_cast<std::int32_t>(values[2])};
    if (prefix_id && *prefix_id < cells.size() && !cells[*prefix_id].empty()) {
      const std::string where = "line " + std::to_string(number) + ", columns prefix_id and prefix_tokens";
      try {
        std::size_t used_id = 0, used_tokens = 0;
        request.prefix_group = std::stoi(cells[*prefix_id], &used_id);
        request.prefix_tokens = std::min(request.prompt_tokens, std::stoi(cells.at(*prefix_tokens), &used_tokens));
        if (used_id != cells[*prefix_id].size() || used_tokens != cells[*prefix_tokens].size()) throw std::invalid_argument("junk");
      } catch (const std::exception&) {
        throw InputError(path, "", where + ": expected integers");
      }
      if (request.prefix_group < 0 || request.prefix_tokens < 0) throw InputError(path, "", where + ": must be >= 0");
    }
    if (adapter_id && *adapter_id < cells.size() && !cells[*adapter_id].empty()) {
      try {
        std::size_t used = 0;
        request.adapter = std::stoi(cells[*adapter_id], &used);
        if (used != cells[*adapter_id].size()) request.adapter = -2;
      } catch (const std::exception&) {
        request.adapter = -2;
      }
      if (request.adapter < 0) throw InputError(path, "", "line " + std::to_string(number) + ", column adapter_id: expected an integer >= 0");
    }
    requests.push_back(request);
  }
  std::stable_sort(requests.begin(), requests.end(), [](const Request& a, const Request& b) { return a.arrival < b.arrival; });
  return requests;
}
// One JSON object per line with the CSV format's names as keys.
std::vector<Request> jsonl_requests(const std::string& path, std::int64_t limit, double speedup) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "", "cannot open the trace");
  std::vector<Request> requests;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (limit > 0 && static_cast<std::int64_t>(requests.size()) >= limit) break;
    const std::string where = "line " + std::to_string(number);
    const nlohmann::json row = parse_json_text(line, path + ", " + where);
    const auto number_at = [&](const char* key, double minimum, bool required, double fallback) {
      if (!row.is_object() || !row.contains(key)) {
        if (required) throw InputError(path, "", where + ": missing \"" + key + "\"");
        return fallback;
      }
      const nlohmann::json& v = row[key];
      if (!v.is_number() || v.get<double>() < minimum) {
        throw InputError(path, "", where + ", key " + key + ": expected a number >= " + std::to_string(static_cast<int>(minimum)) +
                                       ", got " + v.dump());
      }
      check_trace_value(path, where, key, std::string_view(key) == "arrived_at" ? v.get<double>() / speedup : v.get<double>());
      return v.get<double>();
    };
    Request r;
    r.arrival = from_seconds(number_at("arrived_at", 0, true, 0) / speedup);
    r.prompt_tokens = static_cast<std::int32_t>(number_at("num_prefill_tokens", 1, true, 0));
    r.output_tokens = static_cast<std::int32_t>(number_at("num_decode_tokens", 1, true, 0));
    r.prefix_group = static_cast<std::int32_t>(number_at("prefix_id", 0, false, -1));
    r.prefix_tokens = std::min(r.prompt_tokens, static_cast<std::int32_t>(number_at("prefix_tokens", 0, r.prefix_group >= 0, 0)));
    r.adapter = static_cast<std::int32_t>(number_at("adapter_id", 0, false, -1));
    requests.push_back(r);
  }
  std::stable_sort(requests.begin(), requests.end(), [](const Request& a, const Request& b) { return a.arrival < b.arrival; });
  return requests;
}

std::vector<Request> trace_requests(const std::string& path, std::int64_t limit, double speedup) {
  return path.ends_with(".jsonl") ? jsonl_requests(path, limit, speedup) : csv_requests(path, limit, speedup);
}
}  // namespace

std::vector<Request> make_requests(const TrafficConfig& traffic, std::uint64_t seed) {
  std::vector<Request> requests = traffic.trace.empty() ? synthetic_requests(traffic, seed)
                                                        : trace_requests(traffic.trace, traffic.requests, traffic.trace_speedup);
  if (requests.empty()) throw InputError(traffic.trace, "serving.traffic", "no requests to simulate");
  return requests;
}

}  // namespace foresight
