#pragma once
// The learned GEMM latency predictor (issue 6, first cut): an analytic baseline -- a
// roofline at the device's peak with the last wave of 128 x 128 output tiles counted
// whole -- times a learned correction, exp(f(x)), with x the features of the shape
// (FLOPs, bytes, intensity, tiles, waves, the wave's fill, M, N, K, batch, the compute
// and memory shares of the baseline) and of the device (peak, bandwidth, SMs, L2), so that
// it can carry over to GPUs it never saw. f is gradient-boosted regression trees fitted
// to log(measured / baseline), deterministically; the correction is bounded to [1/4, 4].
#include <map>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include "calibration/boosted_trees.hpp"
#include "calibration/kernel_measurements.hpp"

namespace foresight {

class GemmPredictor {
 public:
  static double baseline(const KernelMeasurement& shape, const DeviceFeatures& device);
  static Eigen::VectorXd features(const KernelMeasurement& shape, const DeviceFeatures& device);

  // Fits on `rows` (their devices looked up in `devices`).
  void fit(const std::vector<KernelMeasurement>& rows, const std::map<std::string, DeviceFeatures>& devices,
           const BoostingOptions& options = {});
  double predict(const KernelMeasurement& shape, const DeviceFeatures& device) const;
  nlohmann::json to_json() const;

 private:
  BoostedTrees correction_;
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
