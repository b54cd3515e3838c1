// `foresight search` (issue 20): the premises it rests on (a step is affine in its
// micro-batches once a schedule's pattern is whole; the busiest GPU's kernels bound the
// step from below), and that on a grid small enough to run whole it picks the exhaustive
// sweep's best point with a fraction of the simulations, the same on any thread count.
#include <doctest/doctest.h>

#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <sys/wait.h>

#include "sim/runner/scenario.hpp"
#include "sim/runner/search.hpp"
#include "test_support.hpp"

using namespace foresight;
using foresight::testing::run_cli;

namespace {
Time step_time(const Scenario& s, std::int64_t micro_batches) {
  TrainingConfig config = s.training;
  config.global_batch = micro_batches * config.dp * config.micro_batch;
  return TrainingStep(s.model, s.gpu, s.fabric, config, *s.cost_model).run({}).step_time;
}

// The built-in Llama-3-8B on one node, small enough that whole grids run in a blink.
SweepSpec small_grid() {
  SweepSpec spec;
  spec.overrides = {"training.parallel.dp=auto", "training.global_batch=64"};
  spec.points = grid_points({"training.parallel.tp=1,2,4", "training.parallel.pp=1,2,4", "training.micro_batch=1,2",
                             "training.parallel.schedule=1f1b,zb_h2", "training.recompute=none,full"},
                            "--grid");
  return spec;
}

SearchSettings throughput_search(int threads) {
  SearchSettings settings;
  settings.objective = parse_goal("throughput", false, "--objective");
  settings.threads = threads;
  return settings;
}
}  // namespace

TEST_CASE("a training step grows by the same time with each micro-batch once its schedule's pattern is whole") {
  // What the search's estimates extrapolate along: T(m) = a + b m from the fill on.
  for (const std::string schedule : {"gpipe", "1f1b", "interleaved_1f1b", "zb_h1", "zb_h2", "zb_v", "dualpipe", "dualpipev", "bitpipe"}) {
    CAPTURE(schedule);
    const bool two_chunks = schedule == "interleaved_1f1b" || schedule == "zb_v" || schedule == "dualpipe" || schedule == "dualpipev";
    const int chunks = schedule == "bitpipe" ? 4 : two_chunks ? 2 : 1;
    const Scenario s = default_scenario({"training.parallel.pp=4", "training.parallel.dp=2", "training.parallel.schedule=" + schedule,
                                         "training.parallel.virtual_stages=" + std::to_string(chunks)});
    const std::int64_t filled = make_pipeline_schedule(schedule, chunks)->steady_from(4);
    REQUIRE(filled >= 4);
    // Interleaving and BitPipe take multiples of the stages; DualPipe even counts (one stage count apart here).
    const std::int64_t step = schedule == "interleaved_1f1b" || schedule == "dualpipe" || schedule == "bitpipe" ? 4 : 1;
    const auto a = static_cast<double>(step_time(s, filled)), b = static_cast<double>(step_time(s, filled + step)),
               c = static_cast<double>(step_time(s, filled + 3 * step));
    CHECK(b > a);
    CHECK(std::abs((c - a) - 3 * (b - a)) < 1e-6 * c);  // on one line, to rounding
  }
  const auto off_the_line = [](const Scenario& s, std::int64_t first) {
    const auto a = static_cast<double>(step_time(s, first)), b = static_cast<double>(step_time(s, first + 1)),
               c = static_cast<double>(step_time(s, first + 3));
    return std::abs((c - a) - 3 * (b - a)) / c;
  };
  // Short of the fill the line does not hold: ZB-H2 fills with 2p - 1 micro-batches.
  CHECK(off_the_line(default_scenario({"training.parallel.pp=4", "training.parallel.dp=2", "training.parallel.schedule=zb_h2"}), 4) > 1e-3);
  // Nor where a gradient reduction hides behind work that grows with the micro-batches, as
  // breadth-first's chunks do (so it has no steady_from, and the search simulates it whole).
  const Scenario breadth_first = default_scenario({"training.parallel.pp=4", "training.parallel.dp=2", "training.parallel.schedule=breadth_first",
                                                   "training.parallel.virtual_stages=2"});
  CHECK(make_pipeline_schedule("breadth_first", 2)->steady_from(4) == 0);
  // Chimera's greedy merge of its two pipelines comes within 1e-5 of one line from 2p on
  // (not to rounding), close enough for the search's estimates.
  const Scenario chimera = default_scenario({"training.parallel.pp=4", "training.parallel.dp=2", "training.parallel.schedule=chimera",
                                             "training.parallel.virtual_stages=2"});
  const auto a = static_cast<double>(step_time(chimera, 8)), b = static_cast<double>(step_time(chimera, 12)),
             c = static_cast<double>(step_time(chimera, 20));
  CHECK(std::abs((c - a) - 3 * (b - a)) / c < 1e-4);
  CHECK(off_the_line(breadth_first, 4) > 1e-4);
}

