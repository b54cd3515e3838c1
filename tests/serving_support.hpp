#pragma once
// The serving tests' replica: Llama-3-8B on an H100 of an NVSwitch node, roofline costs.
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

}  // namespace foresight::testing
