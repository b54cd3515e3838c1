// Pipeline parallelism inside a training step: the schedules' closed forms with the
// step's own layer times, memory per stage, and send/recv on the flow network.
#include <doctest/doctest.h>

#include <cmath>
#include <algorithm>
#include <filesystem>
#include <map>

#include "models/roofline_model.hpp"
#include "test_support.hpp"
#include "workloads/memory_footprint.hpp"
#include "workloads/pipeline_timeline.hpp"
#include "workloads/stage_balance.hpp"
#include "workloads/training_step.hpp"

using namespace foresight;

namespace {
// Balanced stages: Llama-3-8B's layers with a tiny vocabulary, so that the embedding, head
// and loss (a few short kernels) are negligible next to a stage's layers and every stage
// does the same work, as the closed forms assume.
ModelArch balanced_model() {
  ModelArch m = *find_builtin_model("llama3_8b");
  m.name = "balanced";
  m.layers = 8;
  m.vocab = 64;
  return m;
}

// |a - b| within `relative` of b (doctest's Approx adds an absolute scale of 1, which is
// no check at all for times in seconds).
bool within(double a, double b, double relative) { return std::fabs(a - b) <= relative * std::fabs(b); }

// Free transfers: the analytic fabric with no latency and unbounded bandwidth.
NodeFabric free_fabric(int gpus) {
  NodeFabric f;
  f.preset = "nvswitch_node";
  f.gpus = gpus;
  f.bandwidth = 1e18;
  f.efficiency = 1;
  return f;
}

TrainingConfig pipeline(std::int64_t pp, std::int64_t micro_batches, const std::string& schedule, int chunks = 1) {
  TrainingConfig c;
  c.global_batch = micro_batches;
  c.micro_batch = 1;
  c.sequence = 4096;
  c.tp = 1;
  c.dp = 1;
  c.pp = pp;
  c.schedule = schedule;
  c.virtual_stages = chunks;
  return c;
}

struct StageTimes {
  Time forward = 0, backward_input = 0, weight_grad = 0, optimizer = 0;
};

// One micro-batch through one stage's layers (layers / pp of them), from the cost model.
StageTimes stage_times(const ModelArch& model, const OpCostModel& cost, const GpuSpec& gpu, std::int64_t pp) {
  ShapeConfig shape;
  shape.sequence = 4096;
  const ModelOps ops = build_model_ops(model, shape);
  StageTimes t;
  const Time layers = model.layers / pp;
  for (const Op& op : ops.layer_forward) t.forward += layers * cost.estimate(op, gpu).duration;
  for (const Op& op : ops.layer_backward) {
    (op.phase == Phase::kBackwardWeight ? t.weight_grad : t.backward_input) += layers * cost.estimate(op, gpu).duration;
  }
  t.optimizer = cost.estimate(optimizer_op(count_parameters(model).per_layer * static_cast<double>(layers), Dtype::kBf16), gpu).duration;
  return t;
}

// Identical GPUs (no speed spread): the closed forms take every stage's kernels at the
// cost model's times.
GpuSpec identical_h100() {
  GpuSpec gpu = *find_builtin_gpu("h100_sxm");
  gpu.speed_spread = 0;
  return gpu;
}

struct Fixture {
  ModelArch model = balanced_model();
  GpuSpec gpu = identical_h100();
  RooflineModel roofline{RooflineParameters{}};
  TrainingResult run(const TrainingConfig& c) { return TrainingStep(model, gpu, free_fabric(static_cast<int>(c.gpus())), c, roofline).run(); }
};
}  // namespace

TEST_CASE("a training step's pipeline follows the schedules' closed forms with its own layer times") {
  // p = 4 stages of 2 layers, m = 8 micro-batches. With F, B (input gradients) and W
  // (weight gradients) the cost model's times for one stage, the step is the schedule's
  // makespan plus the optimizer: 1F1B and GPipe (m+p-1)(F+B+W); ZB-H1 m(F+B+W) +
  // (p-1)(F+B-W) (Qi et al. 2024). Tolerance 1%: the embedding, head and loss (tiny
  // here) still sit on the first and last stages.
  Fixture f;
  const std::int64_t p = 4, m = 8;
  const StageTimes t = stage_times(f.model, f.roofline, f.gpu, p);
  const double unit = to_seconds(t.forward + t.backward_input + t.weight_grad);
  const double optimizer = to_seconds(t.optimizer);
  const double one_f_one_b = (m + p - 1) * unit + optimizer;
  const double zb_h1 = m * unit + (p - 1) * to_seconds(t.forward + t.backward_input - t.weight_grad) + optimizer;
  const struct { const char* schedule; double expected; } cases[] = {{"1f1b", one_f_one_b}, {"gpipe", one_f_one_b}, {"zb_h1", zb_h1}};
  for (const auto& c : cases) {
    CAPTURE(c.schedule);
    const TrainingResult r = f.run(pipeline(p, m, c.schedule));
    MESSAGE(std::string(c.schedule) << ": simulated " << to_seconds(r.step_time) * 1e3 << " ms, closed form " << c.expected * 1e3 << " ms, bubble "
                       << r.pipeline_bubble * 100 << "%");
    CHECK(within(to_seconds(r.step_time), c.expected, 0.01));
  }
}

