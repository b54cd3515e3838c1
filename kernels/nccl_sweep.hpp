#pragma once
// NCCL collectives and point-to-point among every GPU of this machine, driven from one
// process (ncclCommInitAll), timed on GPU 0 from the group's launch to its completion.
// Sizes follow nccl-tests: the full buffer (all-gather: the output, reduce-scatter: the
// input).
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/timing.hpp"

namespace foresight::kernels {

struct CollectiveCase {
  std::string kind;  // "all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv"
  std::int64_t bytes;
};

std::vector<CollectiveCase> collective_cases(bool quick);

class NcclBench {
 public:
  explicit NcclBench(int gpus);
  ~NcclBench();
  NcclBench(const NcclBench&) = delete;
  NcclBench& operator=(const NcclBench&) = delete;
  int gpus() const { return gpus_; }
  Spread run(const CollectiveCase& c, const TimingPlan& plan);

 private:
  struct Rank;
  int gpus_;
  std::vector<Rank> ranks_;
};

}  // namespace foresight::kernels
