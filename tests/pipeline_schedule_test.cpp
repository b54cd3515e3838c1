// Pipeline schedules on the event engine against their closed forms (equal stage times).
#include <doctest/doctest.h>

#include <set>

#include "test_support.hpp"
#include "workloads/pipeline_timeline.hpp"

using namespace foresight;
using foresight::testing::run_cli;

namespace {
constexpr Time kF = 3 * kMicrosecond;
constexpr Time kB = 4 * kMicrosecond;
constexpr Time kW = 2 * kMicrosecond;

PipelineTimeline run(std::string_view name, int p, int m, PipelineWorkTimes times, int chunks = 1) {
  return run_pipeline(*make_pipeline_schedule(name, chunks), p, m, times);
}
}  // namespace

TEST_CASE("GPipe and 1F1B: makespan (m+p-1)(F+B), bubble (p-1)/(m+p-1)") {
  // Free communication, equal stages: the first micro-batch needs p-1 forwards to reach
  // the last stage and its backward p-1 more to come back; every stage is busy m(F+B).
  for (const char* name : {"gpipe", "1f1b"}) {
    for (int p : {1, 2, 4, 8}) {
      for (int m : {1, 4, 8, 32}) {
        CAPTURE(name);
        CAPTURE(p);
        CAPTURE(m);
        const PipelineTimeline t = run(name, p, m, {kF, kB + kW, 0, 0});
        CHECK(t.makespan == (m + p - 1) * (kF + kB + kW));
        CHECK(t.bubble_fraction() == doctest::Approx(static_cast<double>(p - 1) / (m + p - 1)));
      }
    }
  }
}

TEST_CASE("interleaved 1F1B with v chunks: bubble (p-1)/(v m + p-1)") {
  // Each chunk holds 1/v of the stage's layers: F/v and B/v per micro-batch and chunk.
  // Narayanan et al. SC'21: the bubble shrinks by v, to (p-1)(F+B)/v.
  for (int p : {2, 4, 8}) {
    for (int v : {2, 4}) {
      for (int m : {p, 2 * p, 4 * p}) {
        CAPTURE(p);
        CAPTURE(v);
        CAPTURE(m);
        const PipelineTimeline t = run("interleaved_1f1b", p, m, {kF / v, kB / v, 0, 0}, v);
        const Time chunk = kF / v + kB / v;
        CHECK(t.makespan == (static_cast<Time>(m) * v + p - 1) * chunk);
        CHECK(t.bubble_fraction() == doctest::Approx(static_cast<double>(p - 1) / (v * m + p - 1)));
      }
    }
  }
}

TEST_CASE("breadth-first with v chunks and m >= p: interleaved's bubble (p-1)/(v m + p-1)") {
  // Lamy-Poirier, MLSys 2023: each chunk's forwards keep stage 0 busy for m F/v >= p F/v,
  // long enough for the first micro-batch to come round to the next chunk.
  for (int p : {2, 4, 8}) {
    for (int v : {2, 4}) {
      for (int m : {p, p + 3, 4 * p}) {
        CAPTURE(p);
        CAPTURE(v);
        CAPTURE(m);
        const PipelineTimeline t = run("breadth_first", p, m, {kF / v, kB / v, 0, 0}, v);
        CHECK(t.makespan == (static_cast<Time>(m) * v + p - 1) * (kF / v + kB / v));
      }
    }
  }
}

TEST_CASE("ZB-H1: bubble (p-1)(F+B-W), against 1F1B's (p-1)(F+B+W)") {
  // Qi et al., ICLR 2024, Table 1, with F, B and W as measured separately.
  for (int p : {2, 4, 8}) {
    for (int m : {p, 2 * p, 3 * p}) {
      CAPTURE(p);
      CAPTURE(m);
      const PipelineWorkTimes times{kF, kB, kW, 0};
      const PipelineTimeline zb = run("zb_h1", p, m, times);
      const PipelineTimeline one = run("1f1b", p, m, times);
      CHECK(zb.makespan == m * (kF + kB + kW) + (p - 1) * (kF + kB - kW));
      CHECK(one.makespan == m * (kF + kB + kW) + (p - 1) * (kF + kB + kW));
    }
  }
}

