#include "sim/runner/fit_command.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "calibration/calibrated_cost_models.hpp"
#include "calibration/learned_cost_model.hpp"
#include "calibration/model_scoring.hpp"
#include "calibration/predictor_evaluation.hpp"
#include "calibration/profile_cost_model.hpp"
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

// The models that could time `measured`'s GPU: the roofline, the learned model as
// shipped (public data only) and as fitted here, and the profile model of every --profile
// measured on the same GPU.
void score(const std::vector<CalibrationProfile>& profiles, const std::shared_ptr<const KernelPredictor>& fitted, const CalibrationProfile& measured,
           std::ostream& out) {
  const RooflineModel roofline(without_launch_gap());
  const LearnedCostModel shipped(load_kernel_model(shipped_kernel_model_path()), without_launch_gap());
  const LearnedCostModel refit(fitted, without_launch_gap());
  std::vector<NamedModel> models = {{"roofline", &roofline}, {"learned (shipped)", &shipped}};
  if (!profiles.empty()) models.push_back({"learned (fitted here)", &refit});
  std::vector<std::unique_ptr<ProfileCostModel>> profile_models;
  for (const CalibrationProfile& profile : profiles) {
    if (profile.device.gpu != measured.device.gpu) continue;
    profile_models.push_back(std::make_unique<ProfileCostModel>(profile, measured.gpu, without_launch_gap(), 4));
    models.push_back({"profile " + std::filesystem::path(profile.file).filename().string(), profile_models.back().get()});
  }
  out << "\n# " << measured.file << ": " << measured.kernels.size() << " kernels and " << measured.layers.size() << " layers measured on "
      << measured.device.name << " (" << measured.device.gpu << "); median err < 0: the model is too optimistic\n";
  if (!measured.kernels.empty()) out << format_group_scores(models, score_cost_models(models, measured));
  if (!measured.layers.empty()) out << format_layer_predictions(models, measured);
}
}  // namespace

int run_fit_command(const FitOptions& o, std::ostream& out) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<CalibrationProfile> to_score;  // read first: a bad file stops the command before anything is written
  for (const std::string& path : o.score) to_score.push_back(load_profile(path));
  MeasuredKernels kernels = load_public_measurements(o.data);
  std::vector<CalibrationProfile> profiles;
  for (const std::string& path : o.profiles) {
    profiles.push_back(load_profile(path));
    kernels.devices.emplace(profiles.back().gpu.description, profiles.back().gpu);
    kernels.add(profiles.back().samples());
    kernels.sources.push_back(path);
  }
  out << "# foresight fit: " << kernels.samples.size() << " measured kernels (" << count_by_family(kernels.samples) << ") on "
      << kernels.devices.size() << " devices, from " << kernels.sources.size() << " files under " << o.data << "\n";
  if (o.eval) out << format_predictor_errors(evaluate_kernel_predictor(kernels, {"H100", "A100", "A40", "L4", "T4"}));
  auto predictor = std::make_shared<KernelPredictor>();
  predictor->fit(kernels.samples, kernels.devices);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char line[128];
  std::snprintf(line, sizeof line, "%s in %.2f s\n", o.eval ? "evaluated and fitted on all rows" : "fitted on all rows", seconds);
  out << line;
  if (!o.out_path.empty()) {
    write_file_atomically(o.out_path, predictor->to_json().dump() + "\n");
    out << "Wrote the model to " << o.out_path << "\n";
  }
  for (const CalibrationProfile& measured : to_score) score(profiles, predictor, measured, out);
  return 0;
}

}  // namespace foresight
