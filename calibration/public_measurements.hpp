#pragma once
// Measured kernel times from public projects (calibration/data), the learned predictor's
// training data when no profile of our own is at hand:
// - NeuSight (ASPLOS'25): FP32 GEMM, batched GEMM, elementwise, layer-norm and softmax
//   latencies on eight GPUs, with the device figures NeuSight used;
// - Vidur (MLSys'24): FP16 kernels of Llama-2-7B and -70B layers (projections, norms,
//   rotary embedding, activation, residual add) on H100, A100 and A40 at TP 1-8, and
//   FlashAttention prefill and decode on A100.
// Every loader throws InputError naming the file, line and column of a bad cell.
#include <string>
#include <vector>

#include "calibration/kernel_sample.hpp"
#include "models/model_arch.hpp"

namespace foresight {

// Each device_configs/*.json of a NeuSight data folder, keyed by its "Device" string; only
// the FP32 peak is known.
DeviceTable load_neusight_devices(const std::string& folder);
// test_linear.csv / test_bmm.csv: columns OPName, Latency (ms), Device, B, M, N, K.
std::vector<KernelSample> load_neusight_gemms(const std::string& csv);
// test_elem.csv / test_ln.csv / test_softmax.csv: columns OPName, Latency (ms), Device, B, H.
std::vector<KernelSample> load_neusight_memory_ops(const std::string& csv);
// mlp_<gpu>_<model>.csv: a layer's per-op median times against num_tokens and
// num_tensor_parallel_workers, matched to the ops foresight builds for that layer.
std::vector<KernelSample> load_vidur_layer_ops(const std::string& csv, const ModelArch& model, const GpuSpec& gpu);
// attention_*.csv: FlashAttention prefill (one chunk after kv_cache_size cached tokens)
// and decode (batch_size queries, each over kv_cache_size cached tokens).
std::vector<KernelSample> load_vidur_attention(const std::string& csv, const GpuSpec& gpu);

// Everything above that `data_folder` (the public data folder) holds; throws InputError
// when it holds no NeuSight device configs.
MeasuredKernels load_public_measurements(const std::string& data_folder);

}  // namespace foresight
