#pragma once
// How far to trust a training prediction: the range the held-out public cases of its
// regime (GPU family / precision, and whether the model is a mixture of experts) span, predicted over measured throughput
// (docs/validation.md, "Error bands"). A prediction p of throughput is expected to measure
// between p / ratio_max and p / ratio_min; step time between t x ratio_min and t x ratio_max.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/dtype.hpp"
#include "models/gpu_spec.hpp"

namespace foresight {

struct ErrorBand {
  std::string regime;  // "hopper / fp8", or "hopper / fp8 / moe" for mixture-of-experts models
  int cases = 0;
  std::string suites;  // "V4, V5"
  int gpus_min = 0, gpus_max = 0;
  double ratio_min = 1, ratio_median = 1, ratio_max = 1;  // predicted / measured throughput
};

// "hopper" (H100, H200), "ampere" (A100), or "" for GPUs no validation case covers.
std::string gpu_family(const GpuSpec& gpu);
// "fp8" or "16-bit".
std::string precision_class(Dtype dtype);

// "hopper / fp8" for dense models, "hopper / fp8 / moe" for mixture-of-experts ones; the
// GPU's name stands in for a family no case covers.
std::string regime_name(const GpuSpec& gpu, Dtype dtype, bool moe);

// The band of the regime, if any held-out case covers it.
std::optional<ErrorBand> error_band(const std::string& regime);

// The summary's line and the results JSON's object for a prediction of `step_seconds`,
// `tokens_per_second_per_gpu` and `mfu`; they also say when no case covers the regime,
// when the cost model is not the one validated, or when the run's size lies outside the
// validated range.
std::string error_band_line(const GpuSpec& gpu, Dtype dtype, bool moe, const std::string& cost_model, int gpus,
                            double step_seconds);
nlohmann::json error_band_json(const GpuSpec& gpu, Dtype dtype, bool moe, const std::string& cost_model, int gpus,
                               double step_seconds, double tokens_per_second_per_gpu, double mfu);

// How far to trust a serving prediction: per metric (ttft, tpot, e2e, throughput), the
// range of predicted / measured over the held-out whole serving runs (S2-S6).
struct ServingBand {
  std::string metric;
  int cases = 0;
  std::string suites;
  double ratio_min = 1, ratio_median = 1, ratio_max = 1;
};
const std::vector<ServingBand>& serving_bands();

// The serving summary's line and the results JSON's object for predicted means (seconds)
// and throughput (requests/s): each the range its measurement is expected in.
struct ServingPrediction {
  double ttft = 0, tpot = 0, e2e = 0, throughput = 0;
  std::string engine;  // the runs behind the bands are vLLM's: other engines get a caveat
};
std::string serving_band_line(const ServingPrediction& p);
nlohmann::json serving_band_json(const ServingPrediction& p);

}  // namespace foresight
