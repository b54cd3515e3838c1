#include "workloads/deepep_traffic.hpp"

#include <algorithm>

namespace foresight {

double holds_any(std::int64_t experts, std::int64_t k, std::int64_t held) {
  double none = 1;  // all k drawn from the experts not held
  for (std::int64_t i = 0; i < k; ++i) {
    const std::int64_t left = experts - held - i;
    if (left <= 0) return 1;
    none *= static_cast<double>(left) / static_cast<double>(experts - i);
  }
  return 1 - none;
}

PieceScales deepep_piece_scales(std::int64_t experts, std::int64_t k, std::int64_t ranks, std::int64_t nodes) {
  if (ranks < 2 || experts < ranks || k < 1) return {};
  nodes = std::clamp<std::int64_t>(nodes, 1, ranks);
  const double per_rank = holds_any(experts, k, experts / ranks);
  const double per_node = holds_any(experts, k, experts / nodes);
  const auto n = static_cast<double>(ranks), g = static_cast<double>(nodes), routed = static_cast<double>(k);
  // NCCL's piece: tokens x k / n rows. To a rank on its own node a sender sends its own tokens
  // that rank needs (tokens x per_rank) and, as forwarder, the same share of what each of the
  // other g - 1 nodes sent it. Across nodes it sends tokens x per_node to the node, spread here
  // over the node's n / g ranks (its NIC carries the same bytes either way).
  return {n * per_rank * g / routed, g * per_node / routed};
}

}  // namespace foresight
