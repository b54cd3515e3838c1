#pragma once
// `foresight fit`: trains the learned kernel latency predictor on the measured kernels in
// the shared data and, with --eval, reports its held-out error (docs/calibration.md).
#include <ostream>
#include <string>
#include <vector>

namespace foresight {

struct FitOptions {
  std::string data = "../shared/data";  // the folder holding neusight/
  bool eval = false;
  std::string out_path;
  std::vector<std::string> profiles;  // calibration profiles to train on as well
};

int run_fit_command(const FitOptions& options, std::ostream& out);

}  // namespace foresight
