// Least recently used: blocks leave in the order they became idle (vLLM's free block queue,
// SGLang's default radix eviction). A doubly linked list in a pool, the slot its node's
// index, so that no step looks a key up.
#include <vector>

#include "workloads/serving_policies/builtin.hpp"

namespace foresight {
namespace {
class LeastRecentlyUsed final : public EvictionOrder {
 public:
  std::uint64_t idle(std::uint64_t key) override {
    std::uint32_t node;
    if (free_.empty()) {
      node = static_cast<std::uint32_t>(nodes_.size());
      nodes_.push_back({});
    } else {
      node = free_.back();
      free_.pop_back();
    }
    nodes_[node] = {key, tail_, kNone};
    if (tail_ != kNone) nodes_[tail_].next = node;
    tail_ = node;
    if (head_ == kNone) head_ = node;
    return node;
  }
  void busy(std::uint64_t, std::uint64_t slot) override { unlink(static_cast<std::uint32_t>(slot)); }
  void forget(std::uint64_t, std::uint64_t slot) override { unlink(static_cast<std::uint32_t>(slot)); }
  std::optional<std::uint64_t> evict() override {
    if (head_ == kNone) return std::nullopt;
    const std::uint64_t key = nodes_[head_].key;
    unlink(head_);
    return key;
  }

 private:
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};
  struct Node {
    std::uint64_t key = 0;
    std::uint32_t prev = kNone, next = kNone;
  };
  void unlink(std::uint32_t node) {
    const Node& n = nodes_[node];
    (n.prev != kNone ? nodes_[n.prev].next : head_) = n.next;
    (n.next != kNone ? nodes_[n.next].prev : tail_) = n.prev;
    free_.push_back(node);
  }
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> free_;
  std::uint32_t head_ = kNone, tail_ = kNone;  // longest idle first
};
}  // namespace

std::unique_ptr<EvictionOrder> make_least_recently_used() { return std::make_unique<LeastRecentlyUsed>(); }

}  // namespace foresight
