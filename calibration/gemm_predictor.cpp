#include "calibration/gemm_predictor.hpp"

#include <algorithm>
#include <cmath>

namespace foresight {
namespace {
constexpr double kTile = 128;
constexpr double kLaunch = 5e-6;  // seconds every kernel takes at least
constexpr double kBound = 1.3862943611198906;  // ln 4

struct ShapeFigures {
  double flops, bytes, tiles, waves, fill;
};

ShapeFigures figures(const KernelMeasurement& s, const DeviceFeatures& d) {
  const double b = static_cast<double>(s.b), m = static_cast<double>(s.m), n = static_cast<double>(s.n), k = static_cast<double>(s.k);
  ShapeFigures f;
  f.flops = 2 * b * m * n * k;
  f.bytes = 4 * b * (m * k + k * n + m * n);  // FP32 operands and result
  f.tiles = b * std::ceil(m / kTile) * std::ceil(n / kTile);
  f.waves = std::ceil(f.tiles / d.sms);
  f.fill = f.tiles / (f.waves * d.sms);
  return f;
}

double percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const auto at = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::max<std::size_t>(at, 1) - 1];
}
}  // namespace

double GemmPredictor::baseline(const KernelMeasurement& s, const DeviceFeatures& d) {
  const ShapeFigures f = figures(s, d);
  return kLaunch + std::max(f.flops / (d.peak_flops * f.fill), f.bytes / d.memory_bandwidth);
}

Eigen::VectorXd GemmPredictor::features(const KernelMeasurement& s, const DeviceFeatures& d) {
  const ShapeFigures f = figures(s, d);
  const double total = baseline(s, d);
  Eigen::VectorXd x(16);
  x << std::log(f.flops), std::log(f.bytes), std::log(f.flops / f.bytes), std::log(f.tiles), std::log(f.waves), f.fill,
      std::log(static_cast<double>(s.m)), std::log(static_cast<double>(s.n)), std::log(static_cast<double>(s.k)),
      std::log(static_cast<double>(s.b)), f.flops / (d.peak_flops * f.fill) / total, f.bytes / d.memory_bandwidth / total,
      std::log(d.peak_flops), std::log(d.memory_bandwidth), std::log(d.sms), std::log(d.l2_bytes);
  return x;
}

void GemmPredictor::fit(const std::vector<KernelMeasurement>& rows, const std::map<std::string, DeviceFeatures>& devices,
                        const BoostingOptions& options) {
  const auto n = static_cast<Eigen::Index>(rows.size());
  Eigen::MatrixXd x(n, 16);
  Eigen::VectorXd y(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const KernelMeasurement& r = rows[static_cast<std::size_t>(i)];
    const DeviceFeatures& d = devices.at(r.device);
    x.row(i) = features(r, d).transpose();
    y(i) = std::log(r.seconds / baseline(r, d));
  }
  correction_.fit(x, y, options);
}

double GemmPredictor::predict(const KernelMeasurement& s, const DeviceFeatures& d) const {
  return baseline(s, d) * std::exp(std::clamp(correction_.predict(features(s, d)), -kBound, kBound));
}

nlohmann::json GemmPredictor::to_json() const {
  return {{"model", "gemm: roofline with wave quantization x exp(boosted trees), bounded to [1/4, 4]"},
          {"features", {"log flops", "log bytes", "log intensity", "log tiles", "log waves", "wave fill", "log m", "log n", "log k",
                        "log batch", "compute share", "memory share", "log peak flops", "log bandwidth", "log sms", "log l2 bytes"}},
          {"correction", correction_.to_json()}};
}

std::vector<PredictorError> evaluate_gemm_predictor(const std::vector<KernelMeasurement>& rows,
                                                    const std::map<std::string, DeviceFeatures>& devices,
                                                    const std::vector<std::string>& leave_out) {
  const auto score = [&](const std::string& label, const std::vector<KernelMeasurement>& train, const std::vector<KernelMeasurement>& test) {
    GemmPredictor p;
    p.fit(train, devices);
    std::vector<double> errors;
    double baseline_sum = 0;
    for (const KernelMeasurement& r : test) {
      const DeviceFeatures& d = devices.at(r.device);
      errors.push_back(std::fabs(p.predict(r, d) / r.seconds - 1) * 100);
      baseline_sum += std::fabs(GemmPredictor::baseline(r, d) / r.seconds - 1) * 100;
    }
    double sum = 0;
    for (double e : errors) sum += e;
    const auto count = static_cast<double>(errors.size());
    return PredictorError{label, static_cast<int>(errors.size()), sum / count, percentile(errors, 0.9), baseline_sum / count};
  };
  std::vector<PredictorError> result;
  std::vector<KernelMeasurement> train, test;
  for (std::size_t i = 0; i < rows.size(); ++i) (i % 5 == 0 ? test : train).push_back(rows[i]);
  result.push_back(score("same device, held-out shapes", train, test));
  for (const std::string& device : leave_out) {
    train.clear();
    test.clear();
    for (const KernelMeasurement& r : rows) (r.device == device ? test : train).push_back(r);
    if (!test.empty()) result.push_back(score("leave out " + device, train, test));
  }
  return result;
}

}  // namespace foresight