TEST_CASE("ZB-V in a training step: the V's makespan with the step's own chunk times, both ends of the model on stage 0") {
  // The pipeline of idealized stages (workloads/pipeline_timeline.hpp) with each chunk's F,
  // B and W half a stage's, plus the optimizer: within 1% (the embedding, head and loss,
  // tiny here, sit on stage 0's two chunks).
  Fixture f;
  const std::int64_t p = 4, m = 8;
  const StageTimes t = stage_times(f.model, f.roofline, f.gpu, p);
  const PipelineTimeline v = run_pipeline(*make_pipeline_schedule("zb_v"), static_cast<int>(p), static_cast<int>(m),
                                          {t.forward / 2, t.backward_input / 2, t.weight_grad / 2, 0});
  const double expected = to_seconds(v.makespan + t.optimizer);
  const TrainingResult r = f.run(pipeline(p, m, "zb_v", 2));
  MESSAGE("zb_v: simulated " << to_seconds(r.step_time) * 1e3 << " ms, idealized V " << expected * 1e3 << " ms");
  CHECK(within(to_seconds(r.step_time), expected, 0.01));
  CHECK(r.step_time < f.run(pipeline(p, m, "zb_h1")).step_time);
  TrainingConfig c = pipeline(p, m, "zb_v", 2);
  CHECK(c.virtual_stage(0, 1) == 7);
  CHECK(c.stage_of(7) == 0);
  CHECK(parameters_on_stage(f.model, c, 0) > parameters_on_stage(f.model, c, 1));  // the embedding and the head
}

TEST_CASE("Chimera and BitPipe in a training step: the idealized makespan with the step's own stage times, two copies of the weights") {
  // The idealized pipeline (workloads/pipeline_timeline.hpp) with each chunk's F and B + W its
  // share of a stage's (a whole stage for Chimera, half for BitPipe), plus the optimizer over
  // both copies' layers: within 1% (the embedding, head and loss, tiny here, sit on stages 0
  // and p-1, which hold both ends of the model).
  Fixture f;
  const std::int64_t p = 4, m = 8;
  const StageTimes t = stage_times(f.model, f.roofline, f.gpu, p);
  const double layers = static_cast<double>(2 * f.model.layers / p);
  const Time optimizer = f.roofline.estimate(optimizer_op(count_parameters(f.model).per_layer * layers, Dtype::kBf16), f.gpu).duration;
  const Time one_f_one_b = f.run(pipeline(p, m, "1f1b")).step_time;
  for (const std::pair<std::string, int>& entry : std::vector<std::pair<std::string, int>>{{"chimera", 2}, {"bitpipe", 4}}) {
    const std::string& name = entry.first;  // clang before 16 cannot capture a structured binding
    const int chunks = entry.second;
    CAPTURE(name);
    const auto schedule = make_pipeline_schedule(name);
    const Time share = schedule->chunks_per_copy();
    const PipelineTimeline idealized = run_pipeline(*schedule, static_cast<int>(p), static_cast<int>(m),
                                                    {t.forward / share, (t.backward_input + t.weight_grad) / share, 0, 0});
    const double expected = to_seconds(idealized.makespan + optimizer);
    const TrainingResult r = f.run(pipeline(p, m, name, chunks));
    MESSAGE(name << ": simulated " << to_seconds(r.step_time) * 1e3 << " ms, idealized " << expected * 1e3 << " ms, 1F1B "
                 << to_seconds(one_f_one_b) * 1e3 << " ms");
    CHECK(within(to_seconds(r.step_time), expected, 0.01));
    CHECK(r.step_time < one_f_one_b);
  }
  // Chimera: each stage holds two stages' layers, one of each copy, mirrored: stage s as stage p-1-s.
  const TrainingConfig chimera = pipeline(p, m, "chimera", 2);
  CHECK(chimera.positions() == p);
  CHECK(layers_on_stage(f.model, chimera, 1) == 2 * f.model.layers / p);
  CHECK(parameters_on_stage(f.model, chimera, 0) == doctest::Approx(parameters_on_stage(f.model, chimera, 3)));
  CHECK(chimera.holds_position(0, 0));
  CHECK(chimera.holds_position(0, 3));
  CHECK(parameters_on_stage(f.model, chimera, 1) == doctest::Approx(2 * parameters_on_stage(f.model, pipeline(p, m, "1f1b"), 1)));
  // BitPipe: four chunks of half a stage, two of each copy, so Chimera's layers and
  // parameters; each copy turns round on one stage.
  const TrainingConfig bitpipe = pipeline(p, m, "bitpipe", 4);
  CHECK(bitpipe.positions() == 2 * p);
  CHECK(layers_on_stage(f.model, bitpipe, 1) == 2 * f.model.layers / p);
  CHECK(parameters_on_stage(f.model, bitpipe, 1) == doctest::Approx(parameters_on_stage(f.model, chimera, 1)));
  CHECK(bitpipe.holds_position(0, 0));
  CHECK(bitpipe.holds_position(0, 2 * p - 1));
  CHECK(bitpipe.stage_of(bitpipe.virtual_stage(3, 1)) == 3);
}

