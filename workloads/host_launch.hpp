#pragma once
// What a framework's host thread spends to put work on the GPU, for serving engines and
// training loops alike (docs/serving.md, "The engine's host side"; docs/training.md,
// "The host's launches").

namespace foresight {

// Host time per kernel a Python framework launches eagerly (PyTorch's dispatch and the
// model's Python): set by Splitwise's decode of Llama-2-70B at TP 8 and batch 1 on a DGX
// H100 (calibration/data/serving/splitwise_perf_model.csv), where 30 ms per token against 8 ms
// of kernels is launch-bound: 1,043 launches per token in 22 ms beside the engine's CPU
// time (tests/serving_validation_test.cpp fits it and holds the other rows out).
inline constexpr double kEagerLaunchSeconds = 21.8e-6;

// Host time of one CUDA-graph replay: Vidur's CPU profile of vLLM on a DGX A100
// (model_execution_launch: 74 us at TP 1, 91 us at TP > 1).
inline constexpr double kGraphReplaySeconds = 80e-6;

}  // namespace foresight
