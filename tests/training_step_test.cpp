#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/attention_dropout.hpp"
#include "models/cp_ring.hpp"
#include "models/roofline_model.hpp"
#include "sim/engine/chrome_trace.hpp"
#include "test_support.hpp"
#include "training_fixtures.hpp"
#include "workloads/activation_offload.hpp"
#include "workloads/deepep_traffic.hpp"
#include "workloads/local_sgd.hpp"
#include "workloads/memory_footprint.hpp"
#include "workloads/time_to_target.hpp"
#include "workloads/training_step.hpp"

using namespace foresight;
using namespace foresight::testing;

namespace {
std::vector<std::string> names_of(const std::vector<Op>& ops) {
  std::vector<std::string> out;
  for (const Op& op : ops) out.push_back(op.name);
  return out;
}

TrainingConfig config(std::int64_t tp, std::int64_t dp) {
  TrainingConfig c;
  c.global_batch = 4 * dp;
  c.micro_batch = 1;
  c.sequence = 1024;
  c.tp = tp;
  c.dp = dp;
  c.host.launch_seconds = 0;  // the closed forms are the GPU's: the host stays ahead (tested on its own below)
  return c;
}

Time sum_durations(const std::vector<Op>& ops, const OpCostModel& model, const GpuSpec& gpu) {
  Time total = 0;
  for (const Op& op : ops) total += model.estimate(op, gpu).duration;
  return total;
}
}  // namespace

TEST_CASE("one GPU: the step is the sum of its kernels, in one chain") {
  // With tp = dp = 1 every op sits on one stream in program order, so the step time is
  // exactly: micro-batches x (embedding + layers x layer + head, forward and backward)
  // plus the gradient norm, the optimizer and the zeroing of the gradients, over all
  // parameters.
  Fixture f;
  const TrainingConfig c = config(1, 1);
  const TrainingResult r = f.run_alone(c);
  const ModelOps ops = build_model_ops(f.model, {1, 1024, Dtype::kBf16, 1, false, true});
  const Time per_micro_batch =
      sum_durations(ops.embedding_forward, f.roofline, f.gpu) + sum_durations(ops.embedding_backward, f.roofline, f.gpu) +
      f.model.layers * (sum_durations(ops.layer_forward, f.roofline, f.gpu) + sum_durations(ops.layer_backward, f.roofline, f.gpu)) +
      sum_durations(ops.head_forward, f.roofline, f.gpu) + sum_durations(ops.head_backward, f.roofline, f.gpu);
  const double params = count_parameters(f.model).total;
  const Time optimizer = f.roofline.estimate(grad_norm_op(params, c.grad_dtype), f.gpu).duration +
                         f.roofline.estimate(optimizer_op(params, c.grad_dtype), f.gpu).duration +
                         f.roofline.estimate(zero_grad_op(params, c.grad_dtype), f.gpu).duration;
  CHECK(r.step_time == 4 * per_micro_batch + optimizer);
  CHECK(r.compute_busy == r.step_time);
  CHECK(r.exposed_dp == 0);
  CHECK(r.idle == 0);
}

TEST_CASE("plain SGD on 16-bit weights: one pass over weight and gradient, no optimizer state") {
  Fixture f;
  TrainingConfig adam = config(1, 1);
  TrainingConfig sgd = adam;
  sgd.plain_sgd = true;
  const double params = count_parameters(f.model).total;
  const Time adam_pass = f.roofline.estimate(optimizer_op(params, adam.grad_dtype), f.gpu).duration;
  const Op sgd_op = sgd_optimizer_op(params, sgd.weight_dtype(), sgd.grad_dtype);
  CHECK(sgd_op.bytes == doctest::Approx(6 * params));  // read w and g, write w, 2 bytes each
  CHECK(f.run_alone(adam).step_time - f.run_alone(sgd).step_time == adam_pass - f.roofline.estimate(sgd_op, f.gpu).duration);
  const ModelOps ops = build_model_ops(f.model, {1, 1024, Dtype::kBf16, 1, false, true});
  CHECK(training_memory(f.model, ops, sgd, 80e9, {1.0}).optimizer == 0);
  CHECK(training_memory(f.model, ops, adam, 80e9, {1.0}).optimizer == doctest::Approx(12 * params));
  CHECK(checkpoint_bytes_per_gpu(params, 1, sgd.optimizer_state_bytes()) == doctest::Approx(2 * params));
}

TEST_CASE("dropout lengthens each fused attention kernel by its draws, whatever the cost model") {
  Fixture f;
  TrainingConfig c = config(1, 1);
  const auto attention_time = [&](const TrainingConfig& run) {
    const TrainingResult r = f.run_alone(run);
    for (const ClassTime& t : r.compute_by_class) {
      if (t.op_class == "attention") return t.total;
    }
    return Time{0};
  };
  const Time plain = attention_time(c);
  c.dropout = 0.1;
  ShapeConfig shape{1, 1024, Dtype::kBf16, 1, false, true};
  shape.dropout = true;
  const ModelOps ops = build_model_ops(f.model, shape);
  Time draws = 0;
  for (const auto* pass : {&ops.layer_forward, &ops.layer_backward}) {
    for (const Op& op : *pass) draws += from_seconds(attention_dropout_seconds(op, f.gpu));
  }
  REQUIRE(draws > 0);
  CHECK(attention_time(c) - plain == 4 * f.model.layers * draws);  // 4 micro-batches
}

TEST_CASE("a host slower than every kernel sets the pace: the step is its launches and the last kernel") {
  Fixture f;
  TrainingConfig c = config(1, 1);
  c.host.launch_seconds = 5e-3;  // longer than any kernel of the small model
  const TrainingResult r = f.run_alone(c);
  const std::int64_t kernels = r.ops / 2;  // a host launch per kernel, one kernel per op (no experts)
  CHECK(r.host_busy == kernels * from_seconds(5e-3));
  const Time zero_grad = f.roofline.estimate(zero_grad_op(count_parameters(f.model).total, c.grad_dtype), f.gpu).duration;
  CHECK(r.step_time == r.host_busy + zero_grad);
}

TEST_CASE("a host that stays ahead of its GPU delays the step by its first launch and adds no other host op") {
  Fixture f;
  TrainingConfig c = config(1, 1);
  c.sequence = 8192;  // kernels far longer than a launch
  c.global_batch = 2;
  const TrainingResult gpu_only = f.run_alone(c);
  c.host.launch_seconds = 0.1e-6;
  const TrainingResult ahead = f.run_alone(c);
  CHECK(ahead.step_time == gpu_only.step_time + from_seconds(0.1e-6));
  CHECK(ahead.ops == gpu_only.ops + 1);  // the first kernel's release
  CHECK(ahead.host_busy == gpu_only.ops * from_seconds(0.1e-6));
  // At an eager launch's 21.8 us the host falls behind the step's first short kernels (the
  // embedding's lookup, a norm) and catches up at the first GEMM: a launch or two.
  c.host.launch_seconds = kEagerLaunchSeconds;
  const TrainingResult eager = f.run_alone(c);
  CHECK(eager.ops > gpu_only.ops + 1);
  CHECK(eager.ops < gpu_only.ops + 16);
  CHECK(eager.step_time > gpu_only.step_time);
  CHECK(eager.step_time - gpu_only.step_time <= 2 * from_seconds(kEagerLaunchSeconds));
}

TEST_CASE("CUDA graphs launch each layer's pass once: a launch-bound step gets shorter") {
  Fixture f;
  TrainingConfig c = config(1, 1);
  c.host.launch_seconds = 5e-3;
  const TrainingResult eager = f.run_alone(c);
  c.host.cuda_graphs = true;
  const TrainingResult graphed = f.run_alone(c);
  // Per micro-batch each layer launches its forward and its backward as one graph each.
  const ModelOps ops = build_model_ops(f.model, {1, 1024, Dtype::kBf16, 1, false, true});
  const auto layer_kernels = static_cast<std::int64_t>(ops.layer_forward.size() + ops.layer_backward.size());
  const std::int64_t replays = 4 * f.model.layers * 2;  // 4 micro-batches
  CHECK(eager.host_busy - graphed.host_busy ==
        4 * f.model.layers * layer_kernels * from_seconds(5e-3) - replays * from_seconds(kGraphReplaySeconds));
  CHECK(graphed.step_time < eager.step_time);
}

TEST_CASE("CUDA graphs of parts of a layer: each captured run of kernels is one replay, the rest launch eagerly") {
  Fixture f;
  TrainingConfig c = config(1, 1);
  c.host.launch_seconds = 5e-3;
  const TrainingResult eager = f.run_alone(c);
  c.host.cuda_graphs = true;
  c.host.graph_scopes = {"attn"};
  const TrainingResult attention_graphed = f.run_alone(c);
  // The attention block's kernels are consecutive in the forward and in the backward: one
  // replay each per layer and micro-batch.
  const ModelOps ops = build_model_ops(f.model, {1, 1024, Dtype::kBf16, 1, false, true});
  std::int64_t attention_kernels = 0;
  for (const auto* pass : {&ops.layer_forward, &ops.layer_backward}) {
    for (const Op& op : *pass) attention_kernels += graph_scope_of(op.name, false) == "attn";
  }
  REQUIRE(attention_kernels > 0);
  const std::int64_t passes = 4 * f.model.layers * 2;
  CHECK(eager.host_busy - attention_graphed.host_busy ==
        4 * f.model.layers * attention_kernels * from_seconds(5e-3) - passes * from_seconds(kGraphReplaySeconds));
  CHECK(attention_graphed.step_time < eager.step_time);
  c.host.graph_scopes = {};
  CHECK(f.run_alone(c).step_time < attention_graphed.step_time);
}

TEST_CASE("dropless MoE routing: the host waits for each layer's permutation before the dispatch; capacity routing does not") {
  Fixture f;
  f.model.experts = 4;
  f.model.experts_per_token = 2;
  TrainingConfig c = config(1, 4);
  c.global_batch = 4;
  c.ep = 2;
  c.host.launch_seconds = 1e-6;  // far shorter than the kernels: only the waits can cost
  c.dropless_routing = false;
  TrainingStep capacity_step(f.model, f.gpu, fabric(4), c, f.roofline);
  const TrainingResult capacity = capacity_step.run();
  c.dropless_routing = true;
  TrainingStep dropless_step(f.model, f.gpu, fabric(4), c, f.roofline);
  const TrainingResult dropless = dropless_step.run();
  const auto host_ops = [](const TrainingStep& step) {
    std::int64_t count = 0;
    for (OpId op = 0; op < step.graph().op_count(); ++op) count += step.graph().label_text(step.graph().op(op).category) == "host";
    return count;
  };
  // The same kernels; capacity routing's host only releases the kernels it falls behind on,
  // dropless routing's runs as a chain of every launch.
  CHECK(dropless.ops - host_ops(dropless_step) == capacity.ops - host_ops(capacity_step));
  CHECK(host_ops(dropless_step) > 10 * host_ops(capacity_step));
  // Each wait empties the queue: the GPU idles for the launches that follow it.
  CHECK(dropless.step_time > capacity.step_time);
  // Two local experts: each expert GEMM launches twice, so more launches than kernels.
  CHECK(dropless.host_busy > host_ops(dropless_step) * from_seconds(1e-6));
}

TEST_CASE("data parallel without overlap: gradient reduction follows backward in full") {
  // Overlap off: every bucket's reduce-scatter starts after the last backward kernel,
  // the buckets run back to back, then Adam on a 1/dp shard, then the all-gather of
  // the updated weights. Exposed DP time is therefore the sum of all DP collectives.
  Fixture f;
  TrainingConfig c = config(1, 4);
  c.overlap_grad_reduce = false;
  TrainingStep step(f.model, f.gpu, fabric(4), c, f.roofline);
  const TrainingResult r = step.run();
  const double params = count_parameters(f.model).total;
  const Time all_grads = collective_duration(fabric(4), CollectiveKind::kReduceScatter, params * 2, 4);
  const Time gather = collective_duration(fabric(4), CollectiveKind::kAllGather, params * 2, 4);
  const Time norm = collective_duration(fabric(4), CollectiveKind::kAllReduce, 4, 4);  // gradient clipping's sum
  // One bucket: overlap off collects every gradient into the final flush.
  CHECK(r.exposed_dp == all_grads + norm + gather);
  CHECK(r.step_time == r.compute_busy + r.exposed_dp);
}

TEST_CASE("overlapping gradient reduction with backward hides part of it") {
  Fixture f;
  TrainingConfig c = config(1, 4);
  c.interference.enabled = false;  // free overlap: the kernels keep their times
  c.overlap_grad_reduce = false;
  const TrainingResult serial = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  c.overlap_grad_reduce = true;
  c.grad_bucket_bytes = 1e6;
  const TrainingResult overlapped = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  CHECK(overlapped.step_time < serial.step_time);
  CHECK(overlapped.exposed_dp < serial.exposed_dp);
  CHECK(overlapped.compute_busy == serial.compute_busy);
}

TEST_CASE("synchronous training runs at the pace of its slowest GPU") {
  // E[max of n standard normals]: 0 for one draw, 1/sqrt(pi) for two, 1.4236 for 8, 3.2414
  // for 1,000 (tables of normal order statistics).
  CHECK(expected_max_of_normals(1) == 0);
  CHECK(expected_max_of_normals(2) == doctest::Approx(0.5642).epsilon(1e-4));
  CHECK(expected_max_of_normals(8) == doctest::Approx(1.4236).epsilon(1e-4));
  CHECK(expected_max_of_normals(1000) == doctest::Approx(3.2414).epsilon(1e-4));
  GpuSpec gpu = *find_builtin_gpu("h100_sxm");
  CHECK(gpu.slowest_of(8) == doctest::Approx(1 + 0.012 * 1.4236).epsilon(1e-6));
  // The same DP 4 step on GPUs that differ: every tensor kernel 1 + 0.012 x 1.0294 slower.
  Fixture f;
  const TrainingConfig c = config(1, 4);
  const TrainingResult identical = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  const TrainingResult varied = TrainingStep(f.model, gpu, fabric(4), c, f.roofline).run();
  const auto tensor_time = [](const TrainingResult& r) {
    Time t = 0;
    for (const ClassTime& k : r.compute_by_class) t += k.op_class == "gemm" || k.op_class == "attention" ? k.total : 0;
    return t;
  };
  CHECK(to_seconds(tensor_time(varied)) == doctest::Approx(to_seconds(tensor_time(identical)) * (1 + 0.012 * 1.0294)).epsilon(1e-4));
  CHECK(varied.step_time > identical.step_time);
}

