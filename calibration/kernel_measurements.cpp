#include "calibration/kernel_measurements.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "sim/csv_reader.hpp"
#include "sim/input_error.hpp"

namespace foresight {
namespace {
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
  CsvReader reader(csv, "measurements");
  const char* names[] = {"OPName", "Latency", "Device", "B", "M", "N", "K"};
  std::size_t column[7];
  for (int i = 0; i < 7; ++i) column[i] = reader.column(names[i]);
  std::vector<KernelMeasurement> rows;
  std::vector<std::string> cells;
  while (reader.next(cells)) {
    double values[7] = {};
    for (int i : {1, 3, 4, 5, 6}) {
      const std::string where = "line " + std::to_string(reader.line()) + ", column " + names[i];
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
