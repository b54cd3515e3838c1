#pragma once
// Reading measured-data and trace files in CSV: RFC 4180 cells, columns found by name in
// the header, and errors that name the file and the line.
#include <cstddef>
#include <sstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace foresight {

// Commas inside double quotes belong to the cell, a doubled quote is a quote; a trailing
// carriage return is dropped.
std::vector<std::string> split_csv_line(const std::string& line);

class CsvReader {
 public:
  // Opens `path` and reads its header; throws InputError "cannot open the <what>".
  CsvReader(std::string path, std::string_view what);
  // Throws InputError "line 1: no column "<name>" in the header".
  std::size_t column(std::string_view name) const;
  std::optional<std::size_t> find_column(std::string_view name) const;
  // The next non-empty row's cells; false at the end of the file.
  bool next(std::vector<std::string>& cells);
  int line() const { return line_; }  // the number of the row next() returned
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::istringstream in_;  // the whole file, read through read_input_file (and so logged)
  std::vector<std::string> header_;
  int line_ = 1;
};

}  // namespace foresight
