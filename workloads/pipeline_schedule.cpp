#include "workloads/pipeline_schedule.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <stdexcept>
#include <utility>

namespace foresight {

int PipelineSchedule::stage_of(int virtual_stage, int stages) const {
  for (int c = 0; c < chunks(); ++c) {
    for (int s = 0; s < stages; ++s) {
      if (this->virtual_stage(s, c, stages) == virtual_stage) return s;
    }
  }
  throw std::logic_error("no stage holds virtual stage " + std::to_string(virtual_stage));
}

std::string PipelineSchedule::unsupported_reason(int stages, int micro_batches) const {
  if (stages < 1) return "a pipeline needs at least one stage";
  if (micro_batches < 1) return "a pipeline needs at least one micro-batch";
  return "";
}

namespace {
PipeTask forward(int mb, int chunk = 0) { return {PipeWork::kForward, mb, chunk}; }
PipeTask backward(int mb, int chunk = 0) { return {PipeWork::kBackward, mb, chunk}; }
PipeTask weight_grad(int mb, int chunk = 0) { return {PipeWork::kWeightGrad, mb, chunk}; }

// GPipe (Huang et al. 2019): every forward, then every backward, latest first.
class GPipe : public PipelineSchedule {
 public:
  std::string_view name() const override { return "gpipe"; }
  std::vector<std::vector<PipeTask>> orders(int stages, int m) const override {
    std::vector<std::vector<PipeTask>> orders(static_cast<std::size_t>(stages));
    for (auto& order : orders) {
      for (int mb = 0; mb < m; ++mb) order.push_back(forward(mb));
      for (int mb = m - 1; mb >= 0; --mb) order.push_back(backward(mb));
    }
    return orders;
  }
};

// 1F1B (PipeDream-Flush, Narayanan et al. 2021): stage s runs p-1-s warm-up forwards,
// then alternates one forward and one backward, then drains the backwards; at most p-s
// micro-batches' activations are alive on it.
class OneForwardOneBackward : public PipelineSchedule {
 public:
  std::string_view name() const override { return "1f1b"; }
  std::vector<std::vector<PipeTask>> orders(int stages, int m) const override {
    std::vector<std::vector<PipeTask>> orders(static_cast<std::size_t>(stages));
    for (int s = 0; s < stages; ++s) {
      auto& order = orders[static_cast<std::size_t>(s)];
      const int warm = std::min(stages - 1 - s, m);
      for (int mb = 0; mb < warm; ++mb) order.push_back(forward(mb));
      for (int j = 0; j + warm < m; ++j) {
        order.push_back(forward(warm + j));
        order.push_back(backward(j));
      }
      for (int mb = m - warm; mb < m; ++mb) order.push_back(backward(mb));
    }
    return orders;
  }
};

// Interleaved 1F1B (Narayanan et al. SC'21): micro-batches go through a stage's chunks
// in groups of p; warm-up is 2(p-1-s) + (v-1)p forward units, then one forward unit
// and one backward unit alternate. Needs m to be a multiple of p: Megatron-core refuses a
// last group of fewer than p micro-batches (its chunk 1 would wait on its chunk 0 behind
// backwards that wait on it), unless a larger group size is set, which is not modelled.
class Interleaved1F1B : public PipelineSchedule {
 public:
  explicit Interleaved1F1B(int chunks) : chunks_(chunks) {}
  std::string_view name() const override { return "interleaved_1f1b"; }
  int chunks() const override { return chunks_; }
  std::string unsupported_reason(int stages, int m) const override {
    std::string why = PipelineSchedule::unsupported_reason(stages, m);
    if (why.empty() && m % stages != 0) {
      why = "interleaved 1F1B needs the micro-batches (" + std::to_string(m) + ") to be a multiple of the stages (" +
            std::to_string(stages) + "), as Megatron-core requires (a last group of fewer than p deadlocks)";
    }
    return why;
  }
  std::vector<std::vector<PipeTask>> orders(int stages, int m) const override {
    const int v = chunks_;
    const int units = m * v;
    const auto unit = [&](int k, bool is_forward) {
      const int group = k / (stages * v);
      const int within = k % (stages * v);
      const int chunk = is_forward ? within / stages : v - 1 - within / stages;
      const int mb = group * stages + within % stages;
      return is_forward ? forward(mb, chunk) : backward(mb, chunk);
    };
    std::vector<std::vector<PipeTask>> orders(static_cast<std::size_t>(stages));
    for (int s = 0; s < stages; ++s) {
      auto& order = orders[static_cast<std::size_t>(s)];
      const int warm = std::min(2 * (stages - 1 - s) + (v - 1) * stages, units);
      for (int k = 0; k < warm; ++k) order.push_back(unit(k, true));
      for (int j = 0; j + warm < units; ++j) {
        order.push_back(unit(warm + j, true));
        order.push_back(unit(j, false));
      }
      for (int k = units - warm; k < units; ++k) order.push_back(unit(k, false));
    }
    return orders;
  }

