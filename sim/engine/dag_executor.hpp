#pragma once
// Runs an OpGraph on an Engine. An op starts once all its predecessors have finished and
// it holds every resource it lists; each resource serves up to `concurrency` ops at once
// and queues the rest in arrival order. A stream is a resource of concurrency 1 whose ops
// the workload chains with dependencies, which gives CUDA's in-order stream semantics.
#include <cstdint>
#include <vector>

#include "sim/engine/engine.hpp"
#include "sim/engine/fifo_queue.hpp"
#include "sim/engine/observer.hpp"
#include "sim/engine/op_graph.hpp"

namespace foresight {

class ExternalOpRunner {
 public:
  virtual ~ExternalOpRunner() = default;
  // The op holds its resources now; call DagExecutor::complete_external when it ends.
  virtual void start_external(OpId op) = 0;
};

// Sets an op's duration when it starts, from what else runs at that moment (kernels that
// share a GPU with a collective run slower); it may move the end later or earlier while the
// op runs, through DagExecutor::reschedule_end.
class DurationAdjuster {
 public:
  virtual ~DurationAdjuster() = default;
  virtual Time duration_at_start(OpId op, Time now, Time nominal) = 0;
};

class DagExecutor : public EventHandler {
 public:
  DagExecutor(Engine& engine, const OpGraph& graph);
  DagExecutor(Engine& engine, const OpGraph&& graph) = delete;  // the executor keeps a reference

  void set_external_runner(ExternalOpRunner& runner) { external_ = &runner; }
  void set_duration_adjuster(DurationAdjuster& adjuster) { adjuster_ = &adjuster; }
  // Ends an external op now: releases its resources and releases its successors.
  void complete_external(OpId op) { finish(op); }
  // A running op (not external) ends at `end` (not before now) instead of when it was due.
  void reschedule_end(OpId op, Time end);

  void add_observer(ExecutionObserver& observer) { observers_.push_back(&observer); }
  // Releases the ops with no predecessors; Engine::run then drives the rest.
  void start();

  std::size_t finished_ops() const { return finished_; }
  bool all_finished() const { return finished_ == graph_.op_count(); }
  Time start_time(OpId op) const { return state_[op].start; }
  // When the last op ended: the run's makespan. The engine's clock may have gone further, to
  // the stale end events of ops whose end moved earlier (reschedule_end), which fire and do nothing.
  Time last_end() const { return last_end_; }

  void handle_event(Engine& engine, std::uint64_t tag) override;

 private:
  struct OpState {
    std::uint32_t resources_held = 0;
    std::uint32_t end_version = 0;  // its latest scheduled end; earlier ones are stale
    Time start = -1;
  };
  struct ResourceState {
    std::uint32_t in_use = 0;
    std::uint32_t concurrency = 1;  // the graph's, kept beside the counter the hot path reads
    FifoQueue<OpId> waiting;
  };
  enum EventKind : std::uint64_t { kResourcesGranted = 0, kFinished = 1 };
  // An event's tag: its kind in bit 0, the op in bits 1-32, a finish's end_version above.
  static std::uint64_t tag_of(OpId op, EventKind kind, std::uint32_t version = 0) {
    return (std::uint64_t{version} << 33) | (std::uint64_t{op} << 1) | kind;
  }
  void schedule_end(OpId op, Time end);

  void acquire_resources(OpId op);
  void begin(OpId op);
  void finish(OpId op);

  Engine& engine_;
  const OpGraph& graph_;
  std::vector<OpState> state_;
  // Apart from state_: finishing an op touches only its successors' counters, and these
  // pack sixteen to a cache line.
  std::vector<std::uint32_t> unfinished_predecessors_;
  std::vector<ResourceState> resources_;
  std::vector<std::uint32_t> successor_begin_;  // CSR adjacency built once from the edge list
  std::vector<OpId> successors_;
  std::vector<ExecutionObserver*> observers_;
  ExternalOpRunner* external_ = nullptr;
  DurationAdjuster* adjuster_ = nullptr;
  std::size_t finished_ = 0;
  Time last_end_ = 0;
};

}  // namespace foresight
