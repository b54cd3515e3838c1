// foresight-kernels: the CUDA microbenchmarks behind `foresight calibrate`. Measures the
// local GPU and writes a foresight.profile.v1 profile (docs/calibration.md).
//
//   foresight-kernels --out profile.json [--quick] [--gpu h200_sxm] [--only FAMILIES] [--max-seconds S]
//   foresight-kernels --check                what each kernel computes, against a float64 reference
//   foresight-kernels --list [--quick] [--only FAMILIES]   what would be measured; needs no GPU
//
// Families: launch, gemm (gemm.bf16, gemm.fp16, gemm.tf32, gemm.fp8), memory, attention,
// layer, host, collective, sustained.
// Exit status: 0 done, 1 a CUDA call failed or a kernel computed the wrong thing, 2 bad
// arguments or no CUDA device.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cuda_check.hpp"
#include "kernels/decode_attention.hpp"
#include "kernels/device_info.hpp"
#include "kernels/gemm_sweep.hpp"
#include "kernels/holdout.hpp"
#include "kernels/host_sweep.hpp"
#include "kernels/layer_sweep.hpp"
#include "kernels/memory_sweep.hpp"
#include "kernels/nccl_sweep.hpp"
#include "kernels/self_check.hpp"
#include "kernels/sustained.hpp"
#include "sim/engine/progress.hpp"

using namespace foresight::kernels;

namespace {
// "holdout" is measured only when asked for by name: its shapes score the models, so they
// stay out of the profiles the models are made from.
const char* const kFamilies[] = {"launch", "gemm", "memory", "attention", "layer", "host", "collective", "sustained", "holdout"};
const char* const kUsage =
    "usage: foresight-kernels --out FILE [--quick] [--gpu NAME] [--only FAMILY,...] [--max-seconds S]\n"
    "       foresight-kernels --check | --list [--quick] [--only FAMILY,...]\n"
    "families: launch, gemm (or gemm.bf16, gemm.fp16, gemm.tf32, gemm.fp8), memory, attention, layer, host, collective, sustained;\n"
    "          holdout (random shapes off the sweep's grid, for scoring models; only when named)\n";

struct Options {
  std::string out, gpu;
  bool quick = false, list = false, check = false;
  std::vector<std::string> only;  // families (or gemm.<dtype>); empty: all
  double max_seconds = 0;         // stop starting new measurements after this long; 0: no limit
};

struct Task {
  std::string family;  // "gemm.bf16", "memory", ...
  std::string label;
  std::function<std::string()> measure;  // the measurement as a JSON object
};

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

bool known_family(const std::string& name) {
  const char* const gemm_dtypes[] = {"gemm.bf16", "gemm.fp16", "gemm.tf32", "gemm.fp8"};
  const auto named = [&](const char* f) { return name == f; };
  return std::any_of(std::begin(kFamilies), std::end(kFamilies), named) || std::any_of(std::begin(gemm_dtypes), std::end(gemm_dtypes), named);
}

bool fail(const std::string& message) {
  std::fprintf(stderr, "foresight-kernels: %s\n%s", message.c_str(), kUsage);
  return false;
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--quick") {
      o.quick = true;
    } else if (arg == "--list") {
      o.list = true;
    } else if (arg == "--check") {
      o.check = true;
    } else if ((arg == "--out" || arg == "--gpu") && has_value) {
      (arg == "--out" ? o.out : o.gpu) = argv[++i];
    } else if (arg == "--only" && has_value) {
      o.only = split_commas(argv[++i]);
      for (const std::string& family : o.only) {
        if (!known_family(family)) return fail("--only: unknown family \"" + family + "\"");
      }
      if (o.only.empty()) return fail("--only: expected a comma-separated list of families");
    } else if (arg == "--max-seconds" && has_value) {
      char* end = nullptr;
      o.max_seconds = std::strtod(argv[++i], &end);
      if (end == argv[i] || *end != '\0' || !(o.max_seconds > 0)) return fail("--max-seconds: expected a number of seconds > 0");
    } else {
      return fail("unknown argument " + arg);
    }
  }
  if (!o.list && !o.check && o.out.empty()) return fail("--out FILE is required (or --list, or --check)");
  return true;
}

