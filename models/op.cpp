#include "models/op.hpp"

namespace foresight {

std::string_view op_class_name(OpClass kind) {
  switch (kind) {
    case OpClass::kGemm: return "gemm";
    case OpClass::kAttention: return "attention";
    case OpClass::kNorm: return "norm";
    case OpClass::kElementwise: return "elementwise";
    case OpClass::kEmbedding: return "embedding";
    case OpClass::kLoss: return "loss";
    case OpClass::kOptimizer: return "optimizer";
    case OpClass::kCollective: return "collective";
  }
  return "?";
}

std::string_view phase_name(Phase phase) {
  switch (phase) {
    case Phase::kForward: return "forward";
    case Phase::kBackwardInput: return "backward";
    case Phase::kBackwardWeight: return "weight_grad";
    case Phase::kOptimizer: return "optimizer";
  }
  return "?";
}

std::string_view collective_name(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::kNone: return "none";
    case CollectiveKind::kAllReduce: return "all_reduce";
    case CollectiveKind::kAllGather: return "all_gather";
    case CollectiveKind::kReduceScatter: return "reduce_scatter";
    case CollectiveKind::kAllToAll: return "all_to_all";
    case CollectiveKind::kBroadcast: return "broadcast";
    case CollectiveKind::kReduce: return "reduce";
    case CollectiveKind::kSendRecv: return "send_recv";
  }
  return "?";
}

}  // namespace foresight
