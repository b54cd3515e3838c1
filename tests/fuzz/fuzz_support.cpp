#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "fuzz_target.hpp"
#include "sim/input/input_error.hpp"
#include "sim/engine/time.hpp"

namespace foresight::fuzz {

std::string scratch_file(std::string_view data, const std::string& extension) {
  const auto folder = std::filesystem::temp_directory_path() / ("foresight_fuzz_" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  const std::string path = (folder / ("input" + extension)).string();
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(data.data(), static_cast<std::streamsize>(data.size()));
  return path;
}

void fuzz_guarded(std::string_view data) {
  try {
    fuzz_input(data);
  } catch (const InputError&) {
  } catch (const SimulatedTimeOverflow&) {
  } catch (const std::invalid_argument&) {  // the CLI reports these as input errors too
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error reachable from input: %s\n", e.what());
    std::abort();
  }
}

}  // namespace foresight::fuzz
