#pragma once
// A minimal reader for the measured-data CSV files in calibration/data (no quoting needed).
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "sim/input/csv_reader.hpp"

namespace foresight::testing {

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  bool loaded() const { return !header.empty(); }
  std::size_t column(const std::string& name) const {
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return i;
    }
    throw std::out_of_range("no column " + name);
  }
  double number(const std::vector<std::string>& row, const std::string& name) const {
    return std::stod(row[column(name)]);
  }
};

inline CsvTable read_csv(const std::string& path) {
  CsvTable table;
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return table;
  table.header = split_csv_line(line);
  while (std::getline(in, line)) {
    if (!line.empty()) table.rows.push_back(split_csv_line(line));
  }
  return table;
}

}  // namespace foresight::testing
