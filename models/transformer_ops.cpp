#include "models/transformer_ops.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "models/cp_ring.hpp"

namespace foresight {
namespace {

// Appends each forward kernel and, alongside it, the kernels its backward runs; the
// backward groups come out in reverse order, as autograd replays them.
class PassBuilder {
 public:
  explicit PassBuilder(const ShapeConfig& shape)
      : shape_(shape), elem_(dtype_bytes(shape.dtype)) {}

  // Saved activations are counted where the tensor is produced or first kept, once.
  // `parts`: the widths of the separate matmuls that frameworks without fused projections
  // (torchtitan's Llama: wq, wk, wv; w1, w3) run where this one GEMM stands (empty: one).
  void gemm(const std::string& name, std::int64_t m, std::int64_t n, std::int64_t k,
            double saved_bytes, std::int64_t batch = 1, std::vector<std::int64_t> parts = {}) {
    Op fwd = gemm_op(name, m, n, k, batch, Phase::kForward);
    // A frozen weight's backward needs only the weight: its input is kept for an adapter's
    // weight gradient alone.
    const bool input_unused = shape_.lora.on() && !shape_.lora.adapts(name);
    fwd.saved_bytes = input_unused ? 0 : kept_input(name, m, k, batch, saved_bytes);
    fwd.kernels = batch;  // a weight GEMM per expert
    forward_.push_back(fwd);
    if (parts.empty()) parts = {n};
    count_op_checkpointed_matmuls(name, m, k, batch, parts);
    // dX = dY W^T is (m x n)(n x k); dW = X^T dY is (k x m)(m x n).
    Op dgrad = gemm_op(name + ".dgrad", m, k, n, batch, Phase::kBackwardInput);
    dgrad.kernels = batch;
    if (shape_.lora.on()) {
      backward_.push_back({dgrad});  // a frozen weight: no gradient of its own
      if (shape_.lora.adapts(name)) lora_adapter(name, m, n, k);
      return;
    }
    backward_.push_back(weight_gradient(name, dgrad, m, n, k, batch));
  }

  // dgrad and what the weight's gradient adds to it: dW = X^T dY, (k x m)(m x n), and
  // without gradient accumulation fusion the hook that adds it into the gradient buffer.
  std::vector<Op> weight_gradient(const std::string& name, const Op& dgrad, std::int64_t m, std::int64_t n, std::int64_t k,
                                  std::int64_t batch) const {
    Op wgrad = gemm_op(name + ".wgrad", k, n, m, batch, Phase::kBackwardWeight);
    wgrad.kernels = batch;
    if (shape_.grad_accumulation_fusion) return {dgrad, wgrad};
    return {dgrad, wgrad, gradient_accumulation(name + ".wgrad.accumulate", static_cast<double>(k * n * batch), batch)};
  }

  // LoRA's path beside the frozen GEMM `name` (m x k inputs, n outputs on this rank): x A
  // (k x rank) then B (rank x n), each trained, and the add into the layer's output. A reads
  // the input the frozen GEMM keeps; B keeps its own input, m x rank. The adapters run in
  // the activation dtype under FP8 too (NeMo's fused LoRA branch disables fp8_autocast).
  // Their TP exchanges, of m x rank elements, are left out.
  void lora_adapter(const std::string& name, std::int64_t m, std::int64_t n, std::int64_t k) {
    const std::int64_t r = shape_.lora.rank;
    const auto adapter = [&](const std::string& part, std::int64_t out, std::int64_t in, double saved) {
      Op fwd = gemm_op(part, m, out, in, 1, Phase::kForward);
      fwd.saved_bytes = saved;
      forward_.push_back(fwd);
      Op dgrad = gemm_op(part + ".dgrad", m, in, out, 1, Phase::kBackwardInput);
      backward_.push_back(weight_gradient(part, dgrad, m, out, in, 1));
    };
    adapter(name + ".lora_a", r, k, 0);
    adapter(name + ".lora_b", n, r, static_cast<double>(m * r) * elem_);
    // The add's gradient is the incoming one, passed to both paths: no backward kernel.
    forward_only(name + ".lora_add", OpClass::kElementwise, 2 * static_cast<double>(m * n), static_cast<double>(m * n), 1);
  }

  // Without gradient accumulation fusion, the hook that adds a weight's fresh gradient (in the
  // activation dtype) into its gradient buffer: read both, write the buffer; one kernel a weight.
  Op gradient_accumulation(const std::string& name, double weights, std::int64_t kernels) const {
    Op op = base(name, OpClass::kElementwise, Phase::kBackwardWeight);
    op.flops = weights;
    op.bytes = weights * (elem_ + 2 * dtype_bytes(shape_.grad_dtype));
    op.kernels = kernels;
    return op;
  }

  // What a weight GEMM keeps of its input, `saved_bytes` in the activation dtype: with
  // fp8_saved_inputs, its fp8 copy (the output layer and the router stay in bf16).
  double kept_input(const std::string& name, std::int64_t m, std::int64_t k, std::int64_t batch, double saved_bytes) const {
    if (!shape_.fp8_saved_inputs || name.starts_with("lm_head") || name.starts_with("moe.router")) return saved_bytes;
    return saved_bytes > 0 ? saved_bytes / elem_ : static_cast<double>(m) * static_cast<double>(k) * static_cast<double>(batch);
  }

  // The host reads the last forward kernel's result before it launches the next.
  void host_reads_last_result() { forward_.back().host_reads_result = true; }

  // `ring_bytes` > 0: context parallelism passes K and V (that many bytes in all) around
  // the CP group beside the kernel, and their gradients back in backward.
  void attention(const std::string& name, const AttentionShape& a, double saved_bytes, double ring_bytes, const SlidingWindow& window = {}) {
    const double q_elems = static_cast<double>(a.batch * a.q_len * a.heads * a.head_dim);
    const double kv_elems = static_cast<double>(a.batch * a.kv_len * a.kv_heads * a.head_dim);
    const double met = keys_met(a, window);
    Op fwd = base(name, OpClass::kAttention, Phase::kForward);
    fwd.attention = a;
    // QK^T and PV, 2 FLOPs per multiply-add, for each key a query meets.
    fwd.flops = 4 * static_cast<double>(a.batch * a.heads) * static_cast<double>(a.q_len) * met * static_cast<double>(a.head_dim);
    fwd.bytes = (2 * q_elems + 2 * kv_elems) * elem_;  // read Q, K, V; write O
    fwd.saved_bytes = saved_bytes;
    const bool pytorch_ring = ring_bytes > 0 && shape_.cp_ring == CpRing::kPyTorch;
    const bool gathered = ring_bytes > 0 && shape_.cp_ring == CpRing::kAllGather;
    const bool merged_outside = ring_bytes > 0 && shape_.cp_ring != CpRing::kFused && !gathered;
    const RingTraffic merges = !merged_outside ? RingTraffic{}
                               : pytorch_ring  ? pytorch_ring_traffic(shape_.cp)
                                               : transformer_engine_ring_traffic(shape_.cp, static_cast<double>(a.kv_heads) / static_cast<double>(a.heads));
    if (ring_bytes > 0) forward_.push_back(context_collective("cp.kv_all_gather", CollectiveKind::kAllGather, ring_bytes, Phase::kForward));
    forward_.push_back(fwd);
    if (merged_outside) forward_.push_back(ring_merge(name + ".cp_merge", Phase::kForward, q_elems * merges.forward, merges.forward_kernels));
    // Op-level checkpointing keeps the kernel's output and its row statistics (fp32).
    op_saved_ += q_elems * elem_ + static_cast<double>(a.batch * a.heads * a.q_len) * 4;
    // FlashAttention's backward recomputes QK^T and runs four more matmuls: 2.5x forward.
    Op bwd = base(name + ".bwd", OpClass::kAttention, Phase::kBackwardInput);
    bwd.attention = a;
    bwd.flops = 2.5 * fwd.flops;
    bwd.bytes = (4 * q_elems + 4 * kv_elems) * elem_;  // read Q,K,V,O,dO; write dQ,dK,dV
    if (gathered) {
      // The kernel's gradients of the whole sequence's K and V, summed into each rank's
      // own chunk (in the activation dtype, as K and V were gathered).
      backward_.push_back({context_collective("cp.kv_all_gather.bwd", CollectiveKind::kAllGather, ring_bytes, Phase::kBackwardInput), bwd,
                           context_collective("cp.dkv_reduce_scatter.bwd", CollectiveKind::kReduceScatter, ring_bytes, Phase::kBackwardInput)});
    } else if (ring_bytes > 0) {
      // K and V go round again and their gradients follow them: each ring step carries
      // twice the forward's chunk, as an all-gather of twice the bytes does (PyTorch's
      // gradients travel in fp32, one hop at every step).
      const double bytes = pytorch_ring ? pytorch_ring_backward_bytes(ring_bytes, shape_.cp) : 2 * ring_bytes;
      std::vector<Op> group = {context_collective("cp.kv_dkv_ring.bwd", CollectiveKind::kAllGather, bytes, Phase::kBackwardInput), bwd};
      if (merged_outside) group.push_back(ring_merge(name + ".cp_merge.bwd", Phase::kBackwardInput, q_elems * merges.backward, merges.backward_kernels));
      backward_.push_back(group);
    } else {
      backward_.push_back({bwd});
    }
  }