TEST_CASE("ZB-H2 with m >= 2p-1: bubble (p-1) max(F, F+B-2W) within one step") {
  // Qi et al. ICLR 2024, Sec. 3: (p-1)(F+B-2W) once consecutive steps overlap; a single
  // step still pays the ramp of the first forward down the stages, (p-1)F.
  for (const PipelineWorkTimes& times : {PipelineWorkTimes{kF, kB, kW, 0}, PipelineWorkTimes{kF, kF, kF, 0},
                                         PipelineWorkTimes{kF, 3 * kW, kW, 0}}) {
    for (int p : {2, 4, 8}) {
      for (int m : {2 * p - 1, 3 * p}) {
        CAPTURE(p);
        CAPTURE(m);
        const PipelineTimeline zb = run("zb_h2", p, m, times);
        const Time ramp = std::max(times.forward, times.forward + times.backward - 2 * times.weight_grad);
        CHECK(zb.makespan == m * (times.forward + times.backward + times.weight_grad) + (p - 1) * ramp);
      }
    }
  }
}

TEST_CASE("ZB-V: two chunks in a V; with F = B = W only the first forward's ramp down one leg, (p-1)F/2") {
  // Qi et al. ICLR 2024, Sec. 6. Each chunk is half a stage: F, B and W halve. Where the V
  // turns (the last stage's two chunks, stage 0's two ends) nothing crosses, so transfers
  // cost nothing there.
  const auto zbv = make_pipeline_schedule("zb_v");
  CHECK(zbv->chunks() == 2);
  CHECK(zbv->virtual_stage(0, 0, 4) == 0);
  CHECK(zbv->virtual_stage(3, 0, 4) == 3);
  CHECK(zbv->virtual_stage(3, 1, 4) == 4);
  CHECK(zbv->virtual_stage(0, 1, 4) == 7);
  CHECK(zbv->stage_of(5, 4) == 2);
  const Time half = kF / 2;
  for (int p : {2, 4, 8}) {
    for (int m : {2 * p - 1, 2 * p, 3 * p}) {
      CAPTURE(p);
      CAPTURE(m);
      const PipelineTimeline t = run("zb_v", p, m, {half, half, half, 0});
      CHECK(t.makespan == m * 3 * kF + (p - 1) * half);
    }
  }
  // Fewer micro-batches than 2p-1 run the same pattern with the missing ones left out. One
  // micro-batch is a chain: 2p forward halves down and back up the V, 2p backward halves and
  // stage 0's last W; the steady-state order also puts the last stage's W of chunk 1 before
  // its B of chunk 0, one more half on the chain (a full pipeline hides it).
  for (int p : {2, 4, 8}) {
    CAPTURE(p);
    CHECK(run("zb_v", p, 1, {half, half, half, 0}).makespan == 4 * p * half + 2 * half);
  }
  // Memory as 1F1B's: p micro-batches' worth of a stage's activations at most.
  CHECK(peak_activations(zbv->orders(4, 8), 2) == 4);
}