TEST_CASE("Chimera's copies sum their gradients over both stages of a pair, and its limits are input errors") {
  // One pipeline (dp 1) of Llama-3-70B, a stage a node: 1F1B reduces no gradients, while
  // Chimera's stage s reduces with stage p-1-s, in another node, over the NICs.
  const auto dp_collectives = [](const std::string& schedule, int chunks) {
    const std::string trace = (std::filesystem::temp_directory_path() / ("foresight_chimera_" + schedule + ".json")).string();
    const auto r = foresight::testing::run_cli({"run", foresight::testing::source_path("scenarios/llama3_70b_pp4.json"), "--set",
                                                "training.parallel.schedule=" + schedule, "--set",
                                                "training.parallel.virtual_stages=" + std::to_string(chunks), "--trace", trace});
    REQUIRE(r.status == 0);
    const nlohmann::json events = foresight::testing::read_json_file(trace)["traceEvents"];
    double seconds = 0;
    for (const auto& e : events) {
      if (e.value("name", "").rfind("dp.grad_bucket", 0) == 0) seconds += e["dur"].get<double>() * 1e-6;
    }
    return seconds;
  };
  CHECK(dp_collectives("1f1b", 1) == 0);
  CHECK(dp_collectives("chimera", 2) > 0.05);  // 8.8 GB of a stage pair's gradients per GPU pair
  const auto bad = foresight::testing::run_cli({"run", foresight::testing::source_path("scenarios/llama3_70b_pp4.json"), "--set",
                                                "training.parallel.schedule=chimera", "--set", "training.parallel.virtual_stages=2",
                                                "--set", "training.parallel.zero_stage=3"});
  CHECK(bad.status == 2);
  CHECK(bad.err.find("zero_stage") != std::string::npos);
}

// DualPipe's F&B pairs run their two passes as two chains from one point, their launches
// alternating, so that each pass's expert all-to-alls hide behind the other's compute, which
// is what DeepSeek built it for; its copies reduce expert gradients over both stages of a pair.
namespace {
// Qwen1.5-MoE with PP 4 x EP 4 on 16 H100, two chunks per stage, under `schedule`: the results.
nlohmann::json run_moe_pp4_ep4(const std::string& schedule) {
  const std::string out = (std::filesystem::temp_directory_path() / ("foresight_moe_pp4_ep4_" + schedule + ".json")).string();
  const auto r = foresight::testing::run_cli({"run", foresight::testing::source_path("tests/data/qwen15_moe_training.json"), "--set",
                                              "hardware.topology.nodes=2", "--set", "training.parallel.tp=1", "--set",
                                              "training.parallel.pp=4", "--set", "training.parallel.dp=4", "--set", "training.parallel.ep=4",
                                              "--set", "training.parallel.schedule=" + schedule, "--set", "training.parallel.virtual_stages=2",
                                              "--set", "training.global_batch=128", "--out", out});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  return foresight::testing::read_json_file(out);
}
}  // namespace

TEST_CASE("DualPipe in a training step: a pair's passes hide each other's all-to-alls, with expert parallelism") {
  const nlohmann::json chimera = run_moe_pp4_ep4("chimera"), dualpipe = run_moe_pp4_ep4("dualpipe");
  const auto exposed_ep = [](const nlohmann::json& r) { return r["time_gpu0_ps"]["exposed_ep_comm"].get<double>(); };
  const auto step = [](const nlohmann::json& r) { return r["step_time_s"].get<double>(); };
  MESSAGE("exposed EP comm: chimera " << exposed_ep(chimera) * 1e-9 << " ms, dualpipe " << exposed_ep(dualpipe) * 1e-9 << " ms; step "
                                      << step(chimera) << " s against " << step(dualpipe) << " s");
  CHECK(exposed_ep(dualpipe) < 0.5 * exposed_ep(chimera));  // 51 ms against 134 ms
  CHECK(step(dualpipe) < step(chimera));
  CHECK(chimera["time_gpu0_ps"]["exposed_dp_comm"].get<double>() > 0);  // expert and dense gradients over both stages of a pair
}

