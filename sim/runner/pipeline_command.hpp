#pragma once
// `foresight pipeline`: pipeline schedules side by side on idealized stages (given
// forward, backward and weight-gradient times per micro-batch), with the bubble each
// leaves and its closed form where one is known.
#include <ostream>
#include <string>

namespace foresight {

struct PipelineOptions {
  std::string schedule = "all";  // a schedule name, or all
  int stages = 4;
  int micro_batches = 8;
  int chunks = 2;                // model chunks per stage, for interleaved_1f1b and breadth_first
  double forward_us = 1;         // F, one micro-batch through one stage
  double backward_us = 1;        // B (input gradients)
  double weight_grad_us = 1;     // W; schedules that do not split backward run B + W as one
  double p2p_us = 0;             // each transfer between neighbouring stages
};

int run_pipeline_command(const PipelineOptions& options, std::ostream& out);

}  // namespace foresight