  // The keys a query meets, averaged over queries and layers. Under a document mask only
  // its own document's; causal, the half before it (FlashAttention skips masked tiles); in
  // a sliding-window layer at most the window: w - w^2/2s on average over a causal sequence
  // of s > w.
  double keys_met(const AttentionShape& a, const SlidingWindow& window) const {
    const double keys = static_cast<double>(shape_.document > 0 ? std::min(a.kv_len, shape_.document) : a.kv_len);
    const bool halved = a.causal && shape_.causal_skips_masked;
    const double global = halved ? keys / 2 : keys;
    if (window.window <= 0 || window.share <= 0) return global;
    const double w = std::min(keys, static_cast<double>(window.window));
    const double local = !halved ? w : keys > w ? w - w * w / (2 * keys) : keys / 2;
    return (1 - window.share) * global + window.share * local;
  }

  // A batched matmul between activations (QK^T, PV): both backward matmuls produce
  // activation gradients, so neither waits for a zero-bubble schedule's W pass.
  void activation_matmul(const std::string& name, std::int64_t m, std::int64_t n, std::int64_t k,
                         std::int64_t batch, double saved_bytes) {
    Op fwd = gemm_op(name, m, n, k, batch, Phase::kForward);
    fwd.saved_bytes = saved_bytes;
    op_recompute_.push_back(fwd);  // a batched matmul, which op-level checkpointing does not keep
    op_recompute_.back().saved_bytes = 0;
    Op grad_a = gemm_op(name + ".dgrad_a", m, k, n, batch, Phase::kBackwardInput);
    Op grad_b = gemm_op(name + ".dgrad_b", k, n, m, batch, Phase::kBackwardInput);
    for (Op* op : {&fwd, &grad_a, &grad_b}) op->gemm.weight_operand = false;
    forward_.push_back(fwd);
    backward_.push_back({grad_a, grad_b});
  }

  void norm(const std::string& name, double tokens, double width, NormKind kind = NormKind::kLayerNorm) {
    if (shape_.eager_elementwise && kind == NormKind::kRmsNorm) return eager_rms_norm(name, tokens * width);
    const double elems = tokens * width;
    Op fwd = base(name, OpClass::kNorm, Phase::kForward);
    fwd.flops = 5 * elems;
    fwd.bytes = 2 * elems * elem_;
    fwd.saved_bytes = elems * elem_;
    forward_.push_back(fwd);
    rerun_under_op_checkpointing(fwd);
    Op bwd = base(name + ".bwd", OpClass::kNorm, Phase::kBackwardInput);
    bwd.flops = 8 * elems;
    bwd.bytes = 3 * elems * elem_;  // read x and dy, write dx
    backward_.push_back({bwd});
  }

  // torch.nn.RMSNorm without torch.compile (PyTorch's composite rms_norm): the input is
  // upcast to fp32, squared, averaged, scaled by the reciprocal root and by the weight,
  // and cast back, each a kernel of its own; autograd mirrors every one (the weight's
  // gradient reads the scaled input and the incoming gradient once more). Sizes in
  // elements of the activation dtype: an fp32 tensor counts two.
  void eager_rms_norm(const std::string& name, double elems) {
    const double f32 = 2 * elems;
    elementwise(name + ".upcast", OpClass::kNorm, elems, f32, f32, 1, f32, elems);
    // Backward of the square: 2 x g, then the sum with the gradient that reaches x another way.
    elementwise(name + ".square", OpClass::kNorm, f32, f32, 0, 1, 4 * f32, 2 * f32);
    elementwise(name + ".mean", OpClass::kNorm, f32, 0, 0, 1, 0, f32);
    elementwise(name + ".scale", OpClass::kNorm, f32, f32, f32, 1, 3 * f32, f32);
    elementwise(name + ".weight", OpClass::kNorm, f32, f32, 0, 1, 3 * f32, f32);
    elementwise(name + ".downcast", OpClass::kNorm, f32, elems, 0, 1, elems, f32);
  }

  // `read`, `write` and `saved` in elements; the backward reads what was saved plus the
  // incoming gradient and writes a gradient for each input.
  void elementwise(const std::string& name, OpClass kind, double read, double write, double saved,
                   double flops_per_elem, double backward_read, double backward_write) {
    Op fwd = base(name, kind, Phase::kForward);
    fwd.flops = flops_per_elem * std::max(read, write);
    fwd.bytes = (read + write) * elem_;
    fwd.saved_bytes = saved * elem_;
    forward_.push_back(fwd);
    rerun_under_op_checkpointing(fwd);
    Op bwd = base(name + ".bwd", kind, Phase::kBackwardInput);
    bwd.flops = fwd.flops;
    bwd.bytes = (backward_read + backward_write) * elem_;
    backward_.push_back({bwd});
  }

  // A kernel autograd runs nothing for (a reduction whose gradient another kernel
  // carries); sizes in elements, as for elementwise.
  void forward_only(const std::string& name, OpClass kind, double read, double write, double flops_per_elem) {
    Op fwd = base(name, kind, Phase::kForward);
    fwd.flops = flops_per_elem * std::max(read, write);
    fwd.bytes = (read + write) * elem_;
    forward_.push_back(fwd);
  }

  // Megatron's f operator before a column-parallel block: identity forward, all-reduce
  // of the input gradient backward; with sequence parallelism all-gather / reduce-scatter.
  void tp_enter(double full_bytes) {
    if (shape_.tp == 1) return;
    if (shape_.sequence_parallel) {
      forward_.push_back(collective("tp.all_gather", CollectiveKind::kAllGather, full_bytes, Phase::kForward));
      rerun_under_op_checkpointing(forward_.back());
    }
    backward_.push_back({collective(shape_.sequence_parallel ? "tp.reduce_scatter.bwd" : "tp.all_reduce.bwd",
                                    shape_.sequence_parallel ? CollectiveKind::kReduceScatter : CollectiveKind::kAllReduce,
                                    full_bytes, Phase::kBackwardInput)});
  }

