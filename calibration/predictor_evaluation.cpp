#include "calibration/predictor_evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>

#include "calibration/percentile.hpp"

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

std::vector<PredictorError> evaluate_kernel_predictor(const MeasuredKernels& kernels, const std::vector<std::string>& leave_out,
                                                      const BoostingOptions& options) {
  std::vector<PredictorError> result;
  for (KernelFamily family : kKernelFamilies) {
    std::vector<KernelSample> rows;
    for (const KernelSample& s : kernels.samples) {
      if (family_of(s.op.kind) == family) rows.push_back(s);
    }
    if (rows.empty()) continue;
    std::vector<KernelSample> train, test;
    for (std::size_t i = 0; i < rows.size(); ++i) (held_out_shape(i) ? test : train).push_back(rows[i]);
    result.push_back(score(family, "same devices, held-out shapes", train, test, kernels.devices, options));
    for (const std::string& gpu : leave_out) {
      train.clear();
      test.clear();
      for (const KernelSample& s : rows) {
        const bool held_out = kernels.devices.at(s.device).description.find(gpu) != std::string::npos;
        (held_out ? test : train).push_back(s);
      }
      if (!test.empty() && !train.empty()) result.push_back(score(family, "leave out " + gpu, train, test, kernels.devices, options));
    }
    // A source the model never saw: other people's harness, dtype and GPUs at once.
    std::set<std::string> sources;
    for (const KernelSample& s : rows) sources.insert(s.source);
    for (const std::string& source : sources.size() > 1 ? sources : std::set<std::string>{}) {
      train.clear();
      test.clear();
      for (const KernelSample& s : rows) (s.source == source ? test : train).push_back(s);
      result.push_back(score(family, "leave out source " + source, train, test, kernels.devices, options));
    }
  }
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
