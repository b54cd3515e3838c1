#include "sim/runner/scenario.hpp"

#include <filesystem>

#include "calibration/calibrated_cost_models.hpp"
#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"
#include "sim/runner/default_scenario.hpp"

namespace foresight {
namespace {
void read_cost_model(ObjectReader& root, Scenario& s, const std::string& scenario_dir) {
  const CostModelRegistry& registry = cost_model_registry();
  auto r = root.object("cost_model", "The op cost model and its parameters.");
  s.cost_model_name = r.string("name", "roofline", {"Cost model for compute ops.", "", {}, {}, false, registry.names()});
  if (r.is_documenting()) {
    for (const std::string& name : registry.names()) {
      auto params = r.documenting_child("", "[" + name + "] ");
      registry.create(name, params, {scenario_dir, s.gpu});
    }
    return;
  }
  auto ledger = std::make_shared<CostLedger>(registry.create(s.cost_model_name, r, {scenario_dir, s.gpu}));
  s.cost_ledger = ledger;
  s.cost_model = std::move(ledger);
}

void read_document(ObjectReader& root, Scenario& s, const std::string& scenario_dir) {
  (void)root.string("$schema", "", {"The JSON Schema an editor checks this file against (docs/scenario.schema.json, or "
                                     "`foresight reference --schema`); foresight itself ignores it."});
  s.name = root.string("name", "unnamed", {"Shown in results and reports."});
  s.description = root.string("description", "", {"Free text."});
  s.seed = static_cast<std::uint64_t>(root.integer("seed", 1, {"Seed for every random stream (same seed, same output).", "", 0.0}));
  {
    auto hardware = root.object("hardware", "GPUs and the fabric between them.");
    s.gpu = read_gpu(hardware, "gpu");
    s.fabric = read_node_fabric(hardware, s.gpu);
  }
  s.model = read_model(root, "model", scenario_dir);
  // A scenario is a training step or a serving run; the reference documents both.
  s.is_serving = !root.is_documenting() && root.has("serving");
  if (root.is_documenting() || !s.is_serving) s.training = read_training(root, s.model, s.fabric.total_gpus(), s.fabric.gpus, scenario_dir);
  s.training.seed = s.seed;
  if (root.is_documenting() || s.is_serving) {
    if (root.has("training") && !root.is_documenting()) root.error("training", "a scenario has a training or a serving section, not both");
    s.serving = read_serving(root, s.model, s.gpu, s.fabric.total_gpus(), s.fabric.gpus, scenario_dir);
  }
  read_cost_model(root, s, scenario_dir);
  const Dtype dtype = s.is_serving ? s.serving.dtype : s.training.dtype;
  if (!root.is_documenting() && dtype != Dtype::kBf16 && s.gpu.peak(dtype) <= 0) {
    root.diagnostics().error(s.is_serving ? "serving.dtype" : "training.dtype",
                             s.gpu.name + " does not support " + std::string(dtype_name(dtype)) + " (no peak in the GPU's figures)");
  }
  if (!root.is_documenting() && !s.is_serving && s.training.offload_layers > 0 && s.gpu.host_copy_bandwidth <= 0) {
    root.diagnostics().error("training.activation_offload_layers",
                             "offloading needs the GPU's host_copy_gbps (hardware.gpu.host_copy_gbps), which " + s.gpu.name + " lacks");
  }
}
// A problem at or below a key that --set changed says so, since the file itself may be fine.
std::vector<Problem> attribute_overrides(std::vector<Problem> problems, const std::vector<std::string>& overrides) {
  for (Problem& problem : problems) {
    for (const std::string& assignment : overrides) {
      const std::string key = assignment.substr(0, assignment.find('='));
      const bool below = problem.path == key || problem.path.rfind(key + ".", 0) == 0;
      if (below) problem.message += " (set by --set " + assignment + ")";
    }
  }
  return problems;
}
}  // namespace

const CostModelRegistry& cost_model_registry() {
  static const CostModelRegistry kRegistry = [] {
    CostModelRegistry registry;
    register_builtin_cost_models(registry);
    register_calibrated_cost_models(registry);
    return registry;
  }();
  return kRegistry;
}

const char* default_scenario_text() { return kDefaultScenarioJson; }

Scenario parse_scenario(nlohmann::json document, const std::string& source,
                        const std::string& scenario_dir, const std::vector<std::string>& overrides) {
  for (const std::string& assignment : overrides) apply_override(document, assignment);
  Diagnostics diagnostics(source);
  Scenario scenario;
  scenario.source = source;
  {
    ObjectReader root(document, "", diagnostics);
    read_document(root, scenario, scenario_dir);
  }
  if (!diagnostics.empty()) throw InputError(attribute_overrides(diagnostics.problems(), overrides));
  return scenario;
}

Scenario load_scenario(const std::string& path, const std::vector<std::string>& overrides) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return parse_scenario(load_json_file(path), path, dir, overrides);
}

Scenario default_scenario(const std::vector<std::string>& overrides) {
  return parse_scenario(parse_json_text(kDefaultScenarioJson, "(built-in default)"), "(built-in default)", "", overrides);
}

std::vector<FieldDoc> scenario_reference() {
  std::vector<FieldDoc> docs;
  Scenario scenario;
  {
    ObjectReader root = ObjectReader::documenting(docs);
    read_document(root, scenario, "");
  }
  return docs;
}

}  // namespace foresight
