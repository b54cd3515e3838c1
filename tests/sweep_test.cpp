// Sweeps and regression runs (issue 7): grids expand in a fixed order, results do not
// depend on the number of threads or MPI ranks, infeasible points carry their reason,
// objectives, constraints and the Pareto front pick what they should on rows whose
// answer is worked out by hand, and `regress` fails on a moved prediction until updated.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "sim/input/input_error.hpp"
#include "sim/runner/sweep.hpp"
#include "sim/runner/sweep_analysis.hpp"
#include "test_support.hpp"

using namespace foresight;
using foresight::testing::run_cli;
using foresight::testing::source_path;

namespace {
std::string scratch(const std::string& name) { return foresight::testing::scratch_path("foresight_sweep_test", name); }

SweepRow row(std::size_t index, double throughput, double gpus, bool feasible = true) {
  SweepRow r;
  r.index = index;
  r.assignments = {"point=" + std::to_string(index)};
  r.feasible = feasible;
  r.metrics = {{"tokens_per_s", throughput}, {"gpus", gpus}};
  return r;
}

std::vector<std::size_t> indices(const std::vector<const SweepRow*>& rows) {
  std::vector<std::size_t> out;
  for (const SweepRow* r : rows) out.push_back(r->index);
  return out;
}
}  // namespace

TEST_CASE("a grid expands to every combination, the first dimension varying slowest") {
  const auto points = grid_points({"a=1,2", "b=x,y,z"}, "--grid");
  REQUIRE(points.size() == 6);
  CHECK(points[0] == std::vector<std::string>{"a=1", "b=x"});
  CHECK(points[1] == std::vector<std::string>{"a=1", "b=y"});
  CHECK(points[5] == std::vector<std::string>{"a=2", "b=z"});
  CHECK_THROWS_AS(grid_points({"a"}, "--grid"), InputError);
  CHECK_THROWS_AS(grid_points({"=1,2"}, "--grid"), InputError);
}

TEST_CASE("a random sample of a grid is the same for the same seed and keeps grid order") {
  const auto points = grid_points({"a=1,2,3,4", "b=1,2,3,4"}, "--grid");
  const auto five = sample_points(points, 5, 7);
  REQUIRE(five.size() == 5);
  CHECK(five == sample_points(points, 5, 7));
  CHECK(five != sample_points(points, 5, 8));
  for (std::size_t i = 1; i < five.size(); ++i) {
    const auto before = std::find(points.begin(), points.end(), five[i - 1]), after = std::find(points.begin(), points.end(), five[i]);
    CHECK(before < after);  // grid order, and every point from the grid
    CHECK(after != points.end());
  }
  CHECK(sample_points(points, 99, 7) == points);
}

TEST_CASE("the best points and the Pareto front, on rows worked out by hand") {
  // (throughput, gpus): 0 (100, 8), 1 (180, 16), 2 (150, 16), 3 (300, 32), 4 (400, 64)
  // infeasible, 5 (90, 8). Max throughput, min gpus: 2 is beaten by 1 (more throughput,
  // same gpus), 5 by 0; 4 is infeasible. The front is 3, 1, 0.
  const std::vector<SweepRow> rows = {row(0, 100, 8), row(1, 180, 16), row(2, 150, 16), row(3, 300, 32), row(4, 400, 64, false), row(5, 90, 8)};
  const Goal throughput = parse_goal("throughput", false, "--objective");
  CHECK(throughput.metric == "tokens_per_s");
  CHECK(indices(ranked(rows, throughput, {})) == std::vector<std::size_t>{3, 1, 2, 0, 5});
  CHECK(indices(ranked(rows, throughput, parse_constraints({"gpus<=16"}))) == std::vector<std::size_t>{1, 2, 0, 5});
  CHECK(indices(pareto_front(rows, throughput, parse_goal("min:gpus", false, "--pareto"), {})) == std::vector<std::size_t>{3, 1, 0});
  CHECK(parse_goal("latency", true, "--objective").metric == "e2e_p99_s");
  CHECK_FALSE(parse_goal("cost", false, "--objective").maximize);
  CHECK_THROWS_AS(parse_goal("fastest", false, "--objective"), InputError);
  CHECK_THROWS_AS(parse_constraints({"gpus<16"}), InputError);
  CHECK_THROWS_AS(parse_constraints({"gpus<=lots"}), InputError);
}