TEST_CASE("kernels beside the overlapped gradient reduction run slower, by what the step reports") {
  Fixture f;
  TrainingConfig c = config(1, 4);
  c.overlap_grad_reduce = true;
  c.grad_bucket_bytes = 1e6;
  c.interference.enabled = false;
  const TrainingResult free_overlap = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  c.interference.enabled = true;
  const TrainingResult interfering = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  MESSAGE("interference " << to_microseconds(interfering.interference) << " us of " << to_microseconds(interfering.step_time));
  CHECK(free_overlap.interference == 0);
  CHECK(interfering.interference > 0);
  CHECK(interfering.compute_busy == free_overlap.compute_busy + interfering.interference);
  CHECK(interfering.step_time > free_overlap.step_time);
}

TEST_CASE("tensor parallel collectives sit on the critical path") {
  // Megatron TP without overlap: each layer's 4 all-reduces (2 forward, 2 backward) and
  // the embedding's are blocking, so exposed TP time equals their total duration.
  Fixture f;
  const TrainingConfig c = config(2, 1);
  const TrainingResult r = TrainingStep(f.model, f.gpu, fabric(2), c, f.roofline).run();
  const Time ar = collective_duration(fabric(2), CollectiveKind::kAllReduce, 1024.0 * 1024 * 2, 2);
  // per micro-batch: layers x 4 + embedding forward 1 + head backward 1
  CHECK(r.exposed_tp == 4 * (f.model.layers * 4 + 2) * ar);
  CHECK(r.step_time == r.compute_busy + r.exposed_tp);
}

TEST_CASE("TP communication overlap turns each all-gather + GEMM and GEMM + reduce-scatter into the longer of the two, plus one chunk of the exchange") {
  Fixture f;
  TrainingConfig c = config(4, 1);
  c.global_batch = 1;
  c.sequence_parallel = true;
  c.interference.enabled = false;  // the closed form assumes free overlap
  const TrainingResult serial = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  c.tp_comm_overlap = true;
  const TrainingResult overlapped = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  // Each pair of exchange C and GEMM G takes max(C, G + C / tp): chunked four ways, the
  // GEMM cannot start before the first quarter of the gather arrives (or the scatter's
  // last quarter leave before the GEMM ends).
  const ModelOps ops = build_model_ops(f.model, {1, 1024, Dtype::kBf16, 4, true, true});
  const auto duration = [&](const Op& op) {
    return op.kind == OpClass::kCollective ? collective_duration(fabric(4), op.collective, op.collective_bytes, 4)
                                           : f.roofline.estimate(op, f.gpu).duration;
  };
  // `backward_scatters`: whether a backward GEMM + reduce-scatter pair overlaps too.
  const auto pair_savings = [&](const std::vector<Op>& pass, int& pairs, bool backward_scatters = true) {
    Time saved = 0;
    for (std::size_t i = 0; i + 2 < pass.size(); ++i) {
      const Op& a = pass[i];
      const Op& b = pass[i + 1];
      const bool gather_then_gemm = a.collective == CollectiveKind::kAllGather && b.kind == OpClass::kGemm;
      const bool gemm_then_scatter = a.kind == OpClass::kGemm && b.collective == CollectiveKind::kReduceScatter &&
                                     (b.phase == Phase::kForward || backward_scatters);
      if (!gather_then_gemm && !gemm_then_scatter) continue;
      const Time exchange = a.kind == OpClass::kCollective ? duration(a) : duration(b);
      const Time gemm = a.kind == OpClass::kGemm ? duration(a) : duration(b);
      saved += exchange + gemm - std::max(exchange, gemm + exchange / 4);
      ++pairs;
      ++i;
    }
    return saved;
  };
  int layer_pairs = 0, head_pairs = 0;
  const Time per_layer = pair_savings(ops.layer_forward, layer_pairs) + pair_savings(ops.layer_backward, layer_pairs);
  const Time head = pair_savings(ops.head_forward, head_pairs) + pair_savings(ops.head_backward, head_pairs);
  CHECK(layer_pairs == 8);
  CHECK(head_pairs == 2);  // the output head's gather and, backward, its reduce-scatter
  CHECK(serial.step_time - overlapped.step_time == f.model.layers * per_layer + head);
  CHECK(overlapped.exposed_tp < serial.exposed_tp);

  // PyTorch's async TP: the backward reduce-scatters stay serial.
  c.tp_comm_overlap_backward_rs = false;
  const TrainingResult forward_only = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  int forward_layer_pairs = 0, forward_head_pairs = 0;
  const Time per_layer_forward_only =
      pair_savings(ops.layer_forward, forward_layer_pairs, false) + pair_savings(ops.layer_backward, forward_layer_pairs, false);
  const Time head_forward_only =
      pair_savings(ops.head_forward, forward_head_pairs, false) + pair_savings(ops.head_backward, forward_head_pairs, false);
  CHECK(forward_layer_pairs == 6);  // the attention and MLP inputs' reduce-scatters, backward, stay serial
  CHECK(forward_head_pairs == 1);
  CHECK(serial.step_time - forward_only.step_time == f.model.layers * per_layer_forward_only + head_forward_only);
  CHECK(forward_only.step_time > overlapped.step_time);

  // PyTorch's fused_matmul_reduce_scatter adds the tp partials after the GEMM in a kernel of
  // its own, serial: it reads the m x n partial products and writes this rank's m/tp x n.
  c.tp_comm_overlap_separate_sum = true;
  const TrainingResult summed = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  Time sums = 0;
  int summed_pairs = 0;
  for (std::size_t i = 0; i + 2 < ops.layer_forward.size(); ++i) {
    const Op& gemm = ops.layer_forward[i];
    if (gemm.kind != OpClass::kGemm || ops.layer_forward[i + 1].collective != CollectiveKind::kReduceScatter) continue;
    Op sum;
    sum.kind = OpClass::kElementwise;
    sum.dtype = Dtype::kBf16;
    sum.flops = static_cast<double>(gemm.gemm.m * gemm.gemm.n);
    sum.bytes = sum.flops * (1 + 1.0 / 4) * 2;
    sums += f.roofline.estimate(sum, f.gpu).duration;
    ++summed_pairs;
  }
  CHECK(summed_pairs == 2);  // the attention output's and the MLP output's, forward only
  CHECK(summed.step_time - forward_only.step_time == f.model.layers * sums);
}

TEST_CASE("FP8 GEMMs cast their activation input first; weight gradients reuse the transposed copy") {
  Fixture f;
  TrainingConfig c = config(1, 1);
  c.global_batch = 1;
  c.dtype = Dtype::kFp8;
  const TrainingStep step(f.model, f.gpu, fabric(1), c, f.roofline);
  int casts = 0, fp8_gemms = 0, bf16_gemms = 0;
  for (OpId op = 0; op < step.graph().op_count(); ++op) {
    const std::string& name = step.graph().label_text(step.graph().op(op).name);
    if (name.ends_with(".fp8_cast")) ++casts;
    const std::string args = step.trace_args(op);
    if (args.find("\"class\":\"gemm\"") == std::string::npos) continue;
    (args.find("\"dtype\":\"fp8\"") != std::string::npos ? fp8_gemms : bf16_gemms) += 1;
  }
  // Per layer: qkv, out, gate_up, down forward and their dgrads. The output head stays in
  // bf16 (torchtitan leaves "output" out of Float8Linear; Megatron's is outside TE).
  CHECK(casts == f.model.layers * 8);
  CHECK(fp8_gemms == f.model.layers * 12);
  CHECK(bf16_gemms == 3);
}

TEST_CASE("FP8 current scaling: an amax pass before each cast, unless the norm or activation producing the input computes it") {
  Fixture f;
  TrainingConfig c = config(1, 1);
  c.global_batch = 1;
  c.dtype = Dtype::kFp8;
  c.fp8_current_scaling = true;
  const auto amax_passes = [&](bool fused) {
    c.fp8_amax_fused = fused;
    const TrainingStep step(f.model, f.gpu, fabric(1), c, f.roofline);
    std::vector<std::string> names;
    for (OpId op = 0; op < step.graph().op_count(); ++op) {
      const std::string& name = step.graph().label_text(step.graph().op(op).name);
      if (name.ends_with(".fp8_amax")) names.push_back(name);
    }
    return names;
  };
  CHECK(amax_passes(false).size() == static_cast<std::size_t>(f.model.layers * 8));  // one per cast
  // Transformer Engine 2.6+: QKV's and gate_up's inputs come from the norms, down's from the
  // activation, and gate_up's incoming gradient from the activation's backward.
  const std::vector<std::string> fused = amax_passes(true);
  CHECK(fused.size() == static_cast<std::size_t>(f.model.layers * 4));
  for (const std::string& name : fused) {
    INFO(name);
    CHECK((name == "attn.out.fp8_amax" || name == "attn.out.dgrad.fp8_amax" || name == "mlp.down.dgrad.fp8_amax" ||
           name == "attn.qkv.dgrad.fp8_amax"));
  }
}

TEST_CASE("FP8 with sequence parallelism gathers fp8: all-gathers feeding fp8 GEMMs carry half the bytes") {
  Fixture f;
  TrainingConfig c = config(2, 1);
  c.global_batch = 1;
  c.sequence_parallel = true;
  struct Exchange {
    std::string collective;
    double bytes;
  };
  // Per op name: the TP exchanges in program order, and what each fp8 cast reads and writes.
  const auto run = [&](Dtype dtype, bool sequence_parallel, std::map<std::string, double>& cast_bytes) {
    c.dtype = dtype;
    c.sequence_parallel = sequence_parallel;
    const TrainingStep step(f.model, f.gpu, fabric(2), c, f.roofline);
    std::vector<Exchange> exchanges;
    for (OpId op = 0; op < step.graph().op_count(); ++op) {
      const std::string& name = step.graph().label_text(step.graph().op(op).name);
      const auto args = nlohmann::json::parse(step.trace_args(op));
      if (name.ends_with(".fp8_cast")) cast_bytes[name] = args["bytes"].get<double>();
      if (args.value("group", "") == "tp") exchanges.push_back({args["collective"], args["bytes"]});
    }
    return exchanges;
  };
  std::map<std::string, double> bf16_casts, fp8_casts, unsharded_casts;
  const std::vector<Exchange> bf16 = run(Dtype::kBf16, true, bf16_casts);
  const std::vector<Exchange> fp8 = run(Dtype::kFp8, true, fp8_casts);
  run(Dtype::kFp8, false, unsharded_casts);
  REQUIRE(bf16.size() == fp8.size());
  int halved = 0, kept = 0;
  for (std::size_t i = 0; i < bf16.size(); ++i) {
    REQUIRE(fp8[i].collective == bf16[i].collective);
    if (bf16[i].collective != "all_gather") {
      CHECK(fp8[i].bytes == bf16[i].bytes);  // reduce-scatters carry the GEMMs' bf16 outputs
    } else if (fp8[i].bytes < bf16[i].bytes) {
      CHECK(fp8[i].bytes == doctest::Approx(bf16[i].bytes / 2));
      ++halved;
    } else {
      ++kept;
    }
  }
  // Per layer: the attention and MLP inputs forward, their output projections' incoming
  // gradients backward. The output head's gather feeds its bf16 GEMM, the embedding's
  // backward gather no GEMM.
  CHECK(halved == f.model.layers * 4);
  CHECK(kept == 2);
  // A cast before a gather converts this rank's half of the tensor; the others, whole
  // tensors either way.
  CHECK(bf16_casts.empty());
  REQUIRE(fp8_casts.size() == 8);
  for (const auto& cast : fp8_casts) {
    const std::string& name = cast.first;
    INFO(name);
    const bool gathered = name == "attn.qkv.fp8_cast" || name == "mlp.gate_up.fp8_cast" || name == "attn.out.dgrad.fp8_cast" ||
                          name == "mlp.down.dgrad.fp8_cast";
    CHECK(cast.second == doctest::Approx(unsharded_casts.at(name) / (gathered ? 2 : 1)));
  }
}

TEST_CASE("full recomputation adds one forward per layer and keeps only layer inputs") {
  Fixture f;
  TrainingConfig c = config(1, 1);
  const TrainingResult plain = f.run_alone(c);
  c.recompute = Recompute::kFull;
  const TrainingResult recomputed = f.run_alone(c);
  const ModelOps ops = build_model_ops(f.model, {1, 1024, Dtype::kBf16, 1, false, true});
  CHECK(recomputed.step_time - plain.step_time == 4 * f.model.layers * sum_durations(ops.layer_forward, f.roofline, f.gpu));
  CHECK(recomputed.memory.activations < plain.memory.activations);
}