// DualPipeV runs DualPipe's pairs on ZB-V's V: the same all-to-alls hidden with one copy of the
// model, so ZB-V's weights and gradients and no reduction across a pair of stages.
TEST_CASE("DualPipeV in a training step: DualPipe's overlap at ZB-V's parameter memory") {
  const nlohmann::json zbv = run_moe_pp4_ep4("zb_v"), dualpipev = run_moe_pp4_ep4("dualpipev"), dualpipe = run_moe_pp4_ep4("dualpipe");
  const auto exposed_ep = [](const nlohmann::json& r) { return r["time_gpu0_ps"]["exposed_ep_comm"].get<double>(); };
  const auto step = [](const nlohmann::json& r) { return r["step_time_s"].get<double>(); };
  const auto memory = [](const nlohmann::json& r, const char* part) { return r["memory_per_gpu_bytes"][part].get<double>(); };
  MESSAGE("exposed EP comm: zb_v " << exposed_ep(zbv) * 1e-9 << " ms, dualpipev " << exposed_ep(dualpipev) * 1e-9 << " ms; step "
                                   << step(zbv) << " s against " << step(dualpipev) << " s");
  CHECK(exposed_ep(dualpipev) < 0.5 * exposed_ep(zbv));  // 55 ms against 134 ms
  CHECK(step(dualpipev) < step(zbv));
  CHECK(memory(dualpipev, "weights") == memory(zbv, "weights"));
  CHECK(memory(dualpipev, "weights") < 0.7 * memory(dualpipe, "weights"));  // 3.2 GiB against 5.2 GiB
  CHECK(memory(dualpipev, "activations") < 0.6 * memory(dualpipe, "activations"));  // PP+1 chunks against PP+1 stages
  CHECK(dualpipev["time_gpu0_ps"]["exposed_dp_comm"] == zbv["time_gpu0_ps"]["exposed_dp_comm"]);
}

namespace {
// Qwen1.5-MoE on one 8x H100 node, TP 1 x DP 8 with EP 4 and global batch 64, `key` set to
// `value` and `extra` on top: the run, and the results file it wrote.
std::pair<foresight::testing::CliResult, std::string> run_qwen15_ep4(const std::string& key, const std::string& value,
                                                                     std::vector<std::string> extra = {}) {
  const std::string out = (std::filesystem::temp_directory_path() / ("foresight_" + key + "_" + value + ".json")).string();
  std::vector<std::string> args = {"run", foresight::testing::source_path("tests/data/qwen15_moe_training.json"), "--set",
                                   "training.parallel.tp=1", "--set", "training.parallel.dp=8", "--set", "training.parallel.ep=4",
                                   "--set", "training.parallel.sequence_parallel=false", "--set", "training.global_batch=64",
                                   "--set", key + "=" + value, "--out", out};
  args.insert(args.end(), extra.begin(), extra.end());
  return {foresight::testing::run_cli(args), out};
}

// The results of the Qwen1.5-MoE EP 4 run with `key` false and with it true.
struct OffAndOn {
  nlohmann::json off;
  nlohmann::json on;
};
OffAndOn qwen15_ep4_off_and_on(const std::string& key, const std::vector<std::string>& extra = {}) {
  const auto off = run_qwen15_ep4(key, "false", extra), on = run_qwen15_ep4(key, "true", extra);  // not bindings: clang before 16
  REQUIRE_MESSAGE(off.first.status == 0, off.first.err);
  REQUIRE_MESSAGE(on.first.status == 0, on.first.err);
  return {foresight::testing::read_json_file(off.second), foresight::testing::read_json_file(on.second)};
}

double exposed_ep_ps(const nlohmann::json& r) { return r["time_gpu0_ps"]["exposed_ep_comm"].get<double>(); }
double step_seconds(const nlohmann::json& r) { return r["step_time_s"].get<double>(); }

void report_exposed_ep_and_step(const OffAndOn& runs) {
  MESSAGE("exposed EP comm " << exposed_ep_ps(runs.off) * 1e-9 << " ms -> " << exposed_ep_ps(runs.on) * 1e-9 << " ms; step "
                             << step_seconds(runs.off) << " s -> " << step_seconds(runs.on) << " s");
}

// Each `extra` refused with exit 2, naming `key` and saying `why`.
void check_refused(const std::string& key, std::vector<std::string> extra, const std::string& why) {
  const foresight::testing::CliResult r = run_qwen15_ep4(key, "true", std::move(extra)).first;  // not a binding: clang before 16
  CHECK(r.status == 2);
  CHECK_MESSAGE(r.err.find(why) != std::string::npos, r.err);
  CHECK(r.err.find(key) != std::string::npos);
}
}  // namespace

// Megatron-core's combined 1F1B (--overlap-moe-expert-parallel-comm) on one stage: each
// micro-batch's forward runs beside the previous one's backward, their kernels on one stream
// and their all-to-alls beside, so the exposed all-to-all falls; two micro-batches' activations
// are held instead of one.
TEST_CASE("moe_a2a_overlap: a forward beside the previous backward hides expert all-to-alls, at a micro-batch of activations") {
  const std::string key = "training.parallel.moe_a2a_overlap";
  const OffAndOn runs = qwen15_ep4_off_and_on(key);
  const nlohmann::json &plain = runs.off, &paired = runs.on;
  const auto activations = [](const nlohmann::json& r) { return r["memory_per_gpu_bytes"]["activations"].get<double>(); };
  report_exposed_ep_and_step(runs);
  CHECK(exposed_ep_ps(paired) < 0.6 * exposed_ep_ps(plain));
  CHECK(step_seconds(paired) < step_seconds(plain));
  // What the pairs save is at most the all-to-all time the plain step left exposed.
  CHECK(step_seconds(plain) - step_seconds(paired) <= exposed_ep_ps(plain) * 1e-12);
  CHECK(activations(paired) == doctest::Approx(2 * activations(plain)).epsilon(1e-9));

  check_refused(key, {"--set", "training.parallel.ep=1"}, "needs an MoE model with ep > 1");
  check_refused(key, {"--set", "training.parallel.pp=2", "--set", "training.parallel.dp=4"},
                "set schedule: interleaved_1f1b (got 1f1b with pp 2)");
  check_refused(key, {"--set", "training.recompute=full"}, "refuses full recomputation");
}