TEST_CASE("sweep rows are the same on one thread and on two, and infeasible points say why") {
  SweepSpec spec;
  spec.overrides = {"training.parallel.dp=auto"};
  spec.points = grid_points({"training.parallel.tp=1,3,8", "training.micro_batch=1,4"}, "--grid");
  const auto everything = [](std::size_t) { return true; };
  const auto nothing = [](const SweepRow&) {};
  const std::vector<SweepRow> one = run_sweep_points(spec, 1, everything, nothing);
  const std::vector<SweepRow> two = run_sweep_points(spec, 2, everything, nothing);
  REQUIRE(one.size() == 6);
  for (std::size_t i = 0; i < one.size(); ++i) CHECK(one[i].to_json() == two[i].to_json());
  CHECK(one[2].reason.find("tp = 3 must divide the model's 32 attention heads") != std::string::npos);
  CHECK(one[2].reason.find("(set by --set") == std::string::npos);
  CHECK(one[1].reason.rfind("out of memory: ", 0) == 0);  // TP 1 with 4 sequences per micro-batch
  CHECK(one[4].feasible);
  CHECK(SweepRow::from_json(one[4].to_json()).to_json() == one[4].to_json());
  std::vector<std::string> names;  // what --objective and --constraint are checked against
  for (const auto& [name, value] : one[4].metrics) names.push_back(name);
  const std::vector<std::string>& training_names = sweep_metric_names(false);
  CHECK(names == std::vector<std::string>(training_names.begin(), training_names.end() - 3));  // no target: no *_to_target
  SweepSpec with_target = spec;
  with_target.overrides.push_back("training.target.tokens=1e12");
  names.clear();
  for (const auto& [name, value] : run_sweep_point(with_target, 4).metrics) names.push_back(name);
  CHECK(names == training_names);
  SweepSpec serving;
  serving.scenario = foresight::testing::source_path("scenarios/validation/serving_rtx4090/c16.json");
  serving.points = {{"seed=1"}};
  const SweepRow row = run_sweep_point(serving, 0);
  REQUIRE_MESSAGE(row.feasible, row.reason);
  names.clear();
  for (const auto& [name, value] : row.metrics) names.push_back(name);
  CHECK(names == sweep_metric_names(true));
}

// MPI ranks get points by cost, not by index: a grid whose inner dimension changes the cost
// (micro-batch 1, then 4: a quarter of the micro-batches, so of the ops) in step with two
// ranks would otherwise give one rank every costly point.
TEST_CASE("sweep points are dealt to ranks by their cost, the costliest first to the least-loaded rank") {
  SweepSpec spec;
  spec.overrides = {"training.parallel.dp=auto"};
  spec.points = grid_points({"training.parallel.tp=1,3,8", "training.micro_batch=1,4"}, "--grid");
  const std::vector<double> costs = foresight::point_costs(spec, 2);
  REQUIRE(costs.size() == 6);
  CHECK(costs[0] == doctest::Approx(4 * costs[1]));  // TP 1: micro-batch 1 against 4
  CHECK(costs[2] == 0);                               // TP 3 does not load: it fails at once wherever it runs
  CHECK(costs[4] == doctest::Approx(4 * costs[5]));
  CHECK(foresight::deal_by_cost({8, 1, 8, 1}, 2) == std::vector<int>{0, 0, 1, 1});  // by index: 16 against 2
  CHECK(foresight::deal_by_cost({1, 1, 1}, 2) == std::vector<int>{0, 1, 0});         // ties: the lowest rank, in index order
  CHECK(foresight::deal_by_cost({5, 3}, 1) == std::vector<int>{0, 0});
}

TEST_CASE("a sweep's results file is byte-identical on 1, 2 and 8 threads") {
  std::string texts[3];
  const char* threads[3] = {"1", "2", "8"};
  for (int i = 0; i < 3; ++i) {
    const std::string out = scratch(std::string("threads_") + threads[i] + ".json");
    const auto r = run_cli({"sweep", "--grid", "training.parallel.tp=1,2,4,8", "--grid", "training.micro_batch=1,2", "--set",
                                 "training.parallel.dp=auto", "--quiet", "--threads", threads[i], "--out", out});
    REQUIRE(r.status == 0);
    texts[i] = foresight::testing::file_text(out);
  }
  CHECK(texts[0].size() > 1000);
  CHECK(texts[0] == texts[1]);
  CHECK(texts[0] == texts[2]);
}