TEST_CASE("full recomputation of every Nth layer reruns only those and keeps the others' activations") {
  // torchtitan's layer-level selective checkpointing: with N = 2 the 2nd, 4th, ... layers
  // are checkpointed (rerun from their input), the rest keep everything they save.
  Fixture f;
  TrainingConfig c = config(1, 1);
  const TrainingResult plain = f.run_alone(c);
  c.recompute = Recompute::kFull;
  c.recompute_every = 2;
  const TrainingResult half = f.run_alone(c);
  const ModelOps ops = build_model_ops(f.model, {1, 1024, Dtype::kBf16, 1, false, true});
  const std::int64_t rerun = f.model.layers / 2;
  CHECK(half.step_time - plain.step_time == 4 * rerun * sum_durations(ops.layer_forward, f.roofline, f.gpu));
  const double layer = total_saved_bytes(ops.layer_forward);
  const double layer_input = 1024.0 * static_cast<double>(f.model.hidden) * 2;
  CHECK(plain.memory.activations - half.memory.activations == doctest::Approx(static_cast<double>(rerun) * (layer - layer_input) - layer));
}

TEST_CASE("full recomputation holds one layer's working set, whatever the micro-batches in flight") {
  // Each micro-batch in flight keeps its layer inputs (and the embedding's and head's
  // saved tensors); only the layer being recomputed holds its full set, one at a time.
  Fixture f;
  TrainingConfig c = config(1, 1);
  c.recompute = Recompute::kFull;
  const ModelOps ops = build_model_ops(f.model, {1, 1024, Dtype::kBf16, 1, false, true});
  const double one_layer = total_saved_bytes(ops.layer_forward);
  const double one = training_memory(f.model, ops, c, 80e9, {1.0}).activations;
  const double four = training_memory(f.model, ops, c, 80e9, {4.0}).activations;
  CHECK(four - one == doctest::Approx(3 * (one - one_layer)));
  const double layer_inputs = static_cast<double>(f.model.layers) * 1024 * static_cast<double>(f.model.hidden) * 2;
  CHECK(one - one_layer == doctest::Approx(layer_inputs + total_saved_bytes(ops.embedding_forward) +
                                           total_saved_bytes(ops.head_forward)));
}

TEST_CASE("selective recomputation reruns core attention before each layer's backward") {
  Fixture f;
  TrainingConfig c = config(1, 1);
  c.attention = AttentionKernel::kUnfused;
  const TrainingResult plain = f.run_alone(c);
  c.recompute = Recompute::kSelective;
  const TrainingResult selective = f.run_alone(c);
  ShapeConfig shape{1, 1024, Dtype::kBf16, 1, false, true};
  shape.attention = AttentionKernel::kUnfused;
  shape.recompute.core_attn = true;
  const ModelOps ops = build_model_ops(f.model, shape);
  CHECK(selective.step_time - plain.step_time == 4 * f.model.layers * sum_durations(ops.layer_selective_recompute, f.roofline, f.gpu));
  // The softmax output, 2 bytes per score, per layer; with pp = 1 one micro-batch is in flight.
  const double scores = 16.0 * 1024 * 1024;
  CHECK(plain.memory.activations - selective.memory.activations == doctest::Approx(2 * scores * 4));
}

TEST_CASE("selective recomputation reruns the modules it names, and frees what only they kept") {
  Fixture f;
  TrainingConfig c = config(1, 1);
  const TrainingResult plain = f.run_alone(c);
  c.recompute = Recompute::kSelective;
  c.recompute_modules = {.layernorm = true, .mlp = true};
  const TrainingResult modules = f.run_alone(c);
  ShapeConfig shape{1, 1024, Dtype::kBf16, 1, false, true};
  shape.recompute = c.recompute_modules;
  const ModelOps ops = build_model_ops(f.model, shape);
  CHECK(names_of(ops.layer_selective_recompute) == std::vector<std::string>{"attn.norm", "mlp.norm", "mlp.gate_up", "mlp.act", "mlp.down"});
  CHECK(modules.step_time - plain.step_time == 4 * f.model.layers * sum_durations(ops.layer_selective_recompute, f.roofline, f.gpu));
  CHECK(modules.memory.activations < plain.memory.activations);
}

TEST_CASE("op-level selective recomputation reruns its ops before each layer's backward and keeps what its policy saves") {
  Fixture f;
  TrainingConfig c = config(1, 1);
  const TrainingResult plain = f.run_alone(c);
  c.recompute = Recompute::kSelectiveOp;
  const TrainingResult op_level = f.run_alone(c);
  const ModelOps ops = build_model_ops(f.model, {1, 1024, Dtype::kBf16, 1, false, true});
  CHECK(op_level.step_time - plain.step_time == 4 * f.model.layers * sum_durations(ops.layer_op_recompute, f.roofline, f.gpu));
  // One micro-batch in flight: each layer keeps what the policy saves, and the layer being
  // recomputed holds the rest of its working set.
  const double layers = static_cast<double>(f.model.layers);
  const double layer = total_saved_bytes(ops.layer_forward);
  CHECK(op_level.memory.activations ==
        doctest::Approx(layers * ops.layer_op_saved_bytes + total_saved_bytes(ops.embedding_forward) +
                        total_saved_bytes(ops.head_forward) + layer - ops.layer_op_saved_bytes));
  CHECK(op_level.memory.activations < plain.memory.activations);
}

TEST_CASE("memory follows the ZeRO accounting") {
  // ZeRO paper, Sec. 3.1: 2 bytes of weights, 2 of gradients, 12 of Adam state per
  // parameter; stage 1 shards the 12 over DP, stage 2 the gradients too.
  Fixture f;
  const double params = count_parameters(f.model).total;
  TrainingConfig c = config(1, 4);
  const ModelOps ops = build_model_ops(f.model, {1, 1024, Dtype::kBf16, 1, false, true});
  c.zero_stage = 0;
  MemoryFootprint m = training_memory(f.model, ops, c, 80e9, {1.0});
  CHECK(m.weights == doctest::Approx(2 * params));
  CHECK(m.gradients == doctest::Approx(2 * params));
  CHECK(m.optimizer == doctest::Approx(12 * params));
  c.zero_stage = 2;
  m = training_memory(f.model, ops, c, 80e9, {1.0});
  CHECK(m.gradients == doctest::Approx(2 * params / 4));
  CHECK(m.optimizer == doctest::Approx(12 * params / 4));
  CHECK(m.activations == doctest::Approx(static_cast<double>(f.model.layers) * total_saved_bytes(ops.layer_forward) +
                                         total_saved_bytes(ops.embedding_forward) + total_saved_bytes(ops.head_forward)));
  m = training_memory(f.model, ops, c, 1e9, {1.0});
  CHECK_FALSE(m.fits());
}

TEST_CASE("ZeRO-3 gathers each unit's parameters forward and backward and reduce-scatters its gradients") {
  Fixture f;
  TrainingConfig c = config(1, 4);  // 4 micro-batches of one sequence per rank
  c.zero_stage = 3;
  const TrainingStep step(f.model, f.gpu, fabric(4), c, f.roofline);
  std::map<std::string, int> count;
  for (OpId op = 0; op < step.graph().op_count(); ++op) count[step.graph().label_text(step.graph().op(op).name)] += 1;
  const int units = static_cast<int>(f.model.layers) + 2;  // embedding, layers, head
  CHECK(count["dp.param_gather"] == 4 * 2 * units);
  CHECK(count["dp.grad_reduce_scatter"] == 4 * units);
  CHECK(count["dp.param_all_gather"] == 0);  // no gather after the optimizer

  // A slow network: the DP stream runs back to back, so the step is its sum plus what
  // compute cannot hide (at most all of it).
  NodeFabric slow = fabric(4);
  slow.bandwidth = 1e9;
  const TrainingResult r = TrainingStep(f.model, f.gpu, slow, c, f.roofline).run();
  const ParameterCount p = count_parameters(f.model);
  const auto dp_time = [&](CollectiveKind kind, double params) { return collective_duration(slow, kind, params * 2, 4); };
  Time serial = 0;
  for (double unit : {p.embedding, p.lm_head + p.final_norms, p.per_layer}) {
    const Time per_unit = 2 * dp_time(CollectiveKind::kAllGather, unit) + dp_time(CollectiveKind::kReduceScatter, unit);
    serial += 4 * per_unit * (unit == p.per_layer ? f.model.layers : 1);
  }
  CHECK(r.step_time >= serial);
  CHECK(r.step_time <= serial + r.compute_busy);
  CHECK(r.exposed_dp > r.compute_busy);

  // Memory: a quarter of every parameter's weights, gradients and Adam state, plus two gathered units.
  const double largest = std::max(p.per_layer, std::max(p.embedding, p.lm_head));
  CHECK(r.memory.weights == doctest::Approx(2 * (p.total / 4 + 2 * largest)));
  CHECK(r.memory.gradients == doctest::Approx(2 * p.total / 4));
  CHECK(r.memory.optimizer == doctest::Approx(12 * p.total / 4));
}

TEST_CASE("ZeRO++: qwZ gathers int8 around its kernels, hpZ gathers backward inside the partition, qgZ reduces int4") {
  Fixture f;
  const ParameterCount p = count_parameters(f.model);
  const double all = static_cast<double>(f.model.layers) * p.per_layer + p.embedding + p.lm_head + p.final_norms;
  const int units = static_cast<int>(f.model.layers) + 2;
  struct Seen {
    std::map<std::string, double> bytes;
    std::map<std::string, int> count;
    Time hpz_gather = 0;
  };
  const auto built = [&](const TrainingConfig& c) {
    const TrainingStep step(f.model, f.gpu, fabric(4), c, f.roofline);
    Seen seen;
    for (OpId op = 0; op < step.graph().op_count(); ++op) {
      const std::string name = step.graph().label_text(step.graph().op(op).name);
      seen.bytes[name] += collective_bytes_of(step.trace_args(op));
      seen.count[name] += 1;
      if (name == "hpz.param_gather") seen.hpz_gather = std::max(seen.hpz_gather, step.graph().op(op).duration);
    }
    return seen;
  };
  TrainingConfig c = config(1, 4);  // 4 micro-batches
  c.zero_stage = 3;
  c.zero_quantized_weights = true;
  Seen qwz = built(c);
  CHECK(qwz.bytes["dp.param_gather"] == doctest::Approx(4 * 2 * 1 * all));  // forward and backward, one byte
  CHECK(qwz.count["zeropp.weight_quantize"] == 4 * 2 * units);
  CHECK(qwz.count["zeropp.weight_dequantize"] == 4 * 2 * units);

  c.zero_hpz_partition_size = 2;
  c.zero_quantized_gradients = true;
  Seen all_three = built(c);
  CHECK(all_three.bytes["dp.param_gather"] == doctest::Approx(4 * 1 * all));  // forward only
  CHECK(all_three.bytes["hpz.param_gather"] == doctest::Approx(4 * 2 * all));  // backward, bf16
  CHECK(all_three.count["zeropp.weight_dequantize"] == 4 * units);
  CHECK(all_three.bytes["dp.grad_reduce_scatter_int4"] == doctest::Approx(4 * 0.5 * all));
  CHECK(all_three.count["dp.grad_reduce_scatter"] == 0);
  CHECK(all_three.count["zeropp.gradient_quantize"] == 4 * units);
  CHECK(all_three.count["zeropp.gradient_dequantize_sum"] == 4 * units);
  // The partition's gathers run over its 2 ranks: the largest unit's is the 2-rank ring's time.
  const double largest = std::max({p.per_layer, p.embedding, p.lm_head + p.final_norms});
  CHECK(all_three.hpz_gather == collective_duration(fabric(4), CollectiveKind::kAllGather, 2 * largest, 2));

  // hpZ's secondary copy: the weights' bf16 sharded over the partition, on top of ZeRO-3's.
  const TrainingResult plain = [&] {
    TrainingConfig z3 = config(1, 4);
    z3.zero_stage = 3;
    return TrainingStep(f.model, f.gpu, fabric(4), z3, f.roofline).run();
  }();
  const TrainingResult zeropp = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  CHECK(zeropp.memory.weights == doctest::Approx(plain.memory.weights + 2 * p.total / 2));

  // On a slow network the exchanges set the step: a quarter of the bytes for the gradients
  // and half for the forward gathers cut it, whatever the kernels add.
  NodeFabric slow = fabric(4);
  slow.bandwidth = 1e9;
  TrainingConfig z3 = config(1, 4);
  z3.zero_stage = 3;
  const Time base = TrainingStep(f.model, f.gpu, slow, z3, f.roofline).run().step_time;
  const Time faster = TrainingStep(f.model, f.gpu, slow, c, f.roofline).run().step_time;
  CHECK(faster < base / 2);
}

TEST_CASE("local SGD: inner steps reduce nothing over DP; the syncing step averages the weights; a step is their mean") {
  Fixture f;
  const double params = count_parameters(f.model).total;
  TrainingConfig c = config(1, 4);
  c.zero_stage = 0;  // each replica keeps its whole optimizer
  c.local_sgd_period = 10;
  const TrainingStep step(f.model, f.gpu, fabric(4), c, f.roofline);
  std::map<std::string, double> bytes;
  std::map<std::string, int> count;
  for (OpId op = 0; op < step.graph().op_count(); ++op) {
    const std::string name = step.graph().label_text(step.graph().op(op).name);
    bytes[name] += collective_bytes_of(step.trace_args(op));
    count[name] += 1;
  }
  for (const auto& entry : count) {
    const std::string& name = entry.first;  // clang cannot CAPTURE a structured binding
    CAPTURE(name);
    CHECK((name.rfind("dp.", 0) != 0));  // no gradient bucket, no norm all-reduce
  }
  CHECK(count["local_sgd.average"] == 1);
  CHECK(bytes["local_sgd.average"] == doctest::Approx(4 * params));  // the outer gradient in fp32

  const TrainingResult r = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  // On one node's analytic fabric nothing overlaps the average: the syncing step is the
  // inner step plus the outer gradient, the all-reduce and the outer optimizer.
  const Time average = f.roofline.estimate(outer_gradient_op(params, 4.0), f.gpu).duration +
                       collective_duration(fabric(4), CollectiveKind::kAllReduce, 4 * params, 4) +
                       f.roofline.estimate(outer_optimizer_op(params, 4.0), f.gpu).duration;
  CHECK(r.syncing_step - r.inner_step == average);
  CHECK(r.step_time == local_sgd_mean_step(r.inner_step, r.syncing_step, 10));
  CHECK(r.exposed_dp == 0);
  // The replicas keep the shared weights and the outer momentum, 8 bytes a parameter.
  TrainingConfig every_step = config(1, 4);
  every_step.zero_stage = 0;
  const TrainingResult synced = TrainingStep(f.model, f.gpu, fabric(4), every_step, f.roofline).run();
  CHECK(r.memory.optimizer == doctest::Approx(synced.memory.optimizer + 8 * params));
  // Without the per-step gradient all-reduce the inner step is at most the synced one.
  CHECK(r.inner_step <= synced.step_time);
}

