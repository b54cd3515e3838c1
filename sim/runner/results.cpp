#include "sim/runner/results.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "models/flop_formulas.hpp"
#include "sim/input/input_error.hpp"
#include "sim/runner/error_bands.hpp"

namespace foresight {
namespace {
std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string gb(double bytes) { return fmt("%.1f GiB", bytes / kGiB); }

std::string percent_of(Time part, Time whole) {
  return whole > 0 ? fmt("%5.1f%%", 100.0 * static_cast<double>(part) / static_cast<double>(whole)) : "   -  ";
}

// Which symmetric ranks stood for the others.
std::string simulated_share(const TrainingConfig& c) {
  std::vector<std::string> parts;
  if (c.simulated_replicas() < c.dp) parts.push_back("1 of " + std::to_string(c.dp) + " data-parallel replicas");
  if (c.simulated_tp_ranks() < c.tp) parts.push_back("1 of " + std::to_string(c.tp) + " ranks per TP group");
  if (parts.empty()) return "";
  std::string text = ", " + parts.front();
  if (parts.size() > 1) text += " and " + parts.back();
  return text + ": the others run the same program (training.simulate_all_ranks)";
}

// "1 / 2 x 62 / 1": counts in order, repeats folded.
std::string runs_of(const std::vector<std::int64_t>& counts) {
  std::string text;
  for (std::size_t i = 0; i < counts.size();) {
    std::size_t j = i;
    while (j < counts.size() && counts[j] == counts[i]) ++j;
    text += (text.empty() ? "" : " / ") + std::to_string(counts[i]) + (j - i > 1 ? " x " + std::to_string(j - i) : "");
    i = j;
  }
  return text;
}

// PaLM's count, or under LoRA its frozen variant: the frozen weights' forward and input
// gradients (4N), the adapters trained in full (models/flop_formulas.hpp).
std::string flop_formula_text(const TrainingConfig& c) { return c.lora.on() ? "4N + 6N_lora + 12*L*H*Q*T" : "6N + 12*L*H*Q*T"; }

std::string layout(const TrainingConfig& c) {
  std::string text = "TP " + std::to_string(c.tp);
  if (c.sequence_parallel && c.tp > 1) text += " (+SP)";
  if (c.cp > 1) text += " x CP " + std::to_string(c.cp);
  text += " x DP " + std::to_string(c.dp);
  if (c.ep > 1) text += " (EP " + std::to_string(c.ep) + ")";
  if (c.pp > 1) {
    text += " x PP " + std::to_string(c.pp) + " (" + c.schedule;
    if (c.virtual_stages > 1) text += ", " + std::to_string(c.virtual_stages) + " chunks per stage";
    text += ")";
  }
  text += ", ZeRO-" + std::to_string(c.zero_stage) + ", micro-batch " + std::to_string(c.micro_batch) +
          " x " + std::to_string(c.micro_batches()) + " accumulation steps, sequence " +
          std::to_string(c.sequence) + ", " + std::string(dtype_name(c.dtype));
  if (c.recompute == Recompute::kFull) {
    text += c.recompute_every > 1 ? ", full recompute of one layer in " + std::to_string(c.recompute_every) : ", full recompute";
  }
  if (c.recompute == Recompute::kSelective) text += ", selective recompute";
  if (c.recompute == Recompute::kSelectiveOp) text += ", op-level selective recompute";
  if (c.eager_elementwise) text += ", eager elementwise ops";
  if (c.fp32_cross_entropy) text += ", fp32 loss";
  if (c.lora.on()) text += ", LoRA rank " + std::to_string(c.lora.rank) + " on " + adapted_layers(c.lora, false, ", ") + " (weights frozen)";
  const std::string mean = c.documents ? fmt("%.0f", c.packed.mean_tokens) : "";
  if (c.documents && c.packing == Packing::kMask) {
    text += ", documents of " + mean + " tokens on average packed under a mask (attention as in " + std::to_string(c.document_length) +
            "-token documents)";
  } else if (c.documents && c.packing == Packing::kPad) {
    text += ", one document of " + mean + " tokens on average per sequence, padded (" + fmt("%.1f", 100 * c.packed.useful_fraction) +
            "% of tokens are data)";
  } else if (c.documents) {
    text += ", documents of " + mean + " tokens on average packed end to end";
  } else if (c.document_length > 0) {
    text += ", documents of " + std::to_string(c.document_length) + " tokens under a mask";
  }
  if (c.attention == AttentionKernel::kUnfused) text += ", unfused attention";
  if (c.attention == AttentionKernel::kFlash3) text += ", FlashAttention-3 / cuDNN attention";
  return text;
}

// "12.3 days", "5.2 h", "14 min", "2.8 s"
std::string span(double seconds) {
  if (seconds >= 2 * 86400) return fmt("%.1f days", seconds / 86400);
  if (seconds >= 2 * 3600) return fmt("%.1f h", seconds / 3600);
  if (seconds >= 120) return fmt("%.0f min", seconds / 60);
  return fmt("%.1f s", seconds);
}

// "15.6 T", "3.66 M", "812 k", "42"
std::string count(double n) {
  if (n >= 1e12) return fmt("%.3g T", n / 1e12);
  if (n >= 1e9) return fmt("%.3g G", n / 1e9);
  if (n >= 1e6) return fmt("%.3g M", n / 1e6);
  if (n >= 1e4) return fmt("%.3g k", n / 1e3);
  return fmt("%.0f", n);
}

// "1 failure", "961 failures": the expected count, rounded.
std::string failures(double expected) {
  const std::string n = fmt("%.0f", expected);
  return n + (n == "1" ? " failure" : " failures");
}

void print_time_to_target(std::ostream& out, const Scenario& s, const TrainingResult& r) {
  const TimeToTarget t = time_to_target(s, r);
  out << "Time to target: " << count(t.tokens) << " tokens in " << count(static_cast<double>(t.steps)) << " steps\n"
      << "  failure-free        " << span(t.failure_free_seconds) << ", " << count(t.failure_free_seconds / 3600 * static_cast<double>(s.training.gpus()))
      << " GPU-hours\n";
  if (t.warmup.steps > 0) {
    out << "  1-bit Adam warmup   the first " << count(static_cast<double>(t.warmup.steps)) << " steps uncompressed, "
        << format_duration(from_seconds(t.warmup.step_seconds)) << " each (freeze_step), " << span(static_cast<double>(t.warmup.steps) * t.warmup.step_seconds) << " of it\n";
  }
  if (t.job_mtbf_seconds > 0) {
    out << "  with failures       " << span(t.wall_seconds) << ", " << count(t.gpu_hours) << " GPU-hours (goodput "
        << fmt("%.1f%%", 100 * t.goodput()) << "): " << failures(t.expected_failures) << " expected, one per "
        << span(t.job_mtbf_seconds) << "; a " << span(t.checkpoint_seconds) << " checkpoint every " << span(t.checkpoint_interval_seconds)
        << " of work" << (s.training.reliability.checkpoint_interval_minutes > 0 ? "" : " (Daly's optimum)") << ", "
        << span(t.restart_seconds) << " per restart\n";
  }
  if (t.cost > 0) out << "  cost                " << count(t.cost) << " at " << fmt("%g", s.training.target.gpu_hour_price) << " per GPU-hour\n";
  out << "\n";
}

nlohmann::json time_to_target_json(const Scenario& s, const TrainingResult& r) {
  const TimeToTarget t = time_to_target(s, r);
  nlohmann::json out = {{"tokens", t.tokens}, {"steps", t.steps}, {"failure_free_s", t.failure_free_seconds}, {"wall_s", t.wall_seconds},
                        {"gpu_hours", t.gpu_hours}, {"goodput", t.goodput()}};
  if (t.cost > 0) out["cost"] = t.cost;
  if (t.warmup.steps > 0) out["warmup"] = {{"steps", t.warmup.steps}, {"step_s", t.warmup.step_seconds}};
  if (t.job_mtbf_seconds > 0) {
    out["failures"] = {{"job_mtbf_s", t.job_mtbf_seconds}, {"expected", t.expected_failures}, {"checkpoint_s", t.checkpoint_seconds},
                       {"checkpoint_interval_s", t.checkpoint_interval_seconds}, {"restart_s", t.restart_seconds}};
  }
  return out;
}
// Drawn only where the draws shape the step: with pipeline stages, the sequence CP split, or
// micro-batches padded to their longest document.
std::string micro_batch_attention_note(const TrainingResult& r) {
  if (r.micro_batch_attention_spread <= 1 && r.cp_attention_imbalance <= 1 && r.micro_batch_tokens_max == 1) return "";
  std::string note = "; each micro-batch's attention as drawn, the costliest " +
                     fmt("+%.1f%%", 100 * (r.micro_batch_attention_spread - 1)) + " over the mean";
  if (r.cp_attention_imbalance > 1) note += ", a CP group's costliest rank " + fmt("+%.1f%%", 100 * (r.cp_attention_imbalance - 1));
  if (r.micro_batch_tokens_max != 1) note += ", the longest micro-batch " + fmt("%.2fx", r.micro_batch_tokens_max) + " the nominal tokens";
  return note;
}

// The mean is in the step time; the quantiles say how long a slow step runs.
std::string straggler_line(const StragglerDelay& d) {
  return "  stragglers          " + format_duration(from_seconds(d.mean_seconds)) + " of stalls a step on average (p50 " +
         format_duration(from_seconds(d.p50_seconds)) + ", p99 " + format_duration(from_seconds(d.p99_seconds)) + "): " +
         std::to_string(d.groups) + " groups of " + std::to_string(d.coupled_gpus) + " coupled GPUs, " +
         fmt("%.3g", d.stalls_per_step) + " stalls a group a step\n";
}

// Streaming DiLoCo's fragments and overlap change what one average is and when it is waited for.
std::string local_sgd_line(const TrainingConfig& t, const TrainingResult& r) {
  const std::int64_t fragments = t.local_sgd_fragments;
  const std::string what = fragments > 1 ? "averages one of " + std::to_string(fragments) + " fragments of the weights"
                                         : "averages the weights";
  std::string line = "  local SGD           " + format_duration(r.inner_step) + " an inner step, " + format_duration(r.syncing_step) +
                     " the step that " + what + ", every " + std::to_string(t.local_sgd_interval()) + " steps, " +
                     std::to_string(t.outer_replicas()) + " replicas of " + std::to_string(t.gpus() / t.outer_replicas()) + " GPUs\n";
  if (t.local_sgd_overlapped()) {
    const std::int64_t steps = t.local_sgd_overlap_steps;
    line += "                      the average's all-reduce beside " + std::to_string(steps) + (steps == 1 ? " inner step" : " inner steps") +
            (r.average_wait > 0 ? ", then waited for " + format_duration(r.average_wait) : ", not waited for") + "\n";
  }
  return line;
}
}  // namespace

TimeToTarget time_to_target(const Scenario& s, const TrainingResult& r) {
  const Warmup warmup = r.warmup_step > 0 ? Warmup{s.training.onebit_freeze_step, to_seconds(r.warmup_step)} : Warmup{};
  const double checkpoint_bytes =
      checkpoint_bytes_per_gpu(count_parameters(s.model).total, s.training.gpus(), s.training.optimizer_state_bytes());
  return plan_time_to_target(s.training.target, s.training.reliability, to_seconds(r.step_time), r.tokens_per_step, s.training.gpus(),
                             checkpoint_bytes, warmup);
}

nlohmann::json cost_models_json(const Scenario& s) {
  nlohmann::json by_class = nlohmann::json::array();
  for (const ClassCostRecord& r : s.cost_ledger->records()) {
    by_class.push_back({{"op_class", op_class_name(r.kind)}, {"models", r.models}, {"ops_timed", r.estimates},
                        {"outside_measured_range", r.outside_range}, {"worst_out_of_range", r.worst_out_of_range},
                        {"worst_feature", r.worst_feature}});
  }
  return {{"compute", s.cost_model_name}, {"collectives", network_model_name(s.fabric.network)}, {"compute_by_class", std::move(by_class)}};
}

void print_cost_models(std::ostream& out, const Scenario& s) {
  const std::vector<ClassCostRecord> records = s.cost_ledger->records();
  const bool calibrated = std::any_of(records.begin(), records.end(), [](const ClassCostRecord& r) { return r.models != "roofline"; });
  if (!calibrated) return;
  out << "\nCompute cost models by op class (distinct ops timed; outside: beyond the measured range)\n";
  for (const ClassCostRecord& r : records) {
    char line[256];
    std::snprintf(line, sizeof line, "  %-12s %-20s %6lld ops, %6lld outside", std::string(op_class_name(r.kind)).c_str(), r.models.c_str(),
                  static_cast<long long>(r.estimates), static_cast<long long>(r.outside_range));
    out << line;
    if (r.outside_range > 0) out << fmt(" (worst: %.2f range widths beyond, on ", r.worst_out_of_range) << r.worst_feature << ")";
    out << "\n";
  }
}

nlohmann::json results_json(const Scenario& s, const TrainingResult& r) {
  nlohmann::json breakdown = nlohmann::json::array();
  for (const ClassTime& c : r.compute_by_class) {
    breakdown.push_back({{"op_class", c.op_class}, {"time_ps", c.total}, {"kernels", c.kernels},
                         {"cost_model", c.cost_model}});
  }
  const ParameterCount params = count_parameters(s.model);
  nlohmann::json results = {
      {"format", kTrainingResultsFormat},
      {"workload", "training"},
      {"scenario", s.name},
      {"source", s.source},
      {"seed", s.seed},
      {"model", {{"name", s.model.name}, {"parameters", params.total}, {"active_parameters", params.active_per_token}}},
      {"hardware", {{"gpu", s.gpu.name}, {"gpus", s.training.gpus()}, {"nodes", s.fabric.nodes}, {"topology", s.fabric.preset}}},
      {"cost_models", cost_models_json(s)},
      {"step_time_ps", r.step_time},
      {"step_time_s", to_seconds(r.step_time)},
      {"tokens_per_step", r.tokens_per_step},
      {"tokens_per_second", r.tokens_per_second},
      {"tokens_per_second_per_gpu", r.tokens_per_second_per_gpu},
      {"model_flops_per_token", r.model_flops_per_token},
      {"model_tflops_per_gpu", r.model_tflops_per_gpu},
      {"mfu", r.mfu},
      {"error_band", error_band_json(s.gpu, s.training.dtype, s.model.is_moe(), s.cost_model_name, static_cast<int>(s.training.gpus()),
                                     to_seconds(r.step_time), r.tokens_per_second_per_gpu, r.mfu)},
      {"mfu_formula", "PaLM (Chowdhery et al. 2022, App. B): " + flop_formula_text(s.training) + " FLOPs per token, over peak " +
                          std::string(dtype_name(s.training.dtype))},
      {"executed_tflops_per_gpu", r.executed_tflops_per_gpu},
      {"time_gpu0_ps", {{"compute_busy", r.compute_busy}, {"exposed_tp_comm", r.exposed_tp}, {"exposed_cp_comm", r.exposed_cp}, {"exposed_ep_comm", r.exposed_ep},
                        {"exposed_pp_comm", r.exposed_pp}, {"exposed_dp_comm", r.exposed_dp}, {"idle", r.idle},
                        {"interference", r.interference}, {"host_launching", r.host_busy}}},
      {"pipeline", {{"pp", s.training.pp}, {"schedule", s.training.schedule}, {"virtual_stages", s.training.virtual_stages},
                    {"bubble_fraction", r.pipeline_bubble}, {"stage_layers", r.stage_layers}}},
      {"compute_by_class", breakdown},
      {"pace", {{"slowest_gpu", r.slowest_gpu}, {"masked_attention_imbalance", r.attention_imbalance},
                {"micro_batch_attention_spread", r.micro_batch_attention_spread}, {"cp_attention_imbalance", r.cp_attention_imbalance},
                {"micro_batch_tokens_max", r.micro_batch_tokens_max}}},
      {"memory_per_gpu_bytes", {{"weights", r.memory.weights}, {"gradients", r.memory.gradients},
                                {"optimizer", r.memory.optimizer}, {"activations", r.memory.activations},
                                {"reserved", r.memory.reserved}, {"total", r.memory.total()},
                                {"capacity", r.memory.capacity}, {"fits", r.memory.fits()}, {"stage", r.memory.stage}}},
      {"simulation", {{"ops", r.ops}, {"events", r.events}, {"dp_replicas_simulated", s.training.simulated_replicas()},
                      {"tp_ranks_simulated_per_group", s.training.simulated_tp_ranks()}}},
  };
  if (s.training.target.set()) results["time_to_target"] = time_to_target_json(s, r);
  if (s.training.local_sgd()) {
    results["local_sgd"] = {{"period", s.training.local_sgd_period}, {"sync_dtype", s.training.local_sgd_sync_name()},
                            {"replicas", s.training.outer_replicas()}, {"gpus_per_replica", s.training.gpus() / s.training.outer_replicas()},
                            {"inner_step_s", to_seconds(r.inner_step)}, {"syncing_step_s", to_seconds(r.syncing_step)},
                            {"fragments", s.training.local_sgd_fragments}, {"overlap_steps", s.training.local_sgd_overlap_steps},
                            {"average_wait_s", to_seconds(r.average_wait)}};
  }
  if (s.training.stragglers.on()) {
    const StragglerDelay& d = r.stragglers;
    results["stragglers"] = {{"coupled_gpus", d.coupled_gpus}, {"coupled_groups", d.groups},
                             {"stalls_per_group_step", d.stalls_per_step}, {"mean_delay_s", d.mean_seconds},
                             {"p50_delay_s", d.p50_seconds}, {"p99_delay_s", d.p99_seconds}};
  }
  if (s.training.offload_layers > 0) {
    results["time_gpu0_ps"]["exposed_offload"] = r.exposed_offload;
    results["memory_per_gpu_bytes"]["offloaded_to_host"] = r.memory.offloaded;
  }
  return results;
}

void print_summary(std::ostream& out, const Scenario& s, const TrainingResult& r) {
  const ParameterCount params = count_parameters(s.model);
  out << "foresight: " << s.name << "  [" << s.source << "]\n"
      << "  model     " << s.model.name << ": " << fmt("%.2f", params.total / 1e9) << " B parameters, "
      << s.model.layers << " layers, hidden " << s.model.hidden << ", heads " << s.model.heads << "/"
      << s.model.kv_heads << " (q/kv)" << (s.model.is_moe() ? ", MoE " + std::to_string(s.model.experts) + "x top-" + std::to_string(s.model.experts_per_token) : "") << "\n"
      << "  hardware  " << s.training.gpus() << " x " << s.gpu.description << " on " << s.fabric.preset
      << fmt(" (%.0f GB/s per direction)", s.fabric.bandwidth / 1e9)
      << (s.fabric.nodes > 1 ? " x " + std::to_string(s.fabric.nodes) + " nodes" + fmt(", %.0f GB/s NICs", s.fabric.nic_bandwidth / 1e9) +
                                   (s.fabric.rail_optimized ? " on a rail-optimized leaf-spine" : " on a leaf-spine") +
                                   (s.fabric.oversubscription > 1 ? fmt(" (%.0f:1)", s.fabric.oversubscription) : "")
                             : std::string())
      << "\n"
      << "  layout    " << layout(s.training) << "\n"
      << "  costs     " << s.cost_model_name << s.gpu.measured_kernels_note() << " (compute ops), " << network_model_name(s.fabric.network)
      << (s.fabric.network == NetworkModel::kFlow && s.fabric.nccl_costs ? " with NCCL's fitted H100 costs" : "") << " (collectives)\n"
      << "  pace      tensor kernels at the expected pace of the slowest of " << s.training.gpus() << " GPUs: "
      << fmt("+%.1f%%", 100 * (r.slowest_gpu - 1)) << " (speed spread "
      << fmt("%.1f%%", 100 * s.gpu.speed_spread) << " between GPUs)"
      << (r.attention_imbalance > 1 ? "; masked attention at the DP rank whose documents cost most: " + fmt("+%.1f%%", 100 * (r.attention_imbalance - 1)) +
                                          (s.training.document_balance == DocumentBalance::kCost ? " (sequences dealt by cost)" : "")
                                    : std::string())
      << micro_batch_attention_note(r)
      << "\n\n";

  out << "Prediction for one optimizer step\n"
      << "  step time           " << format_duration(r.step_time) << (s.training.local_sgd() ? " (mean over the local SGD period)" : "")
      << "\n"
      << (s.training.local_sgd() ? local_sgd_line(s.training, r) : std::string())
      << (s.training.stragglers.on() ? straggler_line(r.stragglers) : std::string())
      << "  error band          "
      << error_band_line(s.gpu, s.training.dtype, s.model.is_moe(), s.cost_model_name, static_cast<int>(s.training.gpus()), to_seconds(r.step_time))
      << "\n"
      << "  throughput          " << fmt("%.0f", r.tokens_per_second) << " tokens/s ("
      << fmt("%.0f", r.tokens_per_second_per_gpu) << " per GPU)\n"
      << "  model TFLOP/s/GPU   " << fmt("%.1f", r.model_tflops_per_gpu) << "  (MFU "
      << fmt("%.1f%%", 100 * r.mfu) << " of " << fmt("%.0f", s.gpu.peak(s.training.dtype) / 1e12) << " "
      << dtype_name(s.training.dtype) << " peak; " << flop_formula_text(s.training) << " FLOPs per token)\n"
      << "  executed TFLOP/s    " << fmt("%.1f", r.executed_tflops_per_gpu) << " per GPU (incl. recompute, causal attention halved)\n\n";
  if (s.training.target.set()) print_time_to_target(out, s, r);

  // With local SGD the breakdown is an inner step's.
  const Time step = s.training.local_sgd() ? r.inner_step : r.step_time;
  out << "Where GPU 0's " << (s.training.local_sgd() ? "inner step" : "step time") << " goes\n";
  for (const ClassTime& c : r.compute_by_class) {
    char line[160];
    std::snprintf(line, sizeof line, "  %-18s %12s %s  %7lld kernels  [%s]\n", c.op_class.c_str(),
                  format_duration(c.total).c_str(), percent_of(c.total, step).c_str(),
                  static_cast<long long>(c.kernels), c.cost_model.c_str());
    out << line;
  }
  const auto row = [&](const char* label, Time t) {
    char line[160];
    std::snprintf(line, sizeof line, "  %-18s %12s %s\n", label, format_duration(t).c_str(), percent_of(t, step).c_str());
    out << line;
  };
  if (s.training.interference.enabled) row("+ interference", r.interference);
  row("= compute busy", r.compute_busy);
  row("exposed TP comm", r.exposed_tp);
  if (s.training.cp > 1) row("exposed CP comm", r.exposed_cp);
  if (s.training.ep > 1) row("exposed EP comm", r.exposed_ep);
  if (s.training.pp > 1) row("exposed PP comm", r.exposed_pp);
  row("exposed DP comm", r.exposed_dp);
  if (s.training.offload_layers > 0) row("exposed offload", r.exposed_offload);
  row("idle", r.idle);
  if (s.training.stragglers.on()) row("straggler stalls", from_seconds(r.stragglers.mean_seconds));
  if (s.training.host.launch_seconds > 0 || s.training.host.cuda_graphs) {
    // The host thread busy for most of the step means the GPU waits on its launches.
    const bool launch_bound = step > 0 && static_cast<double>(r.host_busy) >= 0.9 * static_cast<double>(step);
    out << "  host thread        " << format_duration(r.host_busy) << " launching kernels, " << percent_of(r.host_busy, step)
        << " of the step" << (launch_bound ? ": launch-bound" : "") << "\n";
  }
  if (s.training.pp > 1) {
    out << "  pipeline bubble    " << fmt("%.1f%%", 100 * r.pipeline_bubble) << " of the step idle, mean over the " << s.training.pp
        << " stages\n";
    out << "  layers per stage   " << runs_of(r.stage_layers) << (s.training.balance_stages ? " (balanced)" : "") << "\n";
  }

  const MemoryFootprint& m = r.memory;
  out << "\nPeak memory per GPU" << (s.training.pp > 1 ? " (stage " + std::to_string(m.stage) + ", the fullest)" : std::string()) << "\n"
      << "  weights " << gb(m.weights) << ", gradients " << gb(m.gradients) << ", optimizer " << gb(m.optimizer)
      << ", activations " << gb(m.activations) << ", reserved " << gb(m.reserved) << "\n"
      << (m.offloaded > 0 ? "  host memory " + gb(m.offloaded) + " of offloaded activations (" +
                                std::to_string(s.training.offload_layers) + " layers at " +
                                fmt("%.0f", s.gpu.host_copy_bandwidth / 1e9) + " GB/s a direction)\n"
                          : std::string())
      << "  total " << gb(m.total()) << " of " << gb(m.capacity) << ": "
      << (m.fits() ? "fits" : "OUT OF MEMORY by " + gb(m.total() - m.capacity)) << "\n\n"
      << "Simulated " << r.ops << " ops (" << r.events << " events)"
      << simulated_share(s.training) << ".\n";  print_cost_models(out, s);
}

}  // namespace foresight
