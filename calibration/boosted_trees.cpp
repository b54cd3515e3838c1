#include "calibration/boosted_trees.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>

#include "sim/input/json_document.hpp"

namespace foresight {
namespace {
// Cut points at the feature's quantiles (distinct values only).
std::vector<double> quantile_cuts(const Eigen::VectorXd& column, int bins) {
  std::vector<double> sorted(column.data(), column.data() + column.size());
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> cuts;
  for (int b = 1; b <= bins; ++b) {
    const double cut = sorted[static_cast<std::size_t>(static_cast<double>(b) / (bins + 1) * static_cast<double>(sorted.size() - 1))];
    if (cuts.empty() || cut > cuts.back()) cuts.push_back(cut);
  }
  if (!cuts.empty() && cuts.back() >= sorted.back()) cuts.pop_back();  // a cut must leave rows on its right
  return cuts;
}

struct Split {
  double gain = 0;
  int feature = -1;
  int bin = -1;
};

using Node = BoostedTrees::Node;

class TreeBuilder {
 public:
  TreeBuilder(const std::vector<std::vector<std::uint8_t>>& binned, const std::vector<std::vector<double>>& cuts,
              const Eigen::VectorXd& residual, const BoostingOptions& options)
      : binned_(binned), cuts_(cuts), residual_(residual), options_(options) {}

  // Grows a node over `rows` to `depth` more levels; returns its index in `tree`.
  int grow(std::vector<Node>& tree, const std::vector<int>& rows, int depth) {
    double sum = 0;
    for (int r : rows) sum += residual_(r);
    const int index = static_cast<int>(tree.size());
    tree.push_back({});
    tree[static_cast<std::size_t>(index)].value = sum / static_cast<double>(rows.size());
    if (depth == 0 || static_cast<int>(rows.size()) < 2 * options_.min_leaf) return index;
    const Split best = best_split(rows, sum);
    if (best.feature < 0) return index;
    std::vector<int> left, right;
    for (int r : rows) (binned_[static_cast<std::size_t>(best.feature)][static_cast<std::size_t>(r)] <= best.bin ? left : right).push_back(r);
    const int left_child = grow(tree, left, depth - 1);
    const int right_child = grow(tree, right, depth - 1);
    Node& node = tree[static_cast<std::size_t>(index)];
    node.feature = best.feature;
    node.threshold = cuts_[static_cast<std::size_t>(best.feature)][static_cast<std::size_t>(best.bin)];
    node.bin = best.bin;
    node.left = left_child;
    node.right = right_child;
    return index;
  }

 private:
  Split best_split(const std::vector<int>& rows, double total) const {
    Split best;
    const auto n = static_cast<double>(rows.size());
    const double base = total * total / n;
    for (std::size_t f = 0; f < binned_.size(); ++f) {
      const std::size_t bins = cuts_[f].size() + 1;
      std::vector<double> sums(bins, 0);
      std::vector<int> counts(bins, 0);
      for (int r : rows) {
        const std::uint8_t b = binned_[f][static_cast<std::size_t>(r)];
        sums[b] += residual_(r);
        ++counts[b];
      }
      double left_sum = 0;
      int left_count = 0;
      for (std::size_t b = 0; b + 1 < bins; ++b) {
        left_sum += sums[b];
        left_count += counts[b];
        const int right_count = static_cast<int>(rows.size()) - left_count;
        if (left_count < options_.min_leaf || right_count < options_.min_leaf) continue;
        const double right_sum = total - left_sum;
        const double gain = left_sum * left_sum / left_count + right_sum * right_sum / right_count - base;
        if (gain > best.gain + 1e-12) best = {gain, static_cast<int>(f), static_cast<int>(b)};
      }
    }
    return best;
  }