TEST_CASE("local SGD over sharded replicas: each shards and reduces within itself every step; the average joins a shard's counterparts") {
  // Four DP ranks in two replicas of two, ZeRO-1. Every step reduces the gradients and
  // gathers the weights within the replica, as a DP 2 run of the replica alone does; the
  // syncing step then averages each rank's half of the weights with its counterpart in the
  // other replica and gathers the averaged halves once more.
  Fixture f;
  const double params = count_parameters(f.model).total;
  TrainingConfig c = config(1, 4);
  c.zero_stage = 1;
  c.local_sgd_period = 10;
  c.local_sgd_replicas = 2;
  const TrainingStep step(f.model, f.gpu, fabric(4), c, f.roofline);
  std::map<std::string, double> bytes;
  std::map<std::string, int> count;
  std::map<std::string, std::string> group;
  for (OpId op = 0; op < step.graph().op_count(); ++op) {
    const std::string name = step.graph().label_text(step.graph().op(op).name);
    const std::string args = step.trace_args(op);
    bytes[name] += collective_bytes_of(args);
    count[name] += 1;
    if (const auto at = args.find("\"group\":\""); at != std::string::npos) group[name] = args.substr(at + 9, args.find('"', at + 9) - at - 9);
  }
  CHECK(count["local_sgd.average"] == 1);  // the simulated replica's rank with its counterpart
  CHECK(group["local_sgd.average"] == "outer");
  CHECK(bytes["local_sgd.average"] == doctest::Approx(4 * params / 2));  // its half, in fp32
  CHECK(count["dp.param_all_gather"] == 2);  // after the optimizer, and after the average
  CHECK(group["dp.param_all_gather"] == "dp");

  const TrainingResult r = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  TrainingConfig alone = config(1, 2);
  alone.zero_stage = 1;
  const TrainingResult replica = TrainingStep(f.model, f.gpu, fabric(2), alone, f.roofline).run();
  CHECK(r.inner_step == replica.step_time);
  // Nothing overlaps the average: the outer passes over the half, its all-reduce over two
  // ranks, and the replica's second gather.
  const double gathered = bytes["dp.param_all_gather"] / 2;
  const Time average = f.roofline.estimate(outer_gradient_op(params / 2, 4.0), f.gpu).duration +
                       collective_duration(fabric(4), CollectiveKind::kAllReduce, 4 * params / 2, 2) +
                       f.roofline.estimate(outer_optimizer_op(params / 2, 4.0), f.gpu).duration +
                       collective_duration(fabric(4), CollectiveKind::kAllGather, gathered, 2);
  CHECK(r.syncing_step - r.inner_step == average);
  // The optimizer state and the outer state are the rank's half.
  CHECK(r.memory.optimizer == doctest::Approx(replica.memory.optimizer + 8 * params / 2));
}

TEST_CASE("Streaming DiLoCo: a fragment's average every period / fragments steps; an overlapped one waits only beyond its steps") {
  Fixture f;
  const double params = count_parameters(f.model).total;
  TrainingConfig c = config(1, 4);
  c.zero_stage = 0;
  c.local_sgd_period = 12;
  c.local_sgd_fragments = 4;
  const TrainingStep step(f.model, f.gpu, fabric(4), c, f.roofline);
  CHECK(collective_bytes_named(step, "local_sgd.average") == doctest::Approx(4 * params / 4));  // a quarter of the weights, fp32
  TrainingConfig four_bits = c;
  four_bits.local_sgd_fp4 = true;  // the paper's 4-bit outer gradients: half a byte a parameter
  const TrainingStep quantized(f.model, f.gpu, fabric(4), four_bits, f.roofline);
  CHECK(collective_bytes_named(quantized, "local_sgd.average") == doctest::Approx(0.5 * params / 4));

  // Waited for: the quarter's outer passes and all-reduce, once every 3 steps.
  const TrainingResult r = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  const Time average = f.roofline.estimate(outer_gradient_op(params / 4, 4.0), f.gpu).duration +
                       collective_duration(fabric(4), CollectiveKind::kAllReduce, 4 * params / 4, 4) +
                       f.roofline.estimate(outer_optimizer_op(params / 4, 4.0), f.gpu).duration;
  CHECK(r.syncing_step - r.inner_step == average);
  CHECK(r.step_time == local_sgd_mean_step(r.inner_step, r.syncing_step, 3));

  // Overlapped on a slow network: the all-reduce outlasts the step. Beside one step, the
  // syncing step ends with it (it starts the step); the inner steps are the waiting run's.
  NodeFabric slow = fabric(4);
  slow.bandwidth = 1e9;
  const TrainingResult waiting = TrainingStep(f.model, f.gpu, slow, c, f.roofline).run();
  c.local_sgd_overlap_steps = 1;
  const TrainingResult one = TrainingStep(f.model, f.gpu, slow, c, f.roofline).run();
  CHECK(one.inner_step == waiting.inner_step);
  CHECK(one.syncing_step == collective_duration(slow, CollectiveKind::kAllReduce, 4 * params / 4, 4));
  CHECK(one.average_wait > 0);
  CHECK(one.step_time < waiting.step_time);
  // Beside all three steps up to the next average it waits for less, or not at all.
  c.local_sgd_overlap_steps = 3;
  const TrainingResult three = TrainingStep(f.model, f.gpu, slow, c, f.roofline).run();
  CHECK(three.average_wait < one.average_wait);
  CHECK(three.step_time <= one.step_time);
  // The fragment in flight keeps its outer gradient until the merge.
  CHECK(three.memory.optimizer == doctest::Approx(waiting.memory.optimizer + 4 * params / 4));
}

TEST_CASE("Streaming DiLoCo's overlap in closed form: the tail beyond the step takes the next steps at the contended pace, then waits") {
  // An inner step of 100 alone, 110 beside the all-reduce, 120 with the outer passes; the
  // all-reduce ends at 400, a tail of 280.
  const StreamingAverage beside_three = streaming_average(100, 110, 120, 400, 3, 5);
  CHECK(beside_three.wait == 60);            // 280 - 2 x 110
  CHECK(beside_three.syncing_step == 180);   // 120 + 60
  CHECK(beside_three.mean_step == 120);      // 100 + (20 + 220 x 10 / 110 + 60) / 5
  const StreamingAverage beside_one = streaming_average(100, 110, 120, 400, 1, 5);
  CHECK(beside_one.wait == 280);
  CHECK(beside_one.syncing_step == 400);     // the step ends with the all-reduce
  CHECK(beside_one.mean_step == 160);        // 100 + 300 / 5
  const StreamingAverage hidden = streaming_average(100, 110, 120, 115, 1, 5);
  CHECK(hidden.wait == 0);
  CHECK(hidden.syncing_step == 120);
  CHECK(hidden.mean_step == 104);            // 100 + 20 / 5
}

TEST_CASE("1-bit Adam: no gradient reduction; the optimizer exchanges one sign bit a parameter between its kernels") {
  Fixture f;
  const double params = count_parameters(f.model).total;
  TrainingConfig c = config(1, 4);
  c.zero_stage = 0;
  c.onebit_adam = true;
  const TrainingStep step(f.model, f.gpu, fabric(4), c, f.roofline);
  std::map<std::string, double> bytes;
  for (OpId op = 0; op < step.graph().op_count(); ++op) {
    const std::string name = step.graph().label_text(step.graph().op(op).name);
    CAPTURE(name);
    CHECK(name.rfind("dp.", 0) != 0);  // no gradient bucket, no norm all-reduce
    bytes[name] += collective_bytes_of(step.trace_args(op));
  }
  CHECK(bytes["onebit_adam.sign_exchange"] == doctest::Approx(params / 8));  // 16x under a 16-bit all-reduce

  // On a slow fabric the exchange is the step's tail: the step ends with the compress
  // kernel, the exchange, the server's average and the update, one after another.
  NodeFabric slow = fabric(4);
  slow.bandwidth = 1e9;
  const TrainingResult r = TrainingStep(f.model, f.gpu, slow, c, f.roofline).run();
  const Time exchange = collective_duration(slow, CollectiveKind::kAllReduce, params / 8, 4);
  CHECK(r.exposed_dp == exchange);
  TrainingConfig adam = config(1, 4);
  adam.zero_stage = 0;
  const TrainingResult plain = TrainingStep(f.model, f.gpu, slow, adam, f.roofline).run();
  CHECK(r.step_time < plain.step_time);
  // Error feedback: the worker's fp32 buffer and the server's for its quarter.
  CHECK(r.memory.optimizer == doctest::Approx(plain.memory.optimizer + 4 * params * (1 + 1.0 / 4)));
}

TEST_CASE("1-bit Adam's warmup runs the uncompressed step, simulated only when a target needs it") {
  Fixture f;
  TrainingConfig c = config(1, 4);
  c.zero_stage = 0;
  c.onebit_adam = true;
  NodeFabric slow = fabric(4);
  slow.bandwidth = 1e9;
  CHECK(TrainingStep(f.model, f.gpu, slow, c, f.roofline).run().warmup_step == 0);
  c.target.steps = 1000;
  const TrainingResult compressed = TrainingStep(f.model, f.gpu, slow, c, f.roofline).run();
  TrainingConfig adam = c;
  adam.onebit_adam = false;
  const TrainingResult plain = TrainingStep(f.model, f.gpu, slow, adam, f.roofline).run();
  CHECK(compressed.warmup_step == plain.step_time);
  CHECK(compressed.warmup_step > compressed.step_time);
  CHECK(plain.warmup_step == 0);
  c.onebit_freeze_step = 0;
  CHECK(TrainingStep(f.model, f.gpu, slow, c, f.roofline).run().warmup_step == 0);
}

TEST_CASE("FP8 gradient reduction: each bucket's scales agreed on, its gradients cast, reduced at a byte each, cast back") {
  Fixture f;
  const double params = count_parameters(f.model).total;
  TrainingConfig c = config(1, 4);
  c.zero_stage = 1;
  c.grad_dtype = Dtype::kFp32;
  c.fp8_gradients = true;
  const TrainingStep step(f.model, f.gpu, fabric(4), c, f.roofline);
  std::map<std::string, int> count;
  int buckets = 0;
  double reduced = 0;
  for (OpId op = 0; op < step.graph().op_count(); ++op) {
    const std::string name = step.graph().label_text(step.graph().op(op).name);
    count[name] += 1;
    const bool fp8_reduction = name.size() > 4 && name.compare(name.size() - 4, 4, ".fp8") == 0;
    if (fp8_reduction) reduced += collective_bytes_of(step.trace_args(op));
    buckets += fp8_reduction ? 1 : 0;
  }
  CHECK(buckets >= 1);
  CHECK(reduced == doctest::Approx(params));  // one byte a gradient, a quarter of fp32's
  CHECK(count["fp8_grad.amax"] == buckets);
  CHECK(count["fp8_grad.cast"] == buckets);
  CHECK(count["fp8_grad.restore"] == buckets);

  // With one bucket at the end on a slow link, the step grows by the bucket's tail: the
  // scales' all-reduce and the FP8 reduce-scatter where fp32's reduce-scatter was.
  NodeFabric slow = fabric(4);
  slow.bandwidth = 1e9;
  c.overlap_grad_reduce = false;
  TrainingConfig plain = c;
  plain.fp8_gradients = false;
  const TrainingResult r8 = TrainingStep(f.model, f.gpu, slow, c, f.roofline).run();
  const TrainingResult r32 = TrainingStep(f.model, f.gpu, slow, plain, f.roofline).run();
  const Time fp32_reduction = collective_duration(slow, CollectiveKind::kReduceScatter, 4 * params, 4);
  const Time fp8_reduction = collective_duration(slow, CollectiveKind::kReduceScatter, params, 4);
  CHECK(r8.step_time < r32.step_time);
  // What FP8 saves is the reduction's bytes, less the scale exchange and the three passes.
  CHECK(to_seconds(r32.step_time - r8.step_time) == doctest::Approx(to_seconds(fp32_reduction - fp8_reduction)).epsilon(0.05));
  CHECK(r8.memory.gradients == doctest::Approx(r32.memory.gradients));  // the buffers stay fp32
}

TEST_CASE("FSDP2 copies every gathered unit out of the all-gather buffer and its gradients into the reduce-scatter's") {
  // At the 650-700 GB/s FSDP2's authors measured on H100 (675 here): one copy-out per
  // gather, one copy-in per reduce-scatter, each as long as the unit's bf16 bytes take.
  Fixture f;
  TrainingConfig c = config(1, 4);
  c.zero_stage = 3;
  const TrainingResult in_place = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  c.fsdp2_copies = true;
  const TrainingStep step(f.model, f.gpu, fabric(4), c, f.roofline);
  std::map<std::string, int> count;
  Time copies = 0;
  for (OpId op = 0; op < step.graph().op_count(); ++op) {
    const std::string name = step.graph().label_text(step.graph().op(op).name);
    count[name] += 1;
    if (name.rfind("fsdp2.", 0) == 0) copies += step.graph().op(op).duration;
  }
  const int units = static_cast<int>(f.model.layers) + 2;
  CHECK(count["fsdp2.all_gather_copy_out"] == 4 * 2 * units);
  CHECK(count["fsdp2.reduce_scatter_copy_in"] == 4 * units);
  const double bytes_per_micro_batch = 3 * count_parameters(f.model).total * 2;  // two gathers and one reduction, bf16
  CHECK(to_seconds(copies) == doctest::Approx(4 * bytes_per_micro_batch / 675e9).epsilon(1e-3));
  const TrainingResult copied = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  CHECK(copied.step_time > in_place.step_time);
}

