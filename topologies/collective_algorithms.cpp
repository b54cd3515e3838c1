#include "topologies/collective_algorithms.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "topologies/in_switch_all_reduce.hpp"

namespace foresight {

std::string_view algorithm_name(CollectiveAlgorithm algorithm) {
  switch (algorithm) {
    case CollectiveAlgorithm::kRing: return "ring";
    case CollectiveAlgorithm::kHalvingDoubling: return "halving_doubling";
    case CollectiveAlgorithm::kDirect: return "direct";
    case CollectiveAlgorithm::kHierarchical: return "hierarchical";
    case CollectiveAlgorithm::kTree: return "tree";
    case CollectiveAlgorithm::kNvls: return "nvls";
  }
  return "?";
}

std::vector<std::string> algorithm_names() { return {"ring", "halving_doubling", "direct", "hierarchical", "tree", "nvls"}; }

void CollectiveRun::limit_copy_rate(FlowNetwork& network, double max_rate, std::size_t ranks) {
  if (!(max_rate < std::numeric_limits<double>::infinity())) return;
  engines_network_ = &network;
  engines_.reserve(ranks);
  for (std::size_t i = 0; i < ranks; ++i) engines_.push_back(network.add_virtual_link(max_rate));
}

void CollectiveRun::mark_done(Engine& engine) {
  for (LinkId link : engines_) engines_network_->remove_virtual_link(link);
  engines_.clear();
  done_ = true;
  finish_ = engine.now();
  if (listener_ != nullptr) listener_->on_collective_done(engine, listener_tag_);
}

namespace {
bool is_reduction_family(CollectiveKind kind) {
  return kind == CollectiveKind::kAllReduce || kind == CollectiveKind::kAllGather || kind == CollectiveKind::kReduceScatter;
}

// A schedule says who sends to whom at each step, and how much: steps(), send_to(rank,
// step) and bytes(step); every rank sends once and receives once at every step. Schedules are plain classes and the runner a template over them, so the
// per-flow queries inline.

// Ring: at every step rank i sends one n-th of the buffer to rank i+1. Long rings run in
// at most kRingSuperSteps super-steps, each moving `merged` consecutive steps' pieces in
// one flow that pays every step's latency: the same time wherever a ring's flows see the
// same bandwidth (a symmetric fabric), and flows fewer by n / kRingSuperSteps, which keeps
// the rings of thousands of GPUs (ZeRO-3's per-layer gathers) in seconds.
inline constexpr int kRingSuperSteps = 16;

class RingSchedule {
 public:
  RingSchedule(int n, int steps, double piece)
      : n_(n), ring_steps_(steps), per_super_step_(std::max(1, (steps + kRingSuperSteps - 1) / kRingSuperSteps)), piece_(piece) {}
  int steps() const { return (ring_steps_ + per_super_step_ - 1) / per_super_step_; }
  int send_to(int rank, int) const { return rank + 1 == n_ ? 0 : rank + 1; }
  double bytes(int step) const { return piece_ * merged(step); }
  int merged(int step) const { return std::min(per_super_step_, ring_steps_ - step * per_super_step_); }

 private:
  int n_, ring_steps_, per_super_step_;
  double piece_;
};

// Rabenseifner: reduce-scatter by recursive halving (partner at distance n/2, n/4, ...,
// exchanging half of what is left), then all-gather by recursive doubling (distance 1,
// 2, ..., n/2, exchanging what has been gathered).
class HalvingDoublingSchedule {
 public:
  HalvingDoublingSchedule(int n, double bytes, CollectiveKind kind)
      : n_(n), log_(std::countr_zero(static_cast<unsigned>(n))), bytes_(bytes),
        first_(kind == CollectiveKind::kAllGather ? log_ : 0),
        last_(kind == CollectiveKind::kReduceScatter ? log_ : 2 * log_) {}
  int steps() const { return last_ - first_; }
  int send_to(int rank, int step) const { return rank ^ distance(step + first_); }
  int merged(int) const { return 1; }
  double bytes(int step) const {
    const int s = step + first_;
    return s < log_ ? bytes_ / static_cast<double>(2 << s) : bytes_ / n_ * static_cast<double>(1 << (s - log_));
  }

