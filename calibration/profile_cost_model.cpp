#include "calibration/profile_cost_model.hpp"

#include <algorithm>
#include <cmath>

namespace foresight {
namespace {
double log_dim(std::int64_t value) { return std::log(static_cast<double>(std::max<std::int64_t>(value, 1))); }

// Where a shape lies, in log-scaled dimensions: a factor of e along one dimension is a
// distance of 1.
FeatureVector shape_point(const Op& op) {
  FeatureVector x;
  switch (*family_of(op.kind)) {
    case KernelFamily::kGemm:
      x.resize(4);
      x << log_dim(op.gemm.m), log_dim(op.gemm.n), log_dim(op.gemm.k), log_dim(op.gemm.batch);
      break;
    case KernelFamily::kAttention: {
      const AttentionShape& a = op.attention;
      x.resize(8);
      x << log_dim(a.batch), log_dim(a.heads), log_dim(a.kv_heads), log_dim(a.q_len), log_dim(a.kv_len), log_dim(a.head_dim),
          a.causal ? 1.0 : 0.0, op.phase == Phase::kForward ? 0.0 : 1.0;
      break;
    }
    case KernelFamily::kMemory:
      x.resize(3);
      x << std::log(std::max(op.bytes, 1.0)), std::log(op.flops + 1), op.kind == OpClass::kNorm ? 1.0 : 0.0;
      break;
  }
  return x;
}

std::string_view point_feature_name(KernelFamily family, Eigen::Index i) {
  static constexpr std::string_view kGemm[] = {"log m", "log n", "log k", "log batch"};
  static constexpr std::string_view kAttention[] = {"log batch", "log heads", "log kv heads", "log q len",
                                                    "log kv len", "log head dim", "causal", "backward"};
  static constexpr std::string_view kMemory[] = {"log bytes", "log flops", "norm"};
  const auto at = static_cast<std::size_t>(i);
  switch (family) {
    case KernelFamily::kGemm: return kGemm[at];
    case KernelFamily::kAttention: return kAttention[at];
    case KernelFamily::kMemory: return kMemory[at];
  }
  return "?";
}

std::size_t width_index(Dtype dtype) {
  const double bytes = dtype_bytes(dtype);
  return bytes <= 1 ? 0 : bytes <= 2 ? 1 : 2;
}
}  // namespace

ProfileCostModel::ProfileCostModel(const CalibrationProfile& profile, const GpuSpec& gpu, RooflineParameters fallback, int neighbours)
    : fallback_(fallback), launch_seconds_(fallback.launch_seconds), neighbours_(neighbours) {
  for (const ProfileKernel& k : profile.kernels) {
    Group& group = groups_[static_cast<std::size_t>(*family_of(k.op.kind))][width_index(k.op.dtype)];
    const FeatureVector x = shape_point(k.op);
    group.points.push_back({x, std::log(k.time.median / kernel_baseline(k.op, gpu).seconds())});
    group.low = group.points.size() == 1 ? x : FeatureVector(group.low.cwiseMin(x));
    group.high = group.points.size() == 1 ? x : FeatureVector(group.high.cwiseMax(x));
  }
}

CostEstimate ProfileCostModel::estimate(const Op& op, const GpuSpec& gpu) const {
  return cache_.get(op, gpu, [&] { return interpolate(op, gpu); });
}

const ProfileCostModel::Group* ProfileCostModel::group_of(const Op& op) const {
  const auto family = family_of(op.kind);
  if (!family) return nullptr;
  const Group& group = groups_[static_cast<std::size_t>(*family)][width_index(op.dtype)];
  return group.points.empty() ? nullptr : &group;
}

CostEstimate ProfileCostModel::interpolate(const Op& op, const GpuSpec& gpu) const {
  const Group* group = group_of(op);
  if (group == nullptr) return fallback_.estimate(op, gpu);
  const FeatureVector x = shape_point(op);
  std::vector<std::pair<double, double>> nearest;  // distance, log ratio
  nearest.reserve(group->points.size());
  for (const Point& p : group->points) nearest.emplace_back((p.x - x).norm(), p.log_ratio);
  const auto k = std::min<std::size_t>(static_cast<std::size_t>(neighbours_), nearest.size());
  std::partial_sort(nearest.begin(), nearest.begin() + static_cast<std::ptrdiff_t>(k), nearest.end());
  double weighted = 0, weights = 0;
  for (std::size_t i = 0; i < k; ++i) {
    const double w = 1 / (nearest[i].first + 1e-6);
    weighted += w * nearest[i].second;
    weights += w;
  }
  const Baseline baseline = kernel_baseline(op, gpu);
  CostEstimate cost{from_seconds(launch_seconds_ + baseline.seconds() * std::exp(weighted / weights)),
                    baseline.compute >= baseline.memory ? Bound::kCompute : Bound::kMemory, name(), 0, {}};
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const double width = std::max(1.0, group->high(i) - group->low(i));
    const double beyond = std::max({0.0, group->low(i) - x(i), x(i) - group->high(i)}) / width;
    if (beyond > cost.out_of_range) {
      cost.out_of_range = beyond;
      cost.out_of_range_feature = point_feature_name(*family_of(op.kind), i);
    }
  }
  return cost;
}

}  // namespace foresight