namespace {
// A step's ops counted by name, and the bytes of its EP dispatch.
struct ExpertOps {
  std::map<std::string, int> count;
  double dispatch_bytes = 0;
};
// A step's ops counted by name, and the bytes of the last collective of each name.
std::pair<std::map<std::string, int>, std::map<std::string, double>> ops_by_name(const TrainingStep& step) {
  std::map<std::string, int> count;
  std::map<std::string, double> bytes;
  for (OpId op = 0; op < step.graph().op_count(); ++op) {
    const std::string name = step.graph().label_text(step.graph().op(op).name);
    count[name] += 1;
    bytes[name] = collective_bytes_of(step.trace_args(op));
  }
  return {count, bytes};
}
ExpertOps expert_ops(const TrainingStep& step) {
  ExpertOps out;
  for (OpId op = 0; op < step.graph().op_count(); ++op) {
    const std::string& name = step.graph().label_text(step.graph().op(op).name);
    out.count[name] += 1;
    if (name == "ep.dispatch") out.dispatch_bytes = collective_bytes_of(step.trace_args(op));
  }
  return out;
}
}  // namespace

TEST_CASE("expert parallelism: all-to-alls around the experts, expert weights split, expert gradients over their own group") {
  Fixture f;
  f.model.experts = 4;
  f.model.experts_per_token = 2;
  TrainingConfig c = config(1, 4);
  c.global_batch = 4;  // one micro-batch per rank
  const TrainingResult dense_layout = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  c.ep = 2;
  TrainingStep step(f.model, f.gpu, fabric(4), c, f.roofline);
  auto [count, exchanged] = expert_ops(step);
  // Forward: dispatch and combine per layer; backward their mirror images. One EP group
  // holds the simulated replica (the other group's ranks are not simulated).
  CHECK(count["ep.dispatch"] == f.model.layers);
  CHECK(count["ep.combine.bwd"] == f.model.layers);
  CHECK(exchanged == 1024.0 * 2 * 1024 * 2);  // tokens x k x hidden x bf16
  CHECK(count["edp.grad_bucket_0"] == 1);      // the experts' own reduction over dp / ep = 2 ranks
  const TrainingResult r = step.run();
  CHECK(r.exposed_ep > 0);
  // The same rows per rank go through the experts, in half as many, twice as tall GEMMs.
  CHECK(r.executed_tflops_per_gpu * to_seconds(r.step_time) ==
        doctest::Approx(dense_layout.executed_tflops_per_gpu * to_seconds(dense_layout.step_time)).epsilon(1e-9));
  const ParameterCount p = count_parameters(f.model);
  CHECK(r.memory.weights == doctest::Approx(2 * (p.total - p.per_layer_experts * static_cast<double>(f.model.layers) / 2)));
  // Adam state: each expert lives on dp / ep ranks, sharded over them, so the shard is
  // the whole model over dp x tp all the same.
  CHECK(r.memory.optimizer == doctest::Approx(12 * p.total / 4));
}

// Megatron's MoE parallel folding (expert_tensor_parallel_size 1): each EP group is ep
// consecutive ranks of the stage, TP ranks included, each holding whole experts. The layout
// below: 4 experts, top-2, TP `tp` x DP 2 with sequence parallelism, one micro-batch a replica.
namespace {
TrainingConfig folded_experts(Fixture& f, std::int64_t tp) {
  f.model.experts = 4;
  f.model.experts_per_token = 2;
  TrainingConfig c = config(tp, 2);
  c.global_batch = 2;
  c.sequence_parallel = true;
  c.expert_tp = 1;
  return c;
}
}  // namespace

TEST_CASE("expert parallelism folded over TP ranks: whole experts, each rank dispatching its own shard of the tokens") {
  Fixture f;
  TrainingConfig c = folded_experts(f, 2);
  c.ep = 4;
  REQUIRE(c.experts_folded());
  TrainingStep step(f.model, f.gpu, fabric(4), c, f.roofline);
  auto [count, exchanged] = expert_ops(step);
  CHECK(count["ep.dispatch"] == f.model.layers);
  CHECK(exchanged == 1024.0 / 2 * 2 * 1024 * 2);  // its sequence-parallel half of the tokens x k x hidden x bf16
  // Each expert on one rank of the four: nothing to reduce across ranks for the experts.
  CHECK(count["edp.grad_bucket_0"] == 0);
  const TrainingResult r = step.run();
  const ParameterCount p = count_parameters(f.model);
  const double experts = p.per_layer_experts * static_cast<double>(f.model.layers);
  CHECK(r.memory.weights == doctest::Approx(2 * ((p.total - experts) / 2 + experts / 4)));  // dense over TP, experts whole over EP
}

// Folding also takes EP groups smaller than a TP group (Megatron forms them from consecutive
// ranks whatever their size), and EP 1: every rank holds every expert whole and runs its own
// sequence-parallel shard through them (NeMo's Qwen3-235B-A22B recipe).
TEST_CASE("expert parallelism folded inside a TP group, or ep 1: whole experts, the all-to-all among ep ranks or none") {
  Fixture f;
  TrainingConfig c = folded_experts(f, 4);
  const ParameterCount p = count_parameters(f.model);
  const double experts = p.per_layer_experts * static_cast<double>(f.model.layers);

  c.ep = 2;  // two EP groups in each TP group of four
  TrainingStep within(f.model, f.gpu, fabric(8), c, f.roofline);
  auto [count, exchanged] = expert_ops(within);
  CHECK(count["ep.dispatch"] == f.model.layers);
  CHECK(exchanged == 1024.0 / 4 * 2 * 1024 * 2);  // its quarter of the tokens x k x hidden x bf16
  CHECK(count["edp.grad_bucket_0"] == 1);         // each expert on tp x dp / ep = 4 ranks
  const TrainingResult r = within.run();
  CHECK(r.memory.weights == doctest::Approx(2 * ((p.total - experts) / 4 + experts / 2)));
  // Simulating every rank (each EP group's members then all present) agrees, to the 1% that
  // one simulated rank is held to ("one simulated DP replica and TP rank ..." below).
  TrainingConfig every_rank = c;
  every_rank.simulate_all_ranks = true;
  CHECK(to_seconds(TrainingStep(f.model, f.gpu, fabric(8), every_rank, f.roofline).run().step_time) ==
        doctest::Approx(to_seconds(r.step_time)).epsilon(0.01));

  c.ep = 1;
  TrainingStep whole(f.model, f.gpu, fabric(8), c, f.roofline);
  auto [whole_count, none] = expert_ops(whole);
  CHECK(whole_count["ep.dispatch"] == 0);
  CHECK(whole_count["edp.grad_bucket_0"] == 1);  // the experts reduce over all eight ranks, the dense weights over two
  const TrainingResult w = whole.run();
  CHECK(w.memory.weights == doctest::Approx(2 * ((p.total - experts) / 4 + experts)));
  // The same expert FLOPs as slicing each expert over the TP group: a quarter of the rows,
  // whole. Only the router differs: sliced, every TP rank routes every token (0.04% here).
  TrainingConfig sliced = c;
  sliced.expert_tp = 0;
  const TrainingResult s = TrainingStep(f.model, f.gpu, fabric(8), sliced, f.roofline).run();
  CHECK(w.executed_tflops_per_gpu * to_seconds(w.step_time) ==
        doctest::Approx(s.executed_tflops_per_gpu * to_seconds(s.step_time)).epsilon(1e-3));
  CHECK(w.executed_tflops_per_gpu * to_seconds(w.step_time) < s.executed_tflops_per_gpu * to_seconds(s.step_time));
  every_rank = c;
  every_rank.simulate_all_ranks = true;
  CHECK(to_seconds(TrainingStep(f.model, f.gpu, fabric(8), every_rank, f.roofline).run().step_time) ==
        doctest::Approx(to_seconds(w.step_time)).epsilon(0.01));
}

// With context parallelism the stage's ranks run TP fastest, then CP, then DP (Megatron's
// order), and a folded EP group of ep consecutive ranks takes in CP ranks too: each routes its
// own sequence-parallel shard of its own chunk of the sequence. The expert block is the one
// a CP 1 run of the per-rank chunk builds; the experts' gradients reduce over tp x cp x dp / ep.
TEST_CASE("expert parallelism folded over TP and CP ranks: each rank routes its shard of its chunk") {
  Fixture f;
  TrainingConfig c = folded_experts(f, 2);
  c.cp = 2;
  c.sequence = 2048;  // 1,024 tokens a CP rank
  c.ep = 4;           // a TP group's two ranks at both CP ranks
  TrainingStep step(f.model, f.gpu, fabric(8), c, f.roofline);
  auto [count, exchanged] = expert_ops(step);
  CHECK(count["ep.dispatch"] == f.model.layers);
  CHECK(exchanged == 1024.0 / 2 * 2 * 1024 * 2);  // its chunk's sequence-parallel half x k x hidden x bf16
  CHECK(count["edp.grad_bucket_0"] == 1);         // each expert on tp x cp x dp / ep = 2 ranks
  const TrainingResult r = step.run();
  const ParameterCount p = count_parameters(f.model);
  const double experts = p.per_layer_experts * static_cast<double>(f.model.layers);
  CHECK(r.memory.weights == doctest::Approx(2 * ((p.total - experts) / 2 + experts / 4)));
  TrainingConfig every_rank = c;
  every_rank.simulate_all_ranks = true;
  CHECK(to_seconds(TrainingStep(f.model, f.gpu, fabric(8), every_rank, f.roofline).run().step_time) ==
        doctest::Approx(to_seconds(r.step_time)).epsilon(0.01));
  // The same expert block as CP 1 on the per-rank chunk.
  TrainingConfig chunk = c;
  chunk.cp = 1;
  chunk.sequence = 1024;
  chunk.dp = 4;
  chunk.global_batch = 4;
  CHECK(expert_ops(TrainingStep(f.model, f.gpu, fabric(8), chunk, f.roofline)).dispatch_bytes == exchanged);
}

TEST_CASE("ZeRO-3 beside expert parallelism: dense weights over the DP group, experts over the ranks that share them") {
  Fixture f;
  f.model.experts = 4;
  f.model.experts_per_token = 2;
  TrainingConfig c = config(1, 4);  // 4 micro-batches of one sequence per rank
  c.zero_stage = 3;
  c.ep = 2;
  const auto counts = [&](const TrainingConfig& layout) { return ops_by_name(TrainingStep(f.model, f.gpu, fabric(4), layout, f.roofline)); };
  auto [count, bytes] = counts(c);
  const int units = static_cast<int>(f.model.layers) + 2;  // embedding, layers, head
  const int layers = static_cast<int>(f.model.layers);
  CHECK(count["dp.param_gather"] == 4 * 2 * units);
  CHECK(count["edp.param_gather"] == 4 * 2 * layers);  // only layers hold experts
  CHECK(count["dp.grad_reduce_scatter"] == 4 * units);
  CHECK(count["edp.grad_reduce_scatter"] == 4 * layers);
  const ParameterCount p = count_parameters(f.model);
  CHECK(bytes["edp.param_gather"] == doctest::Approx(p.per_layer_experts / 2 * 2));  // this rank's half of the experts, bf16
  CHECK(bytes["edp.grad_reduce_scatter"] == doctest::Approx(p.per_layer_experts / 2 * 2));

  // Memory: a quarter of everything (each expert's state over the 2 ranks that hold it is
  // the same share), plus two gathered layers of dense weights and half the experts.
  const TrainingResult r = TrainingStep(f.model, f.gpu, fabric(4), c, f.roofline).run();
  const double gathered_layer = p.per_layer - p.per_layer_experts / 2;
  const double largest = std::max({gathered_layer, p.embedding, p.lm_head});
  CHECK(r.memory.weights == doctest::Approx(2 * (p.total / 4 + 2 * largest)));
  CHECK(r.memory.optimizer == doctest::Approx(12 * p.total / 4));

  // EP across every DP rank: each rank holds its experts whole, nothing to gather for them.
  c.ep = 4;
  auto [whole, whole_bytes] = counts(c);
  CHECK(whole.count("edp.param_gather") == 0);
  CHECK(whole["dp.param_gather"] == 4 * 2 * units);
}

// Folded under ZeRO-3: each rank gathers the dense weights over its DP group as before and
// its whole experts over the ranks holding the same ones (tp x dp / ep of them).
TEST_CASE("ZeRO-3 with experts folded over TP ranks: whole experts gathered over the ranks that share them") {
  Fixture f;
  TrainingConfig c = folded_experts(f, 2);
  c.global_batch = 4;  // 2 micro-batches of one sequence a replica
  c.zero_stage = 3;
  c.ep = 2;  // each TP group one EP group: an expert on tp x dp / ep = 2 ranks
  TrainingStep step(f.model, f.gpu, fabric(4), c, f.roofline);
  auto [count, bytes] = ops_by_name(step);
  const int layers = static_cast<int>(f.model.layers);
  CHECK(count["edp.param_gather"] == 2 * 2 * layers);  // the simulated rank's, 2 micro-batches x forward and backward
  const ParameterCount p = count_parameters(f.model);
  CHECK(bytes["edp.param_gather"] == doctest::Approx(p.per_layer_experts / 2 * 2));  // half the experts, whole, bf16
  CHECK(bytes["dp.param_gather"] == doctest::Approx(std::max({(p.per_layer - p.per_layer_experts) / 2, p.embedding / 2, p.lm_head / 2}) * 2));
  // Memory: a quarter of everything, plus two gathered layers of TP-sliced dense weights and
  // half the experts whole.
  const TrainingResult r = step.run();
  const double gathered_layer = (p.per_layer - p.per_layer_experts) / 2 + p.per_layer_experts / 2;
  CHECK(r.memory.weights == doctest::Approx(2 * (p.total / 2 / 2 + 2 * std::max({gathered_layer, p.embedding / 2, p.lm_head / 2}))));
  TrainingConfig every_rank = c;
  every_rank.simulate_all_ranks = true;
  CHECK(to_seconds(TrainingStep(f.model, f.gpu, fabric(4), every_rank, f.roofline).run().step_time) ==
        doctest::Approx(to_seconds(r.step_time)).epsilon(0.01));
}