TEST_CASE("sweep: tables in CSV and JSON, a sweep file, and bad sweep files named") {
  const std::string csv = scratch("rows.csv"), json = scratch("rows.json");
  const auto r = run_cli({"sweep", "--spec", source_path("tests/data/sweep_tp.json"), "--quiet", "--out", csv, "--out", json});
  REQUIRE(r.status == 0);
  CHECK(r.out.find("# foresight sweep: 4 points (3 feasible") != std::string::npos);
  const std::string table = foresight::testing::file_text(csv);
  CHECK(table.rfind("index,training.parallel.tp,feasible,reason,gpus,step_time_s,tokens_per_s", 0) == 0);
  CHECK(table.find("\n0,1,") != std::string::npos);  // the first point's tp, in its own column
  CHECK(foresight::testing::read_json_file(json)["format"] == "foresight.sweep.v1");
  CHECK(foresight::testing::read_json_file(json)["rows"].size() == 4);
  const auto bad = run_cli({"sweep", "--spec", source_path("tests/data/bad/sweep_problems.json")});
  CHECK(bad.status == 2);
  CHECK(bad.err.find("sweep_problems.json: grid.training.micro_batch: expected a non-empty array of values") != std::string::npos);
  CHECK(bad.err.find("sweep_problems.json: objectiv: unknown key") != std::string::npos);
  CHECK(run_cli({"sweep", "--grid", "training.micro_batch=1,2", "--out", scratch("rows.txt")}).status == 2);
  const auto no_folder = run_cli({"sweep", "--grid", "training.micro_batch=1,2", "--out", "/no/such/folder/rows.csv"});
  CHECK(no_folder.status == 2);
  CHECK(no_folder.err.find("the folder /no/such/folder does not exist") != std::string::npos);
  CHECK(run_cli({"sweep"}).status == 2);  // no grid
}

TEST_CASE("regress fails on a moved prediction, and --update accepts it") {
  const std::string baseline = scratch("baseline.json");
  {
    std::ofstream out(baseline);
    out << R"({"format": "foresight.regress.v1", "tolerance": 0.001,
               "cases": [{"name": "default", "set": ["training.micro_batch=2"], "metrics": {"tokens_per_s": 1.0}}]})";
  }
  const auto moved = run_cli({"regress", "--baseline", baseline});
  CHECK(moved.status == 1);
  CHECK(moved.out.find("CHANGED") != std::string::npos);
  CHECK(run_cli({"regress", "--baseline", baseline, "--update"}).status == 0);
  const auto now = run_cli({"regress", "--baseline", baseline});
  CHECK(now.status == 0);
  CHECK(now.out.find("All predictions within tolerance.") != std::string::npos);
  CHECK(foresight::testing::read_json_file(baseline)["cases"][0]["metrics"].size() == 1);  // only the metrics it held
}

TEST_CASE("under mpirun -np 2 a sweep gives the rows one process gives") {
#ifdef FORESIGHT_PROGRAM
  if (!foresight::testing::has_mpirun()) {
    MESSAGE("mpirun not installed: MPI sweep not tested");
    return;
  }
  const std::string program = FORESIGHT_PROGRAM;
  const std::string grid = " sweep --grid training.parallel.tp=1,2,4,8 --grid training.micro_batch=1,2 --set training.parallel.dp=auto --quiet --threads 1";
  const std::string local = scratch("local.csv"), ranks = scratch("ranks.csv"), log = scratch("mpirun.log");
  REQUIRE(std::system((program + grid + " --out " + local + " > /dev/null").c_str()) == 0);
  const int status = std::system(foresight::testing::on_two_mpi_ranks(program + grid + " --out " + ranks + " > " + log + " 2>&1").c_str());
  INFO(foresight::testing::file_text(log));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(foresight::testing::file_text(log).find("on 1 thread x 2 ranks") != std::string::npos);
  CHECK(foresight::testing::file_text(ranks) == foresight::testing::file_text(local));
#endif
}