 private:
  int distance(int s) const { return s < log_ ? n_ >> (s + 1) : 1 << (s - log_); }
  int n_, log_;
  double bytes_;
  int first_, last_;
};

// Runs a StepSchedule: a rank starts step s once its own step s-1 send has landed and
// its step s-1 receive has arrived. Arrivals ahead of a rank's progress (possible when
// partners change from step to step) are held until the steps before them complete.
template <class Schedule>
class StepwiseCollective : public CollectiveRun, public FlowListener {
 public:
  StepwiseCollective(FlowNetwork& network, const CollectiveRequest& request, Schedule schedule)
      : network_(network), ranks_(request.ranks), salt_(request.flow_salt), transport_(request.transport), schedule_(schedule),
        n_(static_cast<int>(request.ranks.size())), steps_(schedule_.steps()), next_(ranks_.size(), 0),
        delivered_(ranks_.size(), -1), received_(ranks_.size(), -1), early_(ranks_.size()), finished_(ranks_.size(), 0) {}

  void start() override {
    if (steps_ == 0) {
      mark_done(network_.engine());
      return;
    }
    limit_copy_rate(network_, transport_.max_rate, ranks_.size());
    for (int i = 0; i < n_; ++i) advance(i);
  }

  void on_flow_arrived(Engine&, std::uint64_t tag) override {
    const int step = static_cast<int>(tag / static_cast<std::uint64_t>(n_));
    const int sender = static_cast<int>(tag % static_cast<std::uint64_t>(n_));
    const int receiver = schedule_.send_to(sender, step);
    delivered_[static_cast<std::size_t>(sender)] = step;  // a rank's sends complete in order
    const auto r = static_cast<std::size_t>(receiver);
    if (step == received_[r] + 1) {
      received_[r] = step;  // the usual case: in order
    } else {
      early_[r].push_back(step);
    }
    advance(sender);
    advance(receiver);
  }

 private:
  // Highest step s such that every receive at steps <= s has arrived; held early
  // arrivals join once the gap before them closes.
  int received_through(int rank) {
    const auto r = static_cast<std::size_t>(rank);
    std::vector<int>& early = early_[r];
    while (!early.empty()) {
      const auto it = std::find(early.begin(), early.end(), received_[r] + 1);
      if (it == early.end()) break;
      early.erase(it);
      ++received_[r];
    }
    return received_[r];
  }

  bool step_complete(int rank, int step) {
    const auto r = static_cast<std::size_t>(rank);
    return delivered_[r] >= step && received_through(rank) >= step;
  }

  void advance(int rank) {
    const auto r = static_cast<std::size_t>(rank);
    int next = next_[r];
    if (finished_[r]) return;
    // Start every step whose predecessor is complete; stop at the first that is not.
    while (next == 0 || step_complete(rank, next - 1)) {
      if (next == steps_) {
        finished_[r] = 1;
        if (++finished_count_ == n_) mark_done(network_.engine());
        break;
      }
      const int step = next++;
      const int to = schedule_.send_to(rank, step);
      const std::uint64_t tag = static_cast<std::uint64_t>(step) * static_cast<std::uint64_t>(n_) + static_cast<std::uint64_t>(rank);
      Transport transport = transport_;
      transport.latency_repeats = schedule_.merged(step);
      network_.start_flow(ranks_[r], ranks_[static_cast<std::size_t>(to)], schedule_.bytes(step),
                          salt_ ^ (static_cast<std::uint64_t>(rank) << 24), *this, tag, transport, copy_engine(r));
    }
    next_[r] = next;
  }

  FlowNetwork& network_;
  std::vector<NodeId> ranks_;
  std::uint64_t salt_;
  Transport transport_;
  Schedule schedule_;
  int n_;
  int steps_;
  std::vector<int> next_;        // per rank: the next step to start
  std::vector<int> delivered_;   // per rank: the last own send that has landed
  std::vector<int> received_;    // per rank: every receive up to this step has arrived
  std::vector<std::vector<int>> early_;  // per rank: arrived receives not yet in order
  std::vector<char> finished_;
  int finished_count_ = 0;
};

// A pipelined chain from the first rank (broadcast) or towards it (reduce): the buffer
// is cut into slices and each rank forwards a slice as soon as it has it. A connection
// transmits its slices one after another (a slice goes on the wire when the previous one
// has left), with up to kWindow slices sent but not yet landed, as NCCL keeps NCCL_STEPS
// (8) buffers per connection so that latency does not stall the stream.
class PipelinedChain : public CollectiveRun, public FlowListener {
 public:
  static constexpr int kWindow = 8;

