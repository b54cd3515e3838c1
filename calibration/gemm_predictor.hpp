#pragma once
// The learned GEMM latency predictor (issue 6, first cut): an analytic baseline -- a
// roofline at the device's peak with the last wave of 128 x 128 output tiles counted
// whole -- times a learned correction, exp(w . x), with x the standardized features of
// the shape (FLOPs, bytes, intensity, tiles, waves, the wave's fill) and of the device
// (peak, bandwidth, SMs, L2), so that it can carry over to GPUs it never saw. The weights
// come from ridge regression on log(measured / baseline), a closed form: the same data
// give the same model. The correction is bounded to [1/4, 4] of the baseline.
#include <map>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include "calibration/kernel_measurements.hpp"

namespace foresight {

class GemmPredictor {
 public:
  static double baseline(const KernelMeasurement& shape, const DeviceFeatures& device);
  static Eigen::VectorXd features(const KernelMeasurement& shape, const DeviceFeatures& device);

  // Fits on `rows` (their devices looked up in `devices`) with ridge penalty `lambda`.
  void fit(const std::vector<KernelMeasurement>& rows, const std::map<std::string, DeviceFeatures>& devices, double lambda = 1e-2);
  double predict(const KernelMeasurement& shape, const DeviceFeatures& device) const;
  nlohmann::json to_json() const;

 private:
  Eigen::VectorXd mean_, scale_, weights_;
};

struct PredictorError {
  std::string evaluation;  // "same device, held-out shapes" or "leave out <device>"
  int rows = 0;
  double mape = 0, p90 = 0;  // percent
  double baseline_mape = 0;  // the baseline alone
};

// Same-device error on every fifth row (trained on the rest), and cross-device error on
// each device in `leave_out` (trained on the other devices' rows).
std::vector<PredictorError> evaluate_gemm_predictor(const std::vector<KernelMeasurement>& rows,
                                                    const std::map<std::string, DeviceFeatures>& devices,
                                                    const std::vector<std::string>& leave_out);

}  // namespace foresight
