#pragma once
// 1-bit Adam's compression stage (Tang et al., "1-bit Adam: Communication Efficient
// Large-Scale Training with Adam's Convergence Speed", ICML 2021; DeepSpeed's OneBitAdam
// with its NCCL backend). After its warmup (freeze_step) Adam's variance is frozen and the
// ranks stop reducing gradients; each optimizer step:
//   1. every rank folds its own gradient into its momentum and compresses momentum plus its
//      error-feedback buffer to one sign bit per element and a scale, keeping what the
//      compression lost as the next error;
//   2. the DP group exchanges the signs: an all-to-all sends chunk i to rank i, which
//      decompresses the chunks it received, averages them, adds its server error and
//      compresses again; an all-gather returns the compressed averages to every rank.
//      Each phase moves (n - 1) / n of parameters / 8 bytes a rank, the traffic of a ring
//      all-reduce of that payload, which is how foresight runs the pair;
//   3. every rank decompresses the average into its momentum and updates its weights with
//      the frozen variance.
// Memory: the worker's error buffer (fp32, every parameter) and the server's (fp32, its
// 1/n chunk). The scales (one fp32 per rank's chunk) are not counted.
#include "models/op.hpp"

namespace foresight {

inline constexpr double kSignBytes = 1.0 / 8;          // one bit a parameter
inline constexpr double kWorkerErrorBytes = 4;         // fp32 error feedback, every parameter

// Step 1: read the gradient, the momentum and the error; write the momentum, the error and the signs.
Op onebit_compress_op(double parameters, Dtype grad_dtype);
// Step 2's server part on this rank's chunk of parameters / ranks: read the ranks' signs,
// the server error; write the error and the compressed average.
Op onebit_server_op(double parameters, double ranks);
// Step 3: read the averaged signs, the fp32 weights, the momentum and the frozen variance;
// write the momentum, the weights and their 16-bit copy.
Op onebit_update_op(double parameters);

}  // namespace foresight
