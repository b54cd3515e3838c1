// A prefix group's requests go to one home replica, where its prefix is cached, while the
// home has at most twice the least busy replica's outstanding requests plus 4; otherwise,
// and for requests without a group, to the least busy.
#include "workloads/serving_policies/builtin.hpp"
#include "workloads/serving_traffic.hpp"

namespace foresight {
namespace {
class PrefixAware final : public RequestRouter {
 public:
  std::size_t route(const Request& request, std::span<const RouteTarget* const> pool) override {
    const std::size_t best = least_outstanding(pool);
    if (request.prefix_group < 0) return best;
    const std::size_t home = static_cast<std::size_t>(request.prefix_group) % pool.size();
    return pool[home]->outstanding() <= 2 * pool[best]->outstanding() + 4 ? home : best;
  }
};
}  // namespace

std::unique_ptr<RequestRouter> make_prefix_aware_router() { return std::make_unique<PrefixAware>(); }

}  // namespace foresight
