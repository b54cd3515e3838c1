#pragma once
// Least-squares gradient boosting of depth-limited regression trees (Friedman 2001) on
// features binned at their quantiles: the nonlinear, learned part of the latency
// predictor. Fitting is deterministic: no sampling, ties broken by the lowest feature and
// bin.
#include <cstdint>
#include <vector>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

namespace foresight {

struct BoostingOptions {
  int trees = 300;
  int depth = 4;
  double learning_rate = 0.1;
  int bins = 255;       // quantile cut points per feature, at most
  int min_leaf = 5;     // rows a leaf keeps at least
};

class BoostedTrees {
 public:
  // `x`: one row per sample; `y`: the targets.
  void fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const BoostingOptions& options = {});
  double predict(const Eigen::Ref<const Eigen::VectorXd>& x) const;
  nlohmann::json to_json() const;
  // The inverse of to_json for a model on `features` features; throws std::invalid_argument
  // saying what is malformed (a child that does not lie after its parent, a feature out
  // of range), so a damaged model file cannot send predict() astray.
  static BoostedTrees from_json(const nlohmann::json& json, int features);
  bool empty() const { return trees_.empty(); }


  struct Node {
    int feature = -1;      // -1: a leaf
    double threshold = 0;  // x[feature] <= threshold goes left
    int bin = -1;          // the threshold's bin, for the training rows
    int left = -1, right = -1;
    double value = 0;
  };
 private:
  using Tree = std::vector<Node>;
  double base_ = 0;
  double rate_ = 0.1;
  std::vector<Tree> trees_;
};

}  // namespace foresight
