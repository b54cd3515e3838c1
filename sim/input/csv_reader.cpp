#include "sim/input/csv_reader.hpp"

#include <algorithm>

#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"

namespace foresight {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '"' && quoted && i + 1 < line.size() && line[i + 1] == '"') {
      cells.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      cells.emplace_back();
    } else if (c != '\r') {
      cells.back() += c;
    }
  }
  return cells;
}

CsvReader::CsvReader(std::string path, std::string_view what) : path_(std::move(path)), in_(read_input_file(path_, what)) {
  std::string line;
  std::getline(in_, line);
  // Excel's "CSV UTF-8" starts the file with a byte-order mark.
  if (line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
  header_ = split_csv_line(line);
}

std::optional<std::size_t> CsvReader::find_column(std::string_view name) const {
  const auto at = std::find(header_.begin(), header_.end(), name);
  if (at == header_.end()) return std::nullopt;
  return static_cast<std::size_t>(at - header_.begin());
}

std::size_t CsvReader::column(std::string_view name) const {
  const std::optional<std::size_t> at = find_column(name);
  if (!at) throw InputError(path_, "", "line 1: no column \"" + std::string(name) + "\" in the header");
  return *at;
}

bool CsvReader::next(std::vector<std::string>& cells) {
  std::string line;
  while (std::getline(in_, line)) {
    ++line_;
    if (line.empty() || line == "\r") continue;
    cells = split_csv_line(line);
    return true;
  }
  return false;
}

}  // namespace foresight
