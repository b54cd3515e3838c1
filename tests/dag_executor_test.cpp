#include <doctest/doctest.h>

#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sim/engine/chrome_trace.hpp"
#include "sim/engine/dag_executor.hpp"

using namespace foresight;

namespace {
struct Run {
  Time end;
  std::vector<Time> starts;
};

Run execute(const OpGraph& graph) {
  Engine engine;
  DagExecutor executor(engine, graph);
  executor.start();
  engine.run();
  REQUIRE(executor.all_finished());
  Run run{engine.now(), {}};
  for (OpId op = 0; op < graph.op_count(); ++op) run.starts.push_back(executor.start_time(op));
  return run;
}
}  // namespace

TEST_CASE("a chain on one stream takes the sum of its durations") {
  OpGraph g;
  const ResourceId stream = g.add_resource({"GPU 0", "compute", 1});
  const LabelId name = g.label("k");
  OpId prev = g.add_op(10, std::vector<ResourceId>{stream}, name, name);
  for (Time d : {20, 30}) {
    const OpId op = g.add_op(d, std::vector<ResourceId>{stream}, name, name);
    g.add_dependency(prev, op);
    prev = op;
  }
  const Run run = execute(g);
  CHECK(run.end == 60);
  CHECK(run.starts == std::vector<Time>{0, 10, 30});
}

TEST_CASE("independent ops share a resource of concurrency 2") {
  // Five ops of 10 ps on a 2-wide resource: starts at 0,0,10,10,20 -> ends at 30.
  OpGraph g;
  const ResourceId engines = g.add_resource({"GPU 0", "copy engines", 2});
  const LabelId name = g.label("copy");
  for (int i = 0; i < 5; ++i) g.add_op(10, std::vector<ResourceId>{engines}, name, name);
  const Run run = execute(g);
  CHECK(run.end == 30);
  CHECK(run.starts == std::vector<Time>{0, 0, 10, 10, 20});
}

TEST_CASE("a collective waits for its slowest participant and holds every stream") {
  // GPU 0 computes 10 ps, GPU 1 computes 40 ps; the all-reduce (5 ps) needs both streams,
  // so it runs 40..45, and GPU 0's next kernel (after the all-reduce) runs 45..55.
  OpGraph g;
  const ResourceId s0 = g.add_resource({"GPU 0", "compute", 1});
  const ResourceId s1 = g.add_resource({"GPU 1", "compute", 1});
  const LabelId name = g.label("op");
  const OpId a = g.add_op(10, std::vector<ResourceId>{s0}, name, name);
  const OpId b = g.add_op(40, std::vector<ResourceId>{s1}, name, name);
  const OpId ar = g.add_op(5, std::vector<ResourceId>{s1, s0}, name, name);
  const OpId c = g.add_op(10, std::vector<ResourceId>{s0}, name, name);
  g.add_dependency(a, ar);
  g.add_dependency(b, ar);
  g.add_dependency(ar, c);
  const Run run = execute(g);
  CHECK(run.starts[ar] == 40);
  CHECK(run.starts[c] == 45);
  CHECK(run.end == 55);
}

TEST_CASE("waiting ops get a resource in arrival order") {
  // A (30 ps) holds the link; B becomes ready at 10, C at 20: B runs 30..35, C 35..40.
  OpGraph g;
  const ResourceId link = g.add_resource({"GPU 0", "link", 1});
  const ResourceId other = g.add_resource({"GPU 0", "compute", 1});
  const ResourceId other2 = g.add_resource({"GPU 1", "compute", 1});
  const LabelId name = g.label("x");
  const OpId a = g.add_op(30, std::vector<ResourceId>{link}, name, name);
  const OpId pre_b = g.add_op(10, std::vector<ResourceId>{other}, name, name);
  const OpId pre_c = g.add_op(20, std::vector<ResourceId>{other2}, name, name);
  const OpId b = g.add_op(5, std::vector<ResourceId>{link}, name, name);
  const OpId c = g.add_op(5, std::vector<ResourceId>{link}, name, name);
  g.add_dependency(pre_b, b);
  g.add_dependency(pre_c, c);
  const Run run = execute(g);
  CHECK(run.starts[a] == 0);
  CHECK(run.starts[b] == 30);
  CHECK(run.starts[c] == 35);
}

