// The replica with the smallest share of its KV cache in use or claimed by the prompts
// waiting for it (the first among equals).
#include "workloads/serving_policies/builtin.hpp"

namespace foresight {
namespace {
class KvAware final : public RequestRouter {
 public:
  std::size_t route(const Request&, std::span<const RouteTarget* const> pool) override {
    std::size_t best = 0;
    for (std::size_t i = 1; i < pool.size(); ++i) {
      if (pool[i]->kv_load() < pool[best]->kv_load()) best = i;
    }
    return best;
  }
};
}  // namespace

std::unique_ptr<RequestRouter> make_kv_aware_router() { return std::make_unique<KvAware>(); }

}  // namespace foresight
