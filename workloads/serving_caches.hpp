#pragma once
// The serving simulation's per-replica caches: shared prompt prefixes' KV blocks and the
// resident LoRA adapters, both with least-recently-used replacement of what no running
// sequence uses.
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "workloads/serving_policy.hpp"

namespace foresight {

// Whose KV blocks a sequence's leading blocks are, block by block: a prefix group's (block i
// of group g, for prefixes given as a group and a length, and for a preempted request's own
// blocks), or its contents' (a trace's hash ids, each standing for `blocks_per_hash`
// blocks), so that two prompts share exactly the leading blocks whose contents agree and
// prefixes may branch, as a radix tree over tokens would share them.
struct PrefixChain {
  std::int32_t group = -1;
  const std::vector<std::uint64_t>* hashes = nullptr;  // none: the group's chain
  std::int32_t blocks_per_hash = 1;

  std::uint64_t key(std::int32_t block) const {
    if (hashes == nullptr) return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(group)) << 32) | static_cast<std::uint32_t>(block);
    // SplitMix64's finalizer over (id, block within it): content keys spread over the whole
    // 64-bit space, apart from the groups' in all but a 2^-64 chance.
    std::uint64_t z = (*hashes)[static_cast<std::size_t>(block / blocks_per_hash)] * 0x9e3779b97f4a7c15ULL +
                      static_cast<std::uint64_t>(block % blocks_per_hash) + 1;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

// One replica's cache of shared prompt prefixes: full KV blocks keyed by their chain's key
// (PrefixChain). A block stays cached after the last sequence using it ends, and is
// evicted in the eviction policy's order when blocks run short. The cache only counts
// blocks; the replica's free-block count includes none of them.
class PrefixCache {
 public:
  explicit PrefixCache(std::unique_ptr<EvictionOrder> order) : order_(std::move(order)) {}
  // How many leading blocks of `chain` are cached, at most `limit`.
  std::int32_t cached(const PrefixChain& chain, std::int32_t limit) const {
    std::int32_t count = 0;
    while (count < limit && blocks_.contains(chain.key(count))) ++count;
    return count;
  }
  // Keeps blocks [from, to) of a preempted sequence, under its own chain, as evictable
  // cached blocks (vLLM's freed blocks keep their hashes until reused). The last block is
  // queued for eviction first, as vLLM frees a request's blocks in reverse, so that what
  // survives is a prefix the request can resume from.
  void park(const PrefixChain& chain, std::int32_t from, std::int32_t to) {
    for (std::int32_t i = to - 1; i >= from; --i) {
      Entry& e = blocks_[chain.key(i)];
      if (e.idle) order_->forget(chain.key(i), e.slot);  // parked again: to the back
      e.slot = order_->idle(chain.key(i));
      e.idle = true;
    }
  }
  // Takes back the parked blocks of `chain` from `from` on, up to `count` of them and
  // stopping at the first evicted one; the rest are dropped. Returns how many came back.
  std::int32_t take(const PrefixChain& chain, std::int32_t from, std::int32_t count, std::int64_t& dropped) {
    std::int32_t taken = 0;
    bool contiguous = true;
    for (std::int32_t i = from; i < from + count; ++i) {
      const auto it = blocks_.find(chain.key(i));
      if (it == blocks_.end()) {
        contiguous = false;
        continue;
      }
      if (it->second.idle) order_->forget(it->first, it->second.slot);
      blocks_.erase(it);
      if (contiguous) {
        ++taken;
      } else {
        ++dropped;
      }
    }
    return taken;
  }
  // References the leading cached blocks of `chain`, at most `limit`; returns how many.
  std::int32_t acquire(const PrefixChain& chain, std::int32_t limit) {
    std::int32_t count = 0;
    for (; count < limit; ++count) {
      const auto it = blocks_.find(chain.key(count));
      if (it == blocks_.end()) break;
      Entry& e = it->second;
      if (e.references++ == 0 && e.idle) {
        order_->busy(it->first, e.slot);
        e.idle = false;
      }
    }
    return count;
  }
  // Releases the leading `count` blocks, the last first (vLLM frees a request's blocks in
  // reverse): a block then goes idle no earlier than any block after it, since every user of
  // a block uses those before it too, so least-recently-used order gives up a chain's tail
  // before its head, leaves before their parents, as SGLang's radix tree evicts.
  void release(const PrefixChain& chain, std::int32_t count) {
    for (std::int32_t i = count - 1; i >= 0; --i) {
      Entry& e = blocks_.at(chain.key(i));
      if (--e.references == 0) {
        e.slot = order_->idle(chain.key(i));
        e.idle = true;
      }
    }
  }
  // Caches blocks [from, to) of `chain`, each referenced once by the caller, stopping at
  // the first one already cached; returns the end of what the caller now references.
  std::int32_t insert(const PrefixChain& chain, std::int32_t from, std::int32_t to) {
    std::int32_t i = from;
    for (; i < to; ++i) {
      if (!blocks_.try_emplace(chain.key(i), Entry{1, false, 0}).second) break;
    }
    return i;
  }
  // Drops up to `wanted` blocks nobody references, in the eviction policy's order, and adds
  // their keys to `dropped` if given.
  std::int64_t evict(std::int64_t wanted, std::vector<std::uint64_t>* dropped = nullptr) {
    std::int64_t freed = 0;
    while (freed < wanted) {
      const std::optional<std::uint64_t> key = order_->evict();
      if (!key) break;
      if (dropped != nullptr) dropped->push_back(*key);
      blocks_.erase(*key);
      ++freed;
    }
    evictions_ += freed;
    return freed;
  }
  std::int64_t size() const { return static_cast<std::int64_t>(blocks_.size()); }
  std::int64_t evictions() const { return evictions_; }