  // An all-to-all over the EP group, forward and, mirrored, backward.
  void expert_exchange(const std::string& name, double bytes) {
    forward_.push_back(expert_collective(name, bytes, Phase::kForward));
    backward_.push_back({expert_collective(name + ".bwd", bytes, Phase::kBackwardInput)});
  }

  // A column-parallel output gathered whole onto every TP rank (Megatron-core's
  // all_gather_last_dim_from_tensor_parallel_region): all-gather forward, reduce-scatter of
  // its gradient backward.
  void tp_gather_output(double full_bytes) {
    if (shape_.tp == 1) return;
    forward_.push_back(collective("tp.all_gather_output", CollectiveKind::kAllGather, full_bytes, Phase::kForward));
    backward_.push_back({collective("tp.reduce_scatter_output.bwd", CollectiveKind::kReduceScatter, full_bytes, Phase::kBackwardInput)});
  }

  // Megatron's g operator after a row-parallel block: the mirror image of tp_enter.
  void tp_exit(double full_bytes) {
    if (shape_.tp == 1) return;
    forward_.push_back(collective(shape_.sequence_parallel ? "tp.reduce_scatter" : "tp.all_reduce",
                                  shape_.sequence_parallel ? CollectiveKind::kReduceScatter : CollectiveKind::kAllReduce,
                                  full_bytes, Phase::kForward));
    if (shape_.sequence_parallel) backward_.push_back({collective("tp.all_gather.bwd", CollectiveKind::kAllGather, full_bytes, Phase::kBackwardInput)});
  }

  // Marks the forward ops of a module that selective recomputation reruns when `rerun`;
  // modules nest (a module not rerun inside one that is leaves its ops to the outer one).
  void begin_module(bool rerun) { module_begins_.push_back(rerun ? std::optional(forward_.size()) : std::nullopt); }
  std::size_t forward_size() const { return forward_.size(); }
  // A module rerun whole keeps only its input: the forward kernels from `begin` on keep
  // nothing, but the first, which keeps `input_bytes`.
  void keep_only_input_since(std::size_t begin, double input_bytes) {
    for (std::size_t i = begin; i < forward_.size(); ++i) forward_[i].saved_bytes = 0;
    if (begin < forward_.size()) forward_[begin].saved_bytes = input_bytes;
  }
  void end_module() {
    const std::optional<std::size_t> begin = module_begins_.back();
    module_begins_.pop_back();
    if (begin) rerun_.insert(rerun_.end(), forward_.begin() + static_cast<std::ptrdiff_t>(*begin), forward_.end());
  }
  std::vector<Op> take_selective_recompute() { return std::exchange(rerun_, {}); }
  std::size_t backward_size() const { return backward_.size(); }
  // The forward ops added since `forward_begin` run beside the expert all-to-all added just
  // before them, and in backward their gradients run beside that all-to-all's: the
  // exchange's backward group moves ahead of theirs (groups come out reversed).
  void run_beside_exchange(std::size_t forward_begin, std::size_t backward_begin) {
    for (std::size_t i = forward_begin; i < forward_.size(); ++i) forward_[i].beside_exchange = true;
    const auto exchange = backward_.begin() + static_cast<std::ptrdiff_t>(backward_begin) - 1;
    std::rotate(exchange, exchange + 1, backward_.end());
    for (auto group = exchange; group + 1 != backward_.end(); ++group) {
      for (Op& op : *group) op.beside_exchange = true;
    }
  }

  // Megatron-core's --delay-wgrad-compute: the weight gradients of the groups in [begin, end)
  // leave them and run beside the backward of the exchange group `exchange`, after it in the
  // order backward runs (groups come out reversed, so theirs goes in just before it).
  void delay_weight_gradients(std::size_t begin, std::size_t end, std::size_t exchange) {
    std::vector<Op> delayed;
    for (std::size_t g = end; g-- > begin;) {
      std::vector<Op>& group = backward_[g];
      for (auto op = group.begin(); op != group.end();) {
        if (op->phase != Phase::kBackwardWeight) {
          ++op;
          continue;
        }
        delayed.push_back(*op);
        delayed.back().beside_exchange = true;
        op = group.erase(op);
      }
    }
    backward_.insert(backward_.begin() + static_cast<std::ptrdiff_t>(exchange), std::move(delayed));
  }

  // What op-level checkpointing reruns of the ops added since the last take_forward, and
  // what it keeps of their outputs.
  std::vector<Op> take_op_recompute() { return std::exchange(op_recompute_, {}); }
  double op_saved_bytes() const { return op_saved_; }

  std::vector<Op> take_forward() {
    op_recompute_.clear();
    op_saved_ = 0;
    matmuls_ = 0;
    return std::exchange(forward_, {});
  }
  std::vector<Op> take_backward() {
    std::vector<Op> ops;
    for (auto group = backward_.rbegin(); group != backward_.rend(); ++group) {
      ops.insert(ops.end(), group->begin(), group->end());
    }
    backward_.clear();
    return ops;
  }

 private:
  Op base(const std::string& name, OpClass kind, Phase phase) const {
    Op op;
    op.name = name;
    op.kind = kind;
    op.phase = phase;
    op.dtype = shape_.dtype;
    return op;
  }
  Op gemm_op(const std::string& name, std::int64_t m, std::int64_t n, std::int64_t k,
             std::int64_t batch, Phase phase) const {
    return foresight::gemm_op(name, {m, n, k, batch}, shape_.dtype, phase);
  }
  Op collective(const std::string& name, CollectiveKind kind, double bytes, Phase phase) const {
    Op op = base(name, OpClass::kCollective, phase);
    op.collective = kind;
    op.group = CommGroup::kTensor;
    op.collective_bytes = bytes;
    return op;
  }
  Op expert_collective(const std::string& name, double bytes, Phase phase) const {
    Op op = collective(name, CollectiveKind::kAllToAll, bytes, phase);
    op.group = CommGroup::kExpert;
    return op;
  }
  Op context_collective(const std::string& name, CollectiveKind kind, double bytes, Phase phase) const {
    Op op = collective(name, kind, bytes, phase);
    op.group = CommGroup::kContext;
    return op;
  }
  // Ring attention's copies, casts and merges around one attention call (`bytes` in all),
  // memory-bound kernels.
  static Op ring_merge(const std::string& name, Phase phase, double bytes, std::int64_t kernels) {
    Op op = elementwise_pass(name, phase, bytes / 8, bytes);  // about one add or multiply per fp32 element
    op.kernels = kernels;
    return op;
  }

  // torchtitan's op-level selective checkpointing (its _op_sac_save_list) keeps the outputs
  // of attention, reduce-scatters and every other aten.mm of a layer, the odd ones as it
  // counts them (wq, wv, w1 and w2 of Llama's seven), and reruns the even ones and every
  // other op before the layer's backward.
  void count_op_checkpointed_matmuls(const std::string& name, std::int64_t m, std::int64_t k, std::int64_t batch,
                                     const std::vector<std::int64_t>& parts) {
    std::int64_t rerun = 0;
    for (std::int64_t width : parts) {
      if (++matmuls_ % 2 == 0) {
        rerun += width;
      } else {
        op_saved_ += static_cast<double>(m * width * batch) * elem_;
      }
    }
    if (rerun > 0) op_recompute_.push_back(gemm_op(name, m, rerun, k, batch, Phase::kForward));
  }
  void rerun_under_op_checkpointing(const Op& forward) {
    op_recompute_.push_back(forward);
    op_recompute_.back().saved_bytes = 0;
  }