struct Benches {
  cudaStream_t stream = nullptr;
  std::unique_ptr<KernelTimer> timer;
  std::unique_ptr<GemmBench> gemm;
  std::unique_ptr<MemoryBench> memory;
  std::unique_ptr<DecodeAttentionBench> decode;
  std::unique_ptr<NcclBench> nccl;
  std::unique_ptr<Nvml> nvml;
};

std::string sustained_measurement(const SustainedCase& c, const std::vector<SustainedSample>& samples) {
  // The settled state: medians over the second half of the run.
  const auto settled = [&](const std::function<double(const SustainedSample&)>& field) {
    std::vector<double> values;
    for (std::size_t i = samples.size() / 2; i < samples.size(); ++i) values.push_back(field(samples[i]));
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
  };
  std::string series = "[";
  for (const SustainedSample& s : samples) {
    series += (series.size() > 1 ? ", " : "") + Fields()
                                                     .number("at_s", s.at_seconds)
                                                     .number("tflops", s.tflops)
                                                     .number("sm_clock_mhz", s.telemetry.sm_clock_mhz)
                                                     .number("power_w", s.telemetry.power_w)
                                                     .number("temperature_c", s.telemetry.temperature_c)
                                                     .object();
  }
  return Fields()
      .text("op", "sustained")
      .text("dtype", c.dtype)
      .integer("m", c.m)
      .integer("n", c.n)
      .integer("k", c.k)
      .number("seconds", samples.back().at_seconds)
      .number("tflops_start", samples.front().tflops)
      .number("tflops_settled", settled([](const SustainedSample& s) { return s.tflops; }))
      .number("sm_clock_mhz_settled", settled([](const SustainedSample& s) { return s.telemetry.sm_clock_mhz; }))
      .number("power_w_settled", settled([](const SustainedSample& s) { return s.telemetry.power_w; }))
      .number("temperature_c_end", samples.back().telemetry.temperature_c)
      .raw("samples", series + "]")
      .object();
}

// The SM clock right after a measurement's repetitions: under a heavy load the GPU runs at
// the clock its power limit allows, not at its boost clock, and a time means little
// without the clock it was taken at.
double sm_clock(const Benches& b) { return b.nvml->sample().sm_clock_mhz; }

Task gemm_task(const std::string& family, const GemmCase& c, Benches& b, const TimingPlan& timing) {
  return {family, "gemm " + c.dtype + " " + std::to_string(c.m) + "x" + std::to_string(c.n) + "x" + std::to_string(c.k) +
                      (c.batch > 1 ? " batch " + std::to_string(c.batch) : ""),
          [&b, c, timing] {
            return Fields().text("op", "gemm").text("dtype", c.dtype).integer("m", c.m).integer("n", c.n).integer("k", c.k)
                .integer("batch", c.batch).spread(b.gemm->run(c, timing)).number("sm_clock_mhz", sm_clock(b)).object();
          }};
}

Task memory_task(const std::string& family, const MemoryCase& c, Benches& b, const TimingPlan& timing) {
  return {family, c.kernel + " " + std::to_string(c.rows) + "x" + std::to_string(c.width), [&b, c, timing] {
            return Fields().text("op", "memory").text("kind", c.profile_kind()).text("dtype", "bf16").text("kernel", c.kernel)
                .number("bytes", c.bytes()).number("flops", c.flops()).spread(b.memory->run(c, timing)).number("sm_clock_mhz", sm_clock(b)).object();
          }};
}