  PipelinedChain(FlowNetwork& network, const CollectiveRequest& r, int slices, bool towards_root)
      : network_(network), ranks_(r.ranks), salt_(r.flow_salt), transport_(r.transport), n_(static_cast<int>(r.ranks.size())), slices_(slices),
        slice_bytes_(r.bytes / slices), towards_root_(towards_root), received_(ranks_.size(), 0),
        sent_(ranks_.size(), 0), delivered_(ranks_.size(), 0), on_wire_(ranks_.size(), 0) {
    received_[0] = slices;  // position 0, the root's end of the chain, has everything
  }

  void start() override {
    if (n_ < 2) {
      mark_done(network_.engine());
      return;
    }
    limit_copy_rate(network_, transport_.max_rate, ranks_.size());
    pump(0);
  }

  void on_flow_transmitted(Engine&, std::uint64_t position) override {
    on_wire_[static_cast<std::size_t>(position)] = 0;
    pump(static_cast<int>(position));
  }

  void on_flow_arrived(Engine& engine, std::uint64_t position) override {
    const auto p = static_cast<std::size_t>(position);
    ++delivered_[p];
    ++received_[p + 1];
    if (received_[static_cast<std::size_t>(n_ - 1)] == slices_) {
      mark_done(engine);
      return;
    }
    pump(static_cast<int>(p));
    pump(static_cast<int>(p) + 1);
  }

 private:
  // The rank at distance p from the root along the chain.
  NodeId rank_at(int p) const { return ranks_[static_cast<std::size_t>(towards_root_ ? n_ - 1 - p : p)]; }

  void pump(int p) {
    if (p + 1 >= n_) return;
    const auto i = static_cast<std::size_t>(p);
    if (on_wire_[i] || sent_[i] >= received_[i] || sent_[i] - delivered_[i] >= kWindow) return;
    on_wire_[i] = 1;
    network_.start_flow(rank_at(p), rank_at(p + 1), slice_bytes_, salt_ ^ (static_cast<std::uint64_t>(p) << 24) ^ static_cast<std::uint64_t>(sent_[i]),
                        *this, static_cast<std::uint64_t>(p), transport_, copy_engine(i));
    ++sent_[i];
  }

  FlowNetwork& network_;
  std::vector<NodeId> ranks_;
  std::uint64_t salt_;
  Transport transport_;
  int n_;
  int slices_;
  double slice_bytes_;
  bool towards_root_;
  std::vector<int> received_;   // per chain position: slices it holds
  std::vector<int> sent_;       // per chain position: slices sent onwards
  std::vector<int> delivered_;  // per chain position: slices that have landed onwards
  std::vector<char> on_wire_;   // per chain position: a slice is being transmitted
};

// Direct (all-pairs): every rank sends its piece for every other rank at once. All-to-all
// sends bytes/n to each peer; all-reduce is a direct reduce-scatter then a direct
// all-gather; all-gather and reduce-scatter are one all-pairs phase of bytes/n each.
class DirectCollective : public CollectiveRun, public FlowListener {
 public:
  DirectCollective(FlowNetwork& network, const CollectiveRequest& r)
      : network_(network), request_(r), n_(static_cast<int>(r.ranks.size())),
        phases_(r.kind == CollectiveKind::kAllReduce ? 2 : 1) {}

  void start() override {
    if (n_ <= 1) {
      mark_done(network_.engine());
      return;
    }
    limit_copy_rate(network_, request_.transport.max_rate, request_.ranks.size());
    start_phase(0);
  }

  void on_flow_arrived(Engine& engine, std::uint64_t) override {
    if (--outstanding_ > 0) return;
    if (++phase_ < phases_) {
      start_phase(phase_);
    } else {
      mark_done(engine);
    }
  }