  const ShapeConfig& shape_;
  double elem_;
  std::int64_t matmuls_ = 0;
  double op_saved_ = 0;
  std::vector<Op> op_recompute_;
  std::vector<Op> forward_;
  std::vector<std::vector<Op>> backward_;
  std::vector<std::optional<std::size_t>> module_begins_;
  std::vector<Op> rerun_;
};

struct Dims {
  std::int64_t tokens;      // b * s on this rank before any sequence sharding
  double region_tokens;     // tokens in norm / residual regions (sharded by SP)
  std::int64_t tp;
  double elem;
  bool dropout;
  std::int64_t ep;
  bool experts_over_tp;
  bool experts_folded;
  double expert_load;
  bool eager;  // PyTorch eager's unfused elementwise ops
  bool fp32_cross_entropy;
  bool dropless;  // MoE routing without a capacity: the host reads the token counts
  RecomputedModules recompute;
  bool sort_received_by_expert;
  bool shared_expert_overlap;
  bool delay_expert_wgrad;
};

// What a block's first GEMM keeps of the norm output it reads: nothing when selective
// recomputation reruns the norm (Megatron's layernorm module) before that GEMM's backward.
double norm_output_saved(const Dims& d, double hidden) { return d.recompute.layernorm ? 0 : d.region_tokens * hidden * d.elem; }

// A block's norm, rerun in backward when the layernorm module is recomputed.
void add_block_norm(PassBuilder& b, const ModelArch& m, const Dims& d, const std::string& prefix) {
  b.begin_module(d.recompute.layernorm);
  b.norm(prefix + "norm", d.region_tokens, static_cast<double>(m.hidden), m.norm);
  b.end_module();
}

// The residual add (bias-dropout-add with dropout, which also writes and keeps a mask).
void add_residual(PassBuilder& b, const Dims& d, const std::string& prefix, double hidden) {
  const double residual = d.region_tokens * hidden;
  const double mask = d.dropout ? residual / 2 : 0;
  b.elementwise(prefix + "residual", OpClass::kElementwise, 2 * residual, residual + mask, mask, 1, residual + mask, 2 * residual);
}

// Scores S = QK^T per head (GQA's K and V expanded to every query head), the fused
// scale-mask-softmax P = softmax(S), then O = PV. The causal mask is applied, not
// skipped: both matmuls run the full square. Saved: Q and K, P, V; O is saved by the
// output projection.
void add_unfused_core(PassBuilder& b, const AttentionShape& a, const std::string& name, double q_bytes, double kv_bytes,
                      const ShapeConfig& s) {
  const std::int64_t heads = a.batch * a.heads;
  const double scores = static_cast<double>(heads) * static_cast<double>(a.q_len) * static_cast<double>(a.kv_len);
  const double kept = s.recompute.core_attn ? 0 : 1;  // the s x s tensors, which selective recompute frees
  b.activation_matmul(name + ".qk", a.q_len, a.kv_len, a.head_dim, heads, q_bytes + kv_bytes / 2);
  b.elementwise(name + ".softmax", OpClass::kElementwise, scores, scores, kept * scores, 5, 2 * scores, scores);
  // Writes the output and a 1-byte mask (half an element); keeps both.
  if (s.dropout) {
    b.elementwise(name + ".dropout", OpClass::kElementwise, scores, 1.5 * scores, kept * 1.5 * scores, 2, 1.5 * scores, scores);
  }
  b.activation_matmul(name + ".pv", a.q_len, a.head_dim, a.kv_len, heads, kv_bytes / 2);
}

void add_attention_block(PassBuilder& b, const ModelArch& m, const ShapeConfig& s, const Dims& d,
                         const std::string& prefix, bool causal, std::int64_t kv_tokens_len,
                         bool cross) {
  const auto h = static_cast<double>(m.hidden);
  const std::int64_t heads = m.heads / d.tp;
  const std::int64_t kv_heads = std::max<std::int64_t>(1, m.kv_heads / d.tp);
  const std::int64_t q_width = heads * m.head_dim;
  const std::int64_t kv_width = kv_heads * m.head_dim;
  const double tokens = static_cast<double>(d.tokens);
  const double input_saved = norm_output_saved(d, h);

  add_block_norm(b, m, d, prefix);
  b.tp_enter(tokens * h * d.elem);
  if (cross) {
    b.gemm(prefix + "q", d.tokens, q_width, m.hidden, input_saved);
    const std::int64_t kv_tokens = s.micro_batch * kv_tokens_len;
    b.gemm(prefix + "kv", kv_tokens, 2 * kv_width, m.hidden, static_cast<double>(kv_tokens) * h * d.elem);
  } else {
    b.gemm(prefix + "qkv", d.tokens, q_width + 2 * kv_width, m.hidden, input_saved, 1, {q_width, kv_width, kv_width});
  }
  if (m.position == PositionKind::kRotary && !cross) {
    const double elems = tokens * static_cast<double>(q_width + kv_width);
    if (d.eager) {
      // torchtitan's apply_rotary_emb: Q and K upcast to fp32, multiplied as complex
      // numbers by the rotation, and cast back.
      b.elementwise(prefix + "rope.upcast", OpClass::kElementwise, elems, 2 * elems, 0, 1, 2 * elems, elems);
      b.elementwise(prefix + "rope.rotate", OpClass::kElementwise, 2 * elems, 2 * elems, 0, 3, 2 * elems, 2 * elems);
      b.elementwise(prefix + "rope.downcast", OpClass::kElementwise, 2 * elems, elems, 0, 1, elems, 2 * elems);
    } else {
      b.elementwise(prefix + "rope", OpClass::kElementwise, elems, elems, 0, 3, elems, elems);
    }
  }
  // With CP, this rank's queries meet every key: K and V of the whole sequence pass by.
  const AttentionShape shape{s.micro_batch, heads,     kv_heads, s.sequence / s.cp, kv_tokens_len,
                             m.head_dim,   causal,    s.attention == AttentionKernel::kFlash3, s.cp, d.dropout};
  const double q_bytes = tokens * static_cast<double>(q_width) * d.elem;
  const double all_kv_bytes = static_cast<double>(s.micro_batch * kv_tokens_len * 2 * kv_width) * d.elem;
  const double kv_bytes = all_kv_bytes / static_cast<double>(s.cp);  // this rank's own K and V
  b.begin_module(s.recompute.core_attn);
  if (s.attention == AttentionKernel::kUnfused) {
    add_unfused_core(b, shape, prefix + "core", q_bytes, kv_bytes, s);
  } else {
    const double softmax_stats = static_cast<double>(s.micro_batch * heads * shape.q_len) * 4;
    // Q, K, V, the output O (also the input of the output projection) and the row statistics.
    const SlidingWindow window = causal && !cross ? SlidingWindow{m.sliding_window, m.local_layer_share()} : SlidingWindow{};
    // PyTorch's ring passes K and V as SDPA gets them, expanded to every query head.
    const double ring_width = s.cp_ring == CpRing::kPyTorch ? static_cast<double>(q_width) / static_cast<double>(kv_width) : 1.0;
    b.attention(prefix + "core", shape, 2 * q_bytes + kv_bytes + softmax_stats, s.cp > 1 ? all_kv_bytes * ring_width : 0, window);
  }
  b.end_module();
  b.gemm(prefix + "out", d.tokens, m.hidden, q_width, 0);
  b.tp_exit(tokens * h * d.elem);
  add_residual(b, d, prefix, h);
}

// Latent attention (DeepSeek-V2/V3) as Megatron-core's MLASelfAttention runs it: the down
// projections to the query latent and to the key/value latent with the shared rotary key
// are duplicated on every TP rank (their RMSNorms too), the up projections split by heads,
// the output projection row-parallel. Core attention runs on whole heads: queries and keys
// head_dim wide, values v_head_dim. The kernel is timed as heads of their mean width, which
// gives its matmuls' FLOPs and the bytes of Q, K, V and O exactly (ModelArch::kernel_head_dim).
void add_latent_attention_block(PassBuilder& b, const ModelArch& m, const ShapeConfig& s, const Dims& d, const std::string& prefix) {
  const auto h = static_cast<double>(m.hidden);
  const std::int64_t heads = m.heads / d.tp;
  const std::int64_t q_width = heads * m.head_dim;
  const std::int64_t v_width = heads * m.mla.v_head_dim;
  const std::int64_t kv_up_width = heads * (m.head_dim - m.mla.rope_dim + m.mla.v_head_dim);
  const double tokens = static_cast<double>(d.tokens);

  add_block_norm(b, m, d, prefix);
  b.tp_enter(tokens * h * d.elem);
  const double input_saved = d.recompute.layernorm ? 0 : tokens * h * d.elem;
  // Megatron-core's order: both down projections, then the up projections from the
  // normalized latents and the rotary embedding, the mla_up_proj module. Rerun, it keeps
  // the latents (its input, what the norms keep) and frees the normalized latents the up
  // projections keep and the heads' Q, K and V core attention keeps.
  const bool rerun_up = s.recompute.mla_up_proj;
  if (m.mla.q_rank > 0) {
    b.gemm(prefix + "q_down", d.tokens, m.mla.q_rank, m.hidden, input_saved);
  } else {
    b.gemm(prefix + "q", d.tokens, q_width, m.hidden, input_saved);
  }
  b.gemm(prefix + "kv_down", d.tokens, m.mla.kv_rank + m.mla.rope_dim, m.hidden, 0);  // its input is saved above
  b.begin_module(rerun_up);
  const double up_input_kept = rerun_up ? 0 : 1;
  if (m.mla.q_rank > 0) {
    b.norm(prefix + "q_norm", tokens, static_cast<double>(m.mla.q_rank), m.norm);
    b.gemm(prefix + "q_up", d.tokens, q_width, m.mla.q_rank, up_input_kept * tokens * static_cast<double>(m.mla.q_rank) * d.elem);
  }
  b.norm(prefix + "kv_norm", tokens, static_cast<double>(m.mla.kv_rank), m.norm);
  b.gemm(prefix + "kv_up", d.tokens, kv_up_width, m.mla.kv_rank, up_input_kept * tokens * static_cast<double>(m.mla.kv_rank) * d.elem);
  const double rotated = tokens * static_cast<double>(heads * m.mla.rope_dim + m.mla.rope_dim);
  b.elementwise(prefix + "rope", OpClass::kElementwise, rotated, rotated, 0, 3, rotated, rotated);
  b.end_module();

  const AttentionShape shape{s.micro_batch,       heads, heads, s.sequence / s.cp, s.sequence,
                             m.kernel_head_dim(), true,  s.attention == AttentionKernel::kFlash3, s.cp, d.dropout};
  const double q_bytes = tokens * static_cast<double>(q_width) * d.elem;
  const double out_bytes = tokens * static_cast<double>(v_width) * d.elem;
  const double all_kv_bytes = static_cast<double>(s.micro_batch * s.sequence * (q_width + v_width)) * d.elem;
  const double kv_bytes = all_kv_bytes / static_cast<double>(s.cp);
  const double qkv_kept = rerun_up ? 0 : 1;
  b.begin_module(s.recompute.core_attn);
  if (s.attention == AttentionKernel::kUnfused) {
    add_unfused_core(b, shape, prefix + "core", qkv_kept * q_bytes, qkv_kept * kv_bytes, s);
  } else {
    const double softmax_stats = static_cast<double>(s.micro_batch * heads * shape.q_len) * 4;
    b.attention(prefix + "core", shape, qkv_kept * (q_bytes + kv_bytes) + out_bytes + softmax_stats, s.cp > 1 ? all_kv_bytes : 0);
  }
  b.end_module();
  b.gemm(prefix + "out", d.tokens, m.hidden, v_width, 0);
  b.tp_exit(tokens * h * d.elem);
  add_residual(b, d, prefix, h);
}

// Which MLP add_dense_mlp builds: a dense layer's, the routed experts' or the shared
// expert's, each a module of its own for selective recomputation.
enum class MlpKind { kDense, kExperts, kShared };

// What the fused gated activation's backward reads, in elements, for `fe` output elements.
// The routed experts' (Megatron-core's weighted_bias_swiglu / weighted_bias_quick_geglu,
// which apply the routing probabilities, compiled by torch.compile) runs as two kernels,
// measured on an H200 (calibration/runs/2026-12-04-h200-moe/activation_kernels.json): the
// input gradient, concatenated from its two halves, where each half's elements load the
// gate, the linear half and the gradient again (6 fe), and the probabilities' gradient, a
// sum over each row of the activation input and the gradient (3 fe). Other MLPs: one pass.
double fused_act_backward_read(MlpKind kind, double fe) { return kind == MlpKind::kExperts ? 9 * fe : 3 * fe; }

// An MLP of inner width `ffn` (sharded over TP) for `groups` experts of `tokens` rows each.
// Its input is kept where it is made: experts keep their permuted rows; a dense MLP the
// block's norm output; the shared expert reads the router's input, which the router keeps.
// Recomputing the whole MLP (mlp, shared_experts) keeps only that input; recomputing the
// experts' activation (moe_act) keeps the activation's input and frees its output. The plan
// holds the shape and what is kept; the up projection (gated or not) with the activation and
// the down projection are added apart, so that the shared expert's can sit beside the
// dispatch and the combine.
struct MlpPlan {
  std::string prefix;
  std::int64_t tokens, groups, f;
  double fe, input_saved, act_kept, act_output_kept;
  bool rerun_all, rerun_act;
  MlpKind kind;
};

MlpPlan plan_mlp(const Dims& d, const ModelArch& m, const std::string& prefix, std::int64_t ffn, std::int64_t tokens,
                 std::int64_t groups, MlpKind kind) {
  const double t = static_cast<double>(tokens * groups);
  const std::int64_t f = ffn / d.tp;
  const double h = static_cast<double>(m.hidden);
  const double input_saved = kind == MlpKind::kExperts ? t * h * d.elem : kind == MlpKind::kShared ? 0 : norm_output_saved(d, h);
  // Inside a rerun MoE block (the moe module) nothing reruns on its own.
  const bool rerun_all = kind == MlpKind::kDense ? d.recompute.mlp : kind == MlpKind::kShared && d.recompute.shared_experts && !d.recompute.moe;
  const bool rerun_act = kind == MlpKind::kExperts && d.recompute.moe_act && !d.recompute.moe;
  return {prefix, tokens, groups, f, t * static_cast<double>(f), input_saved,
          rerun_all ? 0.0 : 1.0,                            // the activation's input
          rerun_all || rerun_act ? 0.0 : 1.0,               // the down projection's input
          rerun_all, rerun_act, kind};
}

void add_mlp_up(PassBuilder& b, const ModelArch& m, const Dims& d, const MlpPlan& p) {
  const double fe = p.fe;
  if (m.gated_mlp) {
    b.gemm(p.prefix + "gate_up", p.tokens, 2 * p.f, m.hidden, p.input_saved, p.groups, {p.f, p.f});
    b.begin_module(p.rerun_act);
    if (d.eager) {
      // silu(gate) * up as two kernels; the product keeps both its operands (silu's output
      // goes with the activation's output when the activation is recomputed).
      b.elementwise(p.prefix + "act.silu", OpClass::kElementwise, fe, fe, p.act_kept * fe, 4, 2 * fe, fe);
      b.elementwise(p.prefix + "act.mul", OpClass::kElementwise, 2 * fe, fe, p.act_kept * fe + p.act_output_kept * fe, 1, 3 * fe, 2 * fe);
    } else {
      b.elementwise(p.prefix + "act", OpClass::kElementwise, 2 * fe, fe, p.act_kept * 2 * fe, 4, fused_act_backward_read(p.kind, fe), 2 * fe);
    }
  } else {
    b.gemm(p.prefix + "up", p.tokens, p.f, m.hidden, p.input_saved, p.groups);
    b.begin_module(p.rerun_act);
    b.elementwise(p.prefix + "act", OpClass::kElementwise, fe, fe, p.act_kept * fe, 4, 2 * fe, fe);
  }
  b.end_module();
}

void add_mlp_down(PassBuilder& b, const ModelArch& m, const Dims& d, const MlpPlan& p) {
  b.gemm(p.prefix + "down", p.tokens, m.hidden, p.f, p.act_output_kept * p.fe * d.elem, p.groups);
}

void add_dense_mlp(PassBuilder& b, const ModelArch& m, const Dims& d, const std::string& prefix, std::int64_t ffn,
                   std::int64_t tokens, std::int64_t groups, MlpKind kind) {
  const MlpPlan plan = plan_mlp(d, m, prefix, ffn, tokens, groups, kind);
  b.begin_module(plan.rerun_all);
  add_mlp_up(b, m, d, plan);
  add_mlp_down(b, m, d, plan);
  b.end_module();
}

void add_mlp_block(PassBuilder& b, const ModelArch& m, const Dims& d, const std::string& prefix) {
  const auto h = static_cast<double>(m.hidden);
  const double tokens = static_cast<double>(d.tokens);
  add_block_norm(b, m, d, prefix);
  // Folded experts route each rank's own sequence-parallel shard: no TP exchange around them.
  const bool folded = m.is_moe() && d.experts_folded;
  if (!folded) b.tp_enter(tokens * h * d.elem);
  if (m.is_moe()) {
    const auto experts = static_cast<double>(m.experts);
    const auto k = static_cast<double>(m.experts_per_token);
    const std::int64_t routing_rows = folded ? d.tokens / d.tp : d.tokens;
    const double routing = static_cast<double>(routing_rows);
    // The moe module reruns the block from the router on, keeping only the router's input.
    const std::size_t block_begin = b.forward_size();
    b.begin_module(d.recompute.moe);
    b.gemm("moe.router", routing_rows, m.experts, m.hidden, norm_output_saved(d, h));
    b.elementwise("moe.topk", OpClass::kElementwise, routing * experts, routing * k, routing * k, 4, routing * k, routing * experts);
    const double routed = routing * k * h;
    b.elementwise("moe.permute", OpClass::kElementwise, routed, routed, 0, 0, routed, routed);
    if (d.dropless) b.host_reads_last_result();
    // Balanced routing: each expert receives tokens * k / experts rows from every rank of
    // its EP group, so a rank's experts / ep experts together take tokens * k rows.
    // Over DP replicas, every EP rank brings tokens of its own; over the TP group, the
    // ranks share theirs, each dispatching 1/tp of them. Folded, an EP group holds ep ranks'
    // sequence-parallel shards, ep / tp TP groups' tokens (a fraction when ep < tp).
    const std::int64_t ep = d.experts_over_tp ? d.tp : d.ep;
    const std::int64_t group_tokens = d.experts_over_tp ? d.tokens : folded ? d.tokens * ep / d.tp : d.tokens * ep;
    const std::int64_t local_experts = m.experts / ep;
    const double balanced_rows = static_cast<double>(group_tokens * m.experts_per_token) / static_cast<double>(m.experts);
    // Dropless kernels run only the experts some token reached (a small decode batch's few);
    // capacity routing pads every expert to its capacity, so all of them run.
    const std::int64_t active = d.dropless ? active_experts(m, local_experts, group_tokens) : local_experts;
    const double rows_per_active = balanced_rows * static_cast<double>(local_experts) / static_cast<double>(active);
    const auto rows = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(rows_per_active * d.expert_load - 1e-9)));
    const double exchanged = routed * d.elem / static_cast<double>(folded ? 1 : d.tp) * d.expert_load;
    if (ep > 1) b.expert_exchange("ep.dispatch", exchanged);
    // Megatron-core's shared-expert overlap: the shared expert's up projection and activation
    // run beside the dispatch on a stream of their own, its down projection beside the
    // combine; the unpermute adds its output. Folded, its TP exchanges go with them.
    const bool shared_beside = d.shared_expert_overlap && ep > 1 && m.shared_expert_ffn > 0;
    const MlpPlan shared = plan_mlp(d, m, "moe.shared.", m.shared_expert_ffn, d.tokens, 1, MlpKind::kShared);
    if (shared_beside) {
      const std::size_t forward_begin = b.forward_size(), backward_begin = b.backward_size();
      if (folded) b.tp_enter(tokens * h * d.elem);
      add_mlp_up(b, m, d, shared);
      b.run_beside_exchange(forward_begin, backward_begin);
    }
    const double received = exchanged / d.elem;
    const std::size_t dispatch_group = b.backward_size() - 1;  // the shared expert's rotation leaves it last
    const bool sorts = d.sort_received_by_expert && ep > 1 && local_experts > 1;
    if (sorts) b.elementwise("moe.sort_by_expert", OpClass::kElementwise, received, received, 0, 0, received, received);
    Dims experts_dims = d;
    if (d.experts_over_tp || folded) experts_dims.tp = 1;  // whole experts on each rank
    const std::size_t experts_begin = b.backward_size();
    add_dense_mlp(b, m, experts_dims, "moe.expert.", m.ffn_hidden, rows, active, MlpKind::kExperts);
    if (d.delay_expert_wgrad && ep > 1) b.delay_weight_gradients(experts_begin, b.backward_size(), dispatch_group);
    if (sorts) b.elementwise("moe.restore_order", OpClass::kElementwise, received, received, 0, 0, received, received);
    if (ep > 1) b.expert_exchange("ep.combine", exchanged);
    if (shared_beside) {
      const std::size_t forward_begin = b.forward_size(), backward_begin = b.backward_size();
      add_mlp_down(b, m, d, shared);
      if (folded) b.tp_exit(tokens * h * d.elem);
      b.run_beside_exchange(forward_begin, backward_begin);
    }
    b.elementwise("moe.unpermute", OpClass::kElementwise, routed, routing * h, 0, 2, routing * h, routed);
    // Every token also passes through the shared expert, a dense MLP sharded over TP like
    // any other; its output is summed into the routed experts' (the unpermute's add).
    if (m.shared_expert_ffn > 0 && !shared_beside) {
      if (folded) b.tp_enter(tokens * h * d.elem);
      add_dense_mlp(b, m, d, "moe.shared.", m.shared_expert_ffn, d.tokens, 1, MlpKind::kShared);
      if (folded) b.tp_exit(tokens * h * d.elem);
    }
    b.end_module();
    if (d.recompute.moe) b.keep_only_input_since(block_begin, norm_output_saved(d, h));
  } else {
    add_dense_mlp(b, m, d, prefix, m.ffn_hidden, d.tokens, 1, MlpKind::kDense);
  }
  if (!folded) b.tp_exit(tokens * h * d.elem);
  add_residual(b, d, prefix, h);
}