TEST_CASE("cycles are found; a cyclic graph never finishes") {
  OpGraph g;
  const ResourceId s = g.add_resource({"GPU 0", "compute", 1});
  const LabelId name = g.label("x");
  const OpId a = g.add_op(1, std::vector<ResourceId>{s}, name, name);
  const OpId b = g.add_op(1, std::vector<ResourceId>{s}, name, name);
  const OpId c = g.add_op(1, std::vector<ResourceId>{s}, name, name);
  g.add_dependency(a, b);
  g.add_dependency(b, c);
  g.add_dependency(c, b);
  CHECK(g.ops_on_cycles() == std::vector<OpId>{b, c});
  Engine engine;
  DagExecutor executor(engine, g);
  executor.start();
  engine.run();
  CHECK(executor.finished_ops() == 1);
}

TEST_CASE("bad graph construction is rejected") {
  OpGraph g;
  CHECK_THROWS_AS(g.add_resource({"GPU 0", "compute", 0}), std::logic_error);
  const ResourceId s = g.add_resource({"GPU 0", "compute", 1});
  const LabelId name = g.label("x");
  CHECK_THROWS_AS(g.add_op(-1, std::vector<ResourceId>{s}, name, name), std::logic_error);
  CHECK_THROWS_AS(g.add_op(1, std::vector<ResourceId>{s, s}, name, name), std::logic_error);
  CHECK_THROWS_AS(g.add_op(1, std::vector<ResourceId>{7}, name, name), std::logic_error);
  CHECK_THROWS_AS(g.add_dependency(0, 3), std::logic_error);
}

TEST_CASE("the Chrome trace has one track per resource and one slice per resource held") {
  OpGraph g;
  const ResourceId s0 = g.add_resource({"GPU 0", "compute", 1});
  const ResourceId l0 = g.add_resource({"GPU 0", "link", 1});
  const ResourceId s1 = g.add_resource({"GPU 1", "compute", 1});
  const OpId gemm = g.add_op(1'500'000, std::vector<ResourceId>{s0}, g.label("gemm \"qkv\""), g.label("gemm"));
  const OpId ar = g.add_op(2'000'000, std::vector<ResourceId>{l0, s1}, g.label("all_reduce"), g.label("collective"));
  g.add_dependency(gemm, ar);
  Engine engine;
  DagExecutor executor(engine, g);
  ChromeTraceWriter trace([](OpId op) { return op == 0 ? std::string("{\"flops\":1}") : std::string(); });
  executor.add_observer(trace);
  executor.start();
  engine.run();
  std::ostringstream text;
  trace.write(g, text);
  const auto doc = nlohmann::json::parse(text.str());
  int slices = 0, threads = 0, processes = 0;
  for (const auto& e : doc["traceEvents"]) {
    if (e["ph"] == "X") {
      ++slices;
      if (e["name"] == "all_reduce") CHECK(e["ts"].get<double>() == doctest::Approx(1.5));
    }
    if (e["ph"] == "M" && e["name"] == "thread_name") ++threads;
    if (e["ph"] == "M" && e["name"] == "process_name") ++processes;
  }
  CHECK(slices == 3);  // the gemm once, the all-reduce on both resources it held
  CHECK(threads == 3);
  CHECK(processes == 2);
  CHECK(text.str().find("\"args\":{\"flops\":1}") != std::string::npos);
  // The dependency crosses tracks: one flow arrow, from the GEMM's slice to the all-reduce's.
  std::vector<nlohmann::json> flows;
  for (const auto& e : doc["traceEvents"]) {
    if (e["ph"] == "s" || e["ph"] == "f") flows.push_back(e);
  }
  REQUIRE(flows.size() == 2);
  CHECK(flows[0]["ph"] == "s");
  CHECK(flows[0]["tid"] == 1);  // GPU 0's compute track
  CHECK(flows[0]["ts"].get<double>() == doctest::Approx(0));
  CHECK(flows[1]["ph"] == "f");
  CHECK(flows[1]["bp"] == "e");
  CHECK(flows[1]["id"] == flows[0]["id"]);
  CHECK(flows[1]["tid"] == 2);  // the all-reduce's first track, GPU 0's link
  CHECK(flows[1]["ts"].get<double>() == doctest::Approx(1.5));
}