Task decode_task(const std::string& family, const DecodeCase& c, Benches& b, const TimingPlan& timing) {
  return {family, "decode attention " + std::to_string(c.sequences) + "x" + std::to_string(c.context) + " " + std::to_string(c.heads) + "/" + std::to_string(c.kv_heads),
          [&b, c, timing] {
            const DecodeTiming t = b.decode->run(c, timing);
            return Fields().text("op", "attention").text("pass", "forward").text("dtype", "bf16").integer("batch", c.sequences)
                .integer("heads", c.heads).integer("kv_heads", c.kv_heads).integer("q_len", 1).integer("kv_len", c.context)
                .integer("head_dim", DecodeCase::kHeadDim).boolean("causal", false).text("kernel", t.kernel)
                .spread(t.spread).number("sm_clock_mhz", sm_clock(b)).object();
          }};
}

bool asked_for(const Options& o, const std::string& family) {
  return std::any_of(o.only.begin(), o.only.end(), [&](const std::string& f) { return f == family; });
}

std::vector<Task> plan(const Options& o, Benches& b, bool fp8, int gpus) {
  TimingPlan timing;
  timing.budget_seconds = 0.05;
  timing.max_repetitions = o.quick ? 30 : 50;
  std::vector<Task> tasks;
  tasks.push_back({"launch", "launch overhead", [&b] { return Fields().text("op", "launch").spread(time_empty_kernel(*b.timer)).object(); }});
  for (const GemmCase& c : gemm_cases(o.quick, fp8)) tasks.push_back(gemm_task("gemm." + c.dtype, c, b, timing));
  for (const MemoryCase& c : memory_cases(o.quick)) tasks.push_back(memory_task("memory", c, b, timing));
  for (const DecodeCase& c : decode_cases(o.quick)) tasks.push_back(decode_task("attention", c, b, timing));
  for (const LayerCase& layer : layer_cases(o.quick)) {
    tasks.push_back({"layer", "layer " + layer.model + " " + std::to_string(layer.tokens) + " tokens", [&b, layer, timing] {
                       return Fields().text("op", "layer").text("model", layer.model).integer("tokens", layer.tokens).integer("tp", 1)
                           .text("pass", "forward").text("attention", "unfused").integer("kernels", static_cast<std::int64_t>(layer.kernels.size()))
                           .spread(time_layer(layer, *b.gemm, *b.memory, *b.timer, timing)).number("sm_clock_mhz", sm_clock(b)).object();
                     }});
  }
  for (const HostCopyCase& c : host_copy_cases(o.quick)) {
    tasks.push_back({"host", "host copy " + c.direction + (c.pinned ? " pinned " : " pageable ") + std::to_string(c.bytes), [&b, c, timing] {
                       return Fields().text("op", "host_copy").text("direction", c.direction).boolean("pinned", c.pinned)
                           .number("bytes", static_cast<double>(c.bytes)).spread(time_host_copy(*b.timer, c, timing)).object();
                     }});
  }
  if (gpus > 1) {
    for (const CollectiveCase& c : collective_cases(o.quick)) {
      tasks.push_back({"collective", c.kind + " " + std::to_string(c.bytes), [&b, c, timing, gpus] {
                         return Fields().text("op", "collective").text("kind", c.kind).integer("gpus", gpus)
                             .number("bytes", static_cast<double>(c.bytes)).spread(b.nccl->run(c, timing)).object();
                       }});
    }
  }
  for (const SustainedCase& c : sustained_cases(o.quick, fp8)) {
    tasks.push_back({"sustained", "sustained " + c.dtype + " " + std::to_string(c.m) + "x" + std::to_string(c.n) + "x" + std::to_string(c.k),
                     [&b, c] { return sustained_measurement(c, run_sustained(*b.gemm, *b.nvml, c, b.stream)); }});
  }
  if (asked_for(o, "holdout")) {
    const HoldoutCases holdout = holdout_cases(fp8);
    for (const GemmCase& c : holdout.gemms) tasks.push_back(gemm_task("holdout", c, b, timing));
    for (const MemoryCase& c : holdout.memory) tasks.push_back(memory_task("holdout", c, b, timing));
    for (const DecodeCase& c : holdout.decode) tasks.push_back(decode_task("holdout", c, b, timing));
  }
  if (!o.only.empty()) {
    const auto unwanted = [&](const Task& t) {
      return std::none_of(o.only.begin(), o.only.end(), [&](const std::string& f) { return t.family == f || t.family.rfind(f + ".", 0) == 0; });
    };
    tasks.erase(std::remove_if(tasks.begin(), tasks.end(), unwanted), tasks.end());
  }
  return tasks;
}

