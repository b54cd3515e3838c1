#pragma once
// Runs a pipeline schedule's per-stage orders on the event engine with given work times,
// adding the dependencies every schedule shares: a micro-batch's forward on virtual
// stage v waits for its forward on v-1 (along its copy of the model, for schedules that hold
// two), its backward on v for the backward on v+1 (the
// last virtual stage's for its own forward), and a weight-gradient pass for its
// backward; crossing from one stage to another costs the point-to-point time. Each
// stage is one stream: its tasks run one at a time, in the schedule's order.
#include <vector>

#include "sim/engine/time.hpp"
#include "workloads/pipeline_schedule.hpp"

namespace foresight {

struct PipelineWorkTimes {
  Time forward = 0;      // one micro-batch through one chunk
  Time backward = 0;     // B, or the whole backward when the schedule does not split it
  Time weight_grad = 0;  // W (split schedules only)
  Time p2p = 0;          // activation or gradient transfer to the next or previous stage
};

struct PipelineTimeline {
  Time makespan = 0;
  std::vector<Time> busy;  // per stage
  // Idle share of the stages' time: 1 - sum(busy) / (stages x makespan).
  double bubble_fraction() const;
};

// Throws std::invalid_argument when the schedule cannot run the shape, and
// std::logic_error when its orders deadlock.
PipelineTimeline run_pipeline(const PipelineSchedule& schedule, int stages, int micro_batches,
                              const PipelineWorkTimes& times);

}  // namespace foresight
