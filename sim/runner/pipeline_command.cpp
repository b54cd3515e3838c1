#include <algorithm>
#include "sim/runner/pipeline_command.hpp"

#include <cstdio>

#include "sim/input/input_error.hpp"
#include "workloads/pipeline_timeline.hpp"

namespace foresight {
namespace {
// Idle share of the stages with equal stage times and free transfers: Narayanan et al.
// SC'21 for GPipe, 1F1B and interleaved; Lamy-Poirier MLSys 2023 for breadth-first
// (m >= p); Qi et al. ICLR 2024 (Table 1) for ZB-H1, and for ZB-H2 within one step
// (m >= 2p-1): the paper's (p-1)(F+B-2W), but never below the (p-1)F ramp that only
// overlapping consecutive steps would hide; ZB-V's ramp with F = B = W (Sec. 6); Chimera's
// with a backward (B + W) as long as a forward (Li and Hoefler SC'21, Table 2); DualPipe's
// (PP/2-1)(F&B+B-3W) with F = B = W, B there being the whole backward and F&B the pair's
// passes without overlap gain (DeepSeek-V3 Table 2; PP is the stages for DualPipe, the
// chunks for DualPipeV).
std::string closed_form_bubble(std::string_view name, const PipelineOptions& o) {
  const double p = o.stages, m = o.micro_batches, v = o.chunks;
  const double f = o.forward_us, b = o.backward_us, w = o.weight_grad_us;
  double idle = 0;  // per stage, us
  if (name == "gpipe" || name == "1f1b") {
    idle = (p - 1) * (f + b + w);
  } else if (name == "interleaved_1f1b" || name == "breadth_first") {
    idle = (p - 1) * (f + b + w) / v;
  } else if (name == "zb_h1") {
    idle = (p - 1) * (f + b - w);
  } else if (name == "zb_h2" && m >= 2 * p - 1) {
    idle = (p - 1) * std::max(f, f + b - 2 * w);
  } else if (name == "zb_v" && m >= 2 * p - 1 && f == b && b == w) {
    idle = (p - 1) * f / 2;  // the first forward down the V's first leg of half-stage chunks
  } else if (name == "dualpipe" && f == b && b == w) {
    idle = (p / 2 - 1) * (3 * f + 2 * f - 3 * f);
  } else if (name == "dualpipev" && f == b && b == w) {
    idle = (p - 1) * (3 * f + 2 * f - 3 * f) / 2;  // PP = 2p chunks of half a stage
  } else if (name == "chimera" && f == b + w) {
    idle = (p / 2 - 1) * (f + b + w);  // Li and Hoefler SC'21: (p-2)/(2m+p-2) with equal slots
  } else {
    return "";
  }
  const double busy = m * (f + b + w);
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", 100 * idle / (busy + idle));
  return text;
}
}  // namespace

int run_pipeline_command(const PipelineOptions& o, std::ostream& out) {
  const PipelineWorkTimes base{from_seconds(o.forward_us * 1e-6), from_seconds(o.backward_us * 1e-6),
                               from_seconds(o.weight_grad_us * 1e-6), from_seconds(o.p2p_us * 1e-6)};
  std::vector<std::string> names = pipeline_schedule_names();
  if (o.schedule != "all") {
    names = {o.schedule};
    const bool looped = o.schedule == "interleaved_1f1b" || o.schedule == "breadth_first";
    const auto schedule = make_pipeline_schedule(o.schedule, looped ? o.chunks : 1);
    if (const std::string why = schedule->unsupported_reason(o.stages, o.micro_batches); !why.empty()) {
      throw InputError("--schedule " + o.schedule, "", why);  // before any output
    }
  }
  out << "# foresight pipeline: " << o.stages << " stages, " << o.micro_batches << " micro-batches; per micro-batch and stage F "
      << o.forward_us << " us, B " << o.backward_us << " us, W " << o.weight_grad_us << " us, p2p " << o.p2p_us << " us\n"
      << "# interleaved_1f1b, breadth_first: " << o.chunks << " chunks per stage, each with F, B and W divided by " << o.chunks << "\n"
      << "# zb_v: 2 chunks per stage in a V (stage 0 holds both ends of the model), each with F, B and W halved\n"
      << "# chimera: two copies of the model in opposite directions, a whole stage's layers each (F, B and W in full)\n"
      << "# bitpipe: chimera's two copies, each in zb_v's V (4 chunks per stage, F, B and W halved), micro-batches in units of one per stage\n"
      << "# dualpipe: chimera's two copies, backward split into B and W, in DeepSeek-V3's eight steps; F&B pairs run back to back, outputs at the pair's end\n"
      << "# dualpipev: dualpipe's steps on zb_v's V with one copy, each chunk's F, B and W halved\n"
      << "# peak activations: the most micro-batches' worth of stage activations any stage holds at once\n";
  char line[160];
  std::snprintf(line, sizeof line, "%-18s %14s %10s %22s %18s\n", "# schedule", "step (us)", "bubble", "closed form (p2p 0)",
                "peak activations");
  out << line;
  for (const std::string& name : names) {
    const bool looped = name == "interleaved_1f1b" || name == "breadth_first";
    const int chunks = looped ? o.chunks : 1;
    const auto schedule = make_pipeline_schedule(name, chunks);
    if (const std::string why = schedule->unsupported_reason(o.stages, o.micro_batches); !why.empty()) {
      out << "  " << name << ": skipped, " << why << "\n";
      continue;
    }
    PipelineWorkTimes times = base;
    times.forward /= schedule->chunks_per_copy();
    times.backward /= schedule->chunks_per_copy();
    times.weight_grad /= schedule->chunks_per_copy();
    const PipelineTimeline t = run_pipeline(*schedule, o.stages, o.micro_batches, times);
    std::snprintf(line, sizeof line, "  %-16s %14.2f %9.1f%% %22s %18.2f\n", name.c_str(), to_microseconds(t.makespan),
                  100 * t.bubble_fraction(), closed_form_bubble(name, o).c_str(),
                  peak_activations(schedule->orders(o.stages, o.micro_batches), schedule->chunks_per_copy()));
    out << line;
  }
  return 0;
}

}  // namespace foresight
