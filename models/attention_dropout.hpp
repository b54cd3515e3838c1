#pragma once
// Dropout on attention probabilities inside fused attention kernels. FlashAttention-2
// draws the keep/drop decision for every score element inside the kernel (Philox, one
// 7-round call per 16 elements, flash_attn/src/dropout.h and philox.cuh), and the backward
// draws the same numbers again. Those integer instructions share the warp schedulers with
// the softmax and are not hidden behind the matmuls (Ma, Liu and Krashinsky, "Reducing the
// Cost of Dropout in Flash-Attention by Hiding RNG with GEMM", arXiv:2410.07531: hiding them
// behind the previous GEMM speeds a Llama 3 block on GH100 by 1.22x over the fused kernel).
#include "models/gpu_spec.hpp"
#include "models/op.hpp"

namespace foresight {

// Issue slots per score element: per 16 elements, 7 Philox rounds of two 32x32->64-bit
// multiplies (IMAD.WIDE, two slots each) and two 3-input XORs, then 8 byte-to-half packs,
// 8 paired compares and 8 masks.
inline constexpr double kDropoutSlotsPerScore = (7.0 * (2 * 2 + 2) + 8 + 8 + 8) / 16;
// 32-bit integer multiply-add and logic results per clock per SM on compute capability
// 7.0 to 9.0 (CUDA C++ Programming Guide, "Arithmetic Instructions" throughput table).
inline constexpr double kIntegerOpsPerClockPerSm = 64;

// Seconds the dropout draws add to `op`, a fused attention kernel (forward or backward)
// with AttentionShape::dropout set; 0 for any other op, or a GPU without an SM count.
double attention_dropout_seconds(const Op& op, const GpuSpec& gpu);

}  // namespace foresight