 private:
  int chunks_;
};

// Breadth-first (Lamy-Poirier, "Breadth-First Pipeline Parallelism", MLSys 2023): a
// looped pipeline like interleaved 1F1B, but each stage runs every micro-batch through
// a chunk before moving to the next chunk, forwards chunk by chunk, then backwards in
// reverse. With m >= p no stage waits between chunks, so the bubble is interleaved's
// (p-1)(F+B)/v; every micro-batch's activations stay alive until its backward (GPipe's
// memory), and each chunk's gradients are ready early, which lets a sharded data-parallel
// reduction overlap the remaining chunks.
class BreadthFirst : public PipelineSchedule {
 public:
  explicit BreadthFirst(int chunks) : chunks_(chunks) {}
  std::string_view name() const override { return "breadth_first"; }
  // A chunk's gradients are reduced beside the later chunks' passes, which grow with the
  // micro-batches: the reduction's exposed part shrinks with each one until it is hidden.
  int steady_from(int) const override { return 0; }
  int chunks() const override { return chunks_; }
  std::vector<std::vector<PipeTask>> orders(int stages, int m) const override {
    std::vector<std::vector<PipeTask>> orders(static_cast<std::size_t>(stages));
    for (auto& order : orders) {
      for (int c = 0; c < chunks_; ++c) {
        for (int mb = 0; mb < m; ++mb) order.push_back(forward(mb, c));
      }
      for (int c = chunks_ - 1; c >= 0; --c) {
        for (int mb = 0; mb < m; ++mb) order.push_back(backward(mb, c));
      }
    }
    return orders;
  }

 private:
  int chunks_;
};

// ZB-H1 (Qi et al., "Zero Bubble Pipeline Parallelism", ICLR 2024): 1F1B's forwards and
// input-gradient backwards, with each weight-gradient pass W split off. The later a
// stage, the longer it holds its Ws back (stage s runs W(j) after B(j+s)), so the
// backward chain that earlier stages wait on is not delayed by Ws, and the held-back Ws
// fill the drain. Same activation memory as 1F1B; bubble (p-1)(F+B-W) against 1F1B's
// (p-1)(F+B+W).
class ZeroBubbleH1 : public PipelineSchedule {
 public:
  std::string_view name() const override { return "zb_h1"; }
  bool splits_backward() const override { return true; }
  std::vector<std::vector<PipeTask>> orders(int stages, int m) const override {
    std::vector<std::vector<PipeTask>> orders = OneForwardOneBackward().orders(stages, m);
    for (int s = 0; s < stages; ++s) {
      std::vector<PipeTask> split;
      int next_w = 0;
      for (const PipeTask& task : orders[static_cast<std::size_t>(s)]) {
        split.push_back(task);
        if (task.work != PipeWork::kBackward) continue;
        if (task.micro_batch - s >= 0) split.push_back(weight_grad(next_w++));
      }
      while (next_w < m) split.push_back(weight_grad(next_w++));
      orders[static_cast<std::size_t>(s)] = std::move(split);
    }
    return orders;
  }
};

// ZB-H2 (Qi et al. 2024, Sec. 3): ZB-H1 with extra warm-up forwards that fill the bubble
// before the first backward, 2(p-1-s)+1 on stage s, and weight-gradient passes held
// back to the tail, 2s of them on stage s, so that every stage runs back to back: the
// trapezoid becomes a parallelogram and, with F = B = W and free communication, the
// bubble vanishes once m >= 2p-1. The price: about twice 1F1B's activations in flight.
class ZeroBubbleH2 : public PipelineSchedule {
 public:
  std::string_view name() const override { return "zb_h2"; }
  int steady_from(int stages) const override { return 2 * stages - 1; }  // the warm-up's forwards
  bool splits_backward() const override { return true; }
  std::vector<std::vector<PipeTask>> orders(int stages, int m) const override {
    std::vector<std::vector<PipeTask>> orders(static_cast<std::size_t>(stages));
    for (int s = 0; s < stages; ++s) {
      auto& order = orders[static_cast<std::size_t>(s)];
      const int held_back = 2 * s;
      int next_f = 0, next_w = 0;
      while (next_f < std::min(m, 2 * (stages - 1 - s) + 1)) order.push_back(forward(next_f++));
      for (int b = 0; b < m; ++b) {
        order.push_back(backward(b));
        if (b + 1 - next_w > held_back) order.push_back(weight_grad(next_w++));
        if (next_f < m) order.push_back(forward(next_f++));
      }
      while (next_w < m) order.push_back(weight_grad(next_w++));
    }
    return orders;
  }
};
// ZB-V (Qi et al., "Zero Bubble Pipeline Parallelism", ICLR 2024, Sec. 6): two chunks per
// stage placed in a V, chunk 0 of stage s at virtual stage s and chunk 1 at 2p-1-s, so the
// last stage runs the middle two virtual stages back to back and stage 0 holds both ends.
// Backward is split into B and W as in ZB-H1; the order is the paper's Figure 8 pattern as
// PyTorch's ScheduleZBVZeroBubble lays it out: warm-up forwards of chunk 0 (2(p-s)-1), pairs
// of chunk-1 and chunk-0 forwards (s), chunk-1 F B W triples (p-s), then F B W of chunk 0
// and of chunk 1 in turn, and a drain of backwards whose W passes fill the tail. With
// F = B = W and free communication only the first forward's ramp down the V's first leg is
// idle, (p-1)F/2 (the paper's zero once steps overlap), at 1F1B's activation memory. Fewer
// micro-batches than 2p-1 run the same pattern with the missing ones left out.
class ZeroBubbleV : public PipelineSchedule {
 public:
  std::string_view name() const override { return "zb_v"; }
  int steady_from(int stages) const override { return 2 * stages - 1; }  // the warm-up's forwards
  bool splits_backward() const override { return true; }
  int chunks() const override { return 2; }
  int virtual_stage(int stage, int chunk, int stages) const override { return chunk == 0 ? stage : 2 * stages - 1 - stage; }
  std::vector<std::vector<PipeTask>> orders(int stages, int m) const override {
    std::vector<std::vector<PipeTask>> orders(static_cast<std::size_t>(stages));
    for (int s = 0; s < stages; ++s) orders[static_cast<std::size_t>(s)] = stage_order(s, stages, m);
    return orders;
  }