 private:
  void start_phase(int phase) {
    const double piece = request_.bytes / n_;
    outstanding_ = static_cast<std::int64_t>(n_) * (n_ - 1);
    for (int i = 0; i < n_; ++i) {
      for (int j = 0; j < n_; ++j) {
        if (i == j) continue;
        const std::uint64_t hash = request_.flow_salt ^ (static_cast<std::uint64_t>(i) << 32) ^ static_cast<std::uint64_t>(j) ^
                                   (static_cast<std::uint64_t>(phase) << 62);
        network_.start_flow(request_.ranks[static_cast<std::size_t>(i)], request_.ranks[static_cast<std::size_t>(j)],
                            piece * piece_scale(i, j), hash, *this, 0, request_.transport, copy_engine(static_cast<std::size_t>(i)));
      }
    }
  }

  double piece_scale(int i, int j) const {
    if (request_.member_nodes.size() != static_cast<std::size_t>(n_)) return 1;
    const bool same_node = request_.member_nodes[static_cast<std::size_t>(i)] == request_.member_nodes[static_cast<std::size_t>(j)];
    return same_node ? request_.local_piece_scale : request_.remote_piece_scale;
  }

  FlowNetwork& network_;
  CollectiveRequest request_;
  int n_;
  int phases_;
  int phase_ = 0;
  std::int64_t outstanding_ = 0;
};

// Phases of concurrent sub-collectives; a phase starts when the previous one has fully
// finished. (NCCL overlaps the phases of its hierarchical algorithms chunk by chunk; the
// barrier here makes this an upper bound for large messages.) The next phase starts from
// a zero-delay event rather than inside the last sub-collective's completion, which is
// still on the stack then and must not be destroyed under itself.
class PhasedCollective : public CollectiveRun, public CollectiveListener, public EventHandler {
 public:
  PhasedCollective(FlowNetwork& network, std::vector<std::vector<CollectiveRequest>> phases)
      : network_(network), phases_(std::move(phases)) {}

  void start() override { start_phase(); }

  void on_collective_done(Engine& engine, std::uint64_t) override {
    if (--outstanding_ == 0) engine.schedule_in(0, *this, 0);
  }

  void handle_event(Engine&, std::uint64_t) override {
    ++phase_;
    start_phase();
  }

 private:
  void start_phase() {
    running_.clear();
    if (phase_ == phases_.size()) {
      mark_done(network_.engine());
      return;
    }
    outstanding_ = phases_[phase_].size();
    for (const CollectiveRequest& request : phases_[phase_]) {
      running_.push_back(make_collective(network_, request));
      running_.back()->set_listener(*this, 0);
    }
    for (auto& run : running_) run->start();
  }

  FlowNetwork& network_;
  std::vector<std::vector<CollectiveRequest>> phases_;
  std::size_t phase_ = 0;
  std::size_t outstanding_ = 0;
  std::vector<std::unique_ptr<CollectiveRun>> running_;
};

// Two complementary binary trees over the ranks: tree 0 is the in-order tree of
// 0..n-1 (leaves at even positions), tree 1 the same over the ranks shifted by one, so
// a leaf of one tree is interior in the other and no rank carries the interior load of
// both. Each tree all-reduces half the buffer: slices flow up (a rank forwards slice c
// to its parent once both children's slice c has arrived), then the root starts each
// slice back down, and every rank forwards it to its children. Sends on one link go in
// slice order, one at a time.
class DoubleBinaryTree : public CollectiveRun, public FlowListener {
 public:
  DoubleBinaryTree(FlowNetwork& network, const CollectiveRequest& r)
      : network_(network), ranks_(r.ranks), salt_(r.flow_salt), transport_(r.transport), n_(static_cast<int>(r.ranks.size())) {
    const double half = r.bytes / 2;
    slices_ = static_cast<int>(std::clamp(std::ceil(half / std::max(1.0, r.pipeline_chunk_bytes)), 1.0, 4096.0));
    slice_bytes_ = half / slices_;
    for (int t = 0; t < 2; ++t) {
      std::vector<int> order(static_cast<std::size_t>(n_));
      for (int i = 0; i < n_; ++i) order[static_cast<std::size_t>(i)] = (i + t) % n_;
      trees_[t].parent.assign(static_cast<std::size_t>(n_), -1);
      trees_[t].children.assign(static_cast<std::size_t>(n_), {-1, -1});
      trees_[t].root = build(trees_[t], order, 0, n_ - 1);
      trees_[t].state.assign(static_cast<std::size_t>(n_), NodeState{});
    }
  }

