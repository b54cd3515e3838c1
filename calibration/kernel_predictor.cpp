#include "calibration/kernel_predictor.hpp"

#include <algorithm>
#include <optional>
#include <cmath>
#include <stdexcept>

#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"

namespace foresight {
namespace {
constexpr double kTile = 128;
constexpr double kLaunch = 5e-6;                // seconds every kernel takes at least
constexpr double kBound = 1.3862943611198906;  // ln 4
constexpr const char* kFormat = "foresight.kernel-model.v1";

double log_of(double value) { return std::log(std::max(value, 1e-30)); }
double dim(std::int64_t value) { return static_cast<double>(std::max<std::int64_t>(value, 1)); }

// The dtype's peak, or the FP32 rate for a GPU whose figures lack it.
double peak_for(const Op& op, const GpuSpec& gpu) {
  const double peak = gpu.peak(op.dtype) > 0 ? gpu.peak(op.dtype) : gpu.peak(Dtype::kFp32);
  if (peak <= 0) throw std::logic_error(gpu.name + " has no peak FLOP/s for the predictor");
  return peak;
}

struct Tiles {
  double count, waves, fill;
};

// Output tiles of 128 x 128 (GEMMs) or 128 query rows per head (attention) over the SMs.
Tiles tiles_of(const Op& op, const GpuSpec& gpu) {
  const double sms = std::max(1, gpu.sm_count);
  double count = 1;
  if (op.kind == OpClass::kGemm) {
    count = dim(op.gemm.batch) * std::ceil(dim(op.gemm.m) / kTile) * std::ceil(dim(op.gemm.n) / kTile);
  } else if (op.kind == OpClass::kAttention) {
    count = dim(op.attention.batch) * dim(op.attention.heads) * std::ceil(dim(op.attention.q_len) / kTile);
  }
  const double waves = std::ceil(count / sms);
  return {count, waves, count / (waves * sms)};
}

void append_device(std::vector<double>& x, const Op& op, const GpuSpec& gpu) {
  x.insert(x.end(), {log_of(peak_for(op, gpu)), log_of(gpu.memory_bandwidth), log_of(gpu.sm_count), log_of(gpu.l2_bytes),
                     dtype_bytes(op.dtype)});
}

void append_shares(std::vector<double>& x, const Baseline& b) {
  const double total = b.seconds();
  x.insert(x.end(), {b.compute / total, b.memory / total});
}

const std::vector<std::string> kDeviceNames = {"log peak flops", "log bandwidth", "log sms", "log l2 bytes", "dtype bytes"};

std::vector<std::string> with_device(std::vector<std::string> names) {
  names.insert(names.end(), {"compute share", "memory share"});
  names.insert(names.end(), kDeviceNames.begin(), kDeviceNames.end());
  return names;
}

KernelFamily family_or_throw(OpClass kind) {
  const auto family = family_of(kind);
  if (!family) throw std::logic_error("collectives have no kernel family");
  return *family;
}
}  // namespace

std::string_view family_name(KernelFamily family) {
  switch (family) {
    case KernelFamily::kGemm: return "gemm";
    case KernelFamily::kAttention: return "attention";
    case KernelFamily::kMemory: return "memory";
  }
  return "?";
}

std::optional<KernelFamily> family_of(OpClass kind) {
  switch (kind) {
    case OpClass::kGemm: return KernelFamily::kGemm;
    case OpClass::kAttention: return KernelFamily::kAttention;
    case OpClass::kCollective:
    case OpClass::kHostCopy: return std::nullopt;
    default: return KernelFamily::kMemory;
  }
}

double Baseline::seconds() const { return kLaunch + std::max(compute, memory); }

Baseline kernel_baseline(const Op& op, const GpuSpec& gpu) {
  const double memory = op.bytes / gpu.memory_bandwidth;
  switch (family_or_throw(op.kind)) {
    case KernelFamily::kGemm: return {op.flops / (peak_for(op, gpu) * tiles_of(op, gpu).fill), memory};
    case KernelFamily::kAttention: return {op.flops / peak_for(op, gpu), memory};
    case KernelFamily::kMemory: return {op.flops / gpu.peak(Dtype::kFp32), memory};  // CUDA cores, not tensor cores
  }
  return {};
}

const std::vector<std::string>& feature_names(KernelFamily family) {
  static const std::vector<std::string> kGemm = with_device({"log flops", "log bytes", "log intensity", "log tiles", "log waves",
                                                             "wave fill", "log m", "log n", "log k", "log batch"});
  static const std::vector<std::string> kAttention =
      with_device({"log flops", "log bytes", "log intensity", "log batch", "log q len", "log kv len", "log heads", "log kv heads",
                   "log head dim", "causal", "backward", "log tiles", "wave fill"});
  static const std::vector<std::string> kMemory = with_device({"log bytes", "log flops", "log intensity", "log bytes over l2", "norm"});
  switch (family) {
    case KernelFamily::kGemm: return kGemm;
    case KernelFamily::kAttention: return kAttention;
    case KernelFamily::kMemory: return kMemory;
  }
  return kGemm;
}

FeatureVector kernel_features(const Op& op, const GpuSpec& gpu) {
  const Baseline baseline = kernel_baseline(op, gpu);
  const Tiles tiles = tiles_of(op, gpu);
  const double intensity = log_of(op.flops + 1) - log_of(op.bytes);
  std::vector<double> x;
  x.reserve(24);
  switch (family_or_throw(op.kind)) {
    case KernelFamily::kGemm: {
      const GemmShape& g = op.gemm;
      x = {log_of(op.flops), log_of(op.bytes), intensity, log_of(tiles.count), log_of(tiles.waves), tiles.fill,
           log_of(dim(g.m)), log_of(dim(g.n)), log_of(dim(g.k)), log_of(dim(g.batch))};
      break;
    }
    case KernelFamily::kAttention: {
      const AttentionShape& a = op.attention;
      x = {log_of(op.flops), log_of(op.bytes), intensity, log_of(dim(a.batch)), log_of(dim(a.q_len)), log_of(dim(a.kv_len)),
           log_of(dim(a.heads)), log_of(dim(a.kv_heads)), log_of(dim(a.head_dim)), a.causal ? 1.0 : 0.0, op.phase == Phase::kForward ? 0.0 : 1.0, log_of(tiles.count), tiles.fill};
      break;
    }
    case KernelFamily::kMemory:
      x = {log_of(op.bytes), log_of(op.flops + 1), intensity, log_of(op.bytes / gpu.l2_bytes), op.kind == OpClass::kNorm ? 1.0 : 0.0};
      break;
  }
  append_shares(x, baseline);
  append_device(x, op, gpu);
  return Eigen::Map<const Eigen::VectorXd>(x.data(), static_cast<Eigen::Index>(x.size()));
}

void KernelPredictor::fit(const std::vector<KernelSample>& samples, const DeviceTable& devices, const BoostingOptions& options) {
  for (KernelFamily family : kKernelFamilies) {
    std::vector<const KernelSample*> rows;
    for (const KernelSample& s : samples) {
      if (family_of(s.op.kind) == family) rows.push_back(&s);
    }
    Family& f = families_[index(family)];
    f = Family{};
    if (rows.empty()) continue;
    const auto n = static_cast<Eigen::Index>(rows.size());
    const auto width = static_cast<Eigen::Index>(feature_names(family).size());
    Eigen::MatrixXd x(n, width);
    Eigen::VectorXd y(n);
    for (Eigen::Index i = 0; i < n; ++i) {
      const KernelSample& s = *rows[static_cast<std::size_t>(i)];
      const GpuSpec& gpu = devices.at(s.device);
      x.row(i) = kernel_features(s.op, gpu).transpose();
      y(i) = std::log(s.seconds / kernel_baseline(s.op, gpu).seconds());
    }
    f.correction.fit(x, y, options);
    f.low = x.colwise().minCoeff().transpose();
    f.high = x.colwise().maxCoeff().transpose();
    f.rows = static_cast<int>(n);
  }
}

double KernelPredictor::predict(const Op& op, const GpuSpec& gpu) const {
  return corrected(family_or_throw(op.kind), kernel_features(op, gpu), kernel_baseline(op, gpu));
}

double KernelPredictor::corrected(KernelFamily family, const FeatureVector& x, const Baseline& baseline) const {
  return baseline.seconds() * std::exp(std::clamp(families_[index(family)].correction.predict(x), -kBound, kBound));
}

RangeDistance KernelPredictor::range_distance(const Op& op, const GpuSpec& gpu) const {
  return range_of(family_or_throw(op.kind), kernel_features(op, gpu));
}

KernelPredictor::Estimate KernelPredictor::estimate(const Op& op, const GpuSpec& gpu) const {
  const KernelFamily family = family_or_throw(op.kind);
  const FeatureVector x = kernel_features(op, gpu);
  const Baseline baseline = kernel_baseline(op, gpu);
  return {corrected(family, x, baseline), baseline, range_of(family, x)};
}

RangeDistance KernelPredictor::range_of(KernelFamily family, const FeatureVector& x) const {
  const Family& f = families_[index(family)];
  RangeDistance worst;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const double beyond = std::max({0.0, f.low(i) - x(i), x(i) - f.high(i)}) / std::max(1.0, f.high(i) - f.low(i));
    if (beyond > worst.distance) worst = {beyond, feature_names(family)[static_cast<std::size_t>(i)]};
  }
  return worst;
}