void add_embedding(PassBuilder& b, const ModelArch& m, const Dims& d) {
  const double elems = static_cast<double>(d.tokens) * static_cast<double>(m.hidden);
  // Vocabulary-parallel lookup: each rank gathers its rows, zeros the rest, then the
  // partial embeddings are summed across the tensor-parallel group.
  b.elementwise("embedding", OpClass::kEmbedding, elems, elems, 0, 0, elems, 2 * elems);
  b.tp_exit(elems * d.elem);
  if (m.position == PositionKind::kLearned) {
    const double local = d.region_tokens * static_cast<double>(m.hidden);
    b.elementwise("embedding.position", OpClass::kElementwise, 2 * local, local, 0, 1, local, local);
  }
}

// Megatron-LM's unfused vocab_parallel_cross_entropy (megatron/core/tensor_parallel/
// cross_entropy.py), one PyTorch kernel per line of its code: the logits are cast to fp32,
// then max, subtract, exp, sum and divide each pass over them, and the fp32 softmax is kept
// for the backward, which multiplies it in place and casts the gradient back. About 38
// bytes per logit forward and 14 backward in bf16, against 2 and 4 fused. PyTorch eager's
// F.cross_entropy(logits.float()) (torchtitan, Hugging Face) moves about as many. Sizes
// in elements of the activation dtype, so an fp32 tensor counts 4 / elem.
void add_fp32_cross_entropy(PassBuilder& b, double logits, double tokens, double elem) {
  const double f32 = logits * 4 / elem;
  // Backward: the gradient cast back. fp32 logits are not copied (.float() returns them).
  if (elem < 4) b.elementwise("loss.upcast", OpClass::kLoss, logits, f32, 0, 0, f32, logits);
  b.forward_only("loss.max", OpClass::kLoss, f32, tokens * 4 / elem, 1);
  b.forward_only("loss.shift", OpClass::kLoss, f32, f32, 1);
  b.forward_only("loss.exp", OpClass::kLoss, f32, f32, 1);
  b.forward_only("loss.sum", OpClass::kLoss, f32, tokens * 4 / elem, 1);
  // Normalized in place into the softmax the backward scales by the incoming gradient.
  b.elementwise("loss.normalize", OpClass::kLoss, f32, f32, f32, 1, f32, f32);
}

