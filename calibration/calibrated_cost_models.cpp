#include "calibration/calibrated_cost_models.hpp"

#include <filesystem>
#include <functional>

#include "calibration/file_cache.hpp"
#include "calibration/learned_cost_model.hpp"
#include "calibration/profile_cost_model.hpp"
#include "sim/input/object_reader.hpp"

namespace foresight {
namespace {
std::string resolve(const std::string& file, const std::string& scenario_dir) {
  const std::filesystem::path path(file);
  return path.is_relative() && !scenario_dir.empty() ? (std::filesystem::path(scenario_dir) / path).string() : file;
}

// Runs `load`; a bad file becomes problems at the scenario's `key`, so the message names
// the scenario and the key as well as the file.
template <class T>
std::shared_ptr<const T> load_for(ObjectReader& parameters, std::string_view key, const std::function<std::shared_ptr<const T>()>& load) {
  try {
    return load();
  } catch (const InputError& e) {
    for (const Problem& p : e.problems()) parameters.error(key, format_problem(p));
  }
  return nullptr;
}

std::unique_ptr<OpCostModel> make_learned(ObjectReader& p, const CostModelRegistry::Context& context) {
  const std::string file = p.string("model", "", {"The fitted model (foresight fit --out), relative to the scenario file; "
                                                  "default: calibration/models/kernels.json, fitted on calibration/data."});
  const RooflineParameters fallback = RooflineModel::read_parameters(p);
  if (p.is_documenting()) return std::make_unique<RooflineModel>(fallback);
  const std::string path = file.empty() ? shipped_kernel_model_path() : resolve(file, context.scenario_dir);
  const auto predictor = load_for<KernelPredictor>(p, "model", [&] { return load_kernel_model(path); });
  if (!predictor) return std::make_unique<RooflineModel>(fallback);  // the scenario's diagnostics carry the error
  return std::make_unique<LearnedCostModel>(predictor, fallback);
}

std::unique_ptr<OpCostModel> make_profile(ObjectReader& p, const CostModelRegistry::Context& context) {
  const std::string file = p.string("profile", "", {"The calibration profile (foresight calibrate --out), relative to the scenario file."});
  const int neighbours = static_cast<int>(p.integer("neighbours", 4, {"Measured shapes each estimate interpolates between.", "", 1.0}));
  const RooflineParameters fallback = RooflineModel::read_parameters(p);
  if (p.is_documenting()) return std::make_unique<RooflineModel>(fallback);
  if (file.empty()) {
    p.error("profile", "the profile model needs a profile file (foresight calibrate --out, or calibration/profiles/)");
    return std::make_unique<RooflineModel>(fallback);
  }
  const auto profile = load_for<CalibrationProfile>(p, "profile", [&] { return load_once<CalibrationProfile>(resolve(file, context.scenario_dir), load_profile); });
  if (!profile) return std::make_unique<RooflineModel>(fallback);
  if (profile->device.gpu != context.gpu.name) {
    p.error("profile", file + " was measured on " + profile->device.gpu + ", but hardware.gpu is " + context.gpu.name +
                           "; a profile calibrates one GPU (use the learned model for others)");
  }
  return std::make_unique<ProfileCostModel>(*profile, context.gpu, fallback, neighbours);
}
}  // namespace

std::string shipped_kernel_model_path() { return FORESIGHT_SOURCE_DIR "/calibration/models/kernels.json"; }

void register_calibrated_cost_models(CostModelRegistry& registry) {
  registry.add("learned",
               "the learned kernel predictor (foresight fit): roofline x a bounded boosted-tree correction for GEMMs, attention and "
               "memory-bound ops; roofline for the rest",
               make_learned);
  registry.add("profile",
               "interpolation in a measured calibration profile (foresight calibrate) of the scenario's GPU; roofline for op "
               "families it did not measure",
               make_profile);
}

}  // namespace foresight