  void start() override {
    if (n_ <= 1) {
      mark_done(network_.engine());
      return;
    }
    limit_copy_rate(network_, transport_.max_rate, ranks_.size());
    for (int t = 0; t < 2; ++t) {
      for (int v = 0; v < n_; ++v) pump(t, v);
    }
  }

  void on_flow_arrived(Engine& engine, std::uint64_t tag) override {
    const bool down = (tag & 1) != 0;
    const int t = static_cast<int>((tag >> 1) & 1);
    const int slot = static_cast<int>((tag >> 2) & 1);
    const int v = static_cast<int>(tag >> 3);  // the sender
    Tree& tree = trees_[t];
    NodeState& sender = tree.state[static_cast<std::size_t>(v)];
    if (down) {
      const int child = tree.children[static_cast<std::size_t>(v)][static_cast<std::size_t>(slot)];
      sender.down_busy[slot] = false;
      ++tree.state[static_cast<std::size_t>(child)].down_received;
      ++down_arrivals_;
      pump(t, child);
    } else {
      const int parent = tree.parent[static_cast<std::size_t>(v)];
      sender.up_busy = false;
      NodeState& p = tree.state[static_cast<std::size_t>(parent)];
      ++p.up_received[tree.children[static_cast<std::size_t>(parent)][0] == v ? 0 : 1];
      pump(t, parent);
    }
    pump(t, v);
    if (down_arrivals_ == 2 * static_cast<std::int64_t>(n_ - 1) * slices_) mark_done(engine);
  }

 private:
  struct NodeState {
    int up_received[2] = {0, 0};  // slices arrived from each child
    int up_sent = 0;              // slices sent to the parent
    bool up_busy = false;
    int down_received = 0;        // slices arrived from the parent (the root: reduced)
    int down_sent[2] = {0, 0};
    bool down_busy[2] = {false, false};
  };
  struct Tree {
    int root = 0;
    std::vector<int> parent;
    std::vector<std::array<int, 2>> children;
    std::vector<NodeState> state;
  };

  static int build(Tree& tree, const std::vector<int>& order, int lo, int hi) {
    if (lo > hi) return -1;
    const int mid = (lo + hi) / 2;
    const int node = order[static_cast<std::size_t>(mid)];
    const int left = build(tree, order, lo, mid - 1);
    const int right = build(tree, order, mid + 1, hi);
    tree.children[static_cast<std::size_t>(node)] = {left, right};
    if (left >= 0) tree.parent[static_cast<std::size_t>(left)] = node;
    if (right >= 0) tree.parent[static_cast<std::size_t>(right)] = node;
    return node;
  }

  // Slices node v holds reduced over its whole subtree.
  int reduced(const Tree& tree, int v) const {
    const NodeState& s = tree.state[static_cast<std::size_t>(v)];
    int ready = slices_;
    for (int c = 0; c < 2; ++c) {
      if (tree.children[static_cast<std::size_t>(v)][static_cast<std::size_t>(c)] >= 0) ready = std::min(ready, s.up_received[c]);
    }
    return ready;
  }

  void send(int t, int from, int to, bool down, int slot) {
    const std::uint64_t tag = (static_cast<std::uint64_t>(from) << 3) | (static_cast<std::uint64_t>(slot) << 2) |
                              (static_cast<std::uint64_t>(t) << 1) | (down ? 1u : 0u);
    network_.start_flow(ranks_[static_cast<std::size_t>(from)], ranks_[static_cast<std::size_t>(to)], slice_bytes_,
                        salt_ ^ (static_cast<std::uint64_t>(t) << 40) ^ (static_cast<std::uint64_t>(from) << 8) ^
                            static_cast<std::uint64_t>(slot),
                        *this, tag, transport_, copy_engine(static_cast<std::size_t>(from)));
  }

