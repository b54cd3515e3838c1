#include "calibration/model_scoring.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "calibration/layer_validation.hpp"
#include "calibration/percentile.hpp"

namespace foresight {
namespace {
ModelScore summarize(const std::vector<double>& signed_errors) {
  std::vector<double> absolute;
  double sum = 0;
  for (double e : signed_errors) {
    absolute.push_back(std::fabs(e));
    sum += std::fabs(e);
  }
  return {sum / static_cast<double>(absolute.size()), percentile(absolute, 0.9), percentile(signed_errors, 0.5)};
}
}  // namespace

RooflineParameters without_launch_gap() {
  RooflineParameters p;
  p.launch_seconds = 0;
  return p;
}

std::string kernel_group(const Op& op) {
  const std::string dtype(dtype_name(op.dtype));
  if (op.kind == OpClass::kGemm) return "gemm " + dtype + (op.gemm.batch > 1 ? " batched" : "");
  if (op.kind == OpClass::kAttention) {
    if (op.attention.q_len == 1) return "decode attention " + dtype;
    return std::string("prefill attention ") + (op.phase == Phase::kForward ? "fwd " : "bwd ") + dtype;
  }
  return (op.kind == OpClass::kNorm ? std::string("norm") : op.name) + " " + dtype;
}

std::vector<GroupScore> score_cost_models(const std::vector<NamedModel>& models, const CalibrationProfile& measured) {
  std::map<std::string, std::vector<std::vector<double>>> errors;  // group -> model -> signed errors (percent)
  for (const ProfileKernel& k : measured.kernels) {
    auto& group = errors[kernel_group(k.op)];
    group.resize(models.size());
    for (std::size_t m = 0; m < models.size(); ++m) {
      const double predicted = to_seconds(models[m].model->estimate(k.op, measured.gpu).duration);
      group[m].push_back((predicted / k.time.median - 1) * 100);
    }
  }
  std::vector<GroupScore> scores;
  for (const auto& [group, by_model] : errors) {
    GroupScore g{group, static_cast<int>(by_model.front().size()), {}};
    for (const std::vector<double>& e : by_model) g.by_model.push_back(summarize(e));
    scores.push_back(std::move(g));
  }
  return scores;
}

std::string format_group_scores(const std::vector<NamedModel>& models, const std::vector<GroupScore>& groups) {
  char cell[96];
  std::string header = "# kernels                         rows", units = "#                                     ";
  for (const NamedModel& m : models) {
    std::snprintf(cell, sizeof cell, " | %-24s", m.name.c_str());
    header += cell;
    units += " |  MAPE    p90  median err";
  }
  std::string table = header + "\n" + units + "\n";
  for (const GroupScore& g : groups) {
    std::snprintf(cell, sizeof cell, "  %-32s %5d", g.group.c_str(), g.rows);
    table += cell;
    for (const ModelScore& s : g.by_model) {
      std::snprintf(cell, sizeof cell, " | %5.1f%% %5.1f%% %+9.1f%%", s.mape, s.p90, s.median_error);
      table += cell;
    }
    table += "\n";
  }
  return table;
}

std::string format_layer_predictions(const std::vector<NamedModel>& models, const CalibrationProfile& profile) {
  char cell[128];
  std::string table = "# decoder layer (forward, unfused attention)   measured";
  for (const NamedModel& m : models) {
    std::snprintf(cell, sizeof cell, " | %-24s", m.name.c_str());
    table += cell;
  }
  table += "\n";
  for (const LayerMeasurement& layer : profile.layers) {
    std::snprintf(cell, sizeof cell, "  %-14s %6lld tokens, TP %lld       %8.3f ms", layer.model.c_str(), static_cast<long long>(layer.tokens),
                  static_cast<long long>(layer.tp), layer.time.median * 1e3);
    table += cell;
    for (const NamedModel& m : models) {
      const double predicted = predict_layer(layer, *m.model, profile.gpu);
      std::snprintf(cell, sizeof cell, " | %8.3f ms (%+6.1f%%)     ", predicted * 1e3, (predicted / layer.time.median - 1) * 100);
      table += cell;
    }
    table += "\n";
  }
  return table;
}

}  // namespace foresight
