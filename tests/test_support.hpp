#pragma once
#include <sstream>
#include <string>
#include <vector>

#include "sim/runner/cli.hpp"

namespace foresight::testing {

inline std::string source_path(const std::string& relative) {
  return std::string(FORESIGHT_SOURCE_DIR) + "/" + relative;
}
inline std::string shared_data_path(const std::string& relative) {
  return std::string(FORESIGHT_SHARED_DATA_DIR) + "/" + relative;
}

struct CliResult {
  int status;
  std::string out;
  std::string err;
};

inline CliResult run_cli(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int status = foresight::run_cli(args, out, err);
  return {status, out.str(), err.str()};
}

}  // namespace foresight::testing
