#include "calibration/kernel_measurements.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "sim/input_error.hpp"

namespace foresight {
namespace {
// RFC 4180 cells: commas inside double quotes belong to the cell (NeuSight lists kernel
// signatures there), a doubled quote is a quote.
std::vector<std::string> split(const std::string& line) {
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

double positive(const nlohmann::json& config, const char* key, const std::string& file) {
  if (!config.contains(key) || !config[key].is_number() || config[key].get<double>() <= 0) {
    throw InputError(file, key, "expected a positive number");
  }
  return config[key].get<double>();
}
}  // namespace

std::map<std::string, DeviceFeatures> load_devices(const std::string& folder) {
  std::map<std::string, DeviceFeatures> devices;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path);
    nlohmann::json config;
    try {
      config = nlohmann::json::parse(in);
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(path.string(), "", std::string("not JSON: ") + e.what());
    }
    if (!config.contains("Device") || !config["Device"].is_string()) throw InputError(path.string(), "Device", "expected a string");
    DeviceFeatures d;
    d.name = config["Device"].get<std::string>();
    // FP32 GFLOP/s; AMD's configs give the matrix cores' figure apart.
    d.peak_flops = positive(config, config.contains("SingleFLOPsMM") ? "SingleFLOPsMM" : "SingleFLOPs", path.string()) * 1e9;
    d.memory_bandwidth = positive(config, "Mem_Bw", path.string()) * 1e9;  // GB/s
    d.sms = positive(config, "Num_Sm", path.string());
    d.l2_bytes = positive(config, "L2Cache", path.string()) * 1e6;  // MB
    devices.emplace(d.name, d);
  }
  return devices;
}

std::vector<KernelMeasurement> load_gemm_measurements(const std::string& csv) {
  std::ifstream in(csv);
  if (!in) throw InputError(csv, "", "cannot open the measurements");
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = split(line);
  const char* names[] = {"OPName", "Latency", "Device", "B", "M", "N", "K"};
  std::size_t column[7];
  for (int i = 0; i < 7; ++i) {
    const auto at = std::find(header.begin(), header.end(), names[i]);
    if (at == header.end()) throw InputError(csv, "", std::string("line 1: no column \"") + names[i] + "\"");
    column[i] = static_cast<std::size_t>(at - header.begin());
  }
  std::vector<KernelMeasurement> rows;
  for (int number = 2; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const std::vector<std::string> cells = split(line);
    double values[7] = {};
    for (int i : {1, 3, 4, 5, 6}) {
      const std::string where = "line " + std::to_string(number) + ", column " + names[i];
      try {
        std::size_t used = 0;
        values[i] = std::stod(cells.at(column[i]), &used);
        if (used != cells.at(column[i]).size() || !(values[i] > 0)) throw std::invalid_argument("not positive");
      } catch (const std::exception&) {
        throw InputError(csv, "", where + ": expected a positive number");
      }
    }
    KernelMeasurement m;
    m.op = cells.at(column[0]);
    m.device = cells.at(column[2]);
    m.seconds = values[1] * 1e-3;
    m.b = static_cast<std::int64_t>(values[3]);
    m.m = static_cast<std::int64_t>(values[4]);
    m.n = static_cast<std::int64_t>(values[5]);
    m.k = static_cast<std::int64_t>(values[6]);
    rows.push_back(m);
  }
  return rows;
}

}  // namespace foresight
