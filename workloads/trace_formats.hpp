#pragma once
// Request traces as people have them. A CSV trace's format is recognised by its header:
// - Splitwise/Vidur (calibration/data/serving): arrived_at (s), num_prefill_tokens, num_decode_tokens;
// - the raw Azure LLM inference traces 2023 and 2024: TIMESTAMP (a date and time),
//   ContextTokens, GeneratedTokens;
// - BurstGPT: Timestamp (s), Request tokens, Response tokens;
// - LMSYS-Chat as apex_plus ships it: start_time_offset_ns, context_tokens, generated_tokens.
// Any other CSV names its columns in serving.traffic.trace_columns.
#include <optional>
#include <string>

#include "sim/input/csv_reader.hpp"
#include "workloads/serving_config.hpp"

namespace foresight {

struct TraceFormat {
  std::string name;
  TraceColumns columns;
  // Production logs hold requests that failed or returned nothing: their zero token
  // counts read as one. The Splitwise/Vidur format is ours to keep strict.
  bool lenient = true;
};

// The given columns, or the known format whose columns the header holds; InputError naming
// the file and the formats otherwise.
TraceFormat trace_format(const CsvReader& reader, const std::optional<TraceColumns>& given);

// A cell as seconds in `unit` (s, ms, us, ns, or datetime: seconds since 1970 of
// "YYYY-MM-DD HH:MM:SS[.fraction]", a T allowed between date and time); nullopt when it
// does not read as one.
std::optional<double> arrival_seconds(const std::string& cell, const std::string& unit);

// The units arrival_unit accepts.
const std::vector<std::string>& arrival_units();

}  // namespace foresight