TEST_CASE("the same step gives a byte-identical trace every time") {
  Fixture f;
  const TrainingConfig c = config(2, 2);
  std::string traces[2];
  for (std::string& text : traces) {
    TrainingStep step(f.model, f.gpu, fabric(4), c, f.roofline);
    ChromeTraceWriter trace([&step](OpId op) { return step.trace_args(op); });
    step.run({&trace});
    std::ostringstream out;
    trace.write(step.graph(), out);
    text = out.str();
  }
  CHECK(traces[0].size() > 1000);
  CHECK(traces[0] == traces[1]);
}

TEST_CASE("on the flow network, TP all-reduces take the ring closed form plus launch") {
  // TP 2 on two GPUs behind a switch, no DP, on the bare network (no NCCL costs): each
  // all-reduce of S = tokens x hidden x 2 bytes is 5 us of launch, then 2 ring steps of
  // S/2 at 450 GB/s, each crossing two 0.5 us hops. Nothing else uses the links, so
  // exposed TP time is their sum: micro-batches x (4 per layer + 2) all-reduces.
  Fixture f;
  NodeFabric flow = fabric(2);
  flow.network = NetworkModel::kFlow;
  flow.nccl_costs = false;
  flow.hop_latency_seconds = 0.5e-6;
  const TrainingConfig c = config(2, 1);
  const TrainingResult r = TrainingStep(f.model, f.gpu, flow, c, f.roofline).run();
  const double s = 1024.0 * 1024 * 2;
  const double all_reduce = 5e-6 + 2 * (s / 2 / 450e9 + 2 * 0.5e-6);
  const double count = 4.0 * (4 * static_cast<double>(f.model.layers) + 2);
  CHECK(to_seconds(r.exposed_tp) == doctest::Approx(count * all_reduce).epsilon(1e-6));
}

TEST_CASE("on the flow network, DP gradient traffic slows TP collectives that share its links") {
  // TP 2 x DP 4 on 8 GPUs. With overlap on, gradient reduce-scatters run during
  // backward, on the same GPU ports as the TP all-reduces, and max-min sharing slows
  // both; with overlap off they run after backward and the TP collectives have the
  // links to themselves. Same collectives either way, so the difference is congestion.
  Fixture f;
  NodeFabric flow = fabric(8);
  flow.network = NetworkModel::kFlow;
  TrainingConfig c = config(2, 4);
  c.grad_bucket_bytes = 40e6;  // three layers per bucket: reductions long enough to overlap TP
  c.grad_dtype = Dtype::kFp32;
  c.overlap_grad_reduce = false;
  c.interference.enabled = false;  // kernels keep their times: only the links differ
  const TrainingResult alone = TrainingStep(f.model, f.gpu, flow, c, f.roofline).run();
  c.overlap_grad_reduce = true;
  const TrainingResult shared = TrainingStep(f.model, f.gpu, flow, c, f.roofline).run();
  MESSAGE("exposed TP: " << to_microseconds(alone.exposed_tp) << " us alone, " << to_microseconds(shared.exposed_tp)
                         << " us sharing links with DP");
  CHECK(shared.exposed_tp > alone.exposed_tp);
  CHECK(shared.compute_busy == alone.compute_busy);
}

namespace {
NodeFabric cluster(int nodes, double oversubscription, int nodes_per_leaf) {
  NodeFabric f = fabric(8);
  f.network = NetworkModel::kFlow;
  f.nodes = nodes;
  f.nic_bandwidth = 50e9;
  f.scale_out_latency_seconds = 1e-6;
  f.nodes_per_leaf = nodes_per_leaf;
  f.oversubscription = oversubscription;
  return f;
}
}  // namespace

TEST_CASE("two nodes: DP reduce-scatter and all-gather cross the rail as 2-rank rings") {
  // TP 8 inside each node, DP 2 across nodes. Overlap off: after backward one reduce-
  // scatter of the local gradients (P/8 params x 2 bytes), after Adam one all-gather of
  // the same size. Each is one NIC hop of 1/2 the buffer on a 50 GB/s rail (both nodes
  // under one leaf: GPU, NIC, leaf, NIC, GPU = 4 hops of 1 us) after 5 us of launch,
  // on the bare network (no NCCL costs).
  Fixture f;
  TrainingConfig c = config(8, 2);
  c.overlap_grad_reduce = false;
  c.grad_clip = false;  // the closed form counts the two bulk collectives, not the norm's 4 bytes
  NodeFabric bare = cluster(2, 1.0, 32);
  bare.nccl_costs = false;
  const TrainingResult r = TrainingStep(f.model, f.gpu, bare, c, f.roofline).run();
  const double local = count_parameters(f.model).total / 8 * 2;
  const double one = 5e-6 + local / 2 / 50e9 + 4 * 1e-6;
  CHECK(to_seconds(r.exposed_dp) == doctest::Approx(2 * one).epsilon(1e-6));
}

TEST_CASE("oversubscribed leaf uplinks slow cross-pod gradient traffic") {
  // Four nodes, two per pod: the DP ring (one per rail) crosses pods twice. At 4:1 each
  // rail leaf's uplink is 2 NICs x 50 / 4 = 25 GB/s, half a NIC, so the bandwidth part of
  // every ring step doubles; only the fixed latencies do not.
  Fixture f;
  TrainingConfig c = config(8, 4);
  c.overlap_grad_reduce = false;
  const TrainingResult full = TrainingStep(f.model, f.gpu, cluster(4, 1.0, 2), c, f.roofline).run();
  const TrainingResult over = TrainingStep(f.model, f.gpu, cluster(4, 4.0, 2), c, f.roofline).run();
  MESSAGE("exposed DP: " << to_microseconds(full.exposed_dp) << " us at 1:1, " << to_microseconds(over.exposed_dp) << " us at 4:1");
  const double ratio = static_cast<double>(over.exposed_dp) / static_cast<double>(full.exposed_dp);
  CHECK(ratio > 1.8);
  CHECK(ratio < 2.0);
}

TEST_CASE("ZeRO-3 with pipeline stages: a chunk's run of micro-batches gathers once; gradients reduce once per chunk") {
  // Fully sharded breadth-first pipelines (Lamy-Poirier 2022): the breadth-first schedule
  // runs each chunk's micro-batches back to back, so its weights are gathered once per run
  // forward and once backward; 1F1B alternates directions and gathers for every task.
  Fixture f;
  TrainingConfig c = config(1, 2);  // 4 micro-batches per DP rank
  c.pp = 2;
  c.zero_stage = 3;
  const auto counts = [&](const std::string& schedule, int chunks) {
    c.schedule = schedule;
    c.virtual_stages = chunks;
    const TrainingStep step(f.model, f.gpu, fabric(4), c, f.roofline);
    std::map<std::string, int> count;
    for (OpId op = 0; op < step.graph().op_count(); ++op) count[step.graph().label_text(step.graph().op(op).name)] += 1;
    return count;
  };
  // Units over both stages, each simulated: embedding + 4 layers + head.
  const int units = static_cast<int>(f.model.layers) + 2;
  auto breadth_first = counts("breadth_first", 2);
  CHECK(breadth_first["dp.param_gather"] == 2 * units);  // forward run and backward run
  CHECK(breadth_first["dp.grad_reduce_scatter"] == units);
  // 1F1B: stage 0 runs F0 F1 | B0 | F2 | B1 | F3 | B2 B3 (six runs), stage 1 alternates F and
  // B (eight runs); each stage holds three units.
  auto one_f_one_b = counts("1f1b", 1);
  CHECK(one_f_one_b["dp.param_gather"] == (6 + 8) * units / 2);
  CHECK(one_f_one_b["dp.grad_reduce_scatter"] == units);
}

TEST_CASE("recorded port loads stay within link bandwidth and drain to zero") {
  // Two nodes, TP 8 x DP 2: every GPU has an NVLink port (450 GB/s) and a NIC (50 GB/s).
  // No port can carry more than its link, some must carry traffic, and when the step
  // ends the network is empty, so each port's last sample is 0. Both replicas are
  // simulated, so that every NVLink port carries TP traffic.
  Fixture f;
  TrainingConfig c = config(8, 2);
  c.simulate_all_ranks = true;
  TrainingStep step(f.model, f.gpu, cluster(2, 1.0, 32), c, f.roofline);
  step.record_link_loads(true);
  step.run();
  const auto& samples = step.link_load_samples();
  REQUIRE_FALSE(samples.empty());
  std::map<std::pair<int, std::string>, double> last;
  double nic_peak = 0;
  for (const LinkLoadSample& s : samples) {
    const bool nic = s.port.find("nic") != std::string::npos;
    CHECK(s.gigabytes_per_second <= (nic ? 50.0 : 450.0) + 1e-9);
    if (nic) nic_peak = std::max(nic_peak, s.gigabytes_per_second);
    last[{s.rank, s.port}] = s.gigabytes_per_second;
  }
  CHECK(nic_peak == doctest::Approx(50.0));
  CHECK(last.size() == 2 * 16);  // every GPU's two ports carried something
  for (const auto& [port, value] : last) CHECK(value == 0.0);
}

TEST_CASE("one simulated DP replica and TP rank give the full simulation's result") {
  // Replicas, and the ranks of a TP group, run the same program, and their collectives run
  // over the whole group on the network either way. Exact where the traffic of the ranks
  // left out shares no link with what is simulated (NVSwitch ports and rails are per GPU);
  // where it would, a ring (as slow as its slowest member) feels the missing congestion
  // little: held to 1%, equal in every case here.
  Fixture f;
  const auto both = [&](const NodeFabric& fabric, TrainingConfig c) {
    c.simulate_all_ranks = false;
    const TrainingResult one = TrainingStep(f.model, f.gpu, fabric, c, f.roofline).run();
    c.simulate_all_ranks = true;
    const TrainingResult all = TrainingStep(f.model, f.gpu, fabric, c, f.roofline).run();
    MESSAGE("one replica " << to_microseconds(one.step_time) << " us (" << one.ops << " ops), all " << to_microseconds(all.step_time)
                           << " us (" << all.ops << " ops)");
    CHECK(one.ops < all.ops);
    return std::pair{one.step_time, all.step_time};
  };
  NodeFabric node = fabric(8);
  node.network = NetworkModel::kFlow;
  const auto [dp_one, dp_all] = both(node, config(1, 8));
  CHECK(dp_one == dp_all);
  TrainingConfig across = config(8, 2);
  across.overlap_grad_reduce = false;
  const auto [x_one, x_all] = both(cluster(2, 1.0, 32), across);
  CHECK(x_one == x_all);
  const auto [mixed_one, mixed_all] = both(node, config(2, 4));
  CHECK(std::fabs(static_cast<double>(mixed_one - mixed_all)) <= 0.01 * static_cast<double>(mixed_all));
  TrainingConfig context = config(2, 2);  // a replica is a TP group per CP rank
  context.cp = 2;
  const auto [cp_one, cp_all] = both(node, context);
  CHECK(std::fabs(static_cast<double>(cp_one - cp_all)) <= 0.01 * static_cast<double>(cp_all));
  f.model.experts = 4;  // an EP group spans replicas: the unsimulated member still moves its tokens
  f.model.experts_per_token = 2;
  TrainingConfig experts = config(1, 4);
  experts.ep = 2;
  const auto [ep_one, ep_all] = both(node, experts);
  CHECK(std::fabs(static_cast<double>(ep_one - ep_all)) <= 0.01 * static_cast<double>(ep_all));
}

TEST_CASE("context parallelism splits every token-wise op over the CP ranks and rings K and V beside attention") {
  Fixture f;
  TrainingConfig c = config(1, 1);
  c.global_batch = 1;
  c.sequence = 2048;
  c.overlap_grad_reduce = false;  // CP ranks reduce gradients too; keep that off the ring's link
  c.interference.enabled = false;  // the closed form below assumes free overlap
  c.cp_ring = CpRing::kFused;      // and no merges outside the kernels
  const TrainingResult alone = f.run_alone(c);
  c.cp = 2;
  NodeFabric slow = fabric(2);  // slow enough that the ring outlasts the attention kernel
  slow.bandwidth = 10e9;
  const TrainingResult split = TrainingStep(f.model, f.gpu, slow, c, f.roofline).run();
  // Load-balanced causal attention: each rank executes half of the whole causal work, as
  // each rank's GEMMs do half of the tokens.
  const auto class_time = [](const TrainingResult& r, const std::string& name) {
    for (const ClassTime& t : r.compute_by_class) {
      if (t.op_class == name) return t;
    }
    return ClassTime{};
  };
  CHECK(split.executed_tflops_per_gpu * to_seconds(split.step_time) ==
        doctest::Approx(alone.executed_tflops_per_gpu * to_seconds(alone.step_time) / 2).epsilon(1e-9));
  CHECK(class_time(split, "gemm").kernels == class_time(alone, "gemm").kernels);
  // Per layer, K and V of the whole sequence pass round once forward and, with their
  // gradients, once more backward; each pass runs beside its attention kernel.
  ShapeConfig shape{1, 2048, Dtype::kBf16, 1, false, true};
  shape.cp = 2;
  shape.cp_ring = CpRing::kFused;
  const ModelOps ops = build_model_ops(f.model, shape);
  const double kv_bytes = 2048.0 * 2 * 4 * 64 * 2;  // tokens x (K, V) x kv_heads x head_dim x bf16
  Time exposed = 0;
  for (const auto* pass : {&ops.layer_forward, &ops.layer_backward}) {
    for (std::size_t i = 0; i + 1 < pass->size(); ++i) {
      const Op& ring = (*pass)[i];
      if (ring.group != CommGroup::kContext) continue;
      REQUIRE((*pass)[i + 1].kind == OpClass::kAttention);
      CHECK(ring.collective == CollectiveKind::kAllGather);
      CHECK(ring.collective_bytes == (pass == &ops.layer_forward ? kv_bytes : 2 * kv_bytes));
      const Time ring_time = collective_duration(slow, ring.collective, ring.collective_bytes, 2);
      exposed += std::max<Time>(0, ring_time - f.roofline.estimate((*pass)[i + 1], f.gpu).duration);
    }
  }
  CHECK(split.exposed_cp == f.model.layers * exposed);
  CHECK(split.exposed_cp > 0);
  CHECK(split.memory.activations < 0.51 * alone.memory.activations);
}