  // Starts whatever node v can send now, up and down.
  void pump(int t, int v) {
    Tree& tree = trees_[t];
    NodeState& s = tree.state[static_cast<std::size_t>(v)];
    const int ready = reduced(tree, v);
    if (v == tree.root) {
      s.down_received = ready;  // at the root, reduced slices start down at once
    } else if (!s.up_busy && s.up_sent < ready) {
      s.up_busy = true;
      ++s.up_sent;
      send(t, v, tree.parent[static_cast<std::size_t>(v)], false, 0);
    }
    for (int c = 0; c < 2; ++c) {
      const int child = tree.children[static_cast<std::size_t>(v)][static_cast<std::size_t>(c)];
      if (child < 0 || s.down_busy[c] || s.down_sent[c] >= s.down_received) continue;
      s.down_busy[c] = true;
      ++s.down_sent[c];
      send(t, v, child, true, c);
    }
  }

  FlowNetwork& network_;
  std::vector<NodeId> ranks_;
  std::uint64_t salt_;
  Transport transport_;
  int n_;
  int slices_ = 1;
  double slice_bytes_ = 0;
  Tree trees_[2];
  std::int64_t down_arrivals_ = 0;
};

// Waits out the launch latency, then runs the collective itself.
class LaunchedCollective : public CollectiveRun, public CollectiveListener, public EventHandler {
 public:
  LaunchedCollective(FlowNetwork& network, Time latency, std::unique_ptr<CollectiveRun> inner)
      : network_(network), latency_(latency), inner_(std::move(inner)) {
    inner_->set_listener(*this, 0);
  }
  void start() override { network_.engine().schedule_in(latency_, *this, 0); }
  void handle_event(Engine&, std::uint64_t) override { inner_->start(); }
  void on_collective_done(Engine& engine, std::uint64_t) override { mark_done(engine); }

