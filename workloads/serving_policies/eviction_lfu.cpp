// Least frequently used (SGLang's radix_eviction_policy lfu): the idle block that the fewest
// sequences have used since it was cached goes first, the longest idle among equals, so
// a prefix many requests share outlives a burst of one-off prompts. Counts start again when
// a block is evicted.
#include <set>
#include <tuple>
#include <unordered_map>

#include "workloads/serving_policies/builtin.hpp"

namespace foresight {
namespace {
class LeastFrequentlyUsed final : public EvictionOrder {
 public:
  std::uint64_t idle(std::uint64_t key) override {
    Entry& e = entries_[key];
    if (e.evictable) order_.erase({e.uses, e.since, key});  // already idle: it goes to the back
    e.since = ++clock_;
    order_.insert({e.uses, e.since, key});
    e.evictable = true;
    return 0;  // looked up by key
  }
  void busy(std::uint64_t key, std::uint64_t) override {
    Entry& e = entries_[key];
    if (e.evictable) order_.erase({e.uses, e.since, key});
    e.evictable = false;
    ++e.uses;
  }
  void forget(std::uint64_t key, std::uint64_t) override {
    const auto it = entries_.find(key);
    if (it == entries_.end()) return;
    if (it->second.evictable) order_.erase({it->second.uses, it->second.since, key});
    entries_.erase(it);
  }
  std::optional<std::uint64_t> evict() override {
    if (order_.empty()) return std::nullopt;
    const std::uint64_t key = std::get<2>(*order_.begin());
    order_.erase(order_.begin());
    entries_.erase(key);
    return key;
  }

 private:
  struct Entry {
    std::uint64_t uses = 0;   // sequences that referenced it while cached
    std::uint64_t since = 0;  // when it last became idle
    bool evictable = false;
  };
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::set<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>> order_;  // (uses, since, key) of the idle
  std::uint64_t clock_ = 0;
};
}  // namespace

std::unique_ptr<EvictionOrder> make_least_frequently_used() { return std::make_unique<LeastFrequentlyUsed>(); }

}  // namespace foresight