TEST_CASE("the busiest GPU's kernels back to back never take longer than the step") {
  for (const auto& point : small_grid().points) {
    std::vector<std::string> overrides = small_grid().overrides;
    overrides.insert(overrides.end(), point.begin(), point.end());
    try {
      const Scenario s = default_scenario(overrides);
      TrainingStep step(s.model, s.gpu, s.fabric, s.training, *s.cost_model);
      const Time bound = step.compute_lower_bound();
      const Time actual = step.run({}).step_time;
      CAPTURE(assignments_label(point));
      CHECK(bound > 0);
      CHECK(bound <= actual);
    } catch (const InputError&) {
      // tp 4 with pp 4 leaves no GPU for data parallelism at this batch; the sweep says so
    }
  }
}

TEST_CASE("search finds the exhaustive sweep's best point with a fraction of the simulations") {
  const SweepSpec spec = small_grid();
  const std::vector<SweepRow> every = run_sweep_points(spec, 2, [](std::size_t) { return true; }, [](const SweepRow&) {});
  const SearchSettings settings = throughput_search(2);
  const std::vector<const SweepRow*> exhaustive = ranked(every, settings.objective, {});
  REQUIRE(!exhaustive.empty());

  const SearchOutcome outcome = run_search(spec, settings);
  std::vector<SweepRow> simulated;
  for (const SearchPoint& p : outcome.points) {
    if (p.stage == SearchStage::kSimulated) simulated.push_back(p.row);
  }
  const std::vector<const SweepRow*> found = ranked(simulated, settings.objective, {});
  REQUIRE(!found.empty());
  CHECK(found.front()->index == exhaustive.front()->index);
  CHECK(found.front()->metric("tokens_per_s") == doctest::Approx(exhaustive.front()->metric("tokens_per_s")).epsilon(1e-6));
  const auto feasible = std::count_if(every.begin(), every.end(), [](const SweepRow& r) { return r.feasible; });
  CHECK(outcome.simulated < static_cast<std::size_t>(feasible) / 5);
  CHECK(outcome.simulated_micro_batches < 0.1 * outcome.grid_micro_batches);

  // Whatever the search simulated whole is what the sweep got; estimates sit on it to
  // rounding (the flow network rounds each transfer up to a whole picosecond).
  for (const SearchPoint& p : outcome.points) {
    const SweepRow& truth = every[p.row.index];
    CAPTURE(p.row.label());
    if (p.stage == SearchStage::kScreenedOut) {
      CHECK((!truth.feasible || p.row.reason.find("fails") == 0));
      CHECK(std::isnan(p.row.metric("step_time_s")));  // never simulated
    }
    if (p.stage == SearchStage::kSimulated) CHECK(p.row.to_json() == truth.to_json());
    if (p.estimated) CHECK(p.estimate == doctest::Approx(truth.metric("tokens_per_s")).epsilon(1e-4));
    if (p.bounded) CHECK(p.bound >= truth.metric("tokens_per_s") * (1 - 1e-9));
  }
}

TEST_CASE("search agrees with the exhaustive sweep whatever the objective and constraints") {
  // Bounds serve the objectives a faster step improves; the others rank by estimates.
  const SweepSpec spec = small_grid();
  const std::vector<SweepRow> every = run_sweep_points(spec, 2, [](std::size_t) { return true; }, [](const SweepRow&) {});
  for (const auto& goal : std::vector<std::pair<std::string, std::string>>{
           {"latency", "memory_gb<=50"}, {"cost", "mfu>=0.3"}, {"min:memory_gb", "tokens_per_s>=60000"}, {"max:mfu", "step_time_s<=8"}}) {
    const std::string& objective = goal.first;
    const std::string& constraint = goal.second;
    CAPTURE(objective);
    SearchSettings settings = throughput_search(2);
    settings.objective = parse_goal(objective, false, "--objective");
    settings.constraints = parse_constraints({constraint});
    const std::vector<const SweepRow*> exhaustive = ranked(every, settings.objective, settings.constraints);
    REQUIRE(!exhaustive.empty());
    std::vector<SweepRow> simulated;
    for (const SearchPoint& p : run_search(spec, settings).points) {
      if (p.stage == SearchStage::kSimulated) simulated.push_back(p.row);
    }
    const std::vector<const SweepRow*> found = ranked(simulated, settings.objective, settings.constraints);
    REQUIRE(!found.empty());
    CHECK(found.front()->index == exhaustive.front()->index);
  }
}

TEST_CASE("a point out of memory or failing a constraint known beforehand is never simulated") {
  SweepSpec spec = small_grid();
  SearchSettings settings = throughput_search(1);
  settings.constraints = parse_constraints({"memory_gb<=40"});
  const SearchOutcome outcome = run_search(spec, settings);
  std::size_t failing = 0;
  for (const SearchPoint& p : outcome.points) {
    const double memory = p.row.metric("memory_gb");
    if (p.stage != SearchStage::kScreenedOut) CHECK(memory <= 40);
    if (p.stage == SearchStage::kScreenedOut && p.row.reason.find("fails memory_gb<=40") == 0) ++failing;
  }
  CHECK(failing > 0);
}

