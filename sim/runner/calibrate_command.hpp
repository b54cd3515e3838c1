#pragma once
// `foresight calibrate`: writes a calibration profile (docs/calibration.md), either by
// running the CUDA microbenchmarks of kernels/ on the local GPU, or (--from-public) by
// converting the public measurements of a catalog GPU in calibration/data, or (--merge) by
// combining profiles measured in parts on one GPU.
#include <ostream>
#include <string>
#include <vector>

namespace foresight {

struct CalibrateOptions {
  std::string out_path;
  bool quick = false;            // the two-minute subset
  std::string only;              // families to measure, comma-separated; empty: all
  double max_seconds = 0;        // stop starting measurements after this long; 0: no limit
  std::vector<std::string> merge;  // profiles of one GPU to combine instead of measuring
  std::string kernels_program;   // default: foresight-kernels beside this program
  std::string from_public;       // a catalog GPU: convert instead of measuring
  std::string data = "calibration/data";
};

int run_calibrate_command(const CalibrateOptions& options, std::ostream& out);

}  // namespace foresight
