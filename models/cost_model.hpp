#pragma once
// Op cost models share one narrow interface: op + device -> duration, chosen by name.
// Roofline is the floor that always works; calibrated and learned models (a later
// issue) register beside it. Each estimate names the model that made it.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "models/gpu_spec.hpp"
#include "models/op.hpp"
#include "sim/time.hpp"

namespace foresight {

class ObjectReader;

enum class Bound { kCompute, kMemory, kLaunch };
std::string_view bound_name(Bound bound);

struct CostEstimate {
  Time duration = 0;
  Bound bound = Bound::kCompute;
  std::string_view model;  // the name of the model that made it; static storage
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
  // The factory reads the model's own parameters from the scenario's "cost_model"
  // object (and documents them when the reader is documenting).
  using Factory = std::function<std::unique_ptr<OpCostModel>(ObjectReader& parameters)>;

  void add(std::string name, std::string description, Factory factory);
  std::vector<std::string> names() const;
  const std::string& description(const std::string& name) const;
  std::unique_ptr<OpCostModel> create(const std::string& name, ObjectReader& parameters) const;

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
