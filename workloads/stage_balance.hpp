#pragma once
// Layers per virtual stage that even out the stages' time: the first stage also runs the
// embedding, the last the head and the loss, so they take fewer layers when those cost more
// than nothing (what Megatron's --account-for-embedding/loss-in-pipeline-split and
// torchtitan's input/output weights approximate with one layer each).
#include <cstdint>
#include <vector>

namespace foresight {

// `stages` counts that sum to `layers`, minimising the longest stage, where stage v takes
// counts[v] x layer plus `first` on stage 0 and `last` on the last stage (times in any one
// unit); below that, the stages as even as the limit allows.
std::vector<std::int64_t> balanced_stage_layers(std::int64_t layers, std::int64_t stages, double layer, double first, double last);

}  // namespace foresight
