#include <iostream>

#include "sim/runner/cli.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return foresight::run_cli(args, std::cout, std::cerr);
}