// Megatron-core's --delay-wgrad-compute under the combined 1F1B: each MoE layer's expert
// weight gradients wait for the dispatch's backward all-to-all and run beside it, filling
// time the plain order leaves to the all-to-all alone.
TEST_CASE("delay_wgrad_compute: the experts' weight gradients run beside the dispatch's backward all-to-all") {
  const std::string key = "training.parallel.delay_wgrad_compute";
  const std::vector<std::string> overlap = {"--set", "training.parallel.moe_a2a_overlap=true"};
  const OffAndOn runs = qwen15_ep4_off_and_on(key, overlap);
  report_exposed_ep_and_step(runs);
  CHECK(step_seconds(runs.on) <= step_seconds(runs.off));
  CHECK(exposed_ep_ps(runs.on) <= exposed_ep_ps(runs.off));
  check_refused(key, {}, "only with the expert all-to-all overlap: set moe_a2a_overlap: true");
}

// Megatron's --overlap-param-gather: the distributed optimizer's gather of the updated
// weights no longer closes the step; each layer's first forward waits for its own gather,
// issued one layer ahead. Without a sharded optimizer there is nothing to gather.
TEST_CASE("overlap_param_gather: the updated weights are gathered during the next forward, not after the optimizer") {
  const std::string key = "training.overlap_param_gather";
  const std::vector<std::string> zero1 = {"--set", "training.parallel.zero_stage=1"};
  const OffAndOn runs = qwen15_ep4_off_and_on(key, zero1);
  const nlohmann::json &before = runs.off, &during = runs.on;
  const auto exposed_dp = [](const nlohmann::json& r) { return r["time_gpu0_ps"]["exposed_dp_comm"].get<double>(); };
  MESSAGE("exposed DP comm " << exposed_dp(before) * 1e-9 << " ms -> " << exposed_dp(during) * 1e-9 << " ms; step "
                             << step_seconds(before) << " s -> " << step_seconds(during) << " s");
  CHECK(exposed_dp(during) < exposed_dp(before));
  CHECK(step_seconds(during) < step_seconds(before));
  check_refused(key, {"--set", "training.parallel.zero_stage=0"}, "needs --use-distributed-optimizer");
}

// Megatron's MoE parallel folding keeps an EP group of ep consecutive ranks: on nodes of 4
// GPUs at TP 2, EP 4 stays inside a node, where EP across DP replicas spans two; the experts'
// gradients then cross nodes instead.
TEST_CASE("expert parallelism folded over TP ranks keeps the all-to-alls inside a node") {
  const auto run = [](const std::string& expert_tp, const std::vector<std::string>& more = {}) {
    std::vector<std::string> args = {"run", foresight::testing::source_path("tests/data/qwen15_moe_training.json"), "--set",
                                     "hardware.topology.gpus=4", "--set", "hardware.topology.nodes=2", "--set",
                                     "training.parallel.expert_tp=" + expert_tp, "--out",
                                     (std::filesystem::temp_directory_path() / ("foresight_folded_" + expert_tp + ".json")).string()};
    args.insert(args.end(), more.begin(), more.end());
    return foresight::testing::run_cli(args);
  };
  REQUIRE(run("0").status == 0);
  const nlohmann::json across = foresight::testing::read_json_file((std::filesystem::temp_directory_path() / "foresight_folded_0.json").string());
  REQUIRE(run("1").status == 0);
  const nlohmann::json folded = foresight::testing::read_json_file((std::filesystem::temp_directory_path() / "foresight_folded_1.json").string());
  const auto exposed = [](const nlohmann::json& r, const char* part) { return r["time_gpu0_ps"][part].get<double>(); };
  MESSAGE("exposed EP comm: across DP replicas " << exposed(across, "exposed_ep_comm") * 1e-9 << " ms, folded "
                                                  << exposed(folded, "exposed_ep_comm") * 1e-9 << " ms");
  CHECK(exposed(folded, "exposed_ep_comm") < 0.5 * exposed(across, "exposed_ep_comm"));  // 138 ms against 528 ms
  CHECK(exposed(folded, "exposed_dp_comm") > exposed(across, "exposed_dp_comm"));        // expert gradients between nodes
  CHECK(folded["step_time_s"].get<double>() < across["step_time_s"].get<double>());
  // What foresight does not fold: EP groups straddling TP groups unevenly, no sequence parallelism.
  const auto refused = [&](const std::vector<std::string>& more, const std::string& why) {
    const auto r = run("1", more);
    CHECK(r.status == 2);
    CHECK_MESSAGE(r.err.find(why) != std::string::npos, r.err);
  };
  refused({"--set", "training.parallel.ep=6", "--set", "training.global_batch=48"}, "must divide or be a multiple of tp = 2, and divide tp x cp x dp = 8");
  refused({"--set", "training.parallel.sequence_parallel=false"}, "needs sequence_parallel");
  CHECK(run("1", {"--set", "training.parallel.ep=1"}).status == 0);  // every expert on every rank
  CHECK(run("1", {"--set", "training.parallel.cp=2", "--set", "training.parallel.dp=2"}).status == 0);  // EP 4 over TP 2 x CP 2
}

