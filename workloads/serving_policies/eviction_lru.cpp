// Least recently used: blocks leave in the order they became idle (vLLM's free block queue,
// SGLang's default radix eviction).
#include <list>
#include <unordered_map>

#include "workloads/serving_policies/builtin.hpp"

namespace foresight {
namespace {
class LeastRecentlyUsed final : public EvictionOrder {
 public:
  void idle(std::uint64_t key) override {
    forget(key);  // already idle: it goes to the back
    where_[key] = order_.insert(order_.end(), key);
  }
  void busy(std::uint64_t key) override { forget(key); }
  void forget(std::uint64_t key) override {
    const auto it = where_.find(key);
    if (it == where_.end()) return;
    order_.erase(it->second);
    where_.erase(it);
  }
  std::optional<std::uint64_t> evict() override {
    if (order_.empty()) return std::nullopt;
    const std::uint64_t key = order_.front();
    order_.pop_front();
    where_.erase(key);
    return key;
  }

 private:
  std::list<std::uint64_t> order_;  // idle blocks, longest idle first
  std::unordered_map<std::uint64_t, std::list<std::uint64_t>::iterator> where_;
};
}  // namespace

std::unique_ptr<EvictionOrder> make_least_recently_used() { return std::make_unique<LeastRecentlyUsed>(); }

}  // namespace foresight
