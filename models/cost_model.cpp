#include "models/cost_model.hpp"

#include <stdexcept>

namespace foresight {

std::string_view bound_name(Bound bound) {
  switch (bound) {
    case Bound::kCompute: return "compute";
    case Bound::kMemory: return "memory";
    case Bound::kLaunch: return "launch";
  }
  return "?";
}

void CostModelRegistry::add(std::string name, std::string description, Factory factory) {
  for (const Entry& entry : entries_) {
    if (entry.name == name) throw std::logic_error("cost model registered twice: " + name);
  }
  entries_.push_back({std::move(name), std::move(description), std::move(factory)});
}

std::vector<std::string> CostModelRegistry::names() const {
  std::vector<std::string> names;
  for (const Entry& entry : entries_) names.push_back(entry.name);
  return names;
}

const std::string& CostModelRegistry::description(const std::string& name) const {
  for (const Entry& entry : entries_) {
    if (entry.name == name) return entry.description;
  }
  throw std::logic_error("no cost model named " + name);
}

std::unique_ptr<OpCostModel> CostModelRegistry::create(const std::string& name, ObjectReader& parameters,
                                                       const Context& context) const {
  for (const Entry& entry : entries_) {
    if (entry.name == name) return entry.factory(parameters, context);
  }
  throw std::logic_error("no cost model named " + name);
}

}  // namespace foresight
