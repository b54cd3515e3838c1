#include <doctest/doctest.h>

#include "sim/engine/busy_time.hpp"
#include "sim/engine/dag_executor.hpp"

using namespace foresight;

TEST_CASE("busy union merges overlapping intervals across resources") {
  // compute runs a 0..10 and b 20..30 (b waits for `wait`, 0..20, on another resource);
  // `delay5` queues behind `wait` (20..25), so comm runs c 25..45. The union of compute
  // and comm is 0..10 plus 20..45 = 35 ps, of which 15 ps is communication not hidden.
  OpGraph g;
  const ResourceId compute = g.add_resource({"GPU 0", "compute", 1});
  const ResourceId comm = g.add_resource({"GPU 0", "comm", 1});
  const ResourceId idle_source = g.add_resource({"GPU 0", "delay", 1});
  const LabelId name = g.label("x");
  const OpId a = g.add_op(10, std::vector<ResourceId>{compute}, name, name);
  const OpId wait = g.add_op(20, std::vector<ResourceId>{idle_source}, name, name);
  const OpId b = g.add_op(10, std::vector<ResourceId>{compute}, name, name);
  const OpId delay5 = g.add_op(5, std::vector<ResourceId>{idle_source}, name, name);
  const OpId c = g.add_op(20, std::vector<ResourceId>{comm}, name, name);
  g.add_dependency(a, b);
  g.add_dependency(wait, b);
  g.add_dependency(delay5, c);
  Engine engine;
  DagExecutor executor(engine, g);
  BusyTimeRecorder busy(g.resource_count());
  executor.add_observer(busy);
  executor.start();
  engine.run();
  CHECK(busy.busy_union({compute}) == 20);
  CHECK(busy.busy_union({comm}) == 20);
  CHECK(busy.busy_union({compute, comm}) == 35);
}
