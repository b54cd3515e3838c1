#include "workloads/serving_traffic.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sim/input/csv_reader.hpp"
#include "sim/input/json_document.hpp"
#include "sim/input/input_error.hpp"
#include "sim/engine/random.hpp"
#include "workloads/sharegpt.hpp"
#include "workloads/trace_formats.hpp"

namespace foresight {
namespace {
std::int32_t draw_length(RandomStream& rng, const LengthDistribution& d) {
  if (d.max == d.min) return static_cast<std::int32_t>(d.min);
  if (d.eos_probability > 0) {
    // Inverse CDF of the geometric number of tokens before the end, capped at max.
    const double extra = std::floor(std::log1p(-rng.uniform01()) / std::log1p(-d.eos_probability));
    return static_cast<std::int32_t>(std::min(static_cast<double>(d.max), static_cast<double>(d.min) + extra));
  }
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

std::vector<Request> trace_requests(const std::string& path, std::int64_t limit, double speedup, const std::optional<TraceColumns>& columns);

std::vector<Request> synthetic_requests(const TrafficConfig& t, std::uint64_t seed) {
  RandomStream arrivals(seed, "serving.arrivals");
  RandomStream lengths(seed, "serving.lengths");
  RandomStream prefixes(seed, "serving.prefixes");
  RandomStream adapters(seed, "serving.adapters");
  const std::vector<Request> pool = t.lengths_from.empty()                 ? std::vector<Request>{}
                                    : is_sharegpt_file(t.lengths_from) ? sharegpt_lengths(t.lengths_from, t.chars_per_token)
                                                                       : trace_requests(t.lengths_from, 0, 1, t.trace_columns);
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

void check_trace_value(const std::string& path, const std::string& where, const std::string& name, double value, bool arrival) {
  if (value > (arrival ? kMaxTraceSeconds : kMaxTraceTokens)) {
    throw InputError(path, "", where + ": " + name + " must be at most " + (arrival ? "1,000,000 s (after trace_speedup)" : "100,000,000 tokens"));
  }
}

// A token count of a trace row: at least 1, or 0 read as 1 in a lenient format.
double token_cell(const std::string& path, int line, const std::string& column, const std::string& cell, bool lenient) {
  const std::string where = "line " + std::to_string(line) + ", column " + column;
  double value = 0;
  try {
    std::size_t used = 0;
    value = std::stod(cell, &used);
    if (used != cell.size() || !std::isfinite(value)) throw std::invalid_argument("junk");
  } catch (const std::exception&) {
    throw InputError(path, "", where + ": expected a number, got \"" + cell + "\"");
  }
  if (lenient && value == 0) return 1;
  if (value < 1) throw InputError(path, "", where + ": must be >= 1");
  check_trace_value(path, where, column, value, false);
  return value;
}

// A CSV trace in any format trace_formats.hpp knows, or with the columns given. At most
// `limit` rows (0: all), arrival times divided by `speedup`; dates count from the earliest.
std::vector<Request> csv_requests(const std::string& path, std::int64_t limit, double speedup, const std::optional<TraceColumns>& given) {
  CsvReader reader(path, "trace");
  const TraceFormat format = trace_format(reader, given);
  const TraceColumns& names = format.columns;
  const std::size_t column[3] = {reader.column(names.arrival), reader.column(names.prompt_tokens), reader.column(names.output_tokens)};
  // Optional: requests with the same prefix_id share their first prefix_tokens tokens.
  const std::optional<std::size_t> prefix_id = reader.find_column("prefix_id"), prefix_tokens = reader.find_column("prefix_tokens");
  const std::optional<std::size_t> adapter_id = reader.find_column("adapter_id");
  if (prefix_id.has_value() != prefix_tokens.has_value()) {
    throw InputError(path, "", "line 1: prefix_id and prefix_tokens come together (one is in the header without the other)");
  }
  std::vector<Request> requests;
  std::vector<double> arrivals;  // seconds, before the earliest date is subtracted
  std::vector<int> lines;
  std::vector<std::string> cells;
  const auto cell = [&cells](std::size_t i) { return i < cells.size() ? cells[i] : std::string(); };
  while (reader.next(cells)) {
    if (limit > 0 && static_cast<std::int64_t>(requests.size()) >= limit) break;
    const int number = reader.line();
    const std::string line = "line " + std::to_string(number) + ", column ";
    const std::optional<double> arrival = arrival_seconds(cell(column[0]), names.arrival_unit);
    if (!arrival) {
      throw InputError(path, "", line + names.arrival + ": expected " + (names.arrival_unit == "datetime" ? "a date and time" : "a number") +
                                     ", got \"" + cell(column[0]) + "\"");
    }
    if (*arrival < 0) throw InputError(path, "", line + names.arrival + ": must be >= 0");
    Request request;
    request.prompt_tokens = static_cast<std::int32_t>(token_cell(path, number, names.prompt_tokens, cell(column[1]), format.lenient));
    request.output_tokens = static_cast<std::int32_t>(token_cell(path, number, names.output_tokens, cell(column[2]), format.lenient));
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
    arrivals.push_back(*arrival);
    lines.push_back(number);
  }
  const double origin = names.arrival_unit == "datetime" && !arrivals.empty() ? *std::min_element(arrivals.begin(), arrivals.end()) : 0.0;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const double seconds = (arrivals[i] - origin) / speedup;
    check_trace_value(path, "line " + std::to_string(lines[i]) + ", column " + names.arrival, names.arrival, seconds, true);
    requests[i].arrival = from_seconds(seconds);
  }
  std::stable_sort(requests.begin(), requests.end(), [](const Request& a, const Request& b) { return a.arrival < b.arrival; });
  return requests;
}

// A request's prompt contents as a trace gives them: "hash_ids", an array of block ids.
std::vector<std::uint64_t> block_hashes_at(const nlohmann::json& row, const std::string& path, const std::string& where) {
  const nlohmann::json& ids = row["hash_ids"];
  const std::string what = where + ", key hash_ids: expected an array of integers >= 0 (one per hash_block_tokens tokens of the prompt)";
  if (!ids.is_array()) throw InputError(path, "", what + ", got " + ids.dump());
  std::vector<std::uint64_t> hashes;
  hashes.reserve(ids.size());
  for (const nlohmann::json& id : ids) {
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0) throw InputError(path, "", what + ", got " + id.dump());
    hashes.push_back(id.get<std::uint64_t>());
  }
  return hashes;
}

// One JSON object per line with the CSV format's names as keys; Mooncake's traces
// (FAST'25: "timestamp" in ms, "input_length", "output_length", "hash_ids"); or a
// TensorRT-LLM benchmark dataset (prepare_dataset.py's lines: the prompt's "input_ids" and
// its "output_tokens"), whose requests all come at once.
std::vector<Request> jsonl_requests(const std::string& path, std::int64_t limit, double speedup) {
  std::istringstream in(read_input_file(path, "trace"));
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
      const bool seconds = std::string_view(key) == "arrived_at", milliseconds = std::string_view(key) == "timestamp";
      const double scale = seconds ? 1 / speedup : milliseconds ? 1e-3 / speedup : 1.0;
      check_trace_value(path, where, key, v.get<double>() * scale, seconds || milliseconds);
      return v.get<double>();
    };
    // Mooncake's names where the CSV format's are absent.
    const auto has = [&row](const char* key) { return row.is_object() && row.contains(key); };
    const auto either = [&has](const char* ours, const char* mooncake) { return !has(ours) && has(mooncake) ? mooncake : ours; };
    Request r;
    if (row.is_object() && row.contains("input_ids")) {
      const nlohmann::json& ids = row["input_ids"];
      if (!ids.is_array() || ids.empty()) throw InputError(path, "", where + ", key input_ids: expected a non-empty array of token ids");
      r.prompt_tokens = static_cast<std::int32_t>(ids.size());
      r.output_tokens = static_cast<std::int32_t>(number_at("output_tokens", 1, true, 0));
      requests.push_back(r);
      continue;
    }
    const char* arrival = either("arrived_at", "timestamp");
    r.arrival = from_seconds(number_at(arrival, 0, true, 0) / speedup * (arrival == std::string_view("timestamp") ? 1e-3 : 1.0));
    r.prompt_tokens = static_cast<std::int32_t>(number_at(either("num_prefill_tokens", "input_length"), 1, true, 0));
    r.output_tokens = static_cast<std::int32_t>(number_at(either("num_decode_tokens", "output_length"), 1, true, 0));
    if (has("hash_ids")) {
      if (has("prefix_id")) throw InputError(path, "", where + ": hash_ids and prefix_id both describe the prompt's prefix; give one");
      r.block_hashes = block_hashes_at(row, path, where);
    }
    r.prefix_group = static_cast<std::int32_t>(number_at("prefix_id", 0, false, -1));
    r.prefix_tokens = std::min(r.prompt_tokens, static_cast<std::int32_t>(number_at("prefix_tokens", 0, r.prefix_group >= 0, 0)));
    r.adapter = static_cast<std::int32_t>(number_at("adapter_id", 0, false, -1));
    requests.push_back(r);
  }
  std::stable_sort(requests.begin(), requests.end(), [](const Request& a, const Request& b) { return a.arrival < b.arrival; });
  return requests;
}

