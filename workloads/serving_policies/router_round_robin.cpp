// Each replica in turn, whatever its load.
#include "workloads/serving_policies/builtin.hpp"

namespace foresight {
namespace {
class RoundRobin final : public RequestRouter {
 public:
  std::size_t route(const Request&, std::span<const RouteTarget* const> pool) override { return next_++ % pool.size(); }

 private:
  std::size_t next_ = 0;
};
}  // namespace

std::unique_ptr<RequestRouter> make_round_robin_router() { return std::make_unique<RoundRobin>(); }

}  // namespace foresight
