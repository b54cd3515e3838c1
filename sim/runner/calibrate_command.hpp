#pragma once
// `foresight calibrate`: writes a calibration profile (docs/calibration.md), either by
// running the CUDA microbenchmarks of kernels/ on the local GPU, or (--from-public) by
// converting the public measurements of a catalog GPU in the shared data.
#include <ostream>
#include <string>

namespace foresight {

struct CalibrateOptions {
  std::string out_path;
  bool quick = false;            // the two-minute subset
  std::string kernels_program;   // default: foresight-kernels beside this program
  std::string from_public;       // a catalog GPU: convert instead of measuring
  std::string data = "../shared/data";
};

int run_calibrate_command(const CalibrateOptions& options, std::ostream& out);

}  // namespace foresight
