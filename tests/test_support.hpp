#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/runner/cli.hpp"

namespace foresight::testing {

inline std::string source_path(const std::string& relative) {
  return std::string(FORESIGHT_SOURCE_DIR) + "/" + relative;
}
inline std::string public_data_path(const std::string& relative) {
  return std::string(FORESIGHT_PUBLIC_DATA_DIR) + "/" + relative;
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

// A fresh path `name` in a scratch folder of the system's temporary directory.
inline std::string scratch_path(const std::string& folder, const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / folder;
  std::filesystem::create_directories(dir);
  std::filesystem::remove(dir / name);
  return (dir / name).string();
}

// Whether mpirun is on the PATH: the MPI tests skip themselves without it.
inline bool has_mpirun() { return std::system("command -v mpirun > /dev/null 2>&1") == 0; }

// `command` run as two MPI ranks. OpenMPI refuses root unless told (CI containers run as
// root), and leaks what LeakSanitizer would report in the sanitized build.
inline std::string on_two_mpi_ranks(const std::string& command) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=detect_leaks=0 mpirun -x ASAN_OPTIONS -np 2 --oversubscribe " +
         command;
}

inline std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// Runs `foresight run <scenario>` and returns its results JSON.
// `sets`: key=value overrides, as --set takes them.
inline nlohmann::json run_scenario(const std::string& scenario, const std::vector<std::string>& sets = {}) {
  const auto out = (std::filesystem::temp_directory_path() / "foresight_test_results.json").string();
  std::vector<std::string> args{"run", scenario, "--out", out};
  for (const std::string& set : sets) args.insert(args.end(), {"--set", set});
  const CliResult r = run_cli(args);
  if (r.status != 0) throw std::runtime_error(scenario + ": " + r.err);
  nlohmann::json results = read_json_file(out);
  std::filesystem::remove(out);
  return results;
}

}  // namespace foresight::testing
