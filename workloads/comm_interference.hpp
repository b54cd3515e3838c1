#pragma once
// Compute-communication interference. An NCCL collective runs as a kernel of one thread
// block per channel, each on an SM of its own, and moves its data through HBM: a kernel
// that runs beside it on the same GPU has fewer SMs and less memory bandwidth. This model
// stretches each compute kernel by what the collectives in flight on its GPU when it
// starts take:
//   tensor-core kernels (GEMM, attention): x SMs / (SMs - the collectives' SMs)
//   memory-bound kernels:                  x 1 / (1 - collectives' HBM traffic / HBM bandwidth)
// with each collective's HBM traffic its link rate times the accesses per byte (read and
// write: 2; a reduction also reads its own operand: 3), and both shares capped at one half.
// A kernel keeps the rate it started with, and collectives are not slowed in turn.
#include <functional>
#include <vector>

#include "models/gpu_spec.hpp"
#include "sim/dag_executor.hpp"
#include "sim/observer.hpp"

namespace foresight {

struct InterferenceSettings {
  bool enabled = true;
  // SMs an NCCL collective holds: NCCL runs 16 channels on H100 clusters (its INFO log,
  // "Channel 00/16", NVIDIA/nccl issue 1453), one thread block and SM each.
  int sms_per_collective = 16;
  // A send/recv runs on fewer: "NCCL_NCHANNELS_PER_NET_PEER is typically 2" (an NCCL
  // developer, NVIDIA/nccl issue 1424).
  int sms_per_send_recv = 2;
};

// What the model needs to know of an op.
struct InterferenceRole {
  enum class Kind { kOther, kTensorCompute, kMemoryCompute, kCollective };
  Kind kind = Kind::kOther;
  int rank = -1;                    // compute ops: the GPU it runs on
  double hbm_bytes_per_second = 0;  // collectives: traffic through each member's HBM
  int sms = 0;                      // collectives: SMs held on each member
};

class CommInterference : public ExecutionObserver, public DurationAdjuster {
 public:
  using RoleOf = std::function<InterferenceRole(OpId)>;
  using MembersOf = std::function<std::vector<int>(OpId)>;  // a collective's ranks
  CommInterference(const GpuSpec& gpu, InterferenceSettings settings, int ranks, RoleOf role_of, MembersOf members_of);

  void on_op_start(const OpGraph& graph, OpId op, Time start) override;
  void on_op_end(const OpGraph& graph, OpId op, Time start, Time end) override;
  Time duration_at_start(OpId op, Time nominal) override;

  // Kernel time the collectives added on `rank` over the run.
  Time added_time(int rank) const { return added_[static_cast<std::size_t>(rank)]; }

 private:
  struct Load {
    int collectives = 0;
    int sms = 0;
    double hbm_bytes_per_second = 0;
  };
  void change_load(OpId collective, int sign);

  GpuSpec gpu_;
  InterferenceSettings settings_;
  RoleOf role_of_;
  MembersOf members_of_;
  std::vector<Load> load_;
  std::vector<Time> added_;
};

}  // namespace foresight
