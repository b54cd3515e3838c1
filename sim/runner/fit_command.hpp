#pragma once
// `foresight fit`: trains the learned kernel latency predictor on the measured kernels in
// calibration/data and, with --eval, reports its held-out error; with --score, scores the
// roofline, the shipped and the refitted learned models and the profile model on measured
// kernels and layers (docs/calibration.md).
#include <ostream>
#include <string>
#include <vector>

namespace foresight {

struct FitOptions {
  std::string data = "calibration/data";  // the folder holding neusight/
  bool eval = false;
  std::string out_path;
  std::vector<std::string> profiles;  // calibration profiles to train on as well
  std::vector<std::string> score;     // profiles of measurements to score the cost models on
};

int run_fit_command(const FitOptions& options, std::ostream& out);

}  // namespace foresight