// DualPipe (DeepSeek-V3 technical report, Sec. 3.2.1 and Table 2; deepseek-ai/DualPipe's step()).
TEST_CASE("DualPipe: DeepSeek-V3's eight steps on every stage, and PP+1 micro-batches of activations") {
  const auto dualpipe = make_pipeline_schedule("dualpipe", 2);
  const auto f = [](int mb, int chunk, bool paired = false) { return PipeTask{PipeWork::kForward, mb, chunk, paired}; };
  const auto b = [](int mb, int chunk) { return PipeTask{PipeWork::kBackward, mb, chunk}; };
  const auto w = [](int mb, int chunk) { return PipeTask{PipeWork::kWeightGrad, mb, chunk}; };
  // p = 4, m = 8, stage 0 (h = 2, r = 0; micro-batches 0-3 go down as chunk 0, 4-7 up as
  // chunk 1): 1. F0 F0  2. F0 F1  3. B1 W F1  4. F0&B1 F1&B0  5. B1 F1&B0  6. B1 B0 (its W held)
  // 7. W B0 (held)  8. W; a pair's forward is marked, its backward's W follows the backward.
  const std::vector<PipeTask> stage0 = {f(0, 0), f(1, 0), f(2, 0), f(4, 1), b(4, 1), w(4, 1), f(5, 1), f(3, 0, true), b(5, 1), w(5, 1),
                                        f(6, 1, true), b(0, 0), w(0, 0), b(6, 1), w(6, 1), f(7, 1, true), b(1, 0), w(1, 0), b(7, 1), w(7, 1),
                                        b(2, 0), w(2, 0), b(3, 0), w(3, 0)};
  CHECK(dualpipe->orders(4, 8)[0] == stage0);
  for (int p : {2, 4, 6, 8}) {
    for (int m : {2 * p, 2 * p + 2, 4 * p}) {
      CAPTURE(p);
      CAPTURE(m);
      // Every stage runs every pass once (the timeline refuses otherwise) and nothing deadlocks.
      const PipelineTimeline t = run_pipeline(*dualpipe, p, m, {kF, kF, kF, 0});
      // The paper's activation memory: PP+1 micro-batches' worth of a stage's, on the fullest stage.
      CHECK(peak_activations(dualpipe->orders(p, m), dualpipe->chunks_per_copy()) == p + 1);
      // DeepSeek's bubble, (PP/2-1)(F&B+B-3W) with B the whole backward (2F here) and a pair
      // taking F&B = 3F (no overlap gain with compute alone): (p/2-1) 2F, exactly. A pair's
      // outputs leave when the pair ends, as its passes run interleaved.
      CHECK(t.makespan == static_cast<Time>(m) * 3 * kF + (p / 2 - 1) * 2 * kF);
      CHECK(t.makespan <= run_pipeline(*make_pipeline_schedule("zb_h1"), p, m, {kF, kF, kF, 0}).makespan);
    }
  }
  CHECK(dualpipe->unsupported_reason(3, 6).find("even number of pipeline stages") != std::string::npos);
  CHECK(dualpipe->unsupported_reason(4, 6).find("at least twice the stages (8)") != std::string::npos);
  CHECK(dualpipe->unsupported_reason(4, 9).find("an even number of micro-batches") != std::string::npos);
}

// DualPipeV (deepseek-ai/DualPipe's dualpipev.py, PyTorch's ScheduleDualPipeV): DualPipe's
// eight steps with every micro-batch going down chunk 0 and back up chunk 1 of ZB-V's V.
TEST_CASE("DualPipeV: DualPipe's eight steps on ZB-V's V, one copy, PP+1 chunks of activations") {
  const auto dualpipev = make_pipeline_schedule("dualpipev");
  const auto f = [](int mb, int chunk, bool paired = false) { return PipeTask{PipeWork::kForward, mb, chunk, paired}; };
  const auto b = [](int mb, int chunk) { return PipeTask{PipeWork::kBackward, mb, chunk}; };
  const auto w = [](int mb, int chunk) { return PipeTask{PipeWork::kWeightGrad, mb, chunk}; };
  CHECK(dualpipev->model_copies() == 1);
  CHECK(dualpipev->virtual_stage(1, 0, 2) == 1);
  CHECK(dualpipev->virtual_stage(1, 1, 2) == 2);
  CHECK(dualpipev->virtual_stage(0, 1, 2) == 3);
  // p = 2, m = 4. Stage 0: 1. F0 F0  2. F0 F1  3. B1 W F1  4. F0&B1 F1&B0  5. B1 F1&B0
  // 6. B1 B0 (its W held)  7. W B0 (held)  8. W.
  const std::vector<PipeTask> stage0 = {f(0, 0), f(1, 0), f(2, 0), f(0, 1), b(0, 1), w(0, 1), f(1, 1), f(3, 0, true), b(1, 1), w(1, 1),
                                        f(2, 1, true), b(0, 0), w(0, 0), b(2, 1), w(2, 1), f(3, 1, true), b(1, 0), w(1, 0), b(3, 1), w(3, 1),
                                        b(2, 0), w(2, 0), b(3, 0), w(3, 0)};
  // Stage 1, the V's turn: 2. (F0, F1) twice  4. F0 B1 apart, then F1&B0, F0&B1, F1&B0
  // 6. B1 B0, then B1 B0 with their Ws held  8. W W.
  const std::vector<PipeTask> stage1 = {f(0, 0), f(0, 1), f(1, 0), f(1, 1), f(2, 0), b(0, 1), w(0, 1), f(2, 1, true), b(0, 0), w(0, 0),
                                        f(3, 0, true), b(1, 1), w(1, 1), f(3, 1, true), b(1, 0), w(1, 0), b(2, 1), w(2, 1), b(2, 0), w(2, 0),
                                        b(3, 1), b(3, 0), w(3, 1), w(3, 0)};
  CHECK(dualpipev->orders(2, 4) == std::vector<std::vector<PipeTask>>{stage0, stage1});
  const Time half = kF / 2;  // each chunk is half a stage
  for (int p : {2, 3, 4, 8}) {
    for (int m : {2 * p, 2 * p + 1, 3 * p, 4 * p}) {
      CAPTURE(p);
      CAPTURE(m);
      const PipelineTimeline t = run_pipeline(*dualpipev, p, m, {half, half, half, 0});
      // PP+1 chunks' activations (PP = 2p chunks in all): p + 1/2 stages' worth, half DualPipe's p + 1.
      CHECK(peak_activations(dualpipev->orders(p, m), dualpipev->chunks_per_copy()) == p + 0.5);
      // DeepSeek's bubble with PP = 2p chunks of half a stage: (p-1)(F&B+B-3W) = (p-1) 2 half.
      // Twice ZB-V's idle, the first forward's ramp: with compute alone a pair's outputs
      // only wait for its end; what the pairs gain is overlap with communication.
      CHECK(t.makespan == static_cast<Time>(m) * 3 * kF + (p - 1) * 2 * half);
      CHECK(t.makespan - run("zb_v", p, m, {half, half, half, 0}).makespan == (p - 1) * half);
    }
  }
  CHECK(dualpipev->unsupported_reason(4, 7).find("at least twice as many micro-batches as stages (8)") != std::string::npos);
  CHECK(dualpipev->unsupported_reason(3, 6).empty());
}