TEST_CASE("a search is the same on one thread and on two") {
  const SweepSpec spec = small_grid();
  const SearchOutcome one = run_search(spec, throughput_search(1));
  const SearchOutcome two = run_search(spec, throughput_search(2));
  REQUIRE(one.points.size() == two.points.size());
  for (std::size_t i = 0; i < one.points.size(); ++i) {
    CHECK(one.points[i].row.to_json() == two.points[i].row.to_json());
    CHECK(one.points[i].stage == two.points[i].stage);
  }
  CHECK(one.simulated == two.simulated);
}

TEST_CASE("foresight search prints the best point simulated whole, and refuses what a sweep refuses") {
  const std::vector<std::string> grid = {"search", "--grid", "training.parallel.tp=1,2,4", "--grid", "training.micro_batch=1,2",
                                         "--set", "training.parallel.dp=auto", "--set", "training.global_batch=64", "--quiet"};
  const auto r = run_cli(grid);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("# foresight search: 6 points") != std::string::npos);
  CHECK(r.out.find("Best points (max tokens_per_s, simulated whole):") != std::string::npos);
  auto misspelled = grid;
  misspelled.insert(misspelled.end(), {"--objective", "max:tokens_per_sec"});
  const auto bad = run_cli(misspelled);
  CHECK(bad.status == 2);
  CHECK(bad.err.find("unknown metric \"tokens_per_sec\"") != std::string::npos);
  CHECK(run_cli({"search", "--grid", "training.parallel.tpp=1,2"}).status == 2);
}

namespace {
// Two ranks in one process: all_gather waits until both have given their text, as
// MPI_Allgatherv does, then hands each the pair in rank order.
class TwoRankExchange {
 public:
  std::vector<std::string> all_gather(int rank, const std::string& mine) {
    std::unique_lock<std::mutex> lock(mutex_);
    const std::uint64_t round = round_;
    texts_[static_cast<std::size_t>(rank)] = mine;
    if (++arrived_ == 2) {
      gathered_ = {texts_[0], texts_[1]};
      arrived_ = 0;
      ++round_;
      changed_.notify_all();
    } else {
      changed_.wait(lock, [&] { return round_ != round; });
    }
    return gathered_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t round_ = 0;
  int arrived_ = 0;
  std::string texts_[2];
  std::vector<std::string> gathered_;
};
}  // namespace

TEST_CASE("a search shared by two ranks (two threads exchanging here) takes the same steps and finds the same rows as one") {
  const SweepSpec spec = small_grid();
  const SearchOutcome alone = run_search(spec, throughput_search(1));
  TwoRankExchange exchange;
  SearchOutcome ranks[2];
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 2; ++rank) {
    threads.emplace_back([&, rank] {
      SearchSettings settings = throughput_search(1);
      settings.ranks = {rank, 2, [&exchange, rank](const std::string& mine) { return exchange.all_gather(rank, mine); }};
      ranks[rank] = run_search(spec, settings);
    });
  }
  for (std::thread& t : threads) t.join();
  for (const SearchOutcome& shared : ranks) {
    REQUIRE(shared.points.size() == alone.points.size());
    for (std::size_t i = 0; i < alone.points.size(); ++i) {
      CAPTURE(i);
      CHECK(shared.points[i].row.to_json() == alone.points[i].row.to_json());
      CHECK(shared.points[i].stage == alone.points[i].stage);
      CHECK(shared.points[i].estimate == alone.points[i].estimate);
    }
    CHECK(shared.simulated == alone.simulated);
    CHECK(shared.confirmed == alone.confirmed);
  }
  CHECK(alone.simulated > 0);
}

TEST_CASE("under mpirun -np 2 a search writes the file one process writes") {
#ifdef FORESIGHT_PROGRAM
  if (!foresight::testing::has_mpirun()) {
    MESSAGE("mpirun not installed: MPI search not tested");
    return;
  }
  const std::string program = FORESIGHT_PROGRAM;
  const std::string grid = " search --grid training.parallel.tp=1,2,4,8 --grid training.parallel.pp=1,2,4 --grid training.micro_batch=1,2,4"
                           " --set training.parallel.dp=auto --quiet --threads 1";
  const std::string local = foresight::testing::scratch_path("foresight_search_test", "local.json"), ranks = foresight::testing::scratch_path("foresight_search_test", "ranks.json");
  const std::string log = foresight::testing::scratch_path("foresight_search_test", "mpirun.log");
  REQUIRE(std::system((program + grid + " --out " + local + " > /dev/null").c_str()) == 0);
  const int status = std::system(foresight::testing::on_two_mpi_ranks(program + grid + " --out " + ranks + " > " + log + " 2>&1").c_str());
  INFO(foresight::testing::file_text(log));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(foresight::testing::file_text(log).find("on 1 thread x 2 ranks") != std::string::npos);
  CHECK(foresight::testing::file_text(ranks) == foresight::testing::file_text(local));
#endif
}
