#include "calibration/profile.hpp"

#include <algorithm>
#include <filesystem>

#include "models/model_arch.hpp"
#include "models/transformer_ops.hpp"
#include "sim/input/json_document.hpp"
#include "sim/input/object_reader.hpp"

namespace foresight {
namespace {
constexpr const char* kFormat = "foresight.profile.v1";
const std::vector<std::string> kOps = {"gemm", "attention", "memory", "launch", "host_copy", "collective", "layer", "sustained"};
const std::vector<std::string> kCollectives = {"all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv"};
const std::vector<std::string> kMemoryKinds = {"elementwise", "norm", "softmax", "copy"};

Spread read_spread(ObjectReader& r) {
  const double median = r.required_number("median_us", {"Median over the repetitions.", "us", {}, {}, true});
  const double p10 = r.number("p10_us", median, {"10th percentile (default: the median).", "us", 0.0});
  const double p90 = r.number("p90_us", median, {"90th percentile (default: the median).", "us", 0.0});
  if (median > 0 && (p10 > median || p90 < median)) r.error("median_us", "expected p10_us <= median_us <= p90_us");
  return {median * 1e-6, p10 * 1e-6, p90 * 1e-6,
          static_cast<int>(r.integer("repetitions", 1, {"Timed repetitions behind the figures.", "", 1.0}))};
}

Dtype read_dtype(ObjectReader& r) {
  const std::string name = r.required_string("dtype", {"Element type.", "", {}, {}, false, dtype_names()});
  return parse_dtype(name).value_or(Dtype::kBf16);
}

std::int64_t dimension(ObjectReader& r, const char* key, std::string_view doc) {
  return r.required_integer(key, {doc, "", 1.0});
}

Op read_gemm(ObjectReader& r) {
  const Dtype dtype = read_dtype(r);
  const std::int64_t m = dimension(r, "m", "Rows of A and C."), n = dimension(r, "n", "Columns of B and C."), k = dimension(r, "k", "The reduced dimension.");
  const std::int64_t batch = r.integer("batch", 1, {"Batched GEMMs in one call.", "", 1.0});
  Op op = gemm_op("gemm", {m, n, k, batch}, dtype, Phase::kForward);
  if (dtype == Dtype::kFp8) use_fp8_operands(op);
  return op;
}

Op read_attention(ObjectReader& r) {
  const Dtype dtype = read_dtype(r);
  const std::string pass = r.string("pass", "forward", {"Which pass was timed.", "", {}, {}, false, {"forward", "backward"}});
  AttentionShape a;
  a.batch = dimension(r, "batch", "Sequences.");
  a.heads = dimension(r, "heads", "Query heads.");
  a.kv_heads = r.integer("kv_heads", a.heads, {"Key/value heads (GQA; default: heads).", "", 1.0});
  a.q_len = dimension(r, "q_len", "Query positions per sequence.");
  a.kv_len = r.integer("kv_len", a.q_len, {"Key/value positions per sequence (default: q_len).", "", 1.0});
  a.head_dim = dimension(r, "head_dim", "Channels per head.");
  a.causal = r.boolean("causal", true, "Causal mask: the queries are the last q_len of the kv_len positions.");
  r.string("kernel", "", {"The microbenchmark's own kernel name (informational)."});
  if (a.kv_len < a.q_len) r.error("kv_len", "expected kv_len >= q_len");
  return attention_op(a, pass == "forward" ? Phase::kForward : Phase::kBackwardInput, dtype);
}

Op read_memory_op(ObjectReader& r) {
  Op op;
  op.dtype = read_dtype(r);
  const std::string kind = r.required_string("kind", {"What the kernel does.", "", {}, {}, false, kMemoryKinds});
  op.name = kind;
  op.kind = kind == "norm" ? OpClass::kNorm : OpClass::kElementwise;
  op.bytes = r.required_number("bytes", {"Device-memory bytes read and written.", "bytes", {}, {}, true});
  op.flops = r.number("flops", 0, {"Arithmetic operations.", "", 0.0});
  r.string("kernel", "", {"The microbenchmark's own kernel name (informational)."});
  return op;
}

SustainedSample read_sustained_sample(ObjectReader& r) {
  SustainedSample s;
  s.at_seconds = r.required_number("at_s", {"End of the interval, from the first launch.", "s", 0.0});
  s.tflops = r.required_number("tflops", {"Rate over the interval.", "TFLOP/s", {}, {}, true});
  s.sm_clock_mhz = r.number("sm_clock_mhz", 0, {"SM clock read during the interval (0: not read).", "MHz", 0.0});
  s.power_w = r.number("power_w", 0, {"Board power read during the interval (0: not read).", "W", 0.0});
  s.temperature_c = r.number("temperature_c", 0, {"GPU temperature read during the interval.", "C", 0.0});
  return s;
}

SustainedMeasurement read_sustained(ObjectReader& r) {
  SustainedMeasurement s;
  s.dtype = read_dtype(r);
  s.m = dimension(r, "m", "Rows of A and C.");
  s.n = dimension(r, "n", "Columns of B and C.");
  s.k = dimension(r, "k", "The reduced dimension.");
  s.seconds = r.required_number("seconds", {"How long the GEMM ran back to back.", "s", {}, {}, true});
  s.tflops_start = r.required_number("tflops_start", {"Rate over the first interval.", "TFLOP/s", {}, {}, true});
  s.tflops_settled = r.required_number("tflops_settled", {"Median rate over the second half.", "TFLOP/s", {}, {}, true});
  s.sm_clock_mhz_settled = r.number("sm_clock_mhz_settled", 0, {"Median SM clock over the second half.", "MHz", 0.0});
  s.power_w_settled = r.number("power_w_settled", 0, {"Median board power over the second half.", "W", 0.0});
  s.temperature_c_end = r.number("temperature_c_end", 0, {"GPU temperature at the end.", "C", 0.0});
  const nlohmann::json* samples = r.raw("samples", "array", "The rate, clock, power and temperature of every interval.");
  if (samples != nullptr && !samples->is_array()) r.error("samples", "expected an array of samples");
  for (std::size_t i = 0; samples != nullptr && samples->is_array() && i < samples->size(); ++i) {
    ObjectReader sample((*samples)[i], r.child_path("samples") + "[" + std::to_string(i) + "]", r.diagnostics());
    s.samples.push_back(read_sustained_sample(sample));
  }
  return s;
}

double read_sm_clock(ObjectReader& r) {
  return r.number("sm_clock_mhz", 0, {"The SM clock NVML read right after the repetitions (0: not read).", "MHz", 0.0});
}

void read_measurement(ObjectReader& r, CalibrationProfile& profile) {
  const std::size_t problems = r.diagnostics().problems().size();
  const std::string op = r.required_string("op", {"What was measured.", "", {}, {}, false, kOps});
  if (r.diagnostics().problems().size() > problems) {  // an unknown op: its other keys cannot be judged
    r.ignore_unknown_keys();
    return;
  }
  if (op == "launch") {
    profile.launch = read_spread(r);
  } else if (op == "host_copy") {
    HostCopy copy;
    copy.direction = r.required_string("direction", {"Host to device or back.", "", {}, {}, false, {"h2d", "d2h"}});
    copy.pinned = r.boolean("pinned", true, "Page-locked host memory (false: pageable).");
    copy.bytes = r.required_number("bytes", {"Bytes copied.", "bytes", {}, {}, true});
    copy.time = read_spread(r);
    profile.host_copies.push_back(copy);
  } else if (op == "layer") {
    LayerMeasurement l;
    l.model = r.required_string("model", {"The catalog model whose decoder layer ran.", "", {}, {}, false, builtin_model_names()});
    l.tokens = r.required_integer("tokens", {"Tokens through the layer (one sequence).", "", 1.0});
    l.tp = r.integer("tp", 1, {"Tensor-parallel degree of the layer's shapes.", "", 1.0});
    l.pass = r.string("pass", "forward", {"Which pass ran.", "", {}, {}, false, {"forward"}});
    l.attention = r.string("attention", "unfused", {"The attention kernels.", "", {}, {}, false, {"unfused"}});
    r.integer("kernels", 0, {"Kernels in the sequence (informational).", "", 0.0});
    l.time = read_spread(r);
    l.sm_clock_mhz = read_sm_clock(r);
    profile.layers.push_back(l);
  } else if (op == "sustained") {
    profile.sustained.push_back(read_sustained(r));
  } else if (op == "collective") {
    CollectiveMeasurement c;
    c.kind = r.required_string("kind", {"Which collective.", "", {}, {}, false, kCollectives});
    c.gpus = static_cast<int>(r.required_integer("gpus", {"GPUs taking part.", "", 2.0}));
    c.bytes = r.required_number("bytes", {"The full buffer (nccl-tests convention).", "bytes", {}, {}, true});
    c.time = read_spread(r);
    profile.collectives.push_back(c);
  } else {
    Op kernel = op == "gemm" ? read_gemm(r) : op == "attention" ? read_attention(r) : read_memory_op(r);
    const Spread time = read_spread(r);
    profile.kernels.push_back({std::move(kernel), time, read_sm_clock(r)});
  }
}

void read_device(ObjectReader& root, CalibrationProfile& profile) {
  auto r = root.object("device", "The GPU and software the profile was measured on.");
  ProfileDevice& d = profile.device;
  d.gpu = r.required_string("gpu", {"The catalog GPU this profile calibrates.", "", {}, {}, false, builtin_gpu_names()});
  d.name = r.string("name", "", {"The device name the driver reports."});
  d.sms = static_cast<int>(r.integer("sms", 0, {"Streaming multiprocessors.", "", 0.0}));
  d.sm_clock_mhz = r.number("sm_clock_mhz", 0, {"SM clock while measuring.", "MHz", 0.0});
  d.memory_clock_mhz = r.number("memory_clock_mhz", 0, {"Memory clock.", "MHz", 0.0});
  d.memory_gb = r.number("memory_gb", 0, {"Device memory.", "GB", 0.0});
  d.l2_mb = r.number("l2_mb", 0, {"L2 cache.", "MiB", 0.0});
  d.power_limit_w = r.number("power_limit_w", 0, {"The board power limit the driver enforced while measuring.", "W", 0.0});
  d.driver = r.string("driver", "", {"Driver version."});
  d.cuda = r.string("cuda", "", {"CUDA runtime version."});
  d.cublas = r.string("cublas", "", {"cuBLAS / cuBLASLt version."});
  d.cudnn = r.string("cudnn", "", {"cuDNN version."});
  d.nccl = r.string("nccl", "", {"NCCL version."});
  if (const GpuSpec* gpu = find_builtin_gpu(d.gpu)) profile.gpu = *gpu;
}

void spread_json_fields(nlohmann::json& entry, const Spread& s) {
  entry["median_us"] = s.median * 1e6;
  entry["p10_us"] = s.p10 * 1e6;
  entry["p90_us"] = s.p90 * 1e6;
  entry["repetitions"] = s.repetitions;
}

std::string memory_kind(const Op& op) {
  if (op.kind == OpClass::kNorm) return "norm";
  return std::find(kMemoryKinds.begin(), kMemoryKinds.end(), op.name) != kMemoryKinds.end() ? op.name : "elementwise";
}

nlohmann::json kernel_json(const ProfileKernel& k) {
  const Op& op = k.op;
  nlohmann::json entry = {{"dtype", dtype_name(op.dtype)}};
  if (op.kind == OpClass::kGemm) {
    entry.update({{"op", "gemm"}, {"m", op.gemm.m}, {"n", op.gemm.n}, {"k", op.gemm.k}, {"batch", op.gemm.batch}});
  } else if (op.kind == OpClass::kAttention) {
    const AttentionShape& a = op.attention;
    entry.update({{"op", "attention"}, {"pass", op.phase == Phase::kForward ? "forward" : "backward"}, {"batch", a.batch},
                  {"heads", a.heads}, {"kv_heads", a.kv_heads}, {"q_len", a.q_len}, {"kv_len", a.kv_len}, {"head_dim", a.head_dim},
                  {"causal", a.causal}});
  } else {
    entry.update({{"op", "memory"}, {"kind", memory_kind(op)}, {"bytes", op.bytes}, {"flops", op.flops}});
  }
  spread_json_fields(entry, k.time);
  if (k.sm_clock_mhz > 0) entry["sm_clock_mhz"] = k.sm_clock_mhz;
  return entry;
}

nlohmann::json sustained_json(const SustainedMeasurement& s) {
  nlohmann::json samples = nlohmann::json::array();
  for (const SustainedSample& x : s.samples) {
    samples.push_back({{"at_s", x.at_seconds}, {"tflops", x.tflops}, {"sm_clock_mhz", x.sm_clock_mhz}, {"power_w", x.power_w},
                       {"temperature_c", x.temperature_c}});
  }
  return {{"op", "sustained"},          {"dtype", dtype_name(s.dtype)},
          {"m", s.m},                   {"n", s.n},
          {"k", s.k},                   {"seconds", s.seconds},
          {"tflops_start", s.tflops_start}, {"tflops_settled", s.tflops_settled},
          {"sm_clock_mhz_settled", s.sm_clock_mhz_settled}, {"power_w_settled", s.power_w_settled},
          {"temperature_c_end", s.temperature_c_end}, {"samples", std::move(samples)}};
}
}  // namespace

std::vector<KernelSample> CalibrationProfile::samples() const {
  std::vector<KernelSample> samples;
  for (const ProfileKernel& k : kernels) samples.push_back({k.op, gpu.description, k.time.median, std::filesystem::path(file).filename().string()});
  return samples;
}

CalibrationProfile read_profile(const nlohmann::json& document, const std::string& file) {
  Diagnostics diagnostics(file);
  CalibrationProfile profile;
  profile.file = file;
  if (!document.is_object()) throw InputError(file, "", "expected a JSON object (a foresight.profile.v1 profile)");
  {
    ObjectReader root(document, "", diagnostics);
    const std::string format = root.required_string("format", {"The profile format's name and version.", "", {}, {}, false, {kFormat}});
    profile.source = root.string("source", "", {"How the profile was made."});
    read_device(root, profile);
    const nlohmann::json* measurements = root.raw("measurements", "array", "What was measured, one object each.");
    if (measurements == nullptr || !measurements->is_array() || measurements->empty()) {
      root.error("measurements", "expected a non-empty array of measurements");
    }
    for (std::size_t i = 0; measurements && measurements->is_array() && i < measurements->size(); ++i) {
      ObjectReader r((*measurements)[i], "measurements[" + std::to_string(i) + "]", diagnostics);
      read_measurement(r, profile);
    }
  }
  diagnostics.throw_if_any();
  return profile;
}

CalibrationProfile load_profile(const std::string& path) { return read_profile(load_json_file(path), path); }

nlohmann::json profile_to_json(const CalibrationProfile& p) {
  const ProfileDevice& d = p.device;
  nlohmann::json measurements = nlohmann::json::array();
  if (p.launch.median > 0) {
    nlohmann::json launch = {{"op", "launch"}};
    spread_json_fields(launch, p.launch);
    measurements.push_back(std::move(launch));
  }
  for (const HostCopy& c : p.host_copies) {
    nlohmann::json copy = {{"op", "host_copy"}, {"direction", c.direction}, {"pinned", c.pinned}, {"bytes", c.bytes}};
    spread_json_fields(copy, c.time);
    measurements.push_back(std::move(copy));
  }
  for (const CollectiveMeasurement& c : p.collectives) {
    nlohmann::json collective = {{"op", "collective"}, {"kind", c.kind}, {"gpus", c.gpus}, {"bytes", c.bytes}};
    spread_json_fields(collective, c.time);
    measurements.push_back(std::move(collective));
  }
  for (const LayerMeasurement& l : p.layers) {
    nlohmann::json layer = {{"op", "layer"}, {"model", l.model}, {"tokens", l.tokens}, {"tp", l.tp}, {"pass", l.pass}, {"attention", l.attention}};
    spread_json_fields(layer, l.time);
    if (l.sm_clock_mhz > 0) layer["sm_clock_mhz"] = l.sm_clock_mhz;
    measurements.push_back(std::move(layer));
  }
  for (const SustainedMeasurement& s : p.sustained) measurements.push_back(sustained_json(s));
  for (const ProfileKernel& k : p.kernels) measurements.push_back(kernel_json(k));
  return {{"format", kFormat},
          {"source", p.source},
          {"device", {{"gpu", d.gpu}, {"name", d.name}, {"sms", d.sms}, {"sm_clock_mhz", d.sm_clock_mhz},
                      {"memory_clock_mhz", d.memory_clock_mhz}, {"memory_gb", d.memory_gb}, {"l2_mb", d.l2_mb},
                      {"power_limit_w", d.power_limit_w}, {"driver", d.driver}, {"cuda", d.cuda}, {"cublas", d.cublas},
                      {"cudnn", d.cudnn}, {"nccl", d.nccl}}},
          {"measurements", std::move(measurements)}};
}

}  // namespace foresight
