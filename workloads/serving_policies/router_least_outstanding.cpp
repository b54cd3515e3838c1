// The replica with the fewest waiting and running requests (the first among equals).
#include "workloads/serving_policies/builtin.hpp"

namespace foresight {
namespace {
class LeastOutstanding final : public RequestRouter {
 public:
  std::size_t route(const Request&, std::span<const RouteTarget* const> pool) override { return least_outstanding(pool); }
};
}  // namespace

std::unique_ptr<RequestRouter> make_least_outstanding_router() { return std::make_unique<LeastOutstanding>(); }

}  // namespace foresight
