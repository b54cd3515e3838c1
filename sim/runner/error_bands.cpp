#include "sim/runner/error_bands.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "sim/runner/error_bands_data.hpp"

namespace foresight {
namespace {
const std::vector<ErrorBand>& bands() {
  static const std::vector<ErrorBand> kBands = [] {
    std::vector<ErrorBand> out;
    const nlohmann::json doc = nlohmann::json::parse(kErrorBandsJson);
    for (const nlohmann::json& r : doc.at("regimes")) {
      ErrorBand b;
      b.regime = r.at("gpu_family").get<std::string>() + " / " + r.at("precision").get<std::string>() +
                 (r.value("architecture", "dense") == "moe" ? " / moe" : "");
      b.cases = r.at("cases");
      for (const nlohmann::json& s : r.at("suites")) b.suites += (b.suites.empty() ? "" : ", ") + s.get<std::string>();
      b.gpus_min = r.at("gpus_min");
      b.gpus_max = r.at("gpus_max");
      b.ratio_min = r.at("throughput_ratio_min");
      b.ratio_median = r.at("throughput_ratio_median");
      b.ratio_max = r.at("throughput_ratio_max");
      out.push_back(b);
    }
    return out;
  }();
  return kBands;
}

std::string fmt(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

// "between 0.5% slow and 22% fast"
std::string spread(const ErrorBand& b) {
  const auto side = [](double ratio) {
    const double pct = (ratio - 1) * 100;
    return fmt("%.0f%%", pct < 0 ? -pct : pct) + (pct < 0 ? " slow" : " fast");
  };
  return "between " + side(b.ratio_min) + " and " + side(b.ratio_max);
}

std::string caveats(const ErrorBand& b, const std::string& cost_model, int gpus) {
  std::string text;
  if (cost_model != "roofline") text += "; the cases ran the roofline, not " + cost_model;
  if (gpus < b.gpus_min || gpus > b.gpus_max) {
    text += "; this run's " + std::to_string(gpus) + " GPUs lie outside the cases' " + std::to_string(b.gpus_min) + "-" +
            std::to_string(b.gpus_max);
  }
  return text;
}
}  // namespace

std::string gpu_family(const GpuSpec& gpu) {
  const auto starts = [&](const char* prefix) { return gpu.name.rfind(prefix, 0) == 0; };
  // The H800 and A800 are the H100's and A100's silicon and clocks with narrower NVLink.
  if (starts("h100") || starts("h200") || starts("h800")) return "hopper";
  if (starts("a100") || starts("a800")) return "ampere";  // the A100's cases do not stand for the A40
  // The datacenter parts, Blackwell Ultra's with them, not RTX Blackwell.
  if (starts("b200") || starts("gb200") || starts("b300") || starts("gb300")) return "blackwell";
  return "";
}

std::string precision_class(Dtype dtype) { return dtype == Dtype::kFp8 ? "fp8" : "16-bit"; }

std::string regime_name(const GpuSpec& gpu, Dtype dtype, bool moe) {
  const std::string family = gpu_family(gpu);
  return (family.empty() ? gpu.name : family) + " / " + precision_class(dtype) + (moe ? " / moe" : "");
}

std::optional<ErrorBand> error_band(const std::string& regime) {
  for (const ErrorBand& b : bands()) {
    if (b.regime == regime) return b;
  }
  return std::nullopt;
}

namespace {
bool is_moe_regime(const std::string& regime) { return regime.size() > 6 && regime.compare(regime.size() - 6, 6, " / moe") == 0; }

// With no case of its own, the band of the same GPU family and kind of model, if any.
std::string nearest_band(const GpuSpec& gpu, bool moe) {
  const std::string family = gpu_family(gpu);
  if (family.empty()) return "";
  std::string nearest;
  for (const ErrorBand& b : bands()) {
    if (b.regime.rfind(family + " /", 0) == 0 && is_moe_regime(b.regime) == moe) {
      nearest = b.regime + " (" + std::to_string(b.cases) + " cases) came out " + spread(b);
    }
  }
  return nearest;
}
}  // namespace

std::string error_band_line(const GpuSpec& gpu, Dtype dtype, bool moe, const std::string& cost_model, int gpus,
                            double step_seconds) {
  const std::string regime = regime_name(gpu, dtype, moe);
  const std::optional<ErrorBand> band = error_band(regime);
  if (!band) {
    const std::string nearest = nearest_band(gpu, moe);
    return "no held-out public case covers " + regime + " yet" + (nearest.empty() ? "" : "; the nearest, " + nearest) +
           " (docs/validation.md)";
  }
  return "expected " + fmt("%.3g", step_seconds * band->ratio_min) + "-" + fmt("%.3g s", step_seconds * band->ratio_max) +
         ": " + std::to_string(band->cases) + " held-out " + regime + " cases (" + band->suites + ") came out " + spread(*band) +
         caveats(*band, cost_model, gpus) + " (docs/validation.md)";
}

nlohmann::json error_band_json(const GpuSpec& gpu, Dtype dtype, bool moe, const std::string& cost_model, int gpus,
                               double step_seconds, double tokens_per_second_per_gpu, double mfu) {
  const std::string regime = regime_name(gpu, dtype, moe);
  const std::optional<ErrorBand> band = error_band(regime);
  nlohmann::json out = {{"regime", regime},
                        {"summary", error_band_line(gpu, dtype, moe, cost_model, gpus, step_seconds)},
                        {"source", "docs/validation.md"}};
  if (!band) {
    out["validated"] = false;
    return out;
  }
  out["validated"] = true;
  out["cases"] = band->cases;
  out["suites"] = band->suites;
  out["gpus_covered"] = {band->gpus_min, band->gpus_max};
  out["predicted_over_measured"] = {{"min", band->ratio_min}, {"median", band->ratio_median}, {"max", band->ratio_max}};
  out["step_time_s"] = {step_seconds * band->ratio_min, step_seconds * band->ratio_max};
  out["tokens_per_second_per_gpu"] = {tokens_per_second_per_gpu / band->ratio_max, tokens_per_second_per_gpu / band->ratio_min};
  out["mfu"] = {mfu / band->ratio_max, mfu / band->ratio_min};
  return out;
}

const std::vector<ServingBand>& serving_bands() {
  static const std::vector<ServingBand> kBands = [] {
    std::vector<ServingBand> out;
    const nlohmann::json doc = nlohmann::json::parse(kErrorBandsJson);
    if (!doc.contains("serving")) return out;
    for (const nlohmann::json& r : doc.at("serving")) {
      ServingBand b;
      b.metric = r.at("metric");
      b.cases = r.at("cases");
      for (const nlohmann::json& s : r.at("suites")) b.suites += (b.suites.empty() ? "" : ", ") + s.get<std::string>();
      b.ratio_min = r.at("ratio_min");
      b.ratio_median = r.at("ratio_median");
      b.ratio_max = r.at("ratio_max");
      out.push_back(b);
    }
    return out;
  }();
  return kBands;
}

namespace {
double predicted(const ServingPrediction& p, const std::string& metric) {
  return metric == "ttft" ? p.ttft : metric == "tpot" ? p.tpot : metric == "e2e" ? p.e2e : p.throughput;
}

// "TTFT 120-260 ms (7 cases)"
std::string serving_range(const ServingBand& b, double value) {
  const double lo = value / b.ratio_max, hi = value / b.ratio_min;
  const std::string cases = " (" + std::to_string(b.cases) + ")";
  if (b.metric == "throughput") return "throughput " + fmt("%.3g", lo) + "-" + fmt("%.3g requests/s", hi) + cases;
  const char* name = b.metric == "ttft" ? "TTFT" : b.metric == "tpot" ? "TPOT" : "end to end";
  const bool seconds = hi >= 1;
  const double unit = seconds ? 1 : 1e3;
  return std::string(name) + " " + fmt("%.3g", lo * unit) + "-" + fmt(seconds ? "%.3g s" : "%.3g ms", hi * unit) + cases;
}
}  // namespace

std::string serving_band_line(const ServingPrediction& p) {
  std::string ranges, suites;
  for (const ServingBand& b : serving_bands()) {
    ranges += (ranges.empty() ? "" : ", ") + serving_range(b, predicted(p, b.metric));
    for (std::size_t at = 0; at < b.suites.size();) {  // every suite once, in order
      const std::size_t end = std::min(b.suites.find(", ", at), b.suites.size());
      const std::string suite = b.suites.substr(at, end - at);
      if (suites.find(suite) == std::string::npos) suites += (suites.empty() ? "" : ", ") + suite;
      at = end + 2;
    }
  }
  if (ranges.empty()) return "no held-out serving run validates these predictions yet (docs/validation.md)";
  // The latency cases ran vLLM; S5's throughput cases ran TensorRT-LLM.
  const bool vllm = p.engine == "vllm_v0" || p.engine == "vllm_v1";
  const std::string engines = vllm                     ? ""
                              : p.engine == "trtllm" ? "; the latency cases ran vLLM"
                                                     : "; they ran vLLM and TensorRT-LLM, not " + p.engine;
  return "means expected at " + ranges + ", the spread of the held-out whole serving runs (" + suites +
         ", cases in parentheses" + engines + "; docs/validation.md)";
}

nlohmann::json serving_band_json(const ServingPrediction& p) {
  nlohmann::json out = {{"summary", serving_band_line(p)}, {"source", "docs/validation.md"}};
  for (const ServingBand& b : serving_bands()) {
    const double value = predicted(p, b.metric);
    out[b.metric] = {{"expected", {value / b.ratio_max, value / b.ratio_min}},
                     {"predicted_over_measured", {{"min", b.ratio_min}, {"median", b.ratio_median}, {"max", b.ratio_max}}},
                     {"cases", b.cases},
                     {"suites", b.suites}};
  }
  return out;
}

}  // namespace foresight
