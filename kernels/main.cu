// foresight-kernels: the CUDA microbenchmarks behind `foresight calibrate`. Measures the
// local GPU and writes a foresight.profile.v1 profile (docs/calibration.md).
//
//   foresight-kernels --out profile.json [--quick] [--gpu h100_sxm]
//   foresight-kernels --list [--quick]      what would be measured; needs no GPU
//
// Exit status: 0 done, 1 a CUDA call failed, 2 bad arguments or no CUDA device.
#include <cuda_runtime.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cuda_check.hpp"
#include "kernels/decode_attention.hpp"
#include "kernels/device_info.hpp"
#include "kernels/gemm_sweep.hpp"
#include "kernels/host_sweep.hpp"
#include "kernels/layer_sweep.hpp"
#include "kernels/memory_sweep.hpp"
#include "kernels/nccl_sweep.hpp"
#include "sim/progress.hpp"

using namespace foresight::kernels;

namespace {
struct Options {
  std::string out, gpu;
  bool quick = false, list = false;
};

struct Task {
  std::string label;
  std::function<std::string()> measure;  // the measurement as a JSON object
};

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      o.quick = true;
    } else if (arg == "--list") {
      o.list = true;
    } else if ((arg == "--out" || arg == "--gpu") && i + 1 < argc) {
      (arg == "--out" ? o.out : o.gpu) = argv[++i];
    } else {
      std::fprintf(stderr, "foresight-kernels: unknown argument %s\nusage: foresight-kernels --out FILE [--quick] [--gpu NAME] | --list [--quick]\n",
                   arg.c_str());
      return false;
    }
  }
  if (!o.list && o.out.empty()) {
    std::fprintf(stderr, "foresight-kernels: --out FILE is required (or --list)\n");
    return false;
  }
  return true;
}

struct Benches {
  cudaStream_t stream = nullptr;
  std::unique_ptr<KernelTimer> timer;
  std::unique_ptr<GemmBench> gemm;
  std::unique_ptr<MemoryBench> memory;
  std::unique_ptr<DecodeAttentionBench> decode;
  std::unique_ptr<NcclBench> nccl;
};

std::vector<Task> plan(const Options& o, Benches& b, bool fp8, int gpus) {
  TimingPlan timing;
  if (o.quick) {
    timing.budget_seconds = 0.05;
    timing.max_repetitions = 30;
  }
  std::vector<Task> tasks;
  tasks.push_back({"launch overhead", [&b] { return Fields().text("op", "launch").spread(time_empty_kernel(*b.timer)).object(); }});
  for (const GemmCase& c : gemm_cases(o.quick, fp8)) {
    tasks.push_back({"gemm " + c.dtype + " " + std::to_string(c.m) + "x" + std::to_string(c.n) + "x" + std::to_string(c.k), [&b, c, timing] {
                       return Fields().text("op", "gemm").text("dtype", c.dtype).integer("m", c.m).integer("n", c.n).integer("k", c.k)
                           .integer("batch", c.batch).spread(b.gemm->run(c, timing)).object();
                     }});
  }
  for (const MemoryCase& c : memory_cases(o.quick)) {
    tasks.push_back({c.kernel + " " + std::to_string(c.rows) + "x" + std::to_string(c.width), [&b, c, timing] {
                       return Fields().text("op", "memory").text("kind", c.profile_kind()).text("dtype", "bf16").text("kernel", c.kernel)
                           .number("bytes", c.bytes()).number("flops", c.flops()).spread(b.memory->run(c, timing)).object();
                     }});
  }
  for (const DecodeCase& c : decode_cases(o.quick)) {
    tasks.push_back({"decode attention " + std::to_string(c.sequences) + "x" + std::to_string(c.context), [&b, c, timing] {
                       return Fields().text("op", "attention").text("pass", "forward").text("dtype", "bf16").integer("batch", c.sequences)
                           .integer("heads", c.heads).integer("kv_heads", c.kv_heads).integer("q_len", 1).integer("kv_len", c.context)
                           .integer("head_dim", DecodeCase::kHeadDim).boolean("causal", false).text("kernel", "paged_decode")
                           .spread(b.decode->run(c, timing)).object();
                     }});
  }
  for (const LayerCase& layer : layer_cases(o.quick)) {
    tasks.push_back({"layer " + layer.model + " " + std::to_string(layer.tokens) + " tokens", [&b, layer, timing] {
                       return Fields().text("op", "layer").text("model", layer.model).integer("tokens", layer.tokens).integer("tp", 1)
                           .text("pass", "forward").text("attention", "unfused").integer("kernels", static_cast<std::int64_t>(layer.kernels.size()))
                           .spread(time_layer(layer, *b.gemm, *b.memory, *b.timer, timing)).object();
                     }});
  }
  for (const HostCopyCase& c : host_copy_cases(o.quick)) {
    tasks.push_back({"host copy " + c.direction + " " + std::to_string(c.bytes), [&b, c, timing] {
                       return Fields().text("op", "host_copy").text("direction", c.direction).boolean("pinned", c.pinned)
                           .number("bytes", static_cast<double>(c.bytes)).spread(time_host_copy(*b.timer, c, timing)).object();
                     }});
  }
  if (gpus > 1) {
    for (const CollectiveCase& c : collective_cases(o.quick)) {
      tasks.push_back({c.kind + " " + std::to_string(c.bytes), [&b, c, timing, gpus] {
                         return Fields().text("op", "collective").text("kind", c.kind).integer("gpus", gpus)
                             .number("bytes", static_cast<double>(c.bytes)).spread(b.nccl->run(c, timing)).object();
                       }});
    }
  }
  return tasks;
}

