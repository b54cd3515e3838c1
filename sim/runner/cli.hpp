#pragma once
// The `foresight` command line. Callable in-process so tests can drive it.
// Exit status: 0 success, 1 internal error, 2 bad input (scenario, flag, file).
#include <ostream>
#include <string>
#include <vector>

namespace foresight {

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace foresight