TEST_CASE("interleaving v chunks per stage divides the bubble by v") {
  // Narayanan et al. SC'21: bubble (p-1)(F+B)/v instead of (p-1)(F+B).
  Fixture f;
  const std::int64_t p = 4, m = 8;
  const StageTimes t = stage_times(f.model, f.roofline, f.gpu, p);
  const double unit = to_seconds(t.forward + t.backward_input + t.weight_grad);
  const double plain = to_seconds(f.run(pipeline(p, m, "1f1b")).step_time);
  const double interleaved = to_seconds(f.run(pipeline(p, m, "interleaved_1f1b", 2)).step_time);
  const double work = m * unit + to_seconds(t.optimizer);
  MESSAGE("bubble: 1F1B " << (plain - work) * 1e3 << " ms, interleaved " << (interleaved - work) * 1e3 << " ms");
  CHECK(within((interleaved - work) / (plain - work), 0.5, 0.05));
}

TEST_CASE("activation memory follows the schedule: GPipe holds m micro-batches, 1F1B p-s on stage s") {
  // p = 4, m = 8. GPipe keeps all 8 micro-batches' activations on every stage; 1F1B keeps
  // p - s on stage s (4 on the first). The step reports the fullest stage.
  Fixture f;
  ShapeConfig shape;
  shape.sequence = 4096;
  const ModelOps ops = build_model_ops(f.model, shape);
  const TrainingConfig gpipe = pipeline(4, 8, "gpipe");
  const TrainingConfig one = pipeline(4, 8, "1f1b");
  const double capacity = f.gpu.memory_bytes;
  const MemoryFootprint expected_gpipe = training_memory(f.model, ops, gpipe, capacity, {8, 8, 8, 8});
  const MemoryFootprint expected_one = training_memory(f.model, ops, one, capacity, {4, 3, 2, 1});
  const MemoryFootprint gpipe_memory = f.run(gpipe).memory;
  const MemoryFootprint one_memory = f.run(one).memory;
  CHECK(gpipe_memory.activations == expected_gpipe.activations);
  CHECK(one_memory.activations == expected_one.activations);
  CHECK(one_memory.stage == 0);
  // Per micro-batch a stage keeps a quarter of the layers: 1F1B's stage 0 (4 in flight)
  // needs about what one GPU running all 8 layers needs for its 1.
  const MemoryFootprint single = f.run(pipeline(1, 8, "1f1b")).memory;
  MESSAGE("activations: gpipe " << gpipe_memory.activations / 1e9 << " GB, 1f1b " << one_memory.activations / 1e9
                                << " GB, no pipeline " << single.activations / 1e9 << " GB");
  CHECK(within(one_memory.activations, single.activations, 0.02));
  CHECK(within(one_memory.weights, single.weights / 4, 0.02));
}

TEST_CASE("pipeline send/recv between nodes runs on the NICs of the flow network") {
  // Two nodes of 8, TP 8 inside each, PP 2 across them: every activation crosses a rail.
  Fixture f;
  NodeFabric cluster = free_fabric(8);
  cluster.bandwidth = 450e9;
  cluster.network = NetworkModel::kFlow;
  cluster.nodes = 2;
  TrainingConfig c = pipeline(2, 4, "1f1b");
  c.tp = 8;
  TrainingStep step(f.model, f.gpu, cluster, c, f.roofline);
  const TrainingResult r = step.run();
  CHECK(r.exposed_pp > 0);
  CHECK(r.pipeline_bubble > 0);
  CHECK(step.run().step_time == r.step_time);  // deterministic
}

TEST_CASE("uneven layer splits: the first and last virtual stages can hold fewer layers") {
  TrainingConfig c = pipeline(8, 8, "1f1b");
  c.first_stage_layers = 2;
  c.last_stage_layers = 2;
  CHECK(c.layers_per_virtual_stage(22) == std::vector<std::int64_t>{2, 3, 3, 3, 3, 3, 3, 2});
  CHECK(c.layers_per_virtual_stage(23).empty());  // 19 layers do not split over 6 stages
  c.last_stage_layers = -1;
  CHECK(c.layers_per_virtual_stage(23) == std::vector<std::int64_t>{2, 3, 3, 3, 3, 3, 3, 3});
  c = pipeline(8, 8, "interleaved_1f1b", 3);
  c.first_stage_layers = 0;
  c.last_stage_layers = 0;
  const auto split = c.layers_per_virtual_stage(22);
  CHECK(split.size() == 24);
  CHECK(split.front() == 0);
  CHECK(split.back() == 0);
  CHECK(split[1] == 1);
  // Layers that do not split are refused by the step as well as by the scenario reader.
  Fixture f;
  c = pipeline(3, 8, "1f1b");
  CHECK_THROWS_AS(TrainingStep(f.model, f.gpu, free_fabric(3), c, f.roofline), std::invalid_argument);
}