TEST_CASE("ops on one track need no flow arrow: their order is the track's") {
  OpGraph g;
  const ResourceId s0 = g.add_resource({"GPU 0", "compute", 1});
  const OpId a = g.add_op(1'000'000, std::vector<ResourceId>{s0}, g.label("a"), g.label("gemm"));
  const OpId b = g.add_op(1'000'000, std::vector<ResourceId>{s0}, g.label("b"), g.label("gemm"));
  g.add_dependency(a, b);
  Engine engine;
  DagExecutor executor(engine, g);
  ChromeTraceWriter trace;
  executor.add_observer(trace);
  executor.start();
  engine.run();
  std::ostringstream text;
  trace.write(g, text);
  CHECK(text.str().find("\"ph\":\"s\"") == std::string::npos);
}

namespace {
// Ends each external op 7 ps after it starts, from an engine event, as a network would.
class DelayedRunner : public ExternalOpRunner, public EventHandler {
 public:
  DelayedRunner(Engine& engine, DagExecutor& executor) : engine_(engine), executor_(executor) {}
  void start_external(OpId op) override { engine_.schedule_in(7, *this, op); }
  void handle_event(Engine&, std::uint64_t op) override { executor_.complete_external(static_cast<OpId>(op)); }

 private:
  Engine& engine_;
  DagExecutor& executor_;
};
}  // namespace

TEST_CASE("external ops hold their resources until their runner completes them") {
  // compute 10 ps, then an external op (7 ps, decided by the runner) on the same stream,
  // then compute 5 ps: starts at 0, 10, 17; the step ends at 22.
  OpGraph g;
  const ResourceId s = g.add_resource({"GPU 0", "compute", 1});
  const LabelId name = g.label("x");
  const OpId a = g.add_op(10, std::vector<ResourceId>{s}, name, name);
  const OpId ext = g.add_external_op(std::vector<ResourceId>{s}, name, name);
  const OpId b = g.add_op(5, std::vector<ResourceId>{s}, name, name);
  g.add_dependency(a, ext);
  g.add_dependency(ext, b);
  CHECK(g.is_external(ext));
  Engine engine;
  DagExecutor executor(engine, g);
  DelayedRunner runner(engine, executor);
  executor.set_external_runner(runner);
  executor.start();
  engine.run();
  CHECK(executor.all_finished());
  CHECK(executor.start_time(b) == 17);
  CHECK(engine.now() == 22);
}

namespace {
// Moves op 0's end once, when op 1 starts: to `moved_end`.
class MoveOnStart : public ExecutionObserver {
 public:
  MoveOnStart(DagExecutor& executor, Time moved_end) : executor_(executor), moved_end_(moved_end) {}
  void on_op_start(const OpGraph&, OpId op, Time) override {
    if (op == 1) executor_.reschedule_end(0, moved_end_);
  }
  void on_op_end(const OpGraph&, OpId op, Time, Time end) override { ends[op] = end; }
  std::map<OpId, Time> ends;

 private:
  DagExecutor& executor_;
  Time moved_end_;
};
}  // namespace

TEST_CASE("a running op's end can move later or earlier; the end it first had is dropped") {
  for (const Time moved : {Time{150}, Time{60}}) {
    // Op 0 (100 ps) on GPU 0; op 1 (20 ps) on GPU 1 starts at 0 and moves op 0's end.
    OpGraph g;
    const ResourceId s0 = g.add_resource({"GPU 0", "compute", 1});
    const ResourceId s1 = g.add_resource({"GPU 1", "compute", 1});
    const LabelId name = g.label("k");
    g.add_op(100, std::vector<ResourceId>{s0}, name, name);
    g.add_op(20, std::vector<ResourceId>{s1}, name, name);
    const OpId after = g.add_op(10, std::vector<ResourceId>{s0}, name, name);
    g.add_dependency(0, after);
    Engine engine;
    DagExecutor executor(engine, g);
    MoveOnStart mover(executor, moved);
    executor.add_observer(mover);
    executor.start();
    engine.run();
    REQUIRE(executor.all_finished());
    CHECK(mover.ends.at(0) == moved);
    CHECK(mover.ends.at(after) == moved + 10);
  }
}
