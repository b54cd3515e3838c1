#pragma once
// Op cost models share one narrow interface: op + device -> duration, chosen by name.
// Roofline is the floor that always works; the calibrated `profile` and `learned` models
// (calibration/) register beside it. Each estimate names the model that made it and how
// far the op lay from the measurements behind it.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "models/gpu_spec.hpp"
#include "models/op.hpp"
#include "sim/engine/time.hpp"

namespace foresight {

class ObjectReader;

enum class Bound { kCompute, kMemory, kLaunch };
std::string_view bound_name(Bound bound);

struct CostEstimate {
  Time duration = 0;
  Bound bound = Bound::kCompute;
  std::string_view model;  // the name of the model that made it; static storage
  // How far the op lies outside the measured range behind the estimate, on its worst
  // feature, in units of that range's width (at least 1); 0 inside, and for models that
  // are not fitted to measurements.
  double out_of_range = 0;
  std::string_view out_of_range_feature;  // static storage; empty inside the range
};

class OpCostModel {
 public:
  virtual ~OpCostModel() = default;
  virtual std::string_view name() const = 0;
  // Compute and memory ops only; collectives are timed by the network model.
  virtual CostEstimate estimate(const Op& op, const GpuSpec& gpu) const = 0;
};

class CostModelRegistry {
 public:
  // What a model may need from the rest of the scenario.
  struct Context {
    std::string scenario_dir;  // relative file names resolve against it
    GpuSpec gpu;               // the scenario's GPU
  };
  // The factory reads the model's own parameters from the scenario's "cost_model"
  // object (and documents them when the reader is documenting).
  using Factory = std::function<std::unique_ptr<OpCostModel>(ObjectReader& parameters, const Context& context)>;

  void add(std::string name, std::string description, Factory factory);
  std::vector<std::string> names() const;
  const std::string& description(const std::string& name) const;
  std::unique_ptr<OpCostModel> create(const std::string& name, ObjectReader& parameters, const Context& context = {}) const;

 private:
  struct Entry {
    std::string name;
    std::string description;
    Factory factory;
  };
  std::vector<Entry> entries_;
};

void register_builtin_cost_models(CostModelRegistry& registry);

}  // namespace foresight