int list(const Options& o) {
  Benches none;
  const std::vector<Task> tasks = plan(o, none, true, 8);
  std::printf("%zu measurements (%s; fp8 GEMMs only on Hopper and later, collectives only with 2 or more GPUs):\n", tasks.size(),
              o.quick ? "--quick" : "full");
  for (const Task& t : tasks) std::printf("  %-11s %s\n", t.family.c_str(), t.label.c_str());
  return 0;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string text;
  for (const std::string& p : parts) text += (text.empty() ? "" : ",") + p;
  return text;
}

int measure(const Options& o, int gpus) {
  Benches b;
  b.nvml = std::make_unique<Nvml>(pci_bus_id(0), 0);
  const DeviceInfo device = describe_device(0, o.gpu, *b.nvml);
  if (device.gpu.empty() && !o.check) {
    std::fprintf(stderr, "foresight-kernels: which catalog GPU is \"%s\"? pass --gpu NAME (foresight list gpus)\n", device.name.c_str());
    return 2;
  }
  check(cudaStreamCreate(&b.stream), "cudaStreamCreate");
  b.timer = std::make_unique<KernelTimer>(b.stream, device.l2_bytes);
  if (o.check) return run_self_check(*b.timer, supports_fp8(0)) ? 0 : 1;
  b.gemm = std::make_unique<GemmBench>(*b.timer);
  b.memory = std::make_unique<MemoryBench>(*b.timer);
  b.decode = std::make_unique<DecodeAttentionBench>(*b.timer);
  if (gpus > 1) b.nccl = std::make_unique<NcclBench>(gpus);
  const std::vector<Task> tasks = plan(o, b, supports_fp8(0), gpus);
  std::fprintf(stderr, "foresight-kernels: %zu measurements on %s (%d GPU%s), %s\n", tasks.size(), device.name.c_str(), gpus,
               gpus == 1 ? "" : "s", o.quick ? "quick subset" : "full sweep");
  const auto start = std::chrono::steady_clock::now();
  foresight::Progress progress("foresight-kernels", static_cast<int>(tasks.size()));
  std::vector<std::string> measurements, skipped;
  std::size_t done = 0;
  for (const Task& t : tasks) {
    if (o.max_seconds > 0 && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > o.max_seconds) break;
    try {
      measurements.push_back(t.measure());
    } catch (const Unsupported& e) {
      skipped.push_back(t.label + " (" + e.what() + ")");
    }
    ++done;
    progress.step(t.label);
  }
  progress.finish();
  for (const std::string& s : skipped) std::fprintf(stderr, "foresight-kernels: skipped %s\n", s.c_str());
  std::string source = std::string("foresight calibrate") + (o.quick ? " --quick" : "") + (o.only.empty() ? "" : " --only " + joined(o.only));
  if (done < tasks.size()) {
    source += " (stopped at --max-seconds: " + std::to_string(done) + " of " + std::to_string(tasks.size()) + " measured)";
    std::fprintf(stderr, "foresight-kernels: stopped after %g s with %zu of %zu measurements done\n", o.max_seconds, done, tasks.size());
  }
  if (!skipped.empty()) source += " (" + std::to_string(skipped.size()) + " skipped: no cuBLASLt algorithm)";
  if (measurements.empty()) {
    std::fprintf(stderr, "foresight-kernels: nothing was measured\n");
    return 1;
  }
  std::ofstream out(o.out);
  out << profile_document(device, source, measurements);
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
