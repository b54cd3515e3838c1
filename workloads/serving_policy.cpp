#include "workloads/serving_policy.hpp"

#include <stdexcept>

namespace foresight {

std::size_t least_outstanding(std::span<const RouteTarget* const> pool) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < pool.size(); ++i) {
    if (pool[i]->outstanding() < pool[best]->outstanding()) best = i;
  }
  return best;
}

template <typename Policy>
std::vector<std::string> ServingPolicyRegistry::Kind<Policy>::names() const {
  std::vector<std::string> out;
  for (const Entry& e : entries) out.push_back(e.name);
  return out;
}

template <typename Policy>
std::string ServingPolicyRegistry::Kind<Policy>::described() const {
  std::string out;
  for (const Entry& e : entries) out += (out.empty() ? "" : "; ") + e.name + " (" + e.description + ")";
  return out;
}

template <typename Policy>
std::unique_ptr<Policy> ServingPolicyRegistry::Kind<Policy>::make(std::string_view name) const {
  for (const Entry& e : entries) {
    if (e.name == name) return e.make();
  }
  throw std::invalid_argument("no serving policy named \"" + std::string(name) + "\"");
}

template struct ServingPolicyRegistry::Kind<BatchScheduler>;
template struct ServingPolicyRegistry::Kind<AdmissionOrder>;
template struct ServingPolicyRegistry::Kind<PreemptionPolicy>;
template struct ServingPolicyRegistry::Kind<EvictionOrder>;
template struct ServingPolicyRegistry::Kind<RequestRouter>;

const ServingPolicyRegistry& builtin_serving_policies() {
  static const ServingPolicyRegistry registry = [] {
    ServingPolicyRegistry r;
    register_builtin_serving_policies(r);
    return r;
  }();
  return registry;
}

}  // namespace foresight
