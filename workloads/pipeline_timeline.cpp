#include "workloads/pipeline_timeline.hpp"

#include <map>
#include <optional>
#include <stdexcept>
#include <tuple>

#include "sim/engine/dag_executor.hpp"

namespace foresight {

double PipelineTimeline::bubble_fraction() const {
  if (makespan == 0 || busy.empty()) return 0;
  double total = 0;
  for (Time t : busy) total += static_cast<double>(t);
  return 1.0 - total / (static_cast<double>(makespan) * static_cast<double>(busy.size()));
}

namespace {
using TaskKey = std::tuple<PipeWork, int, int>;  // work, micro-batch, virtual stage

class PipelineGraph {
 public:
  PipelineGraph(const PipelineSchedule& schedule, int stages, const PipelineWorkTimes& times)
      : schedule_(schedule), stages_(stages), positions_(schedule.positions(stages)), split_(schedule.splits_backward()), times_(times) {}

  void add_orders(const std::vector<std::vector<PipeTask>>& orders) {
    for (int s = 0; s < stages_; ++s) {
      const ResourceId stream = graph_.add_resource({"stage " + std::to_string(s), "compute", 1});
      bool first = true;
      OpId previous = 0;
      for (const PipeTask& task : orders[static_cast<std::size_t>(s)]) {
        const int v = schedule_.virtual_stage(s, task.chunk, stages_);
        const OpId op = graph_.add_op(duration(task.work), std::span<const ResourceId>(&stream, 1),
                                      graph_.label(label(task.work)), graph_.label("pipeline"));
        if (!first) graph_.add_dependency(previous, op);
        first = false;
        previous = op;
        if (pending_pair_) {
          pairs_.push_back({*pending_pair_, task.micro_batch, v});
          pending_pair_.reset();
        }
        if (task.paired) pending_pair_ = op;
        if (!ops_.emplace(TaskKey{task.work, task.micro_batch, v}, op).second) {
          throw std::logic_error("the schedule runs " + std::string(label(task.work)) + " of micro-batch " +
                                 std::to_string(task.micro_batch) + " twice on virtual stage " + std::to_string(v));
        }
        stage_of_op_.push_back(s);
      }
      mark_pair_ends(orders[static_cast<std::size_t>(s)], s);
    }
  }

  // A micro-batch passes its copy's virtual stages from the one it enters at.
  void add_dependencies(int micro_batches) {
    for (int mb = 0; mb < micro_batches; ++mb) {
      const int entry = schedule_.entry_virtual_stage(mb, micro_batches, stages_);
      for (int k = 0; k < positions_; ++k) {
        const int v = entry + k;
        const OpId f = find(PipeWork::kForward, mb, v);
        const OpId b = find(PipeWork::kBackward, mb, v);
        if (k > 0) cross(output_of(find(PipeWork::kForward, mb, v - 1)), f);
        graph_.add_dependency(f, b);
        if (k + 1 < positions_) cross(output_of(find(PipeWork::kBackward, mb, v + 1)), b);
        if (split_) graph_.add_dependency(b, find(PipeWork::kWeightGrad, mb, v));
      }
    }
    // A paired forward waits for its partner backward's input too (the partner follows it
    // in the order, so its own dependencies hold already).
    for (const Pair& pair : pairs_) {
      const int entry = schedule_.entry_virtual_stage(pair.micro_batch, micro_batches, stages_);
      if (pair.virtual_stage + 1 < entry + positions_) {
        cross(output_of(find(PipeWork::kBackward, pair.micro_batch, pair.virtual_stage + 1)), pair.forward);
      }
    }
  }

  PipelineTimeline run() {
    Engine engine;
    DagExecutor executor(engine, graph_);
    executor.start();
    engine.run();
    if (!executor.all_finished()) throw std::logic_error("the pipeline schedule's orders deadlock");
    PipelineTimeline timeline;
    timeline.busy.assign(static_cast<std::size_t>(stages_), 0);
    for (OpId op = 0; op < graph_.op_count(); ++op) {
      const Time end = executor.start_time(op) + graph_.op(op).duration;
      timeline.makespan = std::max(timeline.makespan, end);
      if (op < stage_of_op_.size()) timeline.busy[static_cast<std::size_t>(stage_of_op_[op])] += graph_.op(op).duration;
    }
    return timeline;
  }