TEST_CASE("an explicit split: each virtual stage's layers as given, the same step as first/last_stage_layers say alike") {
  Fixture f;
  TrainingConfig ends = pipeline(4, 8, "1f1b");
  ends.first_stage_layers = 1;
  ends.last_stage_layers = 1;
  TrainingConfig listed = pipeline(4, 8, "1f1b");
  listed.stage_layers = {1, 3, 3, 1};
  CHECK(listed.layers_per_virtual_stage(8) == std::vector<std::int64_t>{1, 3, 3, 1});
  CHECK(listed.layers_per_virtual_stage(9).empty());  // the counts must add up to the model's layers
  const Time by_ends = TrainingStep(f.model, f.gpu, free_fabric(4), ends, f.roofline).run().step_time;
  CHECK(TrainingStep(f.model, f.gpu, free_fabric(4), listed, f.roofline).run().step_time == by_ends);
  // Piling the layers on one stage makes it the pipeline's pace.
  listed.stage_layers = {1, 1, 5, 1};
  CHECK(TrainingStep(f.model, f.gpu, free_fabric(4), listed, f.roofline).run().step_time > by_ends);
}

TEST_CASE("balanced stages: the fewest layers where the embedding or the head and loss cost most") {
  // Closed forms: no extra work splits evenly; a head of 1.5 layers and an embedding of a
  // quarter over 10 layers and 4 stages: 3.25 is the least longest stage that holds them all
  // (3 + 0.25, 3, 3, 1 + 1.5).
  CHECK(balanced_stage_layers(80, 4, 1.0, 0, 0) == std::vector<std::int64_t>{20, 20, 20, 20});
  CHECK(balanced_stage_layers(10, 4, 1.0, 0.25, 1.5) == std::vector<std::int64_t>{3, 3, 3, 1});
  CHECK(balanced_stage_layers(7, 1, 1.0, 3, 3) == std::vector<std::int64_t>{7});
  // A head worth two layers leaves the last of 4 stages (10 layers) with one: 3, 3, 3, 1 + 2.
  CHECK(balanced_stage_layers(10, 4, 2.0, 0, 4.0) == std::vector<std::int64_t>{3, 3, 3, 1});

  // In a step: a vocabulary of 256k tokens makes Llama-3-8B's head and loss a few layers'
  // worth; the balanced split gives the last stage fewer layers and runs no slower than the
  // even one.
  Fixture f;
  ModelArch heavy_head = balanced_model();
  heavy_head.vocab = 262144;
  TrainingConfig even = pipeline(4, 8, "1f1b");
  TrainingConfig balanced = even;
  balanced.balance_stages = true;
  TrainingStep by_cost(heavy_head, f.gpu, free_fabric(4), balanced, f.roofline);
  const std::vector<std::int64_t> split = by_cost.stage_layers();
  CHECK(split.back() < split.front());
  const Time balanced_time = by_cost.run().step_time;
  CHECK(balanced_time <= TrainingStep(heavy_head, f.gpu, free_fabric(4), even, f.roofline).run().step_time);
}

namespace {
// Per device ("GPU 3"): when each backward compute op ended, and when its first
// gradient-bucket reduction started.
class GradientTiming : public ExecutionObserver {
 public:
  void on_op_end(const OpGraph& graph, OpId op, Time start, Time end) override {
    const std::string& name = graph.label_text(graph.op(op).name);
    for (ResourceId r : graph.resources_of(op)) {
      const ResourceSpec& resource = graph.resource(r);
      if (name.rfind("dp.grad_bucket", 0) == 0 && resource.track == "dp comm") {
        auto [it, fresh] = first_reduce.try_emplace(resource.group, start);
        if (!fresh) it->second = std::min(it->second, start);
      }
      const bool backward = name.find(".bwd") != std::string::npos || name.find("grad") != std::string::npos;
      if (backward && resource.track == "compute") backward_ends[resource.group].push_back(end);
    }
  }
  // The share of the device's backward kernels that had ended when its first reduction began.
  double backward_done_at_first_reduce(const std::string& device) {
    const auto& ends = backward_ends[device];
    const Time reduce = first_reduce.at(device);
    const auto done = std::count_if(ends.begin(), ends.end(), [reduce](Time t) { return t <= reduce; });
    return static_cast<double>(done) / static_cast<double>(ends.size());
  }
  std::map<std::string, Time> first_reduce;
  std::map<std::string, std::vector<Time>> backward_ends;
};
}  // namespace

