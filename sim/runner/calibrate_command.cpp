#include "sim/runner/calibrate_command.hpp"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "calibration/profile.hpp"
#include "calibration/public_measurements.hpp"
#include "sim/input_error.hpp"
#include "sim/runner/results.hpp"

namespace foresight {
namespace {
std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string shell_quoted(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string default_kernels_program() {
  std::error_code ignored;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ignored);
  return (self.parent_path().parent_path().parent_path() / "kernels" / "foresight-kernels").string();
}

int convert_public(const CalibrateOptions& o, std::ostream& out) {
  const GpuSpec* gpu = find_builtin_gpu(o.from_public);
  if (gpu == nullptr) throw InputError("--from-public", "", "unknown GPU \"" + o.from_public + "\"" + did_you_mean(o.from_public, builtin_gpu_names()));
  const MeasuredKernels kernels = load_public_measurements(o.data);
  CalibrationProfile profile;
  profile.source = "converted by foresight calibrate --from-public from the public measurements under " + o.data + " (Vidur)";
  profile.device.gpu = gpu->name;
  profile.device.name = gpu->description;
  profile.device.sms = gpu->sm_count;
  profile.gpu = *gpu;
  for (const KernelSample& s : kernels.samples) {
    if (s.device == gpu->description) profile.kernels.push_back({s.op, {s.seconds, s.seconds, s.seconds, 1}});
  }
  if (profile.kernels.empty()) {
    throw InputError("--from-public", "", "the shared data holds no measurements of " + gpu->name + " (it has h100_sxm, a100_sxm_80gb and a40)");
  }
  write_file_atomically(o.out_path, profile_to_json(profile).dump(1) + "\n");
  out << "Wrote " << profile.kernels.size() << " measured kernels of " << gpu->description << " to " << o.out_path << "\n";
  return 0;
}

int measure(const CalibrateOptions& o, std::ostream& out) {
  const std::string program = o.kernels_program.empty() ? default_kernels_program() : o.kernels_program;
  if (!std::filesystem::exists(program)) {
    throw InputError(program, "", "the CUDA microbenchmarks are not built here (kernels/ needs nvcc at configure time); "
                                  "without a GPU, use the shipped model (cost_model.name = learned) or --from-public");
  }
  const std::string raw = o.out_path + ".measuring";
  const std::string command = shell_quoted(program) + " --out " + shell_quoted(raw) + (o.quick ? " --quick" : "");
  const int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::filesystem::remove(raw);
    throw InputError(program, "", "the microbenchmarks failed (exit status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                                      "); their message is above");
  }
  const CalibrationProfile profile = load_profile(raw);  // what the GPU wrote must read back
  write_file_atomically(o.out_path, file_text(raw));
  std::filesystem::remove(raw);
  out << "Wrote " << profile.kernels.size() << " kernel measurements of " << profile.device.name << " to " << o.out_path << "\n";
  return 0;
}
}  // namespace

int run_calibrate_command(const CalibrateOptions& o, std::ostream& out) {
  return o.from_public.empty() ? measure(o, out) : convert_public(o, out);
}

}  // namespace foresight