 private:
  struct Entry {
    std::int32_t references = 0;  // sequences using it
    bool idle = false;            // in the eviction order (slot valid)
    std::uint64_t slot = 0;
  };
  std::unordered_map<std::uint64_t, Entry> blocks_;
  std::unique_ptr<EvictionOrder> order_;  // of the blocks referenced by none
  std::int64_t evictions_ = 0;
};

// Prefix blocks offloaded to host memory when the GPU's cache evicts them (vLLM's KV
// offloading, SGLang's hierarchical cache): at most `capacity` blocks, the least recently
// stored or used dropped first. Copies, so a block loaded back stays here too. With a disk
// below (`disk_capacity` blocks: LMCache's local disk, SGLang's HiCache storage), what host
// memory drops is kept there, least recently used out first, and a block read back from
// disk comes into host memory again. The disk keeps its copy of a block read back, so the
// block is written to disk only the first time host memory drops it.
class HostKvTier {
 public:
  explicit HostKvTier(std::int64_t capacity, std::int64_t disk_capacity = 0)
      : capacity_(capacity), disk_(disk_capacity > 0 ? std::make_unique<HostKvTier>(disk_capacity) : nullptr) {}
  bool on() const { return capacity_ > 0; }
  // Keeps `key` as the most recently used block; true when it was not held before.
  bool store(std::uint64_t key) {
    if (!on()) return false;
    const bool added = touch_or_add(key);
    while (static_cast<std::int64_t>(order_.size()) > capacity_) {
      if (disk_ && disk_->store(order_.front())) ++disk_writes_;
      where_.erase(order_.front());
      order_.pop_front();
    }
    return added;
  }
  // Blocks written to disk since the last call.
  std::int64_t take_disk_writes() { return std::exchange(disk_writes_, 0); }
  // Blocks of a run found in host memory, then after them on disk.
  struct Run {
    std::int32_t host = 0;
    std::int32_t disk = 0;
  };
  // Leading blocks of `chain` from `from` on (below `limit`) held here, then on disk, each
  // marked used.
  Run take_run(const PrefixChain& chain, std::int32_t from, std::int32_t limit) {
    Run run;
    while (from + run.host < limit && where_.contains(chain.key(from + run.host))) touch_or_add(chain.key(from + run.host++));
    if (!disk_) return run;
    run.disk = disk_->take_run(chain, from + run.host, limit).host;
    for (std::int32_t i = 0; i < run.disk; ++i) store(chain.key(from + run.host + i));
    return run;
  }

 private:
  bool touch_or_add(std::uint64_t key) {
    const auto it = where_.find(key);
    const bool added = it == where_.end();
    if (!added) order_.erase(it->second);
    where_[key] = order_.insert(order_.end(), key);
    return added;
  }
  std::int64_t capacity_;
  std::unique_ptr<HostKvTier> disk_;
  std::int64_t disk_writes_ = 0;
  std::unordered_map<std::uint64_t, std::list<std::uint64_t>::iterator> where_;
  std::list<std::uint64_t> order_;  // least recently stored or used first
};

// The LoRA adapters resident on one replica: at most `capacity`; an adapter no running
// sequence uses can be replaced, least recently used first.
class AdapterSlots {
 public:
  explicit AdapterSlots(std::size_t capacity) : capacity_(capacity) {}
  bool resident(std::int32_t adapter) const { return slots_.contains(adapter); }
  bool can_load() const { return slots_.size() < capacity_ || !idle_.empty(); }
  void load(std::int32_t adapter) {
    if (slots_.size() >= capacity_) {
      slots_.erase(idle_.front());
      idle_.pop_front();
    }
    slots_[adapter].idle_at = idle_.insert(idle_.end(), adapter);
  }
  void use(std::int32_t adapter) {
    Slot& slot = slots_.at(adapter);
    if (slot.users++ == 0) idle_.erase(slot.idle_at);
  }
  void release(std::int32_t adapter) {
    Slot& slot = slots_.at(adapter);
    if (--slot.users == 0) slot.idle_at = idle_.insert(idle_.end(), adapter);
  }
  // Unloads the least recently used adapter no running request uses, if any.
  std::optional<std::int32_t> evict_idle() {
    if (idle_.empty()) return std::nullopt;
    const std::int32_t adapter = idle_.front();
    idle_.pop_front();
    slots_.erase(adapter);
    return adapter;
  }

 private:
  struct Slot {
    std::int32_t users = 0;
    std::list<std::int32_t>::iterator idle_at;
  };
  std::size_t capacity_;
  std::unordered_map<std::int32_t, Slot> slots_;
  std::list<std::int32_t> idle_;  // resident and unused, least recently used first
};

}  // namespace foresight
