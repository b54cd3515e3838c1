#pragma once
// Remembers a cost model's estimates by everything an estimate depends on (the op's
// class, dtype, phase, FLOPs, bytes and shapes, and the GPU's figures), so that repeated
// shapes -- a serving run asks for the same few thousand millions of times -- cost a hash
// lookup instead of a model evaluation. Safe to share between threads.
#include <array>
#include <mutex>
#include <unordered_map>

#include "models/cost_model.hpp"

namespace foresight {

class EstimateCache {
 public:
  template <class Compute>
  CostEstimate get(const Op& op, const GpuSpec& gpu, Compute&& compute) const {
    const Key key = key_of(op, gpu);
    {
      const std::lock_guard lock(mutex_);
      if (const auto found = estimates_.find(key); found != estimates_.end()) return found->second;
    }
    const CostEstimate estimate = compute();
    const std::lock_guard lock(mutex_);
    estimates_.emplace(key, estimate);
    return estimate;
  }

 private:
  using Key = std::array<double, 37>;  // every field as a double: integers up to 2^53 stay exact
  struct KeyHash {
    std::size_t operator()(const Key& key) const;
  };
  static Key key_of(const Op& op, const GpuSpec& gpu);

  mutable std::mutex mutex_;
  mutable std::unordered_map<Key, CostEstimate, KeyHash> estimates_;
};

}  // namespace foresight