  const std::vector<std::vector<std::uint8_t>>& binned_;
  const std::vector<std::vector<double>>& cuts_;
  const Eigen::VectorXd& residual_;
  const BoostingOptions& options_;
};

// A node's feature (-1 for a leaf) or child index; checked before narrowing to int.
int node_field(const nlohmann::json& value) {
  const std::optional<std::int64_t> field = integer_within(value, -1, 1'000'000'000);
  if (!field) throw std::invalid_argument("a node field is not a whole number in -1..1e9: " + value.dump());
  return static_cast<int>(*field);
}
}  // namespace

void BoostedTrees::fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const BoostingOptions& options) {
  const auto rows = static_cast<std::size_t>(x.rows());
  const auto features = static_cast<std::size_t>(x.cols());
  std::vector<std::vector<double>> cuts(features);
  std::vector<std::vector<std::uint8_t>> binned(features, std::vector<std::uint8_t>(rows));
  for (std::size_t f = 0; f < features; ++f) {
    cuts[f] = quantile_cuts(x.col(static_cast<Eigen::Index>(f)), std::min(options.bins, 255));
    for (std::size_t r = 0; r < rows; ++r) {
      const double v = x(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(f));
      binned[f][r] = static_cast<std::uint8_t>(std::lower_bound(cuts[f].begin(), cuts[f].end(), v) - cuts[f].begin());
    }
  }
  base_ = y.mean();
  rate_ = options.learning_rate;
  trees_.clear();
  Eigen::VectorXd fitted = Eigen::VectorXd::Constant(y.size(), base_);
  std::vector<int> all(rows);
  for (std::size_t r = 0; r < rows; ++r) all[r] = static_cast<int>(r);
  for (int t = 0; t < options.trees; ++t) {
    const Eigen::VectorXd residual = y - fitted;
    TreeBuilder builder(binned, cuts, residual, options);
    Tree tree;
    builder.grow(tree, all, options.depth);
    for (std::size_t r = 0; r < rows; ++r) {
      int node = 0;
      while (tree[static_cast<std::size_t>(node)].feature >= 0) {
        const Node& n = tree[static_cast<std::size_t>(node)];
        node = binned[static_cast<std::size_t>(n.feature)][r] <= n.bin ? n.left : n.right;
      }
      fitted(static_cast<Eigen::Index>(r)) += rate_ * tree[static_cast<std::size_t>(node)].value;
    }
    trees_.push_back(std::move(tree));
  }
}

double BoostedTrees::predict(const Eigen::Ref<const Eigen::VectorXd>& x) const {
  double sum = base_;
  for (const Tree& tree : trees_) {
    int node = 0;
    while (tree[static_cast<std::size_t>(node)].feature >= 0) {
      const Node& n = tree[static_cast<std::size_t>(node)];
      node = x(n.feature) <= n.threshold ? n.left : n.right;
    }
    sum += rate_ * tree[static_cast<std::size_t>(node)].value;
  }
  return sum;
}

nlohmann::json BoostedTrees::to_json() const {
  nlohmann::json trees = nlohmann::json::array();
  for (const Tree& tree : trees_) {
    nlohmann::json nodes = nlohmann::json::array();
    for (const Node& n : tree) nodes.push_back({n.feature, n.threshold, n.left, n.right, n.value});
    trees.push_back(std::move(nodes));
  }
  return {{"base", base_}, {"learning_rate", rate_}, {"node_columns", {"feature", "threshold", "left", "right", "value"}},
          {"trees", std::move(trees)}};
}

BoostedTrees BoostedTrees::from_json(const nlohmann::json& json, int features) {
  BoostedTrees model;
  model.base_ = json.at("base").get<double>();
  model.rate_ = json.at("learning_rate").get<double>();
  for (const nlohmann::json& nodes : json.at("trees")) {
    Tree tree;
    for (const nlohmann::json& n : nodes) tree.push_back({node_field(n.at(0)), n.at(1).get<double>(), -1, node_field(n.at(2)), node_field(n.at(3)), n.at(4).get<double>()});
    const int size = static_cast<int>(tree.size());
    if (size == 0) throw std::invalid_argument("a tree has no nodes");
    for (int i = 0; i < size; ++i) {
      const Node& n = tree[static_cast<std::size_t>(i)];
      if (n.feature < 0) continue;
      if (n.feature >= features) throw std::invalid_argument("a node tests feature " + std::to_string(n.feature) + " of " + std::to_string(features));
      if (n.left <= i || n.right <= i || n.left >= size || n.right >= size) throw std::invalid_argument("a node's children do not lie after it in its tree");
    }
    model.trees_.push_back(std::move(tree));
  }
  return model;
}

}  // namespace foresight
