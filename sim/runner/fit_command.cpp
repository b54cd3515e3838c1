#include "sim/runner/fit_command.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "calibration/gemm_predictor.hpp"
#include "sim/input_error.hpp"
#include "sim/runner/results.hpp"

namespace foresight {

int run_fit_command(const FitOptions& o, std::ostream& out) {
  const std::filesystem::path neusight = std::filesystem::path(o.data) / "neusight";
  if (!std::filesystem::is_directory(neusight / "device_configs")) {
    throw InputError((neusight / "device_configs").string(), "--data", "no NeuSight device configs here; point --data at the shared data folder");
  }
  const auto start = std::chrono::steady_clock::now();
  const auto devices = load_devices((neusight / "device_configs").string());
  std::vector<KernelMeasurement> rows;
  for (const char* file : {"test_linear.csv", "test_bmm.csv"}) {
    for (KernelMeasurement& r : load_gemm_measurements((neusight / file).string())) {
      if (devices.contains(r.device)) rows.push_back(std::move(r));
    }
  }
  out << "# foresight fit: " << rows.size() << " measured FP32 GEMM and batched-GEMM kernels on " << devices.size()
      << " device configs (" << neusight.string() << ")\n";
  if (o.eval) {
    char line[256];
    std::snprintf(line, sizeof line, "# %-44s %6s %8s %8s %12s\n", "evaluation", "rows", "MAPE", "p90 APE", "roofline MAPE");
    out << line;
    const std::vector<std::string> leave_out = {"NVIDIA H100 80GB HBM3", "NVIDIA A100 80GB PCIe", "NVIDIA L4", "Tesla T4"};
    for (const PredictorError& e : evaluate_gemm_predictor(rows, devices, leave_out)) {
      std::snprintf(line, sizeof line, "  %-44s %6d %7.1f%% %7.1f%% %11.1f%%\n", e.evaluation.c_str(), e.rows, e.mape, e.p90, e.baseline_mape);
      out << line;
    }
  }
  GemmPredictor predictor;
  predictor.fit(rows, devices);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char line[128];
  std::snprintf(line, sizeof line, "fitted on all rows in %.2f s\n", seconds);
  out << line;
  if (!o.out_path.empty()) {
    write_file_atomically(o.out_path, predictor.to_json().dump(2) + "\n");
    out << "Wrote the model to " << o.out_path << "\n";
  }
  return 0;
}

}  // namespace foresight
