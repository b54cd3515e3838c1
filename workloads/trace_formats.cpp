#include "workloads/trace_formats.hpp"

#include <cmath>
#include <cstdio>

#include "sim/input/input_error.hpp"

namespace foresight {
namespace {
const std::vector<TraceFormat>& known_formats() {
  static const std::vector<TraceFormat> kFormats = {
      {"Splitwise/Vidur", {"arrived_at", "num_prefill_tokens", "num_decode_tokens", "s"}, false},
      {"Azure LLM inference 2023/2024", {"TIMESTAMP", "ContextTokens", "GeneratedTokens", "datetime"}, true},
      {"BurstGPT", {"Timestamp", "Request tokens", "Response tokens", "s"}, true},
      {"LMSYS-Chat (apex_plus)", {"start_time_offset_ns", "context_tokens", "generated_tokens", "ns"}, true},
  };
  return kFormats;
}

// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm, proleptic Gregorian).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::optional<double> datetime_seconds(const std::string& cell) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, consumed = 0;
  char separator = 0;
  double second = 0;
  if (std::sscanf(cell.c_str(), "%4d-%2d-%2d%c%2d:%2d:%lf%n", &year, &month, &day, &separator, &hour, &minute, &second, &consumed) != 7) {
    return std::nullopt;
  }
  const bool valid = (separator == ' ' || separator == 'T') && month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour >= 0 && hour < 24 &&
                     minute >= 0 && minute < 60 && second >= 0 && second < 61;
  // Only a time zone may follow ("Z", "+00:00"); foresight needs differences, not zones.
  const std::string rest = cell.substr(static_cast<std::size_t>(consumed));
  if (!valid || (!rest.empty() && rest.front() != 'Z' && rest.front() != '+' && rest.front() != '-')) return std::nullopt;
  const auto days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return static_cast<double>(days) * 86400.0 + hour * 3600.0 + minute * 60.0 + second;
}
}  // namespace

const std::vector<std::string>& arrival_units() {
  static const std::vector<std::string> kUnits = {"s", "ms", "us", "ns", "datetime"};
  return kUnits;
}

TraceFormat trace_format(const CsvReader& reader, const std::optional<TraceColumns>& given) {
  if (given) {
    for (const std::string* column : {&given->arrival, &given->prompt_tokens, &given->output_tokens}) (void)reader.column(*column);
    return {"serving.traffic.trace_columns", *given, true};
  }
  std::string known;
  const TraceFormat* nearest = nullptr;
  int nearest_found = 0;
  for (const TraceFormat& format : known_formats()) {
    const TraceColumns& c = format.columns;
    const int found = (reader.find_column(c.arrival) ? 1 : 0) + (reader.find_column(c.prompt_tokens) ? 1 : 0) + (reader.find_column(c.output_tokens) ? 1 : 0);
    if (found == 3) return format;
    if (found > nearest_found) {
      nearest = &format;
      nearest_found = found;
    }
    known += "; " + format.name + ": " + c.arrival + ", " + c.prompt_tokens + ", " + c.output_tokens;
  }
  // Some of one format's columns: name the one missing (CsvReader::column says which).
  if (nearest != nullptr) {
    for (const std::string* column : {&nearest->columns.arrival, &nearest->columns.prompt_tokens, &nearest->columns.output_tokens}) (void)reader.column(*column);
  }
  throw InputError(reader.path(), "", "line 1: not a trace format foresight knows" + known +
                                          ". For another, name its columns in serving.traffic.trace_columns (docs/serving.md)");
}

std::optional<double> arrival_seconds(const std::string& cell, const std::string& unit) {
  if (unit == "datetime") return datetime_seconds(cell);
  double value = 0;
  try {
    std::size_t used = 0;
    value = std::stod(cell, &used);
    if (used != cell.size() || !std::isfinite(value)) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const double scale = unit == "ms" ? 1e-3 : unit == "us" ? 1e-6 : unit == "ns" ? 1e-9 : 1.0;
  return value * scale;
}

}  // namespace foresight
