#pragma once
// The serving tests' replica: Llama-3-8B on an H100 of an NVSwitch node, roofline costs.
#include <string>

#include "models/roofline_model.hpp"
#include "workloads/serving_simulation.hpp"

namespace foresight::testing {

struct ServingBench {
  ModelArch model = *find_builtin_model("llama3_8b");
  GpuSpec gpu = *find_builtin_gpu("h100_sxm");
  NodeFabric fabric;
  RooflineModel roofline{RooflineParameters{}};
  ServingConfig config;
  ServingBench() {
    fabric.preset = "nvswitch_node";
    fabric.gpus = 8;
    fabric.bandwidth = 450e9;
    fabric.efficiency = 0.9;
  }
};

// OPT-13B, -66B or -175B ("facebook/opt-66b"): GPT-style, learned positions, LayerNorm,
// biases, ReLU, 2,048 positions.
inline ModelArch opt_model(const std::string& name) {
  ModelArch m = *find_builtin_model("gpt3_175b");
  const bool small = name == "facebook/opt-13b", medium = name == "facebook/opt-66b";
  m.name = name;
  m.hidden = small ? 5120 : medium ? 9216 : 12288;
  m.layers = small ? 40 : medium ? 64 : 96;
  m.heads = m.kv_heads = small ? 40 : medium ? 72 : 96;
  m.head_dim = m.hidden / m.heads;
  m.ffn_hidden = 4 * m.hidden;
  m.vocab = 50272;
  m.max_positions = 2048;
  m.activation = Activation::kRelu;
  return m;
}

// vLLM as it ran in 2023 (0.1-0.2): the V0 host, every kernel launched eagerly (no CUDA
// graphs before 0.2.5), and TP workers driven as Ray actors, whose communication Vidur's
// profile of that executor measures at 6.26 ms per iteration at TP > 1 (median of 52 rows).
inline ServingConfig vllm_2023_config(const GpuSpec& gpu, std::int64_t tp, std::int64_t max_model_len, double launch_seconds) {
  ServingConfig config = engine_defaults("vllm_v0", gpu, max_model_len);
  config.engine.cuda_graphs = false;
  config.host.kernel_launch_seconds = launch_seconds;
  if (tp > 1) config.host.tp_seconds += 6.26e-3;
  config.tp = tp;
  return config;
}

// One DGX node's NVSwitch fabric at `gpu`'s NVLink bandwidth, flow-level.
inline NodeFabric dgx_fabric(const GpuSpec& gpu) {
  NodeFabric fabric;
  fabric.preset = "nvswitch_node";
  fabric.gpus = 8;
  fabric.bandwidth = gpu.scale_up_bandwidth;
  fabric.network = NetworkModel::kFlow;
  return fabric;
}

}  // namespace foresight::testing