TEST_CASE("Chimera: two copies in opposite directions, bubble (p-2)/(2m+p-2) with equal slots") {
  // Li and Hoefler, SC'21, Table 2: with a backward as long as a forward, each stage idles
  // (p/2-1)(F+B), against 1F1B's (p-1)(F+B); here for every even m, each direction running
  // its half of the micro-batches in 1F1B.
  const auto chimera = make_pipeline_schedule("chimera");
  for (int p : {2, 4, 6, 8}) {
    for (int m : {p, 2 * p, 4 * p, p + 2}) {
      CAPTURE(p);
      CAPTURE(m);
      const PipelineTimeline t = run_pipeline(*chimera, p, m, {kF, kF, 0, 0});
      CHECK(t.makespan == static_cast<Time>(m) * 2 * kF + (p / 2 - 1) * 2 * kF);
      CHECK(t.bubble_fraction() == doctest::Approx(static_cast<double>(p - 2) / (2 * m + p - 2)));
    }
  }
  // With B = 2F no interleaving of the two 1F1B orders reaches the equal-slot bubble; the
  // merge reaches the shortest one an exhaustive search over every choice of which copy a
  // free stage serves finds (scripts/chimera_merge_search.py, m = p): 16, 26 and 36 forward
  // times for p = 4, 6, 8.
  for (const std::pair<int, Time>& shortest : std::vector<std::pair<int, Time>>{{4, 16}, {6, 26}, {8, 36}}) {
    const int p = shortest.first;  // clang before 16 cannot capture a structured binding
    CAPTURE(p);
    CHECK(run_pipeline(*chimera, p, p, {kF, 2 * kF, 0, 0}).makespan == shortest.second * kF);
  }
  // Stage s holds the down copy's stage s and the up copy's stage p-1-s: both ends of the
  // model on stages 0 and p-1; each chunk is a whole stage of one copy.
  CHECK(chimera->virtual_stage(0, 0, 4) == 0);
  CHECK(chimera->virtual_stage(0, 1, 4) == 7);
  CHECK(chimera->position(7, 4) == 3);
  CHECK(chimera->position(chimera->virtual_stage(3, 1, 4), 4) == 0);
  CHECK(chimera->entry_virtual_stage(0, 8, 4) == 0);
  CHECK(chimera->entry_virtual_stage(4, 8, 4) == 4);
  // Activations: the paper's range for m = p, between p/2 + 1 and p micro-batches' worth of
  // a stage's on every stage, where 1F1B's run from 1 to p.
  for (double held : activations_in_flight(chimera->orders(8, 8), chimera->chunks_per_copy())) {
    CHECK(held >= 5);
    CHECK(held <= 8);
  }
  CHECK(chimera->unsupported_reason(3, 6).find("even number of pipeline stages") != std::string::npos);
  CHECK(chimera->unsupported_reason(4, 5).find("even count") != std::string::npos);
}

