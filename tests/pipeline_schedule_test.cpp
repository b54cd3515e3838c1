// Pipeline schedules on the event engine against their closed forms (equal stage times).
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <tuple>

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

namespace {
// "F0.1" is micro-batch 0's forward through chunk 1, "B" a backward.
std::string written(const std::vector<PipeTask>& order) {
  std::ostringstream text;
  for (const PipeTask& t : order) {
    if (text.tellp() > 0) text << ' ';
    text << (t.work == PipeWork::kForward ? 'F' : 'B') << t.micro_batch << '.' << t.chunk;
  }
  return text.str();
}

// The passes of `order` of one kind (forwards, or backwards), written as above.
std::string passes_of(const std::vector<PipeTask>& order, PipeWork work) {
  std::vector<PipeTask> passes;
  for (const PipeTask& t : order) {
    if (t.work == work) passes.push_back(t);
  }
  return written(passes);
}

// The BitPipe authors' pass numbers for p = 4 and 8 micro-batches (16 passes: ids 0, 1, 4, 5
// are the down copy's first leg, 8, 9, 12, 13 its second; 2, 3, 6, 7 and 10, 11, 14, 15 the
// up copy's), written as above: the k-th id of a leg is the k-th micro-batch down (0-3) or up (4-7).
std::string bitpipe_ids(const std::vector<int>& ids, PipeWork work) {
  std::vector<PipeTask> passes;
  for (int id : ids) {
    const int copy = (id % 4) / 2;  // 0: down, 1: up
    const int second_leg = id >= 8 ? 1 : 0;
    const int k = (id % 8) / 4 * 2 + id % 2;
    passes.push_back({work, copy * 4 + k, 2 * copy + second_leg});
  }
  return written(passes);
}
}  // namespace

