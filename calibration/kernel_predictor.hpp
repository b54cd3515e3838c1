#pragma once
// The learned kernel latency predictor (NeuSight's approach, ASPLOS'25): an analytic
// baseline per op family times a learned, bounded correction,
//
//   t = baseline(op, gpu) * exp(clamp(f(x), -ln 4, ln 4))
//
// where the baseline is a roofline (GEMMs: with the last wave of 128 x 128 output tiles
// counted whole) plus a launch gap, and x holds features of the op's shape and of the
// device (peak FLOP/s for the op's dtype, memory bandwidth, SMs, L2), so that the
// correction can carry over to GPUs that were never measured. f is gradient-boosted
// regression trees fitted to log(measured / baseline), one model per family: GEMMs,
// attention, and memory-bound ops (norms, elementwise, softmax). Fitting is deterministic.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include "calibration/boosted_trees.hpp"
#include "calibration/kernel_sample.hpp"

namespace foresight {

enum class KernelFamily { kGemm, kAttention, kMemory };
inline constexpr std::array kKernelFamilies{KernelFamily::kGemm, KernelFamily::kAttention, KernelFamily::kMemory};
std::string_view family_name(KernelFamily family);
// Collectives belong to no family: the network model times them.
std::optional<KernelFamily> family_of(OpClass kind);

// At most 24 features, kept off the heap: the simulator asks millions of times.
using FeatureVector = Eigen::Matrix<double, Eigen::Dynamic, 1, 0, 24, 1>;

struct Baseline {
  double compute = 0, memory = 0;  // seconds at the roofs
  double seconds() const;          // the launch gap plus the larger roof
};
Baseline kernel_baseline(const Op& op, const GpuSpec& gpu);
FeatureVector kernel_features(const Op& op, const GpuSpec& gpu);
const std::vector<std::string>& feature_names(KernelFamily family);

// How far an op lies outside what the model was trained on: on its worst feature, the
// distance beyond the training rows' range in units of that range's width (at least 1,
// so that for log features 1.0 is a factor of e beyond); 0 inside.
struct RangeDistance {
  double distance = 0;
  std::string_view feature;  // the worst feature's name (static storage); empty inside the range
};

class KernelPredictor {
 public:
  // Fits a correction for every family that has samples; `devices` holds each sample's GPU.
  void fit(const std::vector<KernelSample>& samples, const DeviceTable& devices, const BoostingOptions& options = {});
  bool covers(KernelFamily family) const { return !families_[index(family)].correction.empty(); }
  int rows(KernelFamily family) const { return families_[index(family)].rows; }
  // Seconds; the family of op.kind must be covered.
  double predict(const Op& op, const GpuSpec& gpu) const;
  RangeDistance range_distance(const Op& op, const GpuSpec& gpu) const;

  struct Estimate {
    double seconds;
    Baseline baseline;
    RangeDistance range;
  };
  // All three from one evaluation of the features (what a cost model needs on a miss).
  Estimate estimate(const Op& op, const GpuSpec& gpu) const;

  nlohmann::json to_json() const;
  // Throws InputError naming `file` and the JSON path of what is malformed.
  static KernelPredictor from_json(const nlohmann::json& json, const std::string& file);

 private:
  struct Family {
    BoostedTrees correction;
    FeatureVector low, high;  // the training rows' range of each feature
    int rows = 0;
  };
  static std::size_t index(KernelFamily family) { return static_cast<std::size_t>(family); }
  RangeDistance range_of(KernelFamily family, const FeatureVector& x) const;
  double corrected(KernelFamily family, const FeatureVector& x, const Baseline& baseline) const;
  std::array<Family, kKernelFamilies.size()> families_;
};

}  // namespace foresight