 private:
  static std::vector<PipeTask> stage_order(int s, int p, int m) {
    const int padded = std::max(2 * p - 1, m);
    std::vector<PipeTask> order;
    int f0 = 0, f1 = 0, b0 = 0, b1 = 0;
    const auto push = [&](PipeTask task) {
      if (task.micro_batch < m) order.push_back(task);
    };
    for (int i = 0; i < 2 * (p - s) - 1; ++i) push(forward(f0++, 0));
    for (int i = 0; i < s; ++i) {
      push(forward(f1++, 1));
      push(forward(f0++, 0));
    }
    for (int i = 0; i < p - s; ++i) {
      push(forward(f1++, 1));
      push(backward(b1, 1));
      push(weight_grad(b1++, 1));
    }
    while (f1 < f0 || f0 < padded) {
      if (f0 < padded) push(forward(f0++, 0));
      push(backward(b0, 0));
      push(weight_grad(b0++, 0));
      push(forward(f1++, 1));
      push(backward(b1, 1));
      push(weight_grad(b1++, 1));
    }
    int w0 = b0, w1 = b1;
    for (int i = 0; i < s; ++i) {
      push(backward(b0++, 0));
      push(backward(b1++, 1));
    }
    for (int i = 0; i < p - s; ++i) {
      push(backward(b0++, 0));
      push(weight_grad(w0++, 0));
    }
    while (w1 < b1) push(weight_grad(w1++, 1));
    while (w0 < b0) push(weight_grad(w0++, 0));
    return order;
  }
};

// Two copies of the model in pipelines that run in opposite directions on the same stages:
// copy 0 (down) has its stage j on stage j, copy 1 (up) on stage p-1-j. Given each copy's
// order per own stage, runs them with forwards of one time unit and backwards of `backward`
// units, transfers free: a stage that comes free takes the ready head of either copy's order,
// the one further along its micro-batch's way through the model first (forwards by position,
// then backwards by how many stages they have come back; ties: the down copy). On Chimera's
// shapes this rule reaches the best interleaving an exhaustive search over every choice finds
// (p 4, 6, 8 at m = p, B = F and B = 2F). What each stage ran, in order, is the merged
// schedule; it came from a run, so no timing deadlocks it.
std::vector<std::vector<PipeTask>> merge_opposite_pipelines(const std::array<std::vector<std::vector<PipeTask>>, 2>& copies,
                                                            int micro_batches, int backward) {
  const auto stages = static_cast<int>(copies[0].size());
  const auto size = static_cast<std::size_t>(stages);
  const auto count = static_cast<std::size_t>(micro_batches);
  // end[f or b][copy][own stage][micro-batch]: when the pass ended, -1 before.
  std::vector<std::vector<std::vector<std::vector<int>>>> end(
      2, std::vector<std::vector<std::vector<int>>>(2, std::vector<std::vector<int>>(size, std::vector<int>(count, -1))));
  std::vector<std::array<std::size_t, 2>> next(size, {0, 0});
  std::vector<int> free_at(size, 0);
  std::vector<std::vector<PipeTask>> merged(size);
  std::size_t left = 0;
  for (const auto& copy : copies) {
    for (const auto& order : copy) left += order.size();
  }
  struct Candidate {
    int copy = -1;
    int progress = -1;
  };
  const auto candidate = [&](int copy, int stage, int now) -> Candidate {
    const auto c = static_cast<std::size_t>(copy);
    const auto j = static_cast<std::size_t>(copy == 0 ? stage : stages - 1 - stage);
    const std::size_t k = next[static_cast<std::size_t>(stage)][c];
    if (k >= copies[c][j].size()) return {};
    const PipeTask& task = copies[c][j][k];
    const auto mb = static_cast<std::size_t>(task.micro_batch);
    const auto& forward_end = end[0][c];
    const auto& backward_end = end[1][c];
    int ready = 0;
    if (task.work == PipeWork::kForward) {
      ready = j == 0 ? 0 : forward_end[j - 1][mb];
    } else {
      const int later = j + 1 == size ? 0 : backward_end[j + 1][mb];
      ready = forward_end[j][mb] < 0 || later < 0 ? -1 : std::max(forward_end[j][mb], later);
    }
    if (ready < 0 || ready > now) return {};
    const int progress = task.work == PipeWork::kForward ? static_cast<int>(j) : 2 * stages - 1 - static_cast<int>(j);
    return {copy, progress};
  };
  for (int now = 0; left > 0; ++now) {
    for (int s = 0; s < stages; ++s) {
      const auto i = static_cast<std::size_t>(s);
      if (free_at[i] > now) continue;
      const Candidate down = candidate(0, s, now), up = candidate(1, s, now);
      if (down.copy < 0 && up.copy < 0) continue;
      const int copy = up.copy < 0 || (down.copy >= 0 && down.progress >= up.progress) ? 0 : 1;
      const auto c = static_cast<std::size_t>(copy);
      const auto j = static_cast<std::size_t>(copy == 0 ? s : stages - 1 - s);
      PipeTask task = copies[c][j][next[i][c]++];
      const bool forward = task.work == PipeWork::kForward;
      free_at[i] = now + (forward ? 1 : backward);
      end[forward ? 0 : 1][c][j][static_cast<std::size_t>(task.micro_batch)] = free_at[i];
      task.chunk = copy;
      merged[i].push_back(task);
      --left;
    }
  }
  return merged;
}

// Chimera (Li and Hoefler, "Chimera: Efficiently Training Large-Scale Neural Networks with
// Bidirectional Pipelines", SC'21): two copies of the model in pipelines that run in
// opposite directions. Stage s holds the down pipeline's stage s (chunk 0, virtual stage s)
// and the up pipeline's stage p-1-s (chunk 1, virtual stage 2p-1-s), so each stage holds
// two stages' layers, and stages 0 and p-1 both hold both ends of the model. The first half
// of the micro-batches go down and the second half up, each half in 1F1B, and a stage
// interleaves the two pipelines' tasks as merge_opposite_pipelines runs them with B = 2F.
// With B = F each stage idles the paper's (p/2-1)(F+B), a bubble of (p-2)/(2m+p-2) against
// 1F1B's (p-1)/(m+p-1), for every even m (one 1F1B per direction over all of its
// micro-batches, rather than the paper's concatenated units of p, whose seams idle again).
// The copies' gradients are summed before the optimizer: the data-parallel reduction spans
// both copies' replicas.
class Chimera : public PipelineSchedule {
 public:
  std::string_view name() const override { return "chimera"; }
  int chunks() const override { return 2; }
  int model_copies() const override { return 2; }
  int steady_from(int stages) const override { return 2 * stages; }  // each direction's 1F1B in its steady state
  int virtual_stage(int stage, int chunk, int stages) const override { return chunk == 0 ? stage : 2 * stages - 1 - stage; }
  int entry_virtual_stage(int micro_batch, int micro_batches, int stages) const override {
    return micro_batch < micro_batches / 2 ? 0 : stages;  // the second half goes up
  }
  std::string unsupported_reason(int stages, int m) const override {
    std::string why = PipelineSchedule::unsupported_reason(stages, m);
    if (why.empty() && stages % 2 != 0) {
      why = "chimera needs an even number of pipeline stages (got " + std::to_string(stages) + "): it pairs stage s with stage p-1-s";
    } else if (why.empty() && m % 2 != 0) {
      why = "chimera splits the micro-batches evenly between its two pipelines: it needs an even count (got " + std::to_string(m) + ")";
    }
    return why;
  }
  std::vector<std::vector<PipeTask>> orders(int stages, int m) const override {
    const int half = m / 2;
    std::array<std::vector<std::vector<PipeTask>>, 2> copies{OneForwardOneBackward().orders(stages, half),
                                                             OneForwardOneBackward().orders(stages, half)};
    for (auto& order : copies[1]) {
      for (PipeTask& task : order) task.micro_batch += half;
    }
    return merge_opposite_pipelines(copies, m, 2);
  }
};

// BitPipe (Wu, Chen and Yu, "BitPipe: Bidirectional Interleaved Pipeline Parallelism for
// Accelerating Large Models Training", arXiv 2410.19367; the authors' Megatron-LM fork,
// wuhouming/BitPipe): Chimera's two copies of the model in opposite directions, each laid out
// in ZB-V's V over chunks of half a stage, so that a copy turns round on one stage without a
// transfer. With 2p positions a copy, stage s holds the down copy's positions s (chunk 0) and
// 2p-1-s (chunk 1) and the up copy's p-1-s (chunk 2) and p+s (chunk 3): Chimera's share of the
// layers, both copies of each on stages s and p-1-s. Micro-batches go in units of p, half of
// each down and half up; the copies' gradients are summed before the optimizer, as in Chimera.
//
// The order is the authors' code's. For stage s of p (u = p/2), the near copy is the one whose
// first leg the stage meets first (down for s < u, else up) and n = u-s for s < u, else s-u+1
// (the stage's distance from the pipeline's middle, counting from 1). Each unit's forwards,
// with i counting the unit's micro-batches in each copy: near leg 1 for i < n; for i < u-n,
// far leg 1 (i) and near leg 1 (i+n); for i < n, far leg 1 (i+u-n) and far leg 2 (i); for
// i < u-n, near leg 2 (i) and far leg 2 (i+n); near leg 2 for i+u-n, i < n. Its backwards: the
// same with legs 2 and 1 swapped. A stage runs W = 3p/2 + min(s, p-1-s) forwards, then 1F1B
// over the rest; between units, with R = 2p-W: R pairs of this unit's forwards and backwards,
// W-R+1 of its backwards, R-1 pairs of the next unit's forwards and this unit's backwards,
// W-R+1 of the next unit's forwards; after the last unit's R pairs, the remaining backwards.
class BitPipe : public PipelineSchedule {
 public:
  std::string_view name() const override { return "bitpipe"; }
  int chunks() const override { return 4; }
  int model_copies() const override { return 2; }
  int steady_from(int stages) const override { return stages; }  // one unit; each further unit adds the same time
  int virtual_stage(int stage, int chunk, int stages) const override {
    switch (chunk) {
      case 0: return stage;
      case 1: return 2 * stages - 1 - stage;
      case 2: return 3 * stages - 1 - stage;
      default: return 3 * stages + stage;
    }
  }
  int entry_virtual_stage(int micro_batch, int micro_batches, int stages) const override {
    return micro_batch < micro_batches / 2 ? 0 : 2 * stages;  // the second half goes up
  }
  std::string unsupported_reason(int stages, int m) const override {
    std::string why = PipelineSchedule::unsupported_reason(stages, m);
    if (why.empty() && stages % 2 != 0) {
      why = "bitpipe needs an even number of pipeline stages (got " + std::to_string(stages) + "): it pairs stage s with stage p-1-s";
    } else if (why.empty() && m % stages != 0) {
      why = "bitpipe runs the micro-batches in units of one per stage, half down and half up: it needs a multiple of the stages (" +
            std::to_string(stages) + "; got " + std::to_string(m) + "), as its authors' code does";
    }
    return why;
  }
  std::vector<std::vector<PipeTask>> orders(int stages, int m) const override {
    std::vector<std::vector<PipeTask>> orders;
    for (int s = 0; s < stages; ++s) orders.push_back(stage_order(s, stages, m));
    return orders;
  }