void add_head(PassBuilder& b, const ModelArch& m, const Dims& d) {
  const auto h = static_cast<double>(m.hidden);
  b.norm("final_norm", d.region_tokens, h, m.norm);
  b.tp_enter(static_cast<double>(d.tokens) * h * d.elem);
  const std::int64_t vocab = (m.vocab + d.tp - 1) / d.tp;
  b.gemm("lm_head", d.tokens, vocab, m.hidden, d.region_tokens * h * d.elem);
  const double logits = static_cast<double>(d.tokens * vocab);
  if (d.fp32_cross_entropy) return add_fp32_cross_entropy(b, logits, static_cast<double>(d.tokens), d.elem);
  // Fused softmax cross-entropy keeps the logits for its backward. Its two scalar
  // all-reduces per token across the TP group are negligible and left out.
  b.elementwise("loss", OpClass::kLoss, logits, static_cast<double>(d.tokens), logits, 5, logits, logits);
}

// Megatron-core's multi-token prediction layer ahead of its decoder layer
// (megatron/core/transformer/multi_token_prediction.py; DeepSeek-V3 Sec. 2.2): the embedded
// tokens one further ahead and the previous depth's hidden states, each normalized, are
// concatenated and projected from 2h to h by a column-parallel linear whose output is gathered
// whole onto every TP rank (and split again by sequence under sequence parallelism, a slice).
void add_mtp_projection(PassBuilder& b, const ModelArch& m, const Dims& d) {
  const auto h = static_cast<double>(m.hidden);
  const double local = d.region_tokens * h;
  b.norm("mtp.enorm", d.region_tokens, h, m.norm);
  b.norm("mtp.hnorm", d.region_tokens, h, m.norm);
  b.elementwise("mtp.concat", OpClass::kElementwise, 2 * local, 2 * local, 0, 0, 2 * local, 2 * local);
  b.tp_enter(static_cast<double>(d.tokens) * 2 * h * d.elem);
  b.gemm("mtp.eh_proj", d.tokens, (m.hidden + d.tp - 1) / d.tp, 2 * m.hidden, 2 * local * d.elem);
  b.tp_gather_output(static_cast<double>(d.tokens) * h * d.elem);
}
}  // namespace

