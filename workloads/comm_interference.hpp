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
// A kernel runs at the reduced rate only while collectives run beside it: when one starts
// or ends on its GPU, the kernel's remaining work goes on at the new rate and its end moves
// (a 77 ms attention kernel beside a 0.5 ms ring exchange loses 0.07 ms, not 11 ms).
// Collectives are not slowed in turn.
#include <cstdint>
#include <functional>
#include <vector>

#include "models/gpu_spec.hpp"
#include "sim/engine/dag_executor.hpp"
#include "sim/engine/observer.hpp"

namespace foresight {

struct InterferenceSettings {
  bool enabled = true;
  // SMs an NCCL collective holds: NCCL runs 16 channels on H100 clusters (its INFO log,
  // "Channel 00/16", NVIDIA/nccl issue 1453), one thread block and SM each.
  int sms_per_collective = 16;
  // A send/recv runs on fewer: "NCCL_NCHANNELS_PER_NET_PEER is typically 2" (an NCCL
  // developer, NVIDIA/nccl issue 1424).
  int sms_per_send_recv = 2;
  // Pipeline send/recv interferes only when asked: their 2 SMs cost the kernels beside
  // them about 1.5% (139 us of a 4.5 s step in the 4-stage breadth-first benchmark),
  // while the desynchronized stages double the simulation's events.
  bool send_recv = false;
};

// What the model needs to know of an op: its kind, for every op (one byte each), and for
// collectives what they take from each member.
enum class InterferenceKind : std::uint8_t { kOther, kTensorCompute, kMemoryCompute, kCollective };
struct CollectiveLoad {
  double hbm_bytes_per_second = 0;  // traffic through each member's HBM
  int sms = 0;                      // SMs held on each member
  std::vector<int> members;         // the ranks it runs on
};

class CommInterference : public ExecutionObserver, public DurationAdjuster {
 public:
  using LoadOf = std::function<CollectiveLoad(OpId)>;
  // Moves a running kernel's end (DagExecutor::reschedule_end).
  using MoveEnd = std::function<void(OpId, Time)>;
  // `kinds` and `rank_of_op` are indexed by op; the model keeps references to them.
  CommInterference(const GpuSpec& gpu, int ranks, const std::vector<InterferenceKind>& kinds,
                   const std::vector<int>& rank_of_op, LoadOf load_of, MoveEnd move_end);

  void on_op_start(const OpGraph& graph, OpId op, Time start) override;
  void on_op_end(const OpGraph& graph, OpId op, Time start, Time end) override;
  Time duration_at_start(OpId op, Time now, Time nominal) override;

  // Kernel time the collectives added on `rank` over the run.
  Time added_time(int rank) const { return added_[static_cast<std::size_t>(rank)]; }

 private:
  struct Load {
    int collectives = 0;
    int sms = 0;
    double hbm_bytes_per_second = 0;
  };
  struct Running {
    OpId op;
    Time nominal;
    Time since;        // when `remaining` was last brought up to date
    double remaining;  // nominal time still to run
    double rate;       // nominal time run per unit of time
  };
  void change_load(OpId collective, int sign, Time now);
  double rate_of(OpId kernel, int rank) const;

  GpuSpec gpu_;
  const std::vector<InterferenceKind>& kinds_;
  const std::vector<int>& rank_of_op_;
  LoadOf load_of_;
  MoveEnd move_end_;
  std::vector<Load> load_;
  std::vector<std::vector<Running>> running_;  // per rank: its kernels in flight
  std::vector<Time> added_;
};

}  // namespace foresight