// Meta's Llama 3 CP (cp_ring all_gather): no ring; the kernel waits for the whole sequence's
// K and V, gathered again in backward, and the reduce-scatter of dK and dV waits for it.
TEST_CASE("context parallelism without a ring waits for its all-gathers and reduce-scatter") {
  Fixture f;
  TrainingConfig c = config(1, 1);
  c.global_batch = 1;
  c.sequence = 2048;
  c.overlap_grad_reduce = false;
  c.interference.enabled = false;
  c.cp = 2;
  c.cp_ring = CpRing::kAllGather;
  const NodeFabric node = fabric(2);
  const TrainingResult gathered = TrainingStep(f.model, f.gpu, node, c, f.roofline).run();
  c.cp_ring = CpRing::kFused;
  const TrainingResult ring = TrainingStep(f.model, f.gpu, node, c, f.roofline).run();

  ShapeConfig shape{1, 2048, Dtype::kBf16, 1, false, true};
  shape.cp = 2;
  shape.cp_ring = CpRing::kAllGather;
  const ModelOps ops = build_model_ops(f.model, shape);
  const double kv_bytes = 2048.0 * 2 * 4 * 64 * 2;  // tokens x (K, V) x kv_heads x head_dim x bf16
  std::vector<std::pair<Phase, CollectiveKind>> seen;
  Time waited = 0;
  for (const auto* pass : {&ops.layer_forward, &ops.layer_backward}) {
    for (std::size_t i = 0; i < pass->size(); ++i) {
      const Op& op = (*pass)[i];
      CHECK(op.name.find("cp_merge") == std::string::npos);  // one kernel over all keys: nothing to merge
      if (op.group != CommGroup::kContext) continue;
      CHECK(op.collective_bytes == kv_bytes);
      const bool before = op.collective == CollectiveKind::kAllGather;
      REQUIRE((before ? i + 1 : i - 1) < pass->size());
      CHECK((*pass)[before ? i + 1 : i - 1].kind == OpClass::kAttention);
      seen.emplace_back(op.phase, op.collective);
      waited += collective_duration(node, op.collective, op.collective_bytes, 2);
    }
  }
  const std::vector<std::pair<Phase, CollectiveKind>> expected = {{Phase::kForward, CollectiveKind::kAllGather},
                                                                  {Phase::kBackwardInput, CollectiveKind::kAllGather},
                                                                  {Phase::kBackwardInput, CollectiveKind::kReduceScatter}};
  CHECK(seen == expected);
  // Nothing hides them: every layer's gathers and reduce-scatter are exposed whole.
  CHECK(gathered.exposed_cp == f.model.layers * waited);
  CHECK(ring.exposed_cp == 0);
  CHECK(gathered.step_time > ring.step_time);
}

namespace {
// PyTorch's ring attention's traffic outside its kernels, per output element, counted the
// way its code runs: rank by rank, step by step, then averaged over the ranks.
RingTraffic enumerated_ring_traffic(std::int64_t ranks) {
  double forward = 0, backward = 0;
  for (std::int64_t rank = 0; rank < ranks; ++rank) {
    forward += 8 + 6 + 6;      // K, V made contiguous; the first output upcast; the result cast back
    backward += 12 + 8 + 18;   // fp32 zeros for dQ, dK, dV; K, V contiguous; dQ, dK, dV cast back
    for (std::int64_t step = 0; step < ranks; ++step) {
      const bool passes_kv_on = step < ranks - 1;
      if (passes_kv_on) forward += 8, backward += 8;  // torch.cat of K and V
      backward += 16;                                  // torch.cat of fp32 dK, dV, sent every step
      if (step == 0) {
        backward += 20 + 10;  // dK, dV and dQ added into fp32
        continue;
      }
      const bool whole_query = step <= rank;  // the keys of an earlier rank: all queries, first half of the keys
      // Upcast, difference, scaled, subtracted (6 + 12 + 8 + 12 per element merged); half
      // the rows and a torch.cat of the whole fp32 output when only the later queries meet.
      forward += whole_query ? 38 : 38.0 / 2 + 8;
      backward += whole_query ? 2 * (5 + 8) + 10 : 2 * 10 + (5 + 8);  // dK, dV; dQ
    }
  }
  const auto n = static_cast<double>(ranks);
  return RingTraffic{.forward = forward / n, .backward = backward / n};
}

// Transformer Engine's, step by step as AttnFuncWithCPAndKVP2P runs them: the bf16 output
// zeroed and K and V packed once; each step's output corrected into it, and in backward its
// dQ and its dK and dV added in, 6 bytes an element met (read both, write one).
RingTraffic enumerated_te_traffic(std::int64_t ranks, double kv_share) {
  double forward = 0, backward = 0;
  for (std::int64_t rank = 0; rank < ranks; ++rank) {
    forward += 2 + 8 * kv_share;
    for (std::int64_t step = 0; step < ranks; ++step) {
      // An earlier rank's chunk: every query meets the keys' first half; a later one's: the
      // later half of the queries meets every key.
      const double queries = step == 0 || step <= rank ? 1 : 0.5;
      const double keys = step == 0 || step > rank ? 1 : 0.5;
      forward += 6 * queries;
      backward += 6 * queries + 2 * 6 * keys * kv_share;
    }
  }
  const auto n = static_cast<double>(ranks);
  return RingTraffic{.forward = forward / n, .backward = backward / n};
}
}  // namespace

TEST_CASE("Transformer Engine's ring: a fused bf16 correction a step, gradients added in bf16, K and V at their width") {
  for (std::int64_t cp = 2; cp <= 16; ++cp) {
    CAPTURE(cp);
    const RingTraffic counted = enumerated_te_traffic(cp, 0.25);
    CHECK(transformer_engine_ring_traffic(cp, 0.25).forward == doctest::Approx(counted.forward).epsilon(1e-12));
    CHECK(transformer_engine_ring_traffic(cp, 0.25).backward == doctest::Approx(counted.backward).epsilon(1e-12));
  }
  Fixture f;
  ShapeConfig shape{1, 2048, Dtype::kBf16, 1, false, true};
  shape.cp = 2;
  const ModelOps te = build_model_ops(f.model, shape);  // the default ring
  const double output_elems = 2048.0 / 2 * 16 * 64;
  const auto merge = std::find_if(te.layer_forward.begin(), te.layer_forward.end(), [](const Op& o) { return o.name.ends_with("cp_merge"); });
  REQUIRE(merge != te.layer_forward.end());
  CHECK(merge->bytes == doctest::Approx(output_elems * transformer_engine_ring_traffic(2, 4.0 / 16).forward).epsilon(1e-12));
  CHECK(std::prev(merge)->kind == OpClass::kAttention);
}

TEST_CASE("PyTorch's ring attention: K and V of every head round the ring, fp32 merges beside each attention call") {
  for (std::int64_t cp = 2; cp <= 16; ++cp) {
    CAPTURE(cp);
    const RingTraffic counted = enumerated_ring_traffic(cp);
    CHECK(pytorch_ring_traffic(cp).forward == counted.forward);
    CHECK(pytorch_ring_traffic(cp).backward == counted.backward);
  }
  Fixture f;
  ShapeConfig shape{1, 2048, Dtype::kBf16, 1, false, true};
  shape.cp = 4;
  shape.cp_ring = CpRing::kFused;
  const ModelOps fused = build_model_ops(f.model, shape);
  shape.cp_ring = CpRing::kPyTorch;
  const ModelOps pytorch = build_model_ops(f.model, shape);
  const auto find = [](const std::vector<Op>& ops, const std::string& name) {
    const auto op = std::find_if(ops.begin(), ops.end(), [&](const Op& o) { return o.name.ends_with(name); });
    REQUIRE(op != ops.end());
    return *op;
  };
  const double kv_all_heads = 2048.0 * 2 * 16 * 64 * 2;  // tokens x (K, V) x query heads x head_dim x bf16
  CHECK(find(fused.layer_forward, "cp.kv_all_gather").collective_bytes == kv_all_heads / 4);
  CHECK(find(pytorch.layer_forward, "cp.kv_all_gather").collective_bytes == kv_all_heads);
  CHECK(find(pytorch.layer_backward, "cp.kv_dkv_ring.bwd").collective_bytes == doctest::Approx(kv_all_heads * (1 + 2 * 4.0 / 3)));
  const double output_elems = 2048.0 / 4 * 16 * 64;
  CHECK(find(pytorch.layer_forward, "core.cp_merge").bytes == output_elems * pytorch_ring_traffic(4).forward);
  CHECK(find(pytorch.layer_backward, "core.cp_merge.bwd").bytes == output_elems * pytorch_ring_traffic(4).backward);
  CHECK(pytorch.layer_forward.size() == fused.layer_forward.size() + 1);
  CHECK(pytorch.layer_backward.size() == fused.layer_backward.size() + 1);
  // Without context parallelism nothing changes.
  shape.cp = 1;
  CHECK(build_model_ops(f.model, shape).layer_forward.size() == build_model_ops(f.model, {1, 2048, Dtype::kBf16, 1, false, true}).layer_forward.size());
}

TEST_CASE("activation offloading: Transformer Engine's copy windows") {
  // Megatron-Bridge's recipes: 40 of Llama 3 70B's 80 layers, one copy every two layers;
  // 92 of Llama 3.1 405B's 126, two-layer windows for the first 34 and one layer after.
  const std::vector<std::int64_t> half = offload_windows(40, 80);
  REQUIRE(half.size() == 40);
  for (std::size_t g = 0; g < half.size(); ++g) CHECK(half[g] == static_cast<std::int64_t>(2 * g + 1));
  const std::vector<std::int64_t> most = offload_windows(92, 126);
  REQUIRE(most.size() == 92);
  CHECK(most[0] == 1);
  CHECK(most[33] == 67);
  CHECK(most[34] == 68);
  CHECK(most[91] == 125);  // the last layer's forward waits for the last copy
  CHECK(offload_windows(0, 80).empty());
}

TEST_CASE("activation offloading: copies cost the step only what outlasts their windows, and free the device") {
  // One GPU, four layers, the first two offloaded (windows after layers 1 and 3). Forward:
  // layer 0's copy runs beside layer 1 and layer 1's beside layers 2 and 3; backward walks
  // back: layer 1's reload beside layers 3 and 2, layer 0's beside layer 1. A copy of c
  // against layer passes f forward and b backward costs each micro-batch
  // (c - f)+ + (c - 2f)+ + (c - 2b)+ + (c - b)+.
  Fixture f;
  TrainingConfig c = config(1, 1);
  const TrainingResult plain = f.run_alone(c);
  const ModelOps ops = build_model_ops(f.model, {1, 1024, Dtype::kBf16, 1, false, true});
  const Time forward = sum_durations(ops.layer_forward, f.roofline, f.gpu);
  const Time backward = sum_durations(ops.layer_backward, f.roofline, f.gpu);
  const double saved = total_saved_bytes(ops.layer_forward);
  c.offload_layers = 2;
  const auto offloaded = [&](double copy_seconds) {
    GpuSpec gpu = f.gpu;
    gpu.host_copy_bandwidth = saved / copy_seconds;
    return std::pair{TrainingStep(f.model, gpu, fabric(1), c, f.roofline).run(), from_seconds(saved / gpu.host_copy_bandwidth)};
  };
  const auto late = [](Time copy, Time window) { return std::max<Time>(0, copy - window); };

  const auto [slow, copy] = offloaded(3 * to_seconds(backward));
  const Time per_micro_batch = late(copy, forward) + late(copy, 2 * forward) + late(copy, 2 * backward) + late(copy, backward);
  CHECK(per_micro_batch > 0);
  CHECK(slow.step_time == plain.step_time + 4 * per_micro_batch);
  CHECK(slow.exposed_offload == 4 * per_micro_batch);
  CHECK(slow.idle == plain.idle);

  const auto [fast, short_copy] = offloaded(0.5 * to_seconds(forward));
  CHECK(short_copy < forward);
  CHECK(fast.step_time == plain.step_time);
  CHECK(fast.exposed_offload == 0);
  // The host keeps both layers; the device all but one layer's, the second copy's source
  // until the last layer's forward ends.
  CHECK(fast.memory.offloaded == doctest::Approx(2 * saved));
  CHECK(fast.memory.activations == doctest::Approx(plain.memory.activations - saved));
}

