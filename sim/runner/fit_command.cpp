#include "sim/runner/fit_command.hpp"

#include <chrono>
#include <cstdio>
#include <map>

#include "calibration/predictor_evaluation.hpp"
#include "calibration/profile.hpp"
#include "calibration/public_measurements.hpp"
#include "sim/runner/results.hpp"

namespace foresight {
namespace {
std::string count_by_family(const std::vector<KernelSample>& samples) {
  std::map<std::string, int> counts;
  for (const KernelSample& s : samples) ++counts[std::string(family_name(*family_of(s.op.kind)))];
  std::string text;
  for (const auto& [family, count] : counts) text += (text.empty() ? "" : ", ") + std::to_string(count) + " " + family;
  return text;
}
}  // namespace

int run_fit_command(const FitOptions& o, std::ostream& out) {
  const auto start = std::chrono::steady_clock::now();
  MeasuredKernels kernels = load_public_measurements(o.data);
  for (const std::string& path : o.profiles) {
    const CalibrationProfile profile = load_profile(path);
    kernels.devices.emplace(profile.gpu.description, profile.gpu);
    kernels.add(profile.samples());
    kernels.sources.push_back(path);
  }
  out << "# foresight fit: " << kernels.samples.size() << " measured kernels (" << count_by_family(kernels.samples) << ") on "
      << kernels.devices.size() << " devices, from " << kernels.sources.size() << " files under " << o.data << "\n";
  if (o.eval) out << format_predictor_errors(evaluate_kernel_predictor(kernels, {"H100", "A100", "A40", "L4", "T4"}));
  KernelPredictor predictor;
  predictor.fit(kernels.samples, kernels.devices);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char line[128];
  std::snprintf(line, sizeof line, "%s in %.2f s\n", o.eval ? "evaluated and fitted on all rows" : "fitted on all rows", seconds);
  out << line;
  if (!o.out_path.empty()) {
    write_file_atomically(o.out_path, predictor.to_json().dump() + "\n");
    out << "Wrote the model to " << o.out_path << "\n";
  }
  return 0;
}

}  // namespace foresight