 private:
  // One unit's passes on stage s in the order the stage takes them (forwards, or backwards).
  static std::vector<PipeTask> unit_passes(int s, int p, int m, int unit, bool forwards) {
    const int u = p / 2;
    const int near = s < u ? 0 : 1;  // the copy whose first leg reaches the stage first
    const int n = s < u ? u - s : s - u + 1;
    const auto pass = [&](int copy, int leg, int i) {
      const int mb = copy * (m / 2) + unit * u + i;
      const int chunk = 2 * copy + ((leg == 1) == forwards ? 0 : 1);  // backwards take the legs in reverse
      return PipeTask{forwards ? PipeWork::kForward : PipeWork::kBackward, mb, chunk};
    };
    std::vector<PipeTask> passes;
    const int far = 1 - near;
    for (int i = 0; i < n; ++i) passes.push_back(pass(near, 1, i));
    for (int i = 0; i < u - n; ++i) passes.push_back(pass(far, 1, i)), passes.push_back(pass(near, 1, i + n));
    for (int i = 0; i < n; ++i) passes.push_back(pass(far, 1, i + u - n)), passes.push_back(pass(far, 2, i));
    for (int i = 0; i < u - n; ++i) passes.push_back(pass(near, 2, i)), passes.push_back(pass(far, 2, i + n));
    for (int i = 0; i < n; ++i) passes.push_back(pass(near, 2, i + u - n));
    return passes;
  }