TEST_CASE("BitPipe: Chimera's two copies, each in a V, in units of p micro-batches, as its authors' code orders them") {
  // Chunks: 0 and 1 the down copy's legs, 2 and 3 the up copy's, each half a stage.
  const auto bitpipe = make_pipeline_schedule("bitpipe");
  // One unit: the paper's figure (wuhouming/BitPipe, docs/BitPipe_images/BitPipe-v.svg, arXiv
  // 2410.19367), four stages, the figure's micro-batches 1 and 2 going down, 3 and 4 up (0-3
  // here), a backward twice a forward: each stage's row read left to right is its order, 28
  // forward slots with 24 busy on every stage.
  const auto one_unit = bitpipe->orders(4, 4);
  CHECK(written(one_unit[0]) == "F0.0 F1.0 F2.2 F2.3 F3.2 F3.3 F0.1 B0.1 F1.1 B1.1 B2.3 B2.2 B3.3 B3.2 B0.0 B1.0");
  CHECK(written(one_unit[1]) == "F0.0 F2.2 F1.0 F3.2 F2.3 F0.1 F3.3 F1.1 B0.1 B2.3 B1.1 B3.3 B2.2 B0.0 B3.2 B1.0");
  CHECK(written(one_unit[2]) == "F2.2 F0.0 F3.2 F1.0 F0.1 F2.3 F1.1 F3.3 B2.3 B0.1 B3.3 B1.1 B0.0 B2.2 B1.0 B3.2");
  CHECK(written(one_unit[3]) == "F2.2 F3.2 F0.0 F0.1 F1.0 F1.1 F2.3 B2.3 F3.3 B3.3 B0.1 B0.0 B1.1 B1.0 B2.2 B3.2");
  const PipelineTimeline t = run_pipeline(*bitpipe, 4, 4, {kF, 2 * kF, 0, 0});
  CHECK(t.makespan == 28 * kF);
  CHECK(t.bubble_fraction() == doctest::Approx(4.0 / 28));
  // Two units: each stage's forwards and backwards in the orders the authors' code lists for
  // its ranks (forward_backward_pipelining_with_BitPipe's get_microbatch_idx and
  // get_bkmicrobatch_idx, their comments for 16 passes), run as its phases run them.
  const std::vector<std::vector<int>> forward_ids{{0, 1, 2, 10, 3, 11, 8, 9, 4, 5, 6, 14, 7, 15, 12, 13},
                                                  {0, 2, 1, 3, 10, 8, 11, 9, 4, 6, 5, 7, 14, 12, 15, 13},
                                                  {2, 0, 3, 1, 8, 10, 9, 11, 6, 4, 7, 5, 12, 14, 13, 15},
                                                  {2, 3, 0, 8, 1, 9, 10, 11, 6, 7, 4, 12, 5, 13, 14, 15}};
  const std::vector<std::vector<int>> backward_ids{{8, 9, 10, 2, 11, 3, 0, 1, 12, 13, 14, 6, 15, 7, 4, 5},
                                                   {8, 10, 9, 11, 2, 0, 3, 1, 12, 14, 13, 15, 6, 4, 7, 5},
                                                   {10, 8, 11, 9, 0, 2, 1, 3, 14, 12, 15, 13, 4, 6, 5, 7},
                                                   {10, 11, 8, 0, 9, 1, 2, 3, 14, 15, 12, 4, 13, 5, 6, 7}};
  const auto two_units = bitpipe->orders(4, 8);
  for (std::size_t s = 0; s < 4; ++s) {
    CAPTURE(s);
    CHECK(passes_of(two_units[s], PipeWork::kForward) == bitpipe_ids(forward_ids[s], PipeWork::kForward));
    CHECK(passes_of(two_units[s], PipeWork::kBackward) == bitpipe_ids(backward_ids[s], PipeWork::kBackward));
  }
  // Stage 0: 6 warm-up forwards, 2 pairs, 5 backwards, a pair with the next unit's first
  // forward, its 5 more forwards, 2 pairs, the drain. The README's second figure (scale-moreb.svg)
  // draws the next unit's second forward before this unit's last backward, 53 slots; the code
  // runs them the other way round, 54; its second stage's row is the code's.
  CHECK(written(two_units[0]) == "F0.0 F1.0 F4.2 F4.3 F5.2 F5.3 F0.1 B0.1 F1.1 B1.1 B4.3 B4.2 B5.3 B5.2 B0.0 F2.0 B1.0 F3.0 "
                                 "F6.2 F6.3 F7.2 F7.3 F2.1 B2.1 F3.1 B3.1 B6.3 B6.2 B7.3 B7.2 B2.0 B3.0");
  CHECK(written(two_units[1]) == "F0.0 F4.2 F1.0 F5.2 F4.3 F0.1 F5.3 F1.1 B0.1 B4.3 B1.1 B5.3 B4.2 B0.0 B5.2 B1.0 "
                                 "F2.0 F6.2 F3.0 F7.2 F6.3 F2.1 F7.3 F3.1 B2.1 B6.3 B3.1 B7.3 B6.2 B2.0 B7.2 B3.0");
  CHECK(run_pipeline(*bitpipe, 4, 8, {kF, 2 * kF, 0, 0}).makespan == 54 * kF);
  // Activations: at most p micro-batches' worth of a stage's on any stage, where Chimera's grow
  // with the micro-batches.
  for (int p : {4, 8}) {
    for (double held : activations_in_flight(bitpipe->orders(p, 4 * p), bitpipe->chunks_per_copy())) CHECK(held <= p);
  }
  // Placement: 2p positions a copy; both ends of each copy on the stage it enters at.
  CHECK(bitpipe->virtual_stage(0, 1, 4) == 7);
  CHECK(bitpipe->virtual_stage(3, 0, 4) == 3);
  CHECK(bitpipe->virtual_stage(3, 1, 4) == 4);
  CHECK(bitpipe->position(bitpipe->virtual_stage(3, 2, 4), 4) == 0);
  CHECK(bitpipe->position(bitpipe->virtual_stage(3, 3, 4), 4) == 7);
  CHECK(bitpipe->entry_virtual_stage(4, 8, 4) == 8);
  CHECK(bitpipe->unsupported_reason(3, 6).find("even number of pipeline stages") != std::string::npos);
  CHECK(bitpipe->unsupported_reason(4, 6).find("multiple of the stages") != std::string::npos);
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

// Megatron-core's combined 1F1B (--overlap-moe-expert-parallel-comm): with PP 1 the first
// micro-batch's forward runs alone, then each forward beside the previous backward, then the
// last backward alone (combined_1f1b_schedule_for_no_pipelining); interleaved, one more
// warm-up forward than Megatron's usual, then the same pairs.
TEST_CASE("combined 1F1B: each forward paired with the backward before it, one micro-batch more in flight") {
  const auto f = [](int mb, int chunk = 0, bool paired = false) { return PipeTask{PipeWork::kForward, mb, chunk, paired}; };
  const auto b = [](int mb, int chunk = 0) { return PipeTask{PipeWork::kBackward, mb, chunk}; };
  const auto one_stage = combine_forward_backward(make_pipeline_schedule("1f1b"));
  CHECK(one_stage->orders(1, 4)[0] == std::vector<PipeTask>{f(0), f(1, 0, true), b(0), f(2, 0, true), b(1), f(3, 0, true), b(2), b(3)});
  CHECK(peak_activations(one_stage->orders(1, 4), 1) == 2);
  // Compute alone has nothing to hide: one stage still takes m (F + B).
  CHECK(run_pipeline(*one_stage, 1, 4, {kF, kB, 0, 0}).makespan == 4 * (kF + kB));

  const int p = 4, m = 8, v = 2;
  const auto inner = make_pipeline_schedule("interleaved_1f1b", v);
  const auto combined = combine_forward_backward(make_pipeline_schedule("interleaved_1f1b", v));
  const auto leading_forwards = [](const std::vector<PipeTask>& order) {
    return std::find_if(order.begin(), order.end(), [](const PipeTask& t) { return t.work != PipeWork::kForward; }) - order.begin();
  };
  for (int s = 0; s < p; ++s) {
    CAPTURE(s);
    const auto before = inner->orders(p, m)[static_cast<std::size_t>(s)];
    const auto after = combined->orders(p, m)[static_cast<std::size_t>(s)];
    // The wrapped warm-up and its first steady forward run alone; the next forward pairs.
    const auto alone = leading_forwards(before);
    REQUIRE(leading_forwards(after) == alone + 1);
    CHECK(!after[static_cast<std::size_t>(alone - 1)].paired);
    CHECK(after[static_cast<std::size_t>(alone)].paired);
    const auto unpaired = [](std::vector<PipeTask> order) {
      for (PipeTask& t : order) t.paired = false;
      std::sort(order.begin(), order.end(), [](const PipeTask& a, const PipeTask& c) {
        return std::tie(a.work, a.micro_batch, a.chunk) < std::tie(c.work, c.micro_batch, c.chunk);
      });
      return order;
    };
    CHECK(unpaired(after) == unpaired(before));
    for (std::size_t i = 0; i < after.size(); ++i) {
      if (after[i].paired) CHECK((i + 1 < after.size() && after[i + 1].work == PipeWork::kBackward));
    }
  }
  CHECK(peak_activations(combined->orders(p, m), v) == doctest::Approx(peak_activations(inner->orders(p, m), v) + 1.0 / v));
  const PipelineTimeline t = run_pipeline(*combined, p, m, {kF, kB, 0, 0});
  CHECK(t.makespan >= run_pipeline(*inner, p, m, {kF, kB, 0, 0}).makespan);
  CHECK_THROWS_AS(combine_forward_backward(make_pipeline_schedule("dualpipe", 2)), std::invalid_argument);
}