TEST_CASE("gradients are reduced over DP only once the last micro-batch's backward is under way, whatever the order") {
  // Tiny buckets: each layer's gradients are reduced as soon as they are final, which is
  // during the stage's last backward unit, after the other m-1 micro-batches' backwards.
  // GPipe runs its backwards latest micro-batch first, so its last unit is micro-batch 0's,
  // not micro-batch m-1's. DP 2 x PP 2, m = 4: at least 3/4 of each device's backward
  // kernels have ended when its first reduction starts.
  Fixture f;
  for (const char* schedule : {"gpipe", "1f1b", "zb_h1"}) {
    CAPTURE(schedule);
    TrainingConfig c = pipeline(2, 4, schedule);
    c.dp = 2;
    c.global_batch = 8;
    c.grad_bucket_bytes = 1;
    c.simulate_all_ranks = true;
    TrainingStep step(f.model, f.gpu, free_fabric(4), c, f.roofline);
    GradientTiming timing;
    step.run({&timing});
    REQUIRE(timing.first_reduce.size() == 4);
    for (const auto& [device, reduce] : timing.first_reduce) {
      const auto& rank = device;  // clang before 16 cannot capture a structured binding
      CAPTURE(rank);
      CHECK(timing.backward_done_at_first_reduce(device) >= 0.75);
    }
  }
}

TEST_CASE("on the analytic fabric, a send/recv moves the whole buffer: launch + a + S/(B eff)") {
  NodeFabric node = free_fabric(8);
  node.bandwidth = 400e9;
  node.efficiency = 0.8;
  node.launch_latency_seconds = 5e-6;
  node.step_latency_seconds = 1e-6;
  const double bytes = 64e6;
  const double expected = 5e-6 + 1e-6 + bytes / (400e9 * 0.8);
  CHECK(within(to_seconds(collective_duration(node, CollectiveKind::kSendRecv, bytes, 2)), expected, 1e-9));
}

TEST_CASE("overlapping send/recv: GPipe pays 2(p-1) transfers, 1F1B waits less") {
  // Posted ahead, a receive moves while the receiver computes: GPipe then waits on a
  // transfer only at the ramps (the first forward's p-1 hops down, the first backward's
  // p-1 up), while in program order each receive starts only when the stage reaches it.
  // 1F1B's steady state alternates with its neighbours; overlapping shortens its waits
  // but cannot remove them, since a backward needs the gradient its neighbour has just
  // computed.
  Fixture f;
  NodeFabric slow = free_fabric(4);
  slow.bandwidth = 50e9;
  const Time c = collective_duration(slow, CollectiveKind::kSendRecv, 4096.0 * 4096 * 2, 2);
  const StageTimes t = stage_times(f.model, f.roofline, f.gpu, 4);
  const auto step = [&](const char* schedule, bool overlap) {
    TrainingConfig config = pipeline(4, 8, schedule);
    config.overlap_p2p = overlap;
    config.interference.enabled = false;  // the closed form assumes free overlap
    return TrainingStep(f.model, f.gpu, slow, config, f.roofline).run();
  };
  const TrainingResult waits = step("1f1b", false);
  const TrainingResult overlapped = step("1f1b", true);
  MESSAGE("1F1B, p2p " << to_microseconds(c) << " us: " << to_microseconds(waits.step_time) << " us in program order, "
                       << to_microseconds(overlapped.step_time) << " us overlapped");
  CHECK(overlapped.step_time < waits.step_time);
  CHECK(overlapped.exposed_pp < waits.exposed_pp);
  const double gpipe = to_seconds((8 + 4 - 1) * (t.forward + t.backward_input + t.weight_grad) + 2 * (4 - 1) * c + t.optimizer);
  CHECK(within(to_seconds(step("gpipe", true).step_time), gpipe, 0.01));
  CHECK(to_seconds(step("gpipe", false).step_time) > gpipe * 1.01);
}

// Megatron-core's --moe-shared-expert-overlap: the shared expert's kernels fill the compute
// stream while the dispatch and combine all-to-alls run, so what they left exposed falls by
// up to the shared expert's time; Megatron's own checks hold.
TEST_CASE("moe_shared_expert_overlap: the shared expert beside the all-to-alls hides them, as Megatron runs it") {
  const std::string key = "training.moe_shared_expert_overlap";
  const OffAndOn runs = qwen15_ep4_off_and_on(key);
  const nlohmann::json &plain = runs.off, &overlapped = runs.on;
  report_exposed_ep_and_step(runs);
  CHECK(exposed_ep_ps(overlapped) < 0.5 * exposed_ep_ps(plain));
  CHECK(step_seconds(overlapped) < step_seconds(plain));
  CHECK(step_seconds(plain) - step_seconds(overlapped) <= exposed_ep_ps(plain) * 1e-12 * 1.001);
  CHECK(overlapped["memory_per_gpu_bytes"]["activations"] == plain["memory_per_gpu_bytes"]["activations"]);

  check_refused(key, {"--set", "training.parallel.ep=1"}, "no expert all-to-all");
  check_refused(key, {"--set", "training.recompute=selective", "--set", "training.recompute_modules=[\"shared_experts\"]"},
                "shared_experts recompute module");
  check_refused(key, {"--set", "model=mixtral_8x7b", "--set", "training.parallel.ep=8"}, "needs an MoE model with a shared expert");
}