int list(const Options& o) {
  Benches none;
  const std::vector<Task> tasks = plan(o, none, true, 8);
  std::printf("%zu measurements (%s; fp8 GEMMs only on Hopper and later, collectives only with 2 or more GPUs):\n", tasks.size(),
              o.quick ? "--quick" : "full");
  for (const Task& t : tasks) std::printf("  %s\n", t.label.c_str());
  return 0;
}

int measure(const Options& o, int gpus) {
  const DeviceInfo device = describe_device(0, o.gpu);
  if (device.gpu.empty()) {
    std::fprintf(stderr, "foresight-kernels: which catalog GPU is \"%s\"? pass --gpu NAME (foresight list gpus)\n", device.name.c_str());
    return 2;
  }
  Benches b;
  check(cudaStreamCreate(&b.stream), "cudaStreamCreate");
  b.timer = std::make_unique<KernelTimer>(b.stream, device.l2_bytes);
  b.gemm = std::make_unique<GemmBench>(*b.timer);
  b.memory = std::make_unique<MemoryBench>(*b.timer);
  b.decode = std::make_unique<DecodeAttentionBench>(*b.timer);
  if (gpus > 1) b.nccl = std::make_unique<NcclBench>(gpus);
  const std::vector<Task> tasks = plan(o, b, supports_fp8(0), gpus);
  std::fprintf(stderr, "foresight-kernels: %zu measurements on %s (%d GPU%s), %s\n", tasks.size(), device.name.c_str(), gpus,
               gpus == 1 ? "" : "s", o.quick ? "quick subset" : "full sweep");
  foresight::Progress progress("foresight-kernels", static_cast<int>(tasks.size()));
  std::vector<std::string> measurements;
  for (const Task& t : tasks) {
    measurements.push_back(t.measure());
    progress.step(t.label);
  }
  progress.finish();
  std::ofstream out(o.out);
  out << profile_document(device, std::string("foresight calibrate") + (o.quick ? " --quick" : ""), measurements);
  if (!out) {
    std::fprintf(stderr, "foresight-kernels: cannot write %s\n", o.out.c_str());
    return 2;
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) return 2;
  if (o.list) return list(o);
  std::string why;
  const int gpus = cuda_devices(why);
  if (gpus == 0) {
    std::fprintf(stderr, "foresight-kernels: no CUDA device (%s); calibration needs a GPU\n", why.c_str());
    return 2;
  }
  try {
    return measure(o, gpus);
  } catch (const CudaFailure& e) {
    std::fprintf(stderr, "\nforesight-kernels: %s\n", e.what());
    return 1;
  }
}
