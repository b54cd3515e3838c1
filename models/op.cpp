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
    case OpClass::kHostCopy: return "host_copy";
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

std::string_view comm_group_name(CommGroup group) {
  switch (group) {
    case CommGroup::kTensor: return "tp";
    case CommGroup::kData: return "dp";
    case CommGroup::kPipeline: return "pp";
    case CommGroup::kContext: return "cp";
    case CommGroup::kExpert: return "ep";
    case CommGroup::kExpertData: return "edp";
    case CommGroup::kDataPartition: return "hpz";
    case CommGroup::kOuter: return "outer";
  }
  return "?";
}

Op elementwise_pass(std::string name, Phase phase, double flops, double bytes) {
  Op op;
  op.name = std::move(name);
  op.kind = OpClass::kElementwise;
  op.phase = phase;
  op.dtype = Dtype::kBf16;
  op.flops = flops;
  op.bytes = bytes;
  return op;
}

Op gemm_op(std::string name, GemmShape shape, Dtype dtype, Phase phase) {
  Op op;
  op.name = std::move(name);
  op.kind = OpClass::kGemm;
  op.phase = phase;
  op.dtype = dtype;
  op.gemm = shape;
  const double m = static_cast<double>(shape.m), n = static_cast<double>(shape.n), k = static_cast<double>(shape.k);
  const double batch = static_cast<double>(shape.batch);
  op.flops = 2 * m * n * k * batch;
  op.bytes = (m * k + k * n + m * n) * batch * dtype_bytes(dtype);
  return op;
}

void use_fp8_operands(Op& op) {
  const GemmShape& g = op.gemm;
  const double m = static_cast<double>(g.m), n = static_cast<double>(g.n), k = static_cast<double>(g.k);
  op.dtype = Dtype::kFp8;
  op.bytes = (m * k + k * n + 2 * m * n) * static_cast<double>(g.batch);
}

void use_quantized_weights(Op& op, double weight_bytes) {
  const GemmShape& g = op.gemm;
  const double m = static_cast<double>(g.m), n = static_cast<double>(g.n), k = static_cast<double>(g.k);
  const double elem = dtype_bytes(op.dtype);
  op.bytes = (elem * (m * k + m * n) + weight_bytes * k * n) * static_cast<double>(g.batch);
}

}  // namespace foresight