 private:
  FlowNetwork& network_;
  Time latency_;
  std::unique_ptr<CollectiveRun> inner_;
};

std::vector<std::vector<CollectiveRequest>> hierarchical_phases(const CollectiveRequest& r) {
  const int n = static_cast<int>(r.ranks.size());
  const int g = r.ranks_per_node;
  const int nodes = n / g;
  // Sub-requests start without ranks: copying the full rank list into each of them
  // would cost O(n^2 / g) memory.
  CollectiveRequest base = r;
  base.ranks = {};
  base.algorithm = CollectiveAlgorithm::kRing;
  base.launch_latency = 0;  // one launch for the whole hierarchical collective
  const auto intra = [&](CollectiveKind kind, double bytes) {
    std::vector<CollectiveRequest> phase;
    for (int node = 0; node < nodes; ++node) {
      CollectiveRequest sub = base;
      sub.kind = kind;
      sub.bytes = bytes;
      sub.ranks.assign(r.ranks.begin() + node * g, r.ranks.begin() + (node + 1) * g);
      sub.flow_salt = r.flow_salt ^ (0x1000u + static_cast<std::uint64_t>(node));
      phase.push_back(std::move(sub));
    }
    return phase;
  };
  const auto inter = [&](CollectiveKind kind, double bytes) {
    std::vector<CollectiveRequest> phase;
    for (int local = 0; local < g; ++local) {
      CollectiveRequest sub = base;
      sub.kind = kind;
      sub.bytes = bytes;
      sub.ranks.clear();
      for (int node = 0; node < nodes; ++node) sub.ranks.push_back(r.ranks[static_cast<std::size_t>(node * g + local)]);
      sub.flow_salt = r.flow_salt ^ (0x100000u + static_cast<std::uint64_t>(local));
      phase.push_back(std::move(sub));
    }
    return phase;
  };
  const double s = r.bytes;
  switch (r.kind) {
    case CollectiveKind::kAllReduce:
      return {intra(CollectiveKind::kReduceScatter, s), inter(CollectiveKind::kAllReduce, s / g),
              intra(CollectiveKind::kAllGather, s)};
    case CollectiveKind::kAllGather:
      return {inter(CollectiveKind::kAllGather, s / g), intra(CollectiveKind::kAllGather, s)};
    default:  // reduce-scatter
      return {intra(CollectiveKind::kReduceScatter, s), inter(CollectiveKind::kReduceScatter, s / g)};
  }
}

template <class Schedule>
std::unique_ptr<CollectiveRun> stepwise(FlowNetwork& network, const CollectiveRequest& r, Schedule schedule) {
  return std::make_unique<StepwiseCollective<Schedule>>(network, r, schedule);
}

std::unique_ptr<CollectiveRun> make_stepwise(FlowNetwork& network, const CollectiveRequest& r) {
  const int n = static_cast<int>(r.ranks.size());
  if (r.algorithm == CollectiveAlgorithm::kHalvingDoubling) return stepwise(network, r, HalvingDoublingSchedule(n, r.bytes, r.kind));
  switch (r.kind) {
    case CollectiveKind::kAllReduce: return stepwise(network, r, RingSchedule(n, 2 * (n - 1), r.bytes / n));
    case CollectiveKind::kAllGather:
    case CollectiveKind::kReduceScatter: return stepwise(network, r, RingSchedule(n, n - 1, r.bytes / n));
    default: {  // broadcast, reduce and send/recv: a pipelined chain
      const double wanted = std::ceil(r.bytes / std::max(1.0, r.pipeline_chunk_bytes));
      const int slices = static_cast<int>(std::clamp(wanted, 1.0, 4096.0));
      return std::make_unique<PipelinedChain>(network, r, slices, r.kind == CollectiveKind::kReduce);
    }
  }
}
}  // namespace

std::string unsupported_reason(CollectiveKind kind, CollectiveAlgorithm algorithm, std::size_t ranks, int ranks_per_node) {
  const std::string what = std::string(algorithm_name(algorithm)) + " algorithm";
  const std::string op(collective_name(kind));
  if (kind == CollectiveKind::kNone) return "no collective named";
  if (kind == CollectiveKind::kSendRecv && ranks != 2) return "send_recv needs exactly 2 ranks";
  switch (algorithm) {
    case CollectiveAlgorithm::kRing:
      return kind == CollectiveKind::kAllToAll ? "the " + what + " does not implement all_to_all; use direct" : "";
    case CollectiveAlgorithm::kHalvingDoubling:
      if (!is_reduction_family(kind)) return "the " + what + " does not implement " + op + "; use ring";
      return std::has_single_bit(ranks) ? "" : "the " + what + " needs a power-of-two number of ranks, not " + std::to_string(ranks);
    case CollectiveAlgorithm::kDirect:
      return is_reduction_family(kind) || kind == CollectiveKind::kAllToAll ? "" : "the " + what + " does not implement " + op + "; use ring";
    case CollectiveAlgorithm::kTree:
    case CollectiveAlgorithm::kNvls:
      return kind == CollectiveKind::kAllReduce ? "" : "the " + what + " implements all_reduce only; use ring";
    case CollectiveAlgorithm::kHierarchical:
      if (!is_reduction_family(kind)) return "the " + what + " does not implement " + op + "; use ring";
      if (ranks_per_node < 1 || ranks % static_cast<std::size_t>(ranks_per_node) != 0) {
        return "the " + what + " needs ranks_per_node (" + std::to_string(ranks_per_node) + ") to divide the " +
               std::to_string(ranks) + " ranks";
      }
      return "";
  }
  return "unknown algorithm";
}

std::unique_ptr<CollectiveRun> make_collective(FlowNetwork& network, const CollectiveRequest& request) {
  if (request.ranks.empty()) throw std::invalid_argument("a collective needs at least one rank");
  const std::string why = unsupported_reason(request.kind, request.algorithm, request.ranks.size(), request.ranks_per_node);
  if (!why.empty()) throw std::invalid_argument(why);
  if (request.launch_latency > 0) {
    CollectiveRequest immediate = request;
    immediate.launch_latency = 0;
    return std::make_unique<LaunchedCollective>(network, request.launch_latency, make_collective(network, immediate));
  }
  switch (request.algorithm) {
    case CollectiveAlgorithm::kDirect: return std::make_unique<DirectCollective>(network, request);
    case CollectiveAlgorithm::kTree: return std::make_unique<DoubleBinaryTree>(network, request);
    case CollectiveAlgorithm::kHierarchical: return std::make_unique<PhasedCollective>(network, hierarchical_phases(request));
    case CollectiveAlgorithm::kNvls: return make_in_switch_all_reduce(network, request);
    default: return make_stepwise(network, request);
  }
}

}  // namespace foresight
