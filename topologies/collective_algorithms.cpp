#include "topologies/collective_algorithms.hpp"

#include <stdexcept>

namespace foresight {

std::string_view algorithm_name(CollectiveAlgorithm algorithm) {
  switch (algorithm) {
    case CollectiveAlgorithm::kRing: return "ring";
    case CollectiveAlgorithm::kDirect: return "direct";
  }
  return "?";
}

namespace {
// Ring reduce-scatter (n-1 steps), all-gather (n-1) or all-reduce (both, 2(n-1) steps):
// at step k rank i sends one n-th of the buffer to rank i+1. Rank i sends step k+1 once
// it has received step k from rank i-1 and its own step k has arrived at rank i+1.
class RingCollective : public CollectiveRun {
 public:
  RingCollective(FlowNetwork& network, const CollectiveRequest& r)
      : network_(network), request_(r), n_(static_cast<int>(r.ranks.size())),
        steps_(r.kind == CollectiveKind::kAllReduce ? 2 * (n_ - 1) : n_ - 1), piece_bytes_(r.bytes / n_),
        received_(static_cast<std::size_t>(n_), -1), delivered_(static_cast<std::size_t>(n_), -1),
        sent_(static_cast<std::size_t>(n_), -1) {}

  void start() override {
    if (steps_ == 0) {
      mark_done(network_.now());
      return;
    }
    for (int i = 0; i < n_; ++i) send(0, i);
  }

  void on_flow_arrived(Engine& engine, std::uint64_t tag) override {
    const int k = static_cast<int>(tag / static_cast<std::uint64_t>(n_));
    const int i = static_cast<int>(tag % static_cast<std::uint64_t>(n_));
    const int receiver = i + 1 == n_ ? 0 : i + 1;
    delivered_[static_cast<std::size_t>(i)] = k;
    received_[static_cast<std::size_t>(receiver)] = k;
    if (k + 1 == steps_) {
      if (++finished_ == n_) mark_done(engine.now());
      return;
    }
    send_if_ready(k + 1, i);         // the sender's piece has landed
    send_if_ready(k + 1, receiver);  // the receiver has what it forwards next
  }

 private:
  void send_if_ready(int step, int rank) {
    const auto r = static_cast<std::size_t>(rank);
    if (sent_[r] == step - 1 && received_[r] >= step - 1 && delivered_[r] >= step - 1) send(step, rank);
  }

  void send(int step, int rank) {
    sent_[static_cast<std::size_t>(rank)] = step;
    const std::uint64_t tag = static_cast<std::uint64_t>(step) * static_cast<std::uint64_t>(n_) + static_cast<std::uint64_t>(rank);
    network_.start_flow(request_.ranks[static_cast<std::size_t>(rank)],
                        request_.ranks[static_cast<std::size_t>(rank + 1 == n_ ? 0 : rank + 1)], piece_bytes_,
                        request_.flow_salt ^ (static_cast<std::uint64_t>(rank) << 24), *this, tag);
  }

  FlowNetwork& network_;
  CollectiveRequest request_;
  int n_;
  int steps_;
  double piece_bytes_;
  std::vector<int> received_;   // per rank: last step received from the left
  std::vector<int> delivered_;  // per rank: last own step arrived on the right
  std::vector<int> sent_;       // per rank: last step sent
  int finished_ = 0;
};

// Direct (all-pairs): every rank sends its piece for every other rank at once. All-to-all
// sends bytes/n to each peer; all-reduce is a direct reduce-scatter then a direct
// all-gather; all-gather and reduce-scatter are one all-pairs phase of bytes/n each.
class DirectCollective : public CollectiveRun {
 public:
  DirectCollective(FlowNetwork& network, const CollectiveRequest& r)
      : network_(network), request_(r), n_(static_cast<int>(r.ranks.size())),
        phases_(r.kind == CollectiveKind::kAllReduce ? 2 : 1) {}

  void start() override {
    if (n_ <= 1) {
      mark_done(network_.now());
      return;
    }
    start_phase(0);
  }

  void on_flow_arrived(Engine& engine, std::uint64_t) override {
    if (--outstanding_ > 0) return;
    if (++phase_ < phases_) {
      start_phase(phase_);
    } else {
      mark_done(engine.now());
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
        network_.start_flow(request_.ranks[i], request_.ranks[j], piece, hash, *this, 0);
      }
    }
  }

  FlowNetwork& network_;
  CollectiveRequest request_;
  int n_;
  int phases_;
  int phase_ = 0;
  std::int64_t outstanding_ = 0;
};
}  // namespace

std::string unsupported_reason(CollectiveKind kind, CollectiveAlgorithm algorithm) {
  const bool ring_kind = kind == CollectiveKind::kAllReduce || kind == CollectiveKind::kAllGather ||
                         kind == CollectiveKind::kReduceScatter;
  if (algorithm == CollectiveAlgorithm::kRing && !ring_kind) {
    return "the ring algorithm does not implement " + std::string(collective_name(kind)) + "; use direct";
  }
  if (kind == CollectiveKind::kNone) return "no collective named";
  return "";
}

std::unique_ptr<CollectiveRun> make_collective(FlowNetwork& network, const CollectiveRequest& request) {
  if (request.ranks.empty()) throw std::invalid_argument("a collective needs at least one rank");
  if (const std::string why = unsupported_reason(request.kind, request.algorithm); !why.empty()) {
    throw std::invalid_argument(why);
  }
  if (request.algorithm == CollectiveAlgorithm::kRing) return std::make_unique<RingCollective>(network, request);
  return std::make_unique<DirectCollective>(network, request);
}

}  // namespace foresight