// An expert is missed by all `routed` tokens with probability (1 - k / E)^routed. A small
// decode batch reaches few experts, and the grouped GEMM reads only their weights (vLLM's
// fused_moe, SGLang's and TensorRT-LLM's MoE kernels skip experts without rows):
// Mixtral's single-stream decode reads 2 of its 8 experts per layer.
std::int64_t active_experts(const ModelArch& model, std::int64_t local, std::int64_t routed) {
  const double missed = 1 - static_cast<double>(model.experts_per_token) / static_cast<double>(model.experts);
  const double expected = static_cast<double>(local) * (1 - std::pow(missed, static_cast<double>(routed)));
  return std::clamp<std::int64_t>(std::llround(expected), 1, local);
}

ModelOps build_model_ops(const ModelArch& m, const ShapeConfig& s) {
  const std::int64_t tokens = s.micro_batch * s.sequence / s.cp;
  const double region = s.sequence_parallel ? static_cast<double>(tokens) / static_cast<double>(s.tp)
                                            : static_cast<double>(tokens);
  const Dims d{tokens, region, s.tp, dtype_bytes(s.dtype), s.dropout, s.ep, s.experts_over_tp, s.experts_folded, s.expert_load, s.eager_elementwise,
                s.fp32_cross_entropy, s.dropless_routing, s.recompute, s.sort_received_by_expert, s.shared_expert_overlap,
                s.delay_expert_wgrad};
  ModelOps ops;
  PassBuilder b(s);

  add_embedding(b, m, d);
  ops.embedding_forward = b.take_forward();
  ops.embedding_backward = b.take_backward();

  if (m.is_encoder_decoder()) {
    add_attention_block(b, m, s, d, "enc.attn.", false, s.sequence, false);
    add_mlp_block(b, m, d, "enc.mlp.");
    ops.encoder_layer_forward = b.take_forward();
    ops.encoder_layer_backward = b.take_backward();
    ops.encoder_selective_recompute = b.take_selective_recompute();
  }

  // `kept_before`: what op-level checkpointing keeps of kernels built before this layer.
  const auto add_decoder_layer = [&](const ModelArch& layer_model, LayerOps& layer, double kept_before) {
    if (layer_model.latent_attention()) {
      add_latent_attention_block(b, layer_model, s, d, "attn.");
    } else {
      add_attention_block(b, layer_model, s, d, "attn.", true, s.sequence, false);
    }
    if (layer_model.is_encoder_decoder()) add_attention_block(b, layer_model, s, d, "xattn.", false, s.sequence, true);
    add_mlp_block(b, layer_model, d, "mlp.");
    layer.op_recompute = b.take_op_recompute();
    // The layer's input, which every checkpointing policy keeps.
    layer.op_saved_bytes = b.op_saved_bytes() - kept_before + region * static_cast<double>(layer_model.hidden) * d.elem;
    layer.forward = b.take_forward();
    layer.backward = b.take_backward();
    layer.selective_recompute = b.take_selective_recompute();
  };
  LayerOps layer;
  add_decoder_layer(m, layer, 0);
  ops.layer_forward = std::move(layer.forward);
  ops.layer_backward = std::move(layer.backward);
  ops.layer_selective_recompute = std::move(layer.selective_recompute);
  ops.layer_op_recompute = std::move(layer.op_recompute);
  ops.layer_op_saved_bytes = layer.op_saved_bytes;
  if (m.is_moe() && m.dense_layers > 0) {
    ModelArch dense = m;
    dense.experts = dense.experts_per_token = dense.shared_expert_ffn = 0;
    dense.ffn_hidden = m.dense_ffn;
    add_decoder_layer(dense, ops.dense_layer, b.op_saved_bytes());
  }

  add_head(b, m, d);
  ops.head_forward = b.take_forward();
  ops.head_backward = b.take_backward();

  add_mtp_projection(b, m, d);
  ops.mtp_forward = b.take_forward();
  ops.mtp_backward = b.take_backward();
  return ops;
}

