#pragma once
// Gradient reduction in FP8 (FP8-LM, Peng et al. 2023, arXiv 2310.18313; its MS-AMP
// library, whose FP8 all-reduce runs on MSCCL, and NCCL 2.24's FP8 reductions on Hopper and
// later). Each gradient bucket, before its data-parallel reduction:
//   1. every rank finds its gradients' absolute maximum, per tensor;
//   2. the DP group agrees on one scale per tensor, the smallest (FP8-LM's shared scaling
//      factor, so that no rank's sum overflows): an all-reduce of the scales;
//   3. every rank scales its gradients (and divides by the group's size, FP8-LM's
//      pre-scaling) and casts them to FP8;
//   4. the reduction moves one byte a gradient instead of grad_dtype's two or four;
//   5. every rank casts what it received (all of it after an all-reduce, its shard after a
//      reduce-scatter) back into its grad_dtype buffer.
// The gradient buffers stay in grad_dtype: micro-batches accumulate there, as the optimizer
// reads them. FP8-LM also stores gradients and moments in FP8 (its O2 level); that memory
// saving is not modelled.
#include "models/op.hpp"

namespace foresight {

inline constexpr double kFp8GradientBytes = 1;
// One fp32 scale per tensor; a transformer layer's weights are about ten tensors.
inline constexpr double kFp8ScaleBytesPerLayer = 4 * 10;

// Step 1: read the bucket's gradients (grad_bytes each).
Op fp8_gradient_amax_op(double parameters, double grad_bytes);
// Step 3: read them again, write their FP8 copy.
Op fp8_gradient_cast_op(double parameters, double grad_bytes);
// Step 5: read `received` FP8 values, write them in grad_dtype.
Op fp8_gradient_restore_op(double received, double grad_bytes);

}  // namespace foresight
