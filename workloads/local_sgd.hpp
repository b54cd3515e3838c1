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
#include "models/op.hpp"
#include "sim/engine/time.hpp"

namespace foresight {

inline constexpr double kOuterStateBytes = 8;  // the shared weights and the outer momentum, fp32

// The outer gradient: read the shared fp32 weights and the replica's, write their difference.
Op outer_gradient_op(double parameters, Dtype sync_dtype);
// Nesterov momentum on the averaged outer gradient: read it, the momentum and the shared
// weights, write the momentum and the shared weights, and copy them into the replica's
// fp32 weights and their 16-bit copy.
Op outer_optimizer_op(double parameters, Dtype sync_dtype);

// A step on average over the period: the inner step plus the average's share.
Time local_sgd_mean_step(Time inner_step, Time syncing_step, std::int64_t period);

}  // namespace foresight
