#include "sim/runner/calibrate_command.hpp"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "calibration/profile.hpp"
#include "calibration/public_measurements.hpp"
#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"
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
    throw InputError("--from-public", "", "calibration/data holds no measurements of " + gpu->name + " (it has h100_sxm, a100_sxm_80gb and a40)");
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
  std::string command = shell_quoted(program) + " --out " + shell_quoted(raw) + (o.quick ? " --quick" : "");
  if (!o.only.empty()) command += " --only " + shell_quoted(o.only);
  if (o.max_seconds > 0) command += " --max-seconds " + std::to_string(o.max_seconds);
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
// Concatenates the measurements as written (informational fields such as a memory op's
// kernel name included), after each part has passed the strict reader.
int merge_profiles(const CalibrateOptions& o, std::ostream& out) {
  nlohmann::json merged;
  std::string sources;
  for (const std::string& path : o.merge) {
    const nlohmann::json document = load_json_file(path);
    const CalibrationProfile part = read_profile(document, path);
    if (merged.is_null()) {
      merged = document;
      merged["measurements"] = nlohmann::json::array();
    } else if (document["device"]["name"] != merged["device"]["name"] || document["device"]["gpu"] != merged["device"]["gpu"]) {
      throw InputError(path, "device", "measured on " + part.device.name + " (" + part.device.gpu + "), not on the first profile's " +
                                           merged["device"]["name"].get<std::string>() + ": merge profiles of one GPU only");
    }
    for (const nlohmann::json& m : document["measurements"]) merged["measurements"].push_back(m);
    sources += (sources.empty() ? "" : "; ") + part.source;
  }
  merged["source"] = "merged by foresight calibrate --merge from: " + sources;
  const CalibrationProfile profile = read_profile(merged, o.out_path);
  write_file_atomically(o.out_path, merged.dump(1) + "\n");
  out << "Wrote " << merged["measurements"].size() << " measurements of " << profile.device.name << " from " << o.merge.size() << " profiles to "
      << o.out_path << "\n";
  return 0;
}
}  // namespace

int run_calibrate_command(const CalibrateOptions& o, std::ostream& out) {
  if (!o.merge.empty()) return merge_profiles(o, out);
  return o.from_public.empty() ? measure(o, out) : convert_public(o, out);
}

}  // namespace foresight