TEST_CASE("fp8_param_gather: the decoder layers' weights are gathered at one byte, the embedding and the head at two") {
  Fixture f;
  const ParameterCount p = count_parameters(f.model);
  const auto gathered = [&](TrainingConfig c) {
    c.dtype = Dtype::kFp8;
    const TrainingStep step(f.model, f.gpu, fabric(4), c, f.roofline);
    std::map<std::string, double> bytes;
    for (OpId op = 0; op < step.graph().op_count(); ++op) {
      bytes[step.graph().label_text(step.graph().op(op).name)] += collective_bytes_of(step.trace_args(op));
    }
    return bytes;
  };
  // ZeRO-3: every unit forward and backward in each of the 4 micro-batches.
  TrainingConfig c = config(1, 4);
  c.zero_stage = 3;
  const double layers = static_cast<double>(f.model.layers);
  const double ends = p.embedding + p.lm_head + p.final_norms;
  CHECK(gathered(c)["dp.param_gather"] == doctest::Approx(4 * 2 * 2 * (layers * p.per_layer + ends)));
  c.fp8_param_gather = true;
  CHECK(gathered(c)["dp.param_gather"] == doctest::Approx(4 * 2 * (layers * p.per_layer + 2 * ends)));
  // ZeRO-1: one all-gather of the updated weights after the optimizer.
  c.zero_stage = 1;
  CHECK(gathered(c)["dp.param_all_gather"] == doctest::Approx(2 * p.total - layers * p.per_layer));
  c.fp8_param_gather = false;
  CHECK(gathered(c)["dp.param_all_gather"] == doctest::Approx(2 * p.total));
}

TEST_CASE("bf16_layers_at_start and _at_end: those decoder layers run in bf16 under fp8, and gather their weights at two bytes") {
  // One GPU, one chain: each layer kept in bf16 adds what one layer takes in bf16 over what it
  // takes in fp8, every micro-batch; with every layer kept, the step is bf16 training's.
  Fixture f;
  TrainingConfig c = config(1, 1);
  const Time bf16 = f.run_alone(c).step_time;
  c.dtype = Dtype::kFp8;
  const Time fp8 = f.run_alone(c).step_time;
  REQUIRE(fp8 < bf16);
  c.bf16_layers_at_start = 1;
  c.bf16_layers_at_end = 2;
  const Time three = f.run_alone(c).step_time;
  c.bf16_layers_at_end = f.model.layers - 1;
  CHECK(f.run_alone(c).step_time == bf16);
  // The embedding and head are bf16 under both, so the difference is the layers' alone.
  const Time per_layer = (bf16 - fp8) / f.model.layers;
  CHECK(std::abs(static_cast<double>(three - fp8 - 3 * per_layer)) <= static_cast<double>(f.model.layers));  // rounding

  // Gathers: ZeRO-1's all-gather after the optimizer moves the bf16 layers' weights at two
  // bytes; over two stages, each holds one of them (the first layer, the last).
  const ParameterCount p = count_parameters(f.model);
  TrainingConfig sharded = config(1, 4);
  sharded.dtype = Dtype::kFp8;
  sharded.zero_stage = 1;
  sharded.fp8_param_gather = true;
  const auto all_gathered = [&](const TrainingConfig& g) {
    return collective_bytes_named(TrainingStep(f.model, f.gpu, fabric(4), g, f.roofline), "dp.param_all_gather");
  };
  const double layers = static_cast<double>(f.model.layers);
  CHECK(all_gathered(sharded) == doctest::Approx(2 * p.total - layers * p.per_layer));
  sharded.bf16_layers_at_start = sharded.bf16_layers_at_end = 1;
  CHECK(all_gathered(sharded) == doctest::Approx(2 * p.total - (layers - 2) * p.per_layer));
  sharded.pp = 2;
  sharded.global_batch = 16;
  for (int stage = 0; stage < 2; ++stage) {
    const LayerParameters kept = bf16_layer_parameters_on_stage(f.model, sharded, stage);
    CHECK(kept.all == doctest::Approx(p.per_layer));
    CHECK(kept.experts == 0);
  }
}

TEST_CASE("multi-token prediction: each depth runs the embedding, its projection, a layer and the head once more") {
  // One GPU, one chain: the step grows by exactly the depth's kernels each micro-batch, and the
  // optimizer's passes by its parameters (a layer, the 2h x h projection and three norms; the
  // embedding and the head are the model's own at pp 1).
  Fixture f;
  const TrainingConfig plain = config(1, 1);
  TrainingConfig mtp = plain;
  mtp.mtp_layers = 1;
  const ModelOps ops = build_model_ops(f.model, {1, 1024, Dtype::kBf16, 1, false, true});
  const auto both = [&](const std::vector<Op>& forward, const std::vector<Op>& backward) {
    return sum_durations(forward, f.roofline, f.gpu) + sum_durations(backward, f.roofline, f.gpu);
  };
  const Time depth = both(ops.embedding_forward, ops.embedding_backward) + both(ops.mtp_forward, ops.mtp_backward) +
                     both(ops.layer_forward, ops.layer_backward) + both(ops.head_forward, ops.head_backward);
  const ParameterCount count = count_parameters(f.model);
  const auto h = static_cast<double>(f.model.hidden);
  const double added = count.per_layer + 2 * h * h + 3 * h;
  const auto optimizer = [&](double params) {
    return f.roofline.estimate(grad_norm_op(params, plain.grad_dtype), f.gpu).duration +
           f.roofline.estimate(optimizer_op(params, plain.grad_dtype), f.gpu).duration +
           f.roofline.estimate(zero_grad_op(params, plain.grad_dtype), f.gpu).duration;
  };
  CHECK(f.run_alone(mtp).step_time - f.run_alone(plain).step_time ==
        4 * depth + optimizer(count.total + added) - optimizer(count.total));
  CHECK(names_of(ops.mtp_forward) == std::vector<std::string>{"mtp.enorm", "mtp.hnorm", "mtp.concat", "mtp.eh_proj"});

  // Memory: the depth's weights, gradients and Adam state, and per micro-batch in flight what
  // its embedding, projection, layer and head keep.
  const MemoryFootprint without = training_memory(f.model, ops, plain, 80e9, {1.0});
  const MemoryFootprint with = training_memory(f.model, ops, mtp, 80e9, {1.0});
  CHECK(with.weights - without.weights == doctest::Approx(2 * added));
  CHECK(with.optimizer - without.optimizer == doctest::Approx(12 * added));
  CHECK(with.activations - without.activations ==
        doctest::Approx(total_saved_bytes(ops.embedding_forward) + total_saved_bytes(ops.mtp_forward) +
                        total_saved_bytes(ops.layer_forward) + total_saved_bytes(ops.head_forward)));
}

TEST_CASE("multi-token prediction: the last stage holds it and a copy of the embedding, and its projection is TP-split") {
  Fixture f;
  TrainingConfig c = config(1, 1);
  c.pp = 2;
  c.global_batch = 8;
  TrainingConfig mtp = c;
  mtp.mtp_layers = 2;
  const ParameterCount count = count_parameters(f.model);
  const auto h = static_cast<double>(f.model.hidden);
  CHECK(parameters_on_stage(f.model, mtp, 0) == parameters_on_stage(f.model, c, 0));
  CHECK(parameters_on_stage(f.model, mtp, 1) - parameters_on_stage(f.model, c, 1) ==
        doctest::Approx(2 * (count.per_layer + 2 * h * h + 3 * h) + count.embedding));
  // The copy of the embedding is not a decoder weight (it gathers at two bytes under fp8).
  CHECK(decoder_parameters_on_stage(f.model, mtp, 1) - decoder_parameters_on_stage(f.model, c, 1) ==
        doctest::Approx(2 * (count.per_layer + 2 * h * h + 3 * h)));

  // Balanced by cost, the last stage gives its layer up to the two depths it trains (as
  // DeepSeek-V3's recipe leaves its last stage the depth and the loss alone, "...|mL").
  c.balance_stages = mtp.balance_stages = true;
  CHECK(TrainingStep(f.model, f.gpu, fabric(2), c, f.roofline).stage_layers() == std::vector<std::int64_t>{3, 1});
  TrainingStep balanced(f.model, f.gpu, fabric(2), mtp, f.roofline);
  CHECK(balanced.stage_layers() == std::vector<std::int64_t>{4, 0});
  CHECK(balanced.run().step_time > 0);

  // At TP 2 with sequence parallelism: the input is gathered by sequence, each rank projects
  // 2h onto its h / 2 outputs, and the outputs are gathered whole.
  ShapeConfig shape{1, 1024, Dtype::kBf16, 2, true, true};
  const ModelOps ops = build_model_ops(f.model, shape);
  CHECK(names_of(ops.mtp_forward) ==
        std::vector<std::string>{"mtp.enorm", "mtp.hnorm", "mtp.concat", "tp.all_gather", "mtp.eh_proj", "tp.all_gather_output"});
  const Op& projection = ops.mtp_forward[4];
  CHECK(projection.flops == doctest::Approx(2.0 * 1024 * (h / 2) * (2 * h)));
  CHECK(ops.mtp_forward[5].collective_bytes == doctest::Approx(1024 * h * 2));

  // Fully sharded: the depths' heads own no weights, so nothing is gathered or reduced for them.
  TrainingConfig sharded = config(1, 2);
  sharded.zero_stage = 3;
  sharded.mtp_layers = 1;
  const TrainingStep step(f.model, f.gpu, fabric(2), sharded, f.roofline);
  int gathers = 0;
  for (OpId op = 0; op < step.graph().op_count(); ++op) {
    const std::string& name = step.graph().label_text(step.graph().op(op).name);
    if (!name.starts_with("dp.")) continue;
    CAPTURE(name);
    CHECK(collective_bytes_of(step.trace_args(op)) > 0);
    gathers += name == "dp.param_gather";
  }
  // Four micro-batches, forward and backward: the embedding, 4 layers, the depth's projection
  // and layer (its embedding is the model's own at pp 1), and the head.
  CHECK(gathers == 4 * 2 * (1 + 4 + 2 + 1));
}

// DeepEP sends a token once to each rank, and across nodes once to each node, that holds any
// of its experts (workloads/deepep_traffic.hpp); NCCL's all-to-all sends a row per expert.
TEST_CASE("DeepEP's deduplicated pieces: the chance a token needs a rank or a node; with one expert a token NCCL's network bytes") {
  // k = 8 of 128 experts, 8 held: 1 - C(120, 8) / C(128, 8).
  double none = 1;
  for (int i = 0; i < 8; ++i) none *= (120.0 - i) / (128.0 - i);
  CHECK(holds_any(128, 8, 8) == doctest::Approx(1 - none).epsilon(1e-12));
  CHECK(holds_any(16, 8, 12) == 1);  // fewer experts left than drawn
  // One expert a token: nothing to merge, so NCCL's bytes cross the network; within each node
  // the forwarders relay what the other nodes sent, so a local piece carries `nodes` shares.
  for (std::int64_t nodes : {1, 2, 4}) {
    const PieceScales one = deepep_piece_scales(128, 1, 16, nodes);
    CHECK(one.local == doctest::Approx(static_cast<double>(nodes)));
    CHECK(one.remote == doctest::Approx(1));
  }
  // Qwen3-30B-A3B over EP 16 on two nodes: a token's 8 experts cross to the other node about
  // once instead of four times; the forwarders add NVLink traffic on each node.
  const PieceScales two_nodes = deepep_piece_scales(128, 8, 16, 2);
  CHECK(two_nodes.remote == doctest::Approx(2 * holds_any(128, 8, 64) / 8));
  CHECK(two_nodes.remote < 0.26);
  CHECK(two_nodes.local == doctest::Approx(16 * holds_any(128, 8, 8) * 2 / 8));
  // On one node only the per-rank merge: 1 - (chance a rank holds none of 8) over 8 / n.
  CHECK(deepep_piece_scales(128, 8, 8, 1).local == doctest::Approx(8 * holds_any(128, 8, 16) / 8));
  CHECK(deepep_piece_scales(128, 8, 1, 1).local == 1);  // no exchange at all
}

// TP 2 x DP 4 on two nodes of 4 GPUs: each EP group of 4 holds two ranks on each node.
TEST_CASE("deepep dispatch across two nodes: less exposed all-to-all than Megatron's all-to-all dispatcher") {
  const auto run = [](const std::string& dispatcher) {
    const std::string out = (std::filesystem::temp_directory_path() / ("foresight_deepep_" + dispatcher + ".json")).string();
    const auto r = foresight::testing::run_cli({"run", foresight::testing::source_path("tests/data/qwen15_moe_training.json"), "--set",
                                                "hardware.topology.nodes=2", "--set", "hardware.topology.gpus=4", "--set",
                                                "training.parallel.dp=4", "--set", "training.global_batch=64", "--set",
                                                "training.moe_dispatcher=" + dispatcher, "--out", out});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return foresight::testing::read_json_file(out)["time_gpu0_ps"]["exposed_ep_comm"].get<double>();
  };
  const double alltoall = run("alltoall"), deepep = run("deepep");
  MESSAGE("exposed EP comm: alltoall " << alltoall * 1e-9 << " ms, deepep " << deepep * 1e-9 << " ms");
  CHECK(deepep < 0.8 * alltoall);
}

TEST_CASE("the summary calls a step launch-bound only when its host thread is busy for most of it") {
  const auto host_line = [](std::vector<std::string> args) {
    const auto r = foresight::testing::run_cli(args);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const auto at = r.out.find("host thread");
    REQUIRE(at != std::string::npos);
    return r.out.substr(at, r.out.find('\n', at) - at);
  };
  CHECK(host_line({"run"}).find("launch-bound") == std::string::npos);  // 5% of the default step
  // Qwen3-30B-A3B at micro-batch 1 on 8 B200 (V10's token-drop row): the host is never idle.
  const std::string busy =
      host_line({"run", foresight::testing::source_path("scenarios/validation/megatron_bridge_blackwell_moe/qwen3_30b_a3b_b200_tokendrop.json")});
  CHECK_MESSAGE(busy.find("of the step: launch-bound") != std::string::npos, busy);
}