TEST_CASE("every schedule runs every task once, and refuses shapes it cannot run") {
  for (const std::string& name : pipeline_schedule_names()) {
    CAPTURE(name);
    const auto schedule = make_pipeline_schedule(name, name == "interleaved_1f1b" || name == "breadth_first" ? 2 : 1);
    // A micro-batch passes every chunk of its copy of the model once on each stage.
    const auto orders = schedule->orders(4, 8);
    for (const auto& order : orders) {
      std::set<std::tuple<int, int, int>> seen;
      for (const PipeTask& t : order) CHECK(seen.insert({static_cast<int>(t.work), t.micro_batch, t.chunk}).second);
      const std::size_t per_unit = schedule->splits_backward() ? 3 : 2;
      CHECK(order.size() == per_unit * 8 * static_cast<std::size_t>(schedule->chunks_per_copy()));
    }
  }
  CHECK_THROWS_AS(run("interleaved_1f1b", 4, 6, {kF, kB, 0, 0}, 2), std::invalid_argument);
  CHECK_THROWS_AS(make_pipeline_schedule("2f2b"), std::invalid_argument);
}

TEST_CASE("point-to-point transfers: GPipe pays 2(p-1) of them, 1F1B more") {
  // GPipe: each stage's forwards run back to back, the last stage starts the backwards
  // as soon as its last forward ends, so only the first forward's p-1 transfers going
  // down and the first backward's p-1 coming back are exposed. 1F1B without overlap of
  // send/recv waits on a transfer in its steady state too (a stage's next backward needs
  // the gradient of a micro-batch whose activation it has just sent), so it pays more.
  const Time c = 500 * kNanosecond;
  for (int p : {2, 4}) {
    const int m = 8;
    const PipelineTimeline gpipe = run("gpipe", p, m, {kF, kB, 0, c});
    CHECK(gpipe.makespan == (m + p - 1) * (kF + kB) + 2 * (p - 1) * c);
    const PipelineTimeline one = run("1f1b", p, m, {kF, kB, 0, c});
    CHECK(one.makespan > gpipe.makespan);
    CHECK(one.busy == gpipe.busy);
  }
}

TEST_CASE("peak activations: GPipe m, 1F1B and ZB-H1 p, ZB-H2 2p-1, interleaved (2(p-1) + (v-1)p + 1)/v") {
  // Stage 0 holds the most: 1F1B's p-1 warm-up forwards plus one; GPipe's every forward.
  const int p = 4, m = 8, v = 2;
  const auto peak = [&](const char* name, int chunks) {
    return peak_activations(make_pipeline_schedule(name, chunks)->orders(p, m), chunks);
  };
  CHECK(peak("gpipe", 1) == m);
  CHECK(peak("1f1b", 1) == p);
  CHECK(peak("zb_h1", 1) == p);
  CHECK(peak("zb_h2", 1) == 2 * p - 1);
  CHECK(peak("interleaved_1f1b", v) == doctest::Approx((2.0 * (p - 1) + (v - 1) * p + 1) / v));
  CHECK(peak("breadth_first", v) == m);
}

TEST_CASE("foresight pipeline prints each schedule beside its closed form") {
  // p = 4, m = 8, F = B = W = 1 us: 1F1B idles (p-1)(F+B+W) = 9 us per stage against 24
  // us of work, 27.3%; ZB-H1 (p-1)(F+B-W) = 3 us, 11.1%; interleaved with v = 2, 4.5 us,
  // 15.8%.
  const auto r = run_cli({"pipeline"});
  REQUIRE(r.status == 0);
  CHECK(r.out.find("1f1b                      33.00      27.3%                  27.3%") != std::string::npos);
  CHECK(r.out.find("interleaved_1f1b          28.50      15.8%                  15.8%") != std::string::npos);
  CHECK(r.out.find("zb_h1                     27.00      11.1%                  11.1%") != std::string::npos);
  CHECK(r.out.find("breadth_first             28.50      15.8%                  15.8%") != std::string::npos);
  const auto bad = run_cli({"pipeline", "--schedule", "interleaved_1f1b", "--micro-batches", "6"});
  CHECK(bad.status == 2);
  CHECK(bad.out.empty());
  CHECK(bad.err.find("multiple of the stages") != std::string::npos);
  CHECK(run_cli({"pipeline", "--stages", "0"}).status == 2);
  CHECK(run_cli({"pipeline", "--schedule", "zb_h3"}).status == 2);
}