  static std::vector<PipeTask> stage_order(int s, int p, int m) {
    std::vector<PipeTask> forwards, backwards;
    for (int unit = 0; unit < m / p; ++unit) {
      for (const PipeTask& t : unit_passes(s, p, m, unit, true)) forwards.push_back(t);
      for (const PipeTask& t : unit_passes(s, p, m, unit, false)) backwards.push_back(t);
    }
    const int warm = 3 * p / 2 + std::min(s, p - 1 - s);
    const int rest = 2 * p - warm;
    std::vector<PipeTask> order;
    std::size_t f = 0, b = 0;
    const auto run_forwards = [&](int count) {
      for (int k = 0; k < count; ++k) order.push_back(forwards[f++]);
    };
    const auto run_backwards = [&](int count) {
      for (int k = 0; k < count; ++k) order.push_back(backwards[b++]);
    };
    const auto run_pairs = [&](int count) {
      for (int k = 0; k < count; ++k) run_forwards(1), run_backwards(1);
    };
    run_forwards(warm);
    for (int unit = 0; unit + 1 < m / p; ++unit) {
      run_pairs(rest);
      run_backwards(warm - rest + 1);
      run_pairs(rest - 1);
      run_forwards(warm - rest + 1);
    }
    run_pairs(rest);
    run_backwards(static_cast<int>(backwards.size() - b));
    return order;
  }
};

// DeepSeek's eight steps (deepseek-ai/DualPipe), the order one stage runs in DualPipe and in
// DualPipeV. The stage is `r` stages from its pipe's end (where micro-batches enter and the
// loss is taken), `ranks` stages make one direction, `micro_batches` go each way; phase 0 is
// the direction the stage's first forwards run in, `chunk_of_phase` says which chunk that is,
// and `first_micro_batch` numbers each chunk's micro-batches:
//   1. 2(ranks-r-1) F0     2. r+1 x (F0, F1)        3. ranks-r-1 x (B1 with W held back, W, F1)
//   4. n-2 ranks+r+1 x (F0 with B1 beside it, F1 with B0 beside it)
//   5. ranks-r-1 x (B1, F1 with B0 beside it)       6. r+1 x (B1, B0), the later half holding W back
//   7. ranks-r-1 x (W, B0 with W held back)          8. r+1 W
// A held-back W runs at the next W slot, oldest first; any other B runs its W right after it. A
// pair that DeepSeek overlaps (a forward beside another micro-batch's backward, whose
// all-to-alls and transfers then hide behind each other's compute) is marked on its forward:
// the idealized timeline starts it once both have their inputs and runs the two one after the
// other; a training step runs them side by side (training_graph.cpp). The middle stage (r =
// ranks-1) runs its first two of step 4 apart, as DeepSeek's does.
struct EightSteps {
  int ranks = 0, r = 0, micro_batches = 0;
  std::array<int, 2> chunk_of_phase{0, 1};
  std::array<int, 2> first_micro_batch{0, 0};
};

std::vector<PipeTask> eight_steps(const EightSteps& e) {
  const int ranks = e.ranks, r = e.r;
  std::vector<PipeTask> order;
  std::array<int, 2> forwards{0, 0}, backwards{0, 0};  // by chunk
  std::deque<PipeTask> held;                             // Ws held back, oldest first
  const auto f = [&](int phase) {
    const auto c = static_cast<std::size_t>(e.chunk_of_phase[static_cast<std::size_t>(phase)]);
    order.push_back(forward(e.first_micro_batch[c] + forwards[c]++, static_cast<int>(c)));
  };
  const auto b = [&](int phase, bool hold_w) {
    const auto c = static_cast<std::size_t>(e.chunk_of_phase[static_cast<std::size_t>(phase)]);
    const int mb = e.first_micro_batch[c] + backwards[c]++;
    order.push_back(backward(mb, static_cast<int>(c)));
    if (hold_w) {
      held.push_back(weight_grad(mb, static_cast<int>(c)));
    } else {
      order.push_back(weight_grad(mb, static_cast<int>(c)));
    }
  };
  const auto w = [&] {
    order.push_back(held.front());
    held.pop_front();
  };
  const auto paired = [&](int forward_phase, int backward_phase) {
    f(forward_phase);
    order.back().paired = true;
    b(backward_phase, false);
  };
  for (int i = 0; i < 2 * (ranks - r - 1); ++i) f(0);
  for (int i = 0; i < r + 1; ++i) f(0), f(1);
  for (int i = 0; i < ranks - r - 1; ++i) b(1, true), w(), f(1);
  for (int i = 0; i < e.micro_batches - 2 * ranks + r + 1; ++i) {
    if (i == 0 && r == ranks - 1) {
      f(0), b(1, false);  // the middle stage's first two, which DeepSeek does not overlap
    } else {
      paired(0, 1);
    }
    paired(1, 0);
  }
  for (int i = 0; i < ranks - r - 1; ++i) b(1, false), paired(1, 0);
  bool hold = false;
  for (int i = 0; i < r + 1; ++i) {
    if (i == (r + 1) / 2 && r % 2 == 1) hold = true;
    b(1, hold);
    if (i == (r + 1) / 2 && r % 2 == 0) hold = true;
    b(0, hold);
  }
  for (int i = 0; i < ranks - r - 1; ++i) w(), b(0, true);
  for (int i = 0; i < r + 1; ++i) w();
  return order;
}

// DualPipe (DeepSeek-V3 technical report, Sec. 3.2.1; deepseek-ai/DualPipe): Chimera's placement
// (stage s holds the down copy's stage s and the up copy's stage p-1-s; the first half of the
// micro-batches go down, the rest up) with the backward split into B and W, each stage in the
// eight steps with ranks = p/2 and r = min(s, p-1-s): a stage in the first half calls the down
// copy phase 0 and the up copy phase 1, a stage in the second half the other way round. Needs p
// even and m >= 2p, even.
class DualPipe : public PipelineSchedule {
 public:
  std::string_view name() const override { return "dualpipe"; }
  bool splits_backward() const override { return true; }
  int chunks() const override { return 2; }
  int model_copies() const override { return 2; }
  int steady_from(int stages) const override { return 2 * stages; }
  int virtual_stage(int stage, int chunk, int stages) const override { return chunk == 0 ? stage : 2 * stages - 1 - stage; }
  int entry_virtual_stage(int micro_batch, int micro_batches, int stages) const override {
    return micro_batch < micro_batches / 2 ? 0 : stages;
  }
  std::string unsupported_reason(int stages, int m) const override {
    std::string why = PipelineSchedule::unsupported_reason(stages, m);
    if (why.empty() && stages % 2 != 0) {
      why = "dualpipe needs an even number of pipeline stages (got " + std::to_string(stages) + "): it pairs stage s with stage p-1-s";
    } else if (why.empty() && (m % 2 != 0 || m < 2 * stages)) {
      why = "dualpipe needs an even number of micro-batches, at least twice the stages (" + std::to_string(2 * stages) + "), as DeepSeek's "
            "implementation does (got " + std::to_string(m) + ")";
    }
    return why;
  }
  std::vector<std::vector<PipeTask>> orders(int stages, int m) const override {
    std::vector<std::vector<PipeTask>> orders;
    for (int s = 0; s < stages; ++s) {
      const int second_half = s >= stages / 2 ? 1 : 0;
      orders.push_back(eight_steps({stages / 2, std::min(s, stages - 1 - s), m / 2, {second_half, 1 - second_half}, {0, m / 2}}));
    }
    return orders;
  }
};

// DualPipeV (deepseek-ai/DualPipe's dualpipev.py, DualPipe "cut in half"): one copy of the
// model in ZB-V's V (stage s holds virtual stages s and 2p-1-s, so stage 0 holds both ends and
// the last stage the middle two), every micro-batch going down chunk 0 and back up chunk 1,
// each stage in the eight steps with ranks = p and r = s. Half DualPipe's parameters per stage
// for the same stage count, and activations of PP+1 chunks (PP = 2p, p + 1/2 stages' worth).
// Needs m >= 2p, as dualpipev.py does.
class DualPipeV : public PipelineSchedule {
 public:
  std::string_view name() const override { return "dualpipev"; }
  bool splits_backward() const override { return true; }
  int chunks() const override { return 2; }
  int steady_from(int stages) const override { return 2 * stages; }
  int virtual_stage(int stage, int chunk, int stages) const override { return chunk == 0 ? stage : 2 * stages - 1 - stage; }
  std::string unsupported_reason(int stages, int m) const override {
    std::string why = PipelineSchedule::unsupported_reason(stages, m);
    if (why.empty() && m < 2 * stages) {
      why = "dualpipev needs at least twice as many micro-batches as stages (" + std::to_string(2 * stages) +
            "), as DeepSeek's implementation does (got " + std::to_string(m) + ")";
    }
    return why;
  }
  std::vector<std::vector<PipeTask>> orders(int stages, int m) const override {
    std::vector<std::vector<PipeTask>> orders;
    for (int s = 0; s < stages; ++s) orders.push_back(eight_steps({stages, s, m}));
    return orders;
  }
};

// Megatron-core's combined 1F1B (--overlap-moe-expert-parallel-comm, combined_1f1b.py): the
// wrapped schedule with one more warm-up forward on each stage (Megatron adds one to its
// interleaved warm-up; with PP 1 the first micro-batch's forward runs alone), after which
// each forward runs beside the backward that follows it, layer by layer on two streams, so
// that one micro-batch's expert all-to-alls hide behind the other's attention and MLPs.
class CombinedForwardBackward : public PipelineSchedule {
 public:
  explicit CombinedForwardBackward(std::unique_ptr<PipelineSchedule> inner) : inner_(std::move(inner)) {}
  std::string_view name() const override { return inner_->name(); }
  int chunks() const override { return inner_->chunks(); }
  std::string unsupported_reason(int stages, int m) const override { return inner_->unsupported_reason(stages, m); }
  int steady_from(int stages) const override {
    const int inner = inner_->steady_from(stages);
    return inner > 0 ? inner + 1 : inner;
  }
  int virtual_stage(int stage, int chunk, int stages) const override { return inner_->virtual_stage(stage, chunk, stages); }
  std::vector<std::vector<PipeTask>> orders(int stages, int m) const override {
    std::vector<std::vector<PipeTask>> orders = inner_->orders(stages, m);
    for (auto& order : orders) order = paired_after_one_more_warmup(order);
    return orders;
  }