 private:
  Time duration(PipeWork work) const {
    switch (work) {
      case PipeWork::kForward: return times_.forward;
      case PipeWork::kBackward: return split_ ? times_.backward : times_.backward + times_.weight_grad;
      case PipeWork::kWeightGrad: return times_.weight_grad;
    }
    return 0;
  }
  static const char* label(PipeWork work) {
    return work == PipeWork::kForward ? "F" : work == PipeWork::kBackward ? "B" : "W";
  }

  // DeepSeek's overlapped forward-backward runs its two passes' pieces interleaved, so neither
  // pass's output leaves before the pair ends: the partner backward's end, or its W's when W
  // follows it in the order (a full backward, as DualPipe's overlapped chunks run).
  void mark_pair_ends(const std::vector<PipeTask>& order, int s) {
    for (std::size_t i = 0; i + 1 < order.size(); ++i) {
      if (!order[i].paired) continue;
      const PipeTask& partner = order[i + 1];
      const auto op = [&](const PipeTask& t) { return find(t.work, t.micro_batch, schedule_.virtual_stage(s, t.chunk, stages_)); };
      OpId end = op(partner);
      if (i + 2 < order.size() && order[i + 2].work == PipeWork::kWeightGrad && order[i + 2].micro_batch == partner.micro_batch &&
          order[i + 2].chunk == partner.chunk) {
        end = op(order[i + 2]);
      }
      pair_end_[op(order[i])] = end;
      pair_end_[op(partner)] = end;
    }
  }
  // Where an op's output leaves the stage: its pair's end when it is half of an F&B pair.
  OpId output_of(OpId op) const {
    const auto it = pair_end_.find(op);
    return it == pair_end_.end() ? op : it->second;
  }

  OpId find(PipeWork work, int mb, int v) const {
    const auto it = ops_.find({work, mb, v});
    if (it == ops_.end()) {
      throw std::logic_error("the schedule never runs " + std::string(label(work)) + " of micro-batch " + std::to_string(mb) +
                             " on virtual stage " + std::to_string(v));
    }
    return it->second;
  }

  // A dependency between virtual stages: through a point-to-point transfer when it costs
  // time and the two are on different stages.
  void cross(OpId from, OpId to) {
    if (times_.p2p == 0 || stage_of_op_[from] == stage_of_op_[to]) {
      graph_.add_dependency(from, to);
      return;
    }
    const OpId transfer = graph_.add_op(times_.p2p, {}, graph_.label("p2p"), graph_.label("pipeline"));
    graph_.add_dependency(from, transfer);
    graph_.add_dependency(transfer, to);
  }

  const PipelineSchedule& schedule_;
  int stages_;
  int positions_;
  bool split_;
  PipelineWorkTimes times_;
  OpGraph graph_;
  std::map<TaskKey, OpId> ops_;
  std::vector<int> stage_of_op_;  // compute ops come first, p2p transfers after
  struct Pair {
    OpId forward;
    int micro_batch, virtual_stage;  // the partner backward's
  };
  std::vector<Pair> pairs_;
  std::optional<OpId> pending_pair_;
  std::map<OpId, OpId> pair_end_;
};
}  // namespace

PipelineTimeline run_pipeline(const PipelineSchedule& schedule, int stages, int micro_batches, const PipelineWorkTimes& times) {
  if (const std::string why = schedule.unsupported_reason(stages, micro_batches); !why.empty()) throw std::invalid_argument(why);
  PipelineGraph graph(schedule, stages, times);
  graph.add_orders(schedule.orders(stages, micro_batches));
  graph.add_dependencies(micro_batches);
  return graph.run();
}

}  // namespace foresight
