#include "calibration/predictor_evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "calibration/percentile.hpp"
#include "sim/engine/progress.hpp"

namespace foresight {
namespace {
double mean(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

// One sample in five, picked by a hash of its index: a stride would pick the same op of
// every measured layer (Vidur's rows hold several ops each).
bool held_out_shape(std::size_t i) {
  std::uint64_t z = i + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (z ^ (z >> 31)) % 5 == 0;
}

PredictorError score(KernelFamily family, std::string label, const std::vector<KernelSample>& train,
                     const std::vector<KernelSample>& test, const DeviceTable& devices, const BoostingOptions& options) {
  KernelPredictor predictor;
  predictor.fit(train, devices, options);
  std::vector<double> errors;
  std::map<std::string, std::vector<double>> by_class;
  double baseline_sum = 0;
  for (const KernelSample& s : test) {
    const GpuSpec& gpu = devices.at(s.device);
    errors.push_back(std::fabs(predictor.predict(s.op, gpu) / s.seconds - 1) * 100);
    by_class[std::string(op_class_name(s.op.kind)) + " " + std::string(dtype_name(s.op.dtype))].push_back(errors.back());
    baseline_sum += std::fabs(kernel_baseline(s.op, gpu).seconds() / s.seconds - 1) * 100;
  }
  PredictorError e{family, std::move(label), static_cast<int>(errors.size()), mean(errors), percentile(errors, 0.9),
                   baseline_sum / static_cast<double>(errors.size()), {}};
  for (const auto& [group, values] : by_class) e.by_class.push_back({group, static_cast<int>(values.size()), mean(values), percentile(values, 0.9)});
  return e;
}
}  // namespace

namespace {
// One held-out evaluation: which rows of a family it holds out, by index and sample.
struct Split {
  KernelFamily family;
  std::string label;
  std::function<bool(std::size_t, const KernelSample&)> held_out;
};

std::vector<KernelSample> rows_of(const MeasuredKernels& kernels, KernelFamily family) {
  std::vector<KernelSample> rows;
  for (const KernelSample& s : kernels.samples) {
    if (family_of(s.op.kind) == family) rows.push_back(s);
  }
  return rows;
}

// Planned before any fit, so that progress can count them; splits with nothing to fit
// or nothing to test are left out.
std::vector<Split> plan_splits(const MeasuredKernels& kernels, const std::vector<std::string>& leave_out) {
  std::vector<Split> splits;
  for (KernelFamily family : kKernelFamilies) {
    std::set<std::string> devices, sources;
    for (const KernelSample& s : kernels.samples) {
      if (family_of(s.op.kind) != family) continue;
      devices.insert(kernels.devices.at(s.device).description);
      sources.insert(s.source);
    }
    if (devices.empty()) continue;
    splits.push_back({family, "same devices, held-out shapes", [](std::size_t i, const KernelSample&) { return held_out_shape(i); }});
    for (const std::string& gpu : leave_out) {
      const auto matches = [&gpu](const std::string& description) { return description.find(gpu) != std::string::npos; };
      const bool some = std::any_of(devices.begin(), devices.end(), matches), all = std::all_of(devices.begin(), devices.end(), matches);
      if (!some || all) continue;
      splits.push_back({family, "leave out " + gpu, [&kernels, gpu](std::size_t, const KernelSample& s) {
                          return kernels.devices.at(s.device).description.find(gpu) != std::string::npos;
                        }});
    }
    // A source the model never saw: other people's harness, dtype and GPUs at once.
    for (const std::string& source : sources.size() > 1 ? sources : std::set<std::string>{}) {
      splits.push_back({family, "leave out source " + source, [source](std::size_t, const KernelSample& s) { return s.source == source; }});
    }
  }
  return splits;
}
}  // namespace

std::vector<PredictorError> evaluate_kernel_predictor(const MeasuredKernels& kernels, const std::vector<std::string>& leave_out,
                                                      const BoostingOptions& options, bool quiet) {
  const std::vector<Split> splits = plan_splits(kernels, leave_out);
  Progress progress("fit --eval", static_cast<int>(splits.size()), quiet, 1.0);  // on stderr, once it has taken a second
  std::vector<PredictorError> result;
  std::vector<KernelSample> rows;
  for (std::size_t k = 0; k < splits.size(); ++k) {
    const Split& split = splits[k];
    if (k == 0 || splits[k - 1].family != split.family) rows = rows_of(kernels, split.family);
    std::vector<KernelSample> train, test;
    for (std::size_t i = 0; i < rows.size(); ++i) (split.held_out(i, rows[i]) ? test : train).push_back(rows[i]);
    result.push_back(score(split.family, split.label, train, test, kernels.devices, options));
    progress.step(std::string(family_name(split.family)) + ", " + split.label);
  }
  progress.finish();
  return result;
}

std::string format_predictor_errors(const std::vector<PredictorError>& errors) {
  char line[256];
  std::snprintf(line, sizeof line, "# %-10s %-32s %6s %7s %8s %13s\n", "family", "evaluation", "rows", "MAPE", "p90 APE", "baseline MAPE");
  std::string table = line;
  for (const PredictorError& e : errors) {
    std::snprintf(line, sizeof line, "  %-10s %-32s %6d %6.1f%% %7.1f%% %12.1f%%\n", std::string(family_name(e.family)).c_str(),
                  e.evaluation.c_str(), e.rows, e.mape, e.p90, e.baseline_mape);
    table += line;
    for (const ErrorSummary& c : e.by_class) {
      if (e.by_class.size() < 2) break;
      std::snprintf(line, sizeof line, "  %-10s   %-30s %6d %6.1f%% %7.1f%%\n", "", c.group.c_str(), c.rows, c.mape, c.p90);
      table += line;
    }
  }
  return table;
}

}  // namespace foresight