 private:
  static std::vector<PipeTask> paired_after_one_more_warmup(const std::vector<PipeTask>& order) {
    std::vector<PipeTask> forwards, backwards;
    std::size_t warmup = 0;
    for (const PipeTask& task : order) {
      (task.work == PipeWork::kForward ? forwards : backwards).push_back(task);
      if (task.work == PipeWork::kForward && backwards.empty()) ++warmup;
    }
    // The wrapped order's leading forwards are its warm-up and its first steady forward, which
    // now runs alone as the extra warm-up; each later forward pairs with the next backward.
    std::vector<PipeTask> combined;
    std::size_t f = 0, b = 0;
    for (; f < warmup; ++f) combined.push_back(forwards[f]);
    for (; f < forwards.size() && b < backwards.size(); ++f, ++b) {
      combined.push_back(forwards[f]);
      combined.back().paired = true;
      combined.push_back(backwards[b]);
    }
    for (; f < forwards.size(); ++f) combined.push_back(forwards[f]);
    for (; b < backwards.size(); ++b) combined.push_back(backwards[b]);
    return combined;
  }

  std::unique_ptr<PipelineSchedule> inner_;
};
}  // namespace

std::vector<double> activations_in_flight(const std::vector<std::vector<PipeTask>>& orders, int chunks) {
  std::vector<double> peaks;
  for (const auto& order : orders) {
    int alive = 0, peak = 0;
    for (const PipeTask& task : order) {
      if (task.work == PipeWork::kForward) peak = std::max(peak, ++alive);
      if (task.work == PipeWork::kBackward) --alive;
    }
    peaks.push_back(static_cast<double>(peak) / chunks);
  }
  return peaks;
}

double peak_activations(const std::vector<std::vector<PipeTask>>& orders, int chunks) {
  const std::vector<double> peaks = activations_in_flight(orders, chunks);
  return peaks.empty() ? 0 : *std::max_element(peaks.begin(), peaks.end());
}

std::vector<std::string> pipeline_schedule_names() {
  return {"gpipe", "1f1b", "interleaved_1f1b", "breadth_first", "zb_h1", "zb_h2", "zb_v", "chimera", "bitpipe", "dualpipe", "dualpipev"};
}

std::unique_ptr<PipelineSchedule> make_pipeline_schedule(std::string_view name, int chunks) {
  if (chunks < 1) throw std::invalid_argument("a schedule needs at least one chunk per stage");
  if (name == "gpipe") return std::make_unique<GPipe>();
  if (name == "1f1b") return std::make_unique<OneForwardOneBackward>();
  if (name == "interleaved_1f1b") return std::make_unique<Interleaved1F1B>(chunks);
  if (name == "breadth_first") return std::make_unique<BreadthFirst>(chunks);
  if (name == "zb_h1") return std::make_unique<ZeroBubbleH1>();
  if (name == "zb_h2") return std::make_unique<ZeroBubbleH2>();
  if (name == "zb_v") return std::make_unique<ZeroBubbleV>();
  if (name == "chimera") return std::make_unique<Chimera>();
  if (name == "bitpipe") return std::make_unique<BitPipe>();
  if (name == "dualpipe") return std::make_unique<DualPipe>();
  if (name == "dualpipev") return std::make_unique<DualPipeV>();
  throw std::invalid_argument("unknown pipeline schedule \"" + std::string(name) + "\"");
}

std::unique_ptr<PipelineSchedule> combine_forward_backward(std::unique_ptr<PipelineSchedule> schedule) {
  if (schedule->splits_backward() || schedule->model_copies() > 1) {
    throw std::invalid_argument("combined forward-backward pairs wrap a schedule with whole backwards and one copy");
  }
  return std::make_unique<CombinedForwardBackward>(std::move(schedule));
}

}  // namespace foresight