Op attention_op(const AttentionShape& a, Phase phase, Dtype dtype) {
  const double b = static_cast<double>(a.batch), h = static_cast<double>(a.heads), kv = static_cast<double>(a.kv_heads);
  const double d = static_cast<double>(a.head_dim), q = static_cast<double>(a.q_len), n = static_cast<double>(a.kv_len);
  Op op;
  op.name = phase == Phase::kForward ? "attn" : "attn.bwd";
  op.kind = OpClass::kAttention;
  op.phase = phase;
  op.dtype = dtype;
  op.attention = a;
  op.flops = 4 * b * h * d * (a.causal ? q * (n - q) + q * q / 2 : q * n);
  op.bytes = b * (2 * q * h * d + 2 * n * kv * d) * dtype_bytes(dtype);
  if (phase != Phase::kForward) {
    op.flops *= 2.5;
    op.bytes *= 2;
  }
  return op;
}

Op prefill_attention_op(std::int64_t batch, std::int64_t heads, std::int64_t kv_heads, std::int64_t head_dim,
                        std::int64_t chunk, std::int64_t context, Dtype dtype, std::int64_t window) {
  Op op = attention_op({batch, heads, kv_heads, chunk, context + chunk, head_dim, true}, Phase::kForward, dtype);
  op.name = "attn.prefill";
  if (window > 0 && context + chunk > window) {
    // The p-th query of the chunk meets min(context + p, window) keys: those before the
    // window fills, then the window.
    const double c = static_cast<double>(chunk), x = static_cast<double>(context), w = static_cast<double>(window);
    const double filling = std::clamp(w - x, 0.0, c);
    const double keys = filling * x + filling * (filling + 1) / 2 + (c - filling) * w;
    op.flops = 4 * static_cast<double>(batch * heads * head_dim) * keys;
    op.bytes = static_cast<double>(batch) * (2 * c * static_cast<double>(heads * head_dim) + 2 * std::min(x + c, w) * static_cast<double>(kv_heads * head_dim)) *
               dtype_bytes(dtype);
  }
  return op;
}

Op decode_attention_op(std::int64_t decodes, std::int64_t heads, std::int64_t kv_heads, std::int64_t head_dim,
                       std::int64_t context, Dtype dtype, double kv_element_bytes) {
  const double n = static_cast<double>(decodes), h = static_cast<double>(heads), kv = static_cast<double>(kv_heads);
  const double d = static_cast<double>(head_dim), ctx = static_cast<double>(context);
  Op op;
  op.name = "attn.decode";
  op.kind = OpClass::kAttention;
  op.dtype = dtype;
  op.attention = {decodes, heads, kv_heads, 1, std::max<std::int64_t>(1, context / std::max<std::int64_t>(1, decodes)), head_dim, false};
  op.flops = 4 * h * d * ctx;
  op.bytes = 2 * ctx * kv * d * kv_element_bytes + 2 * n * h * d * dtype_bytes(dtype);
  return op;
}

Op latent_decode_attention_op(std::int64_t decodes, std::int64_t heads, std::int64_t kv_rank, std::int64_t rope_dim,
                              std::int64_t context, Dtype dtype, double kv_element_bytes) {
  const double n = static_cast<double>(decodes), h = static_cast<double>(heads), ctx = static_cast<double>(context);
  const double latent = static_cast<double>(kv_rank + rope_dim);
  Op op = decode_attention_op(decodes, heads, 1, kv_rank + rope_dim, context, dtype, kv_element_bytes);
  op.name = "attn.decode_latent";
  // Scores over the latent and the rotary key, then the output over the latent, per head.
  op.flops = 2 * h * (latent + static_cast<double>(kv_rank)) * ctx;
  // The cache is read once for every head; each query and output is a latent wide.
  op.bytes = ctx * latent * kv_element_bytes + n * h * (latent + static_cast<double>(kv_rank)) * dtype_bytes(dtype);
  return op;
}

Op optimizer_pass(std::string name, Dtype dtype, double flops, double bytes) {
  Op op;
  op.name = std::move(name);
  op.kind = OpClass::kOptimizer;
  op.phase = Phase::kOptimizer;
  op.dtype = dtype;
  op.flops = flops;
  op.bytes = bytes;
  return op;
}

Op optimizer_op(double parameters, Dtype grad_dtype) {
  // read fp32 weight, m, v and the gradient; write weight, m, v and the bf16 copy
  return optimizer_pass("optimizer.adam", Dtype::kFp32, 12 * parameters,
                        (4 + 4 + 4 + dtype_bytes(grad_dtype) + 4 + 4 + 4 + 2) * parameters);
}

Op sgd_optimizer_op(double parameters, Dtype weight_dtype, Dtype grad_dtype) {
  // w -= lr * g: read the weight and the gradient, write the weight
  return optimizer_pass("optimizer.sgd", weight_dtype, 2 * parameters,
                        (2 * dtype_bytes(weight_dtype) + dtype_bytes(grad_dtype)) * parameters);
}

Op grad_norm_op(double parameters, Dtype grad_dtype) {
  return optimizer_pass("optimizer.grad_norm", Dtype::kFp32, 2 * parameters, dtype_bytes(grad_dtype) * parameters);
}

Op zero_grad_op(double parameters, Dtype grad_dtype) {
  return optimizer_pass("optimizer.zero_grad", grad_dtype, 0, dtype_bytes(grad_dtype) * parameters);
}

double total_flops(const std::vector<Op>& ops) {
  double sum = 0;
  for (const Op& op : ops) sum += op.flops;
  return sum;
}

double total_saved_bytes(const std::vector<Op>& ops) {
  double sum = 0;
  for (const Op& op : ops) sum += op.saved_bytes;
  return sum;
}

}  // namespace foresight