std::vector<Request> trace_requests(const std::string& path, std::int64_t limit, double speedup, const std::optional<TraceColumns>& columns) {
  if (is_sharegpt_file(path)) {
    throw InputError(path, "", "a ShareGPT-style file holds conversations, not arrival times: give it as serving.traffic.lengths_from, "
                               "with a rate or max_concurrency");
  }
  return path.ends_with(".jsonl") ? jsonl_requests(path, limit, speedup) : csv_requests(path, limit, speedup, columns);
}
}  // namespace

std::vector<Request> make_requests(const TrafficConfig& traffic, std::uint64_t seed) {
  std::vector<Request> requests = traffic.trace.empty() ? synthetic_requests(traffic, seed)
                                                        : trace_requests(traffic.trace, traffic.requests, traffic.trace_speedup, traffic.trace_columns);
  if (requests.empty()) throw InputError(traffic.trace, "serving.traffic", "no requests to simulate");
  // Content hashes name the prefix: the tokens they cover (the last block may be partial).
  for (Request& r : requests) {
    if (r.block_hashes.empty()) continue;
    const auto covered = static_cast<std::int64_t>(r.block_hashes.size()) * traffic.hash_block_tokens;
    r.prefix_tokens = static_cast<std::int32_t>(std::min<std::int64_t>(r.prompt_tokens, covered));
    r.prefix_group = static_cast<std::int32_t>(r.block_hashes.front() & 0x7fffffffu);
  }
  return requests;
}

}  // namespace foresight
