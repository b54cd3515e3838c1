#pragma once
// The small model, fabric and GPU the training unit tests' closed forms run on.
#include <string>

#include "models/gpu_spec.hpp"
#include "models/model_arch.hpp"
#include "models/roofline_model.hpp"
#include "topologies/node_fabric.hpp"
#include "workloads/training_step.hpp"

namespace foresight::testing {

// Llama 3 8B's shape, shrunk: 4 layers of hidden 1,024 with GQA (16 / 4 heads) and a gated MLP.
inline ModelArch small_model() {
  ModelArch m = *find_builtin_model("llama3_8b");
  m.name = "small";
  m.hidden = 1024;
  m.layers = 4;
  m.heads = 16;
  m.kv_heads = 4;
  m.head_dim = 64;
  m.ffn_hidden = 4096;
  m.vocab = 32000;
  return m;
}

// One NVSwitch node of `gpus` GPUs with round figures.
inline NodeFabric fabric(int gpus) {
  NodeFabric f;
  f.preset = "nvswitch_node";
  f.gpus = gpus;
  f.bandwidth = 450e9;
  f.step_latency_seconds = 0.25e-6;
  f.launch_latency_seconds = 10e-6;
  f.efficiency = 0.9;
  return f;
}

// Identical GPUs (no speed spread): the closed forms take kernels at the cost model's times.
inline GpuSpec identical_h100() {
  GpuSpec gpu = *find_builtin_gpu("h100_sxm");
  gpu.speed_spread = 0;
  return gpu;
}

// The "bytes" figure of a collective's trace args.
inline double collective_bytes_of(const std::string& args) {
  const auto at = args.find("\"bytes\":");
  return at == std::string::npos ? 0 : std::stod(args.substr(at + 8));
}

// The bytes of every collective of the step's graph named `name`, all told.
inline double collective_bytes_named(const TrainingStep& step, const std::string& name) {
  double bytes = 0;
  for (OpId op = 0; op < step.graph().op_count(); ++op) {
    if (step.graph().label_text(step.graph().op(op).name) == name) bytes += collective_bytes_of(step.trace_args(op));
  }
  return bytes;
}

// The small model on identical H100s under the roofline.
struct Fixture {
  ModelArch model = small_model();
  GpuSpec gpu = identical_h100();
  RooflineModel roofline{RooflineParameters{}};

  // The step on one GPU of the fixture's model, under the roofline.
  TrainingResult run_alone(const TrainingConfig& c) const { return TrainingStep(model, gpu, fabric(1), c, roofline).run(); }
};

}  // namespace foresight::testing
