#pragma once
// Local SGD as DiLoCo runs it (Douillard et al., "DiLoCo: Distributed Low-Communication
// Training of Language Models", 2023; torchft's LocalSGD and DiLoCo): each data-parallel
// replica takes `period` optimizer steps on its own gradients (the inner steps reduce
// nothing across DP), then the replicas average what they moved: each computes its change
// since the last average (the outer gradient), all-reduces it over the DP group, and an
// outer optimizer (Nesterov momentum) moves the shared weights, which every replica copies.
//
// foresight simulates the syncing step, an inner step with the average at its end; the
// inner steps are that step up to the average's start. A step takes, on average, the inner
// step plus the average's cost over the period. The replicas hold the shared weights and the
// outer momentum beside their own, 8 bytes a parameter in fp32.
#include <vector>

#include "models/op.hpp"
#include "sim/engine/observer.hpp"
#include "sim/engine/time.hpp"

namespace foresight {

inline constexpr double kOuterStateBytes = 8;  // the shared weights and the outer momentum, fp32

// The outer gradient: read the shared fp32 weights and the replica's, write their difference.
Op outer_gradient_op(double parameters, double sync_bytes);
// Nesterov momentum on the averaged outer gradient: read it, the momentum and the shared
// weights, write the momentum and the shared weights, and copy them into the replica's
// fp32 weights and their 16-bit copy.
Op outer_optimizer_op(double parameters, double sync_bytes);

// A step on average: the inner step plus the syncing step's extra, once every `interval`
// steps (the period, or with Streaming DiLoCo's fragments the steps between two averages).
Time local_sgd_mean_step(Time inner_step, Time syncing_step, std::int64_t interval);

// Streaming DiLoCo (Douillard et al., "Streaming DiLoCo with overlapping communication",
// 2025): an average's all-reduce runs beside `overlap_steps` inner steps and is merged after
// them. foresight simulates it beside the syncing step, from its start, sharing its links and
// its GPU (NCCL's SMs): the step's work ends at `contended_work` instead of `plain_inner`,
// the step with the outer passes at `step_end`, the all-reduce at `average_end`. What the
// all-reduce takes beyond step_end, L, it takes from the next overlap_steps - 1 steps, which
// run at the syncing step's contended pace while it lasts (their own traffic beside it is
// not simulated); only what is left holds the merge up:
//   wait  = max(0, L - (overlap_steps - 1) x contended_work)
//   extra = (step_end - plain_inner) + min(L, (overlap_steps - 1) x contended_work) x (1 - plain_inner / contended_work) + wait
// and a step is plain_inner + extra / interval on average.
struct StreamingAverage {
  Time syncing_step = 0;  // step_end + wait
  Time wait = 0;
  Time mean_step = 0;
};
StreamingAverage streaming_average(Time plain_inner, Time contended_work, Time step_end, Time average_end, std::int64_t overlap_steps,
                                   std::int64_t interval);

// The end of the syncing step's own work and of the averages in flight beside it.
class AverageEnds : public ExecutionObserver {
 public:
  AverageEnds(std::size_t ops, const std::vector<OpId>& averages);
  void on_op_end(const OpGraph& graph, OpId op, Time start, Time end) override;
  Time step_end() const { return step_end_; }
  Time average_end() const { return average_end_; }

 private:
  std::vector<bool> is_average_;
  Time step_end_ = 0;
  Time average_end_ = 0;
};

}  // namespace foresight