nlohmann::json KernelPredictor::to_json() const {
  nlohmann::json families = nlohmann::json::object();
  for (KernelFamily family : kKernelFamilies) {
    const Family& f = families_[index(family)];
    if (f.correction.empty()) continue;
    families[std::string(family_name(family))] = {
        {"rows", f.rows},
        {"features", feature_names(family)},
        {"low", std::vector<double>(f.low.data(), f.low.data() + f.low.size())},
        {"high", std::vector<double>(f.high.data(), f.high.data() + f.high.size())},
        {"correction", f.correction.to_json()}};
  }
  return {{"format", kFormat},
          {"model", "baseline (roofline, GEMM waves, 5 us launch) x exp(boosted trees), bounded to [1/4, 4]"},
          {"families", std::move(families)}};
}

KernelPredictor KernelPredictor::from_json(const nlohmann::json& json, const std::string& file) {
  if (!json.is_object() || json.value("format", "") != kFormat) {
    throw InputError(file, "format", std::string("expected \"") + kFormat + "\" (a model written by foresight fit --out)");
  }
  KernelPredictor predictor;
  if (!json.contains("families") || !json["families"].is_object()) throw InputError(file, "families", "expected an object");
  for (const auto& [name, body] : json["families"].items()) {
    const auto* family = std::find_if(kKernelFamilies.begin(), kKernelFamilies.end(), [&key = name](KernelFamily f) { return family_name(f) == key; });
    const std::string path = "families." + name;
    if (family == kKernelFamilies.end()) throw InputError(file, path, "unknown op family (expected gemm, attention or memory)");
    const std::vector<std::string>& names = feature_names(*family);
    try {
      if (body.at("features").get<std::vector<std::string>>() != names) {
        throw InputError(file, path + ".features", "the model was fitted on other features than this foresight computes; refit it");
      }
      Family& f = predictor.families_[index(*family)];
      const auto low = body.at("low").get<std::vector<double>>(), high = body.at("high").get<std::vector<double>>();
      if (low.size() != names.size() || high.size() != names.size()) throw std::invalid_argument("low and high need one value per feature");
      f.low = Eigen::Map<const Eigen::VectorXd>(low.data(), static_cast<Eigen::Index>(low.size()));
      f.high = Eigen::Map<const Eigen::VectorXd>(high.data(), static_cast<Eigen::Index>(high.size()));
      const std::optional<std::int64_t> rows = integer_within(body.at("rows"), 0, 1'000'000'000);
      if (!rows) throw std::invalid_argument("rows is not a whole number in 0..1e9");
      f.rows = static_cast<int>(*rows);
      f.correction = BoostedTrees::from_json(body.at("correction"), static_cast<int>(names.size()));
    } catch (const nlohmann::json::exception& e) {
      throw InputError(file, path, std::string("malformed: ") + e.what());
    } catch (const std::invalid_argument& e) {
      throw InputError(file, path, std::string("malformed: ") + e.what());
    }
  }
  return predictor;
}

}  // namespace foresight
