#include "sim/runner/cli.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <sstream>

#include "sim/engine/chrome_trace.hpp"
#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"
#include "sim/engine/op_progress.hpp"
#include "sim/engine/progress.hpp"
#include "sim/engine/time.hpp"
#include "sim/runner/calibrate_command.hpp"
#include "sim/runner/capacity_command.hpp"
#include "sim/runner/collective_command.hpp"
#include "sim/runner/fit_command.hpp"
#include "sim/runner/export_command.hpp"
#include "sim/runner/import_command.hpp"
#include "sim/runner/pipeline_command.hpp"
#include "sim/runner/regress_command.hpp"
#include "sim/runner/replay_command.hpp"
#include "sim/runner/report_command.hpp"
#include "sim/runner/search_command.hpp"
#include "sim/runner/sweep_command.hpp"
#include "workloads/pipeline_schedule.hpp"
#include "sim/runner/results.hpp"
#include "sim/runner/scenario.hpp"
#include "sim/runner/scenario_schema.hpp"
#include "sim/runner/serving_results.hpp"
#include "workloads/serving_policy.hpp"
#include "workloads/serving_traffic.hpp"
#include "topologies/collective_algorithms.hpp"
#include "topologies/topology_spec.hpp"

namespace foresight {
namespace {
constexpr int kInputError = 2;

struct Options {
  std::vector<std::string> scenarios;
  std::vector<std::string> overrides;
  std::string out_path;
  std::string trace_path;
  std::string requests_path;
  std::string list_what;
  int gpus = 0;  // --gpus: the cluster's size, with dp = auto
};

Scenario load(const std::string& path, const std::vector<std::string>& overrides) {
  return path.empty() ? default_scenario(overrides) : load_scenario(path, overrides);
}

int run_serving(const Scenario& scenario, const Options& o, std::ostream& out) {
  const std::vector<Request> requests = make_requests(scenario.serving.traffic, scenario.seed);
  IterationCostModel cost(scenario.model, scenario.gpu, scenario.fabric, scenario.serving, *scenario.cost_model);
  require_kv_room(cost, scenario.source);
  require_servable(scenario.serving, cost, requests, scenario.source);
  // On stderr, one step per block of arrivals, once the run has taken a second.
  Progress progress("serving", static_cast<int>(requests.size() / kArrivalBlock), false, 1.0);
  const ServingResult result =
      simulate_serving(scenario.serving, requests, cost, !o.trace_path.empty(), [&] { progress.step(std::to_string(kArrivalBlock) + " more requests arrived"); });
  progress.finish();
  print_serving_summary(out, scenario, cost, result);
  OutputFiles files;
  if (!o.out_path.empty()) files.add(o.out_path, serving_results_json(scenario, cost, result).dump(2) + "\n");
  if (!o.requests_path.empty()) files.add(o.requests_path, requests_csv(result));
  if (!o.trace_path.empty()) files.add(o.trace_path, serving_trace(result, scenario.serving));
  files.write_all();
  if (!o.out_path.empty()) out << "Wrote results to " << o.out_path << "\n";
  if (!o.requests_path.empty()) out << "Wrote one row per request to " << o.requests_path << "\n";
  if (!o.trace_path.empty()) out << "Wrote trace to " << o.trace_path << " (a track per replica and per request; open it in ui.perfetto.dev)\n";
  return 0;
}

// Said before the run, not after it: every output's folder exists.
void check_output_paths(const Options& o) {
  if (!o.out_path.empty()) check_output_path(o.out_path, "--out");
  if (!o.trace_path.empty()) check_output_path(o.trace_path, "--trace");
  if (!o.requests_path.empty()) check_output_path(o.requests_path, "--requests");
}

int command_run(const Options& o, std::ostream& out) {
  const std::string path = o.scenarios.empty() ? "" : o.scenarios.front();
  std::vector<std::string> overrides = o.overrides;
  if (o.gpus > 0) {
    // Before the user's --set, so that an explicit dp still wins.
    if (!path.empty() && load_json_file(path).contains("serving")) {
      throw InputError(path, "--gpus", "a serving scenario is sized by serving.replicas, serving.tp and serving.pp");
    }
    overrides.insert(overrides.begin(), {"hardware.gpus=" + std::to_string(o.gpus), "training.parallel.dp=auto"});
  }
  const Scenario scenario = load(path, overrides);
  check_output_paths(o);
  if (scenario.is_serving) return run_serving(scenario, o, out);
  if (!o.requests_path.empty()) throw InputError("", "--requests", "--requests is for serving scenarios");
  TrainingStep step(scenario.model, scenario.gpu, scenario.fabric, scenario.training, *scenario.cost_model);
  ChromeTraceWriter trace([&step](OpId op) { return step.trace_args(op); });
  OpProgress progress(step.graph());  // on stderr, once a step has taken a second
  std::vector<ExecutionObserver*> observers = {&progress};
  if (!o.trace_path.empty()) {
    observers.push_back(&trace);
    step.record_link_loads(true);
  }
  const TrainingResult result = step.run(observers);
  progress.finish();
  for (const LinkLoadSample& s : step.link_load_samples()) {
    trace.add_counter("GPU " + std::to_string(s.rank), "GB/s " + s.port, s.when, s.gigabytes_per_second);
  }
  print_summary(out, scenario, result);
  OutputFiles files;
  if (!o.out_path.empty()) files.add(o.out_path, results_json(scenario, result).dump(2) + "\n");
  if (!o.trace_path.empty()) {
    std::ostringstream text;
    trace.write(step.graph(), text);
    files.add(o.trace_path, text.str());
  }
  files.write_all();
  if (!o.out_path.empty()) out << "Wrote results to " << o.out_path << "\n";
  if (!o.trace_path.empty()) out << "Wrote trace to " << o.trace_path << " (open it in ui.perfetto.dev or chrome://tracing)\n";
  return 0;
}

int command_validate(const Options& o, std::ostream& out, std::ostream& err) {
  int status = 0;
  const std::vector<std::string> files = o.scenarios.empty() ? std::vector<std::string>{""} : o.scenarios;
  for (const std::string& file : files) {
    try {
      const Scenario scenario = load(file, o.overrides);
      out << "ok: " << scenario.source << " (" << scenario.name << ")\n";
    } catch (const InputError& e) {
      for (const Problem& problem : e.problems()) err << "error: " << format_problem(problem) << "\n";
      err << e.problems().size() << " problem" << (e.problems().size() == 1 ? "" : "s") << " in "
          << (file.empty() ? "(built-in default)" : file) << "\n";
      status = kInputError;
    }
  }
  return status;
}

// Each kind under the scenario key that picks it.
void list_serving_policies(std::ostream& out) {
  const ServingPolicyRegistry& policies = builtin_serving_policies();
  const auto kind = [&out](const char* key, const auto& registered) {
    out << key << "\n";
    for (const auto& entry : registered.entries) out << "  " << entry.name << "  " << entry.description << "\n";
  };
  kind("serving.scheduler", policies.schedulers);
  kind("serving.schedule_policy (admission order)", policies.admissions);
  kind("serving.preemption", policies.preemptions);
  kind("serving.eviction_policy", policies.evictions);
  kind("serving.router", policies.routers);
}

int command_list(const Options& o, std::ostream& out) {
  char line[256];
  if (o.list_what == "gpus") {
    out << "name           bf16 TFLOP/s  fp8 TFLOP/s  memory   HBM TB/s  scale-up GB/s  SMs  kernels   description\n";
    for (const GpuSpec& g : builtin_gpus()) {
      // The description goes after the fixed-width columns, whatever its length.
      std::snprintf(line, sizeof line, "%-14s %12.0f %12.0f %4.0f GiB %9.2f %14.0f %4d  %-8s  ", g.name.c_str(),
                    g.peak(Dtype::kBf16) / 1e12, g.peak(Dtype::kFp8) / 1e12, g.memory_bytes / kGiB,
                    g.memory_bandwidth / 1e12, g.scale_up_bandwidth / 1e9, g.sm_count, has_measurements(g) ? "measured" : "generic");
      out << line << g.description << "\n";
    }
  } else if (o.list_what == "models") {
    out << "name            params (B)  layers  hidden  heads  kv  ffn     vocab   source\n";
    for (const ModelArch& m : builtin_models()) {
      std::snprintf(line, sizeof line, "%-15s %10.2f %7lld %7lld %6lld %3lld %6lld %7lld   ", m.name.c_str(),
                    count_parameters(m).total / 1e9, static_cast<long long>(m.layers), static_cast<long long>(m.hidden),
                    static_cast<long long>(m.heads), static_cast<long long>(m.kv_heads),
                    static_cast<long long>(m.ffn_hidden), static_cast<long long>(m.vocab));
      out << line << m.source << "\n";
    }
  } else if (o.list_what == "topologies") {
    for (const FabricPreset& p : fabric_presets()) out << p.name << "  " << p.description << "\n";
  } else if (o.list_what == "topology-presets") {
    for (const TopologyPreset& p : topology_presets()) out << p.name << "  " << p.description << "\n";
  } else if (o.list_what == "cost-models") {
    for (const std::string& name : cost_model_registry().names()) {
      out << name << "  " << cost_model_registry().description(name) << "\n";
    }
  } else if (o.list_what == "serving-policies") {
    list_serving_policies(out);
  } else if (o.list_what == "dtypes") {
    for (const std::string& name : dtype_names()) out << name << "\n";
  }
  return 0;
}

// The grid, goals and outputs that `sweep` and `search` both take.
void add_grid_options(CLI::App& command, SweepOptions& o) {
  command.add_option("scenario", o.scenario, "Scenario JSON file (default: the built-in scenario)")->check(CLI::ExistingFile);
  command.add_option("--grid", o.grid, "key=v1,v2,...: one dimension of the grid (repeatable)");
  command.add_option("--spec", o.spec_path, "A sweep file (docs/sweeps.md) instead of, or besides, the flags")->check(CLI::ExistingFile);
  command.add_option("--set", o.overrides, "Override a scenario value at every point (repeatable)");
  command.add_option("--gpus", o.gpus, "Training: a grid dimension over the cluster's GPUs in all, like 8,16,64, with dp = auto");
  command.add_option("--sample", o.sample, "Run this many grid points drawn at random, not all of them")->check(CLI::Range(1, 1000000000));
  command.add_option("--seed", o.seed, "Seed of the --sample draw")->capture_default_str();
  command.add_option("--threads", o.threads, "Simulations at once (default: every core)")->check(CLI::Range(1, 4096));
  command.add_option("--objective", o.objective, "throughput, cost, latency, or max:METRIC / min:METRIC")->capture_default_str();
  command.add_option("--constraint", o.constraints, "METRIC<=NUMBER or METRIC>=NUMBER (repeatable), like memory_gb<=70");
  command.add_option("--top", o.top, "Best points to print")->check(CLI::Range(1, 1000000))->capture_default_str();
  command.add_option("--gpu-hour-usd", o.gpu_hour_usd, "Price of a GPU hour, for the cost metrics")->check(CLI::Range(0.0, 1e6))->capture_default_str();
  command.add_option("--out", o.out_paths, "Write every row, as .csv or .json (repeatable)");
  command.add_option("--cache", o.cache_dir, "Keep whole simulations in this folder and reuse those whose inputs are unchanged");
  command.add_flag("--quiet", o.quiet, "No progress on stderr");
}
}  // namespace

// CLI11 reads "foresight runn" as a missing command and "run --sett x=1" as a scenario
// file named x=1; both deserve the name of what was mistyped and what was meant.
std::string mistyped_argument(const CLI::App& app, const std::vector<std::string>& args) {
  if (args.empty() || args.front().empty() || args.front().front() == '-') return "";
  const auto commands = app.get_subcommands([](const CLI::App*) { return true; });
  const auto command = std::find_if(commands.begin(), commands.end(), [&](const CLI::App* c) { return c->get_name() == args.front(); });
  if (command == commands.end()) {
    std::vector<std::string> names;
    for (const CLI::App* c : commands) names.push_back(c->get_name());
    std::string message = "unknown command \"" + args.front() + "\"" + did_you_mean(args.front(), names) + "; commands:";
    for (const std::string& name : names) message += (&name == &names.front() ? " " : ", ") + name;
    return message;
  }
  std::vector<std::string> flags = {"--help", "-h"};
  for (const CLI::Option* option : (*command)->get_options()) {
    for (const std::string& name : option->get_lnames()) flags.push_back("--" + name);
    for (const std::string& name : option->get_snames()) flags.push_back("-" + name);
  }
  for (std::size_t i = 1; i < args.size() && args[i] != "--"; ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg.front() != '-' || std::isdigit(static_cast<unsigned char>(arg[1])) || arg[1] == '.') continue;  // "-", "-1", "-.5"
    const std::string name = arg[1] == '-' ? arg.substr(0, arg.find('=')) : arg.substr(0, 2);
    if (std::find(flags.begin(), flags.end(), name) != flags.end()) continue;
    if (args.front() == "import") return "import: the launch command goes after --, like: foresight import vllm -- vllm serve MODEL " + arg;
    return args.front() + ": unknown option \"" + name + "\"" + did_you_mean(name, flags) + "; `foresight " + args.front() + " --help` lists them";
  }
  return "";
}

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  // Arguments end up in JSON outputs (paths, overrides), whose text must be UTF-8.
  for (const std::string& arg : args) {
    try {
      require_utf8(arg, "the command line", "");
    } catch (const InputError& e) {
      for (const Problem& problem : e.problems()) err << "error: " << format_problem(problem) << "\n";
      return kInputError;
    }
  }
  CLI::App app{"foresight: a discrete-event performance simulator for ML training and serving"};
  app.set_version_flag("--version", "foresight 0.1.0");
  app.require_subcommand(1);
  Options o;

  CLI::App* run = app.add_subcommand("run", "Simulate a scenario (the built-in default when none is given)");
  run->add_option("scenario", o.scenarios, "Scenario JSON file")->expected(0, 1)->check(CLI::ExistingFile);
  run->add_option("--set", o.overrides, "Override a scenario value: path.to.key=value (repeatable)");
  run->add_option("--out", o.out_path, "Write machine-readable results (JSON)");
  run->add_option("--trace", o.trace_path, "Write a Chrome/Perfetto trace (JSON)");
  run->add_option("--requests", o.requests_path, "Serving: write one CSV row per request (latencies, replica, preemptions)");
  run->add_option("--gpus", o.gpus, "Training: run on this many GPUs in all (whole nodes beyond one), dp = auto")->check(CLI::Range(1, 65536));

  CLI::App* validate = app.add_subcommand("validate", "Check scenario files and report every problem");
  validate->add_option("scenario", o.scenarios, "Scenario JSON files")->check(CLI::ExistingFile);
  validate->add_option("--set", o.overrides, "Override a scenario value before checking (repeatable)");

  CLI::App* list = app.add_subcommand("list", "Show what is built in");
  list->add_option("what", o.list_what, "What to list")
      ->required()
      ->check(CLI::IsMember({"gpus", "models", "topologies", "topology-presets", "cost-models", "serving-policies", "dtypes"}));

  CLI::App* reference = app.add_subcommand("reference", "Print the scenario key reference (Markdown), or its JSON Schema for editors");
  bool schema = false;
  reference->add_flag("--schema", schema, "Print the JSON Schema of scenario files instead (docs/scenario.schema.json)");

  CollectiveOptions collective_options;
  CLI::App* collective = app.add_subcommand("collective", "nccl-tests-style table of a collective on a topology (flow-level network)");
  collective->add_option("--topology", collective_options.topology, "Preset (`foresight list topology-presets`) or topology JSON file")
      ->capture_default_str();
  collective->add_option("--op", collective_options.op, "Collective")
      ->check(CLI::IsMember({"all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast", "reduce", "send_recv"}))
      ->capture_default_str();
  collective->add_option("--algo", collective_options.algorithm,
                         "Algorithm; nccl: the fastest of those NCCL has for the op; auto: the fastest of all")
      ->check(CLI::IsMember([] {
        auto names = algorithm_names();
        names.push_back("nccl");
        names.push_back("auto");
        return names;
      }()))
      ->capture_default_str();
  collective->add_option("--sizes", collective_options.sizes, "One size or first:last, in nccl-tests units (K = 1024)")
      ->capture_default_str();
  collective->add_option("--factor", collective_options.factor, "Multiply the size by this between rows")->capture_default_str();
  collective->add_option("--gpus", collective_options.gpus, "Use the first N GPUs of the topology (0 = all)")
      ->check(CLI::Range(0, 1 << 20));
  collective->add_option("--ranks-per-node", collective_options.ranks_per_node, "hierarchical: consecutive GPUs sharing a node")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  collective->add_option("--protocol", collective_options.protocol,
                         "NCCL protocol: auto (fastest per size), ll, ll128, simple; none = the bare network")
      ->check(CLI::IsMember({"auto", "ll", "ll128", "simple", "none"}))
      ->capture_default_str();
  collective->add_option("--launch-us", collective_options.launch_us,
                         "Fixed cost of each collective before data moves (default: NCCL's fitted 6.53 us, 0 with --protocol none)")
      ->check(CLI::Range(0.0, 1e6));
  collective->add_option("--out", collective_options.out_path, "Write the rows as JSON");

  PipelineOptions pipeline_options;
  CLI::App* pipeline = app.add_subcommand("pipeline", "Pipeline schedules side by side on idealized stages: step time and bubble");
  pipeline->add_option("--schedule", pipeline_options.schedule, "A schedule, or all")
      ->check(CLI::IsMember([] {
        auto names = pipeline_schedule_names();
        names.push_back("all");
        return names;
      }()))
      ->capture_default_str();
  pipeline->add_option("--stages", pipeline_options.stages, "Pipeline stages (p)")->check(CLI::Range(1, 1024))->capture_default_str();
  pipeline->add_option("--micro-batches", pipeline_options.micro_batches, "Micro-batches per step (m)")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  pipeline->add_option("--chunks", pipeline_options.chunks, "Model chunks per stage for interleaved_1f1b and breadth_first (v)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  pipeline->add_option("--forward-us", pipeline_options.forward_us, "F: one micro-batch's forward through one stage")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  pipeline->add_option("--backward-us", pipeline_options.backward_us, "B: its input-gradient backward")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  pipeline->add_option("--weight-grad-us", pipeline_options.weight_grad_us,
                       "W: its weight-gradient backward (run with B by schedules that do not split them)")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  pipeline->add_option("--p2p-us", pipeline_options.p2p_us, "Each activation or gradient transfer between stages")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();

  CapacityOptions capacity_options;
  CLI::App* capacity = app.add_subcommand("capacity", "Serving: the highest request rate each configuration sustains within SLOs");
  capacity->add_option("scenario", capacity_options.scenario, "Serving scenario JSON file")->required()->check(CLI::ExistingFile);
  capacity->add_option("--slo", capacity_options.slo, "Targets: metric_statistic=duration,... (ttft, tpot, itl, e2e, queueing; mean, p50, p90, p99)")
      ->capture_default_str();
  capacity->add_option("--set", capacity_options.overrides, "Override a scenario value for every configuration (repeatable)");
  capacity->add_option("--vary", capacity_options.vary, "key=v1,v2,...: one configuration per combination of values (repeatable)");
  capacity->add_option("--precision", capacity_options.precision, "Bisect until the rate is known within this fraction")
      ->check(CLI::Range(1e-4, 1.0))
      ->capture_default_str();
  capacity->add_option("--out", capacity_options.out_path, "Write the table as JSON");
  capacity->add_flag("--quiet", capacity_options.quiet, "No progress on stderr");

  SweepOptions sweep_options;
  CLI::App* sweep = app.add_subcommand("sweep", "Run every point of a grid over a scenario's values; best points, Pareto front, results table");
  add_grid_options(*sweep, sweep_options);
  sweep->add_option("--pareto", sweep_options.pareto, "Two goals for the Pareto front (default: the objective and cluster size or latency)");

  SearchOptions search_options;
  CLI::App* search = app.add_subcommand("search", "The best point of a grid under constraints, simulating only what it takes (docs/sweeps.md)");
  add_grid_options(*search, search_options.sweep);
  search->add_option("--confirm", search_options.min_confirmed, "Estimated points to simulate whole, at least")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  search->add_option("--slack", search_options.slack, "The least relative error granted to an estimate")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();

  RegressOptions regress_options;
  CLI::App* regress = app.add_subcommand("regress", "Compare the predictions of a suite of scenarios with a stored baseline (exit 1 on change)");
  regress->add_option("--baseline", regress_options.baseline, "The baseline file (docs/sweeps.md)")->required()->check(CLI::ExistingFile);
  regress->add_flag("--update", regress_options.update, "Rewrite the baseline with the values predicted now");
  regress->add_option("--threads", regress_options.threads, "Cases at once (default: every core)")->check(CLI::Range(1, 4096));

  ReportOptions report_options;
  CLI::App* report = app.add_subcommand("report", "A self-contained HTML page of plots from results, traces, sweeps and capacity tables");
  report->add_option("inputs", report_options.inputs, "Results, trace, per-request CSV, sweep or capacity files")->required()->check(CLI::ExistingFile);
  report->add_option("-o,--out", report_options.out_path, "The HTML file to write")->required();

  FitOptions fit_options;
  CLI::App* fit = app.add_subcommand("fit", "Train the learned kernel latency predictor on measured kernels; --eval reports held-out error");
  fit->add_option("--data", fit_options.data, "The public data folder (holding neusight/)")->capture_default_str();
  fit->add_flag("--eval", fit_options.eval, "Report same-device and leave-one-GPU-out error before fitting on everything");
  fit->add_option("--out", fit_options.out_path, "Write the fitted model (JSON)");
  fit->add_option("--profile", fit_options.profiles, "Also train on a calibration profile (repeatable)")->check(CLI::ExistingFile);
  fit->add_option("--score", fit_options.score,
                  "Score the roofline, the shipped and fitted learned models and the --profile models on this profile's kernels and layers (repeatable)")
      ->check(CLI::ExistingFile);

  CalibrateOptions calibrate_options;
  CLI::App* calibrate = app.add_subcommand("calibrate", "Measure the local GPU with the CUDA microbenchmarks (kernels/) and write a profile");
  calibrate->add_option("--out", calibrate_options.out_path, "The profile to write (JSON)")->required();
  CLI::Option* quick = calibrate->add_flag("--quick", calibrate_options.quick, "A subset of a few seconds to minutes");
  CLI::Option* only = calibrate->add_option("--only", calibrate_options.only,
                        "Measure only these families, comma-separated: launch, gemm (or gemm.bf16, gemm.fp16, gemm.tf32, gemm.fp8), memory, "
                        "attention, layer, host, collective, sustained; holdout (random shapes for scoring models, only when named)");
  CLI::Option* max_seconds =
      calibrate->add_option("--max-seconds", calibrate_options.max_seconds, "Start no new measurement after this many seconds; keep what was measured")
          ->check(CLI::PositiveNumber);
  CLI::Option* merge = calibrate->add_option("--merge", calibrate_options.merge, "Measure nothing: combine these profiles of one GPU into --out")
                           ->check(CLI::ExistingFile);
  calibrate->add_option("--kernels", calibrate_options.kernels_program, "The microbenchmark program (default: build/<preset>/kernels/foresight-kernels)");
  CLI::Option* from_public = calibrate->add_option("--from-public", calibrate_options.from_public,
                        "Measure nothing: convert calibration/data's measurements of this catalog GPU (h100_sxm, a100_sxm_80gb, a40)");
  calibrate->add_option("--data", calibrate_options.data, "The public data folder, for --from-public")->capture_default_str();
  merge->excludes(quick)->excludes(only)->excludes(max_seconds)->excludes(from_public);
  from_public->excludes(quick)->excludes(only)->excludes(max_seconds);

  ReplayOptions replay_options;
  CLI::App* replay = app.add_subcommand("replay", "Run a recorded op graph (docs/replay.md): makespan, busy time per rank, trace");
  replay->add_option("graph", replay_options.graph_path, "Op graph JSON file")->required();
  replay->add_option("--out", replay_options.out_path, "Write the results (JSON)");
  replay->add_option("--trace", replay_options.trace_path, "Write a Chrome/Perfetto trace (JSON)");
  replay->add_option("--cost-model", replay_options.cost_model, "Cost model for shaped ops (`foresight list cost-models`); default: the graph's cost_model, else roofline");

  ImportOptions import_options;
  CLI::App* import = app.add_subcommand("import", "A scenario from a launch command: Megatron-LM, Megatron-Bridge, NeMo or torchtitan training, vLLM, SGLang or TensorRT-LLM serving; "
                                                  "a replay graph from PyTorch profiler traces or Chakra execution traces (docs/import.md, docs/replay.md)");
  import->add_option("tool", import_options.tool, "megatron, megatron-bridge, nemo, torchtitan, vllm, sglang, trtllm, kineto or chakra")->required()->check(CLI::IsMember({"megatron", "megatron-bridge", "nemo", "torchtitan", "vllm", "sglang", "trtllm", "kineto", "chakra"}));
  import->add_option("command", import_options.command, "The launch command, after --; for kineto and chakra, the trace files, one per rank")->expected(-1);
  import->add_flag("--retime-collectives", import_options.retime_collectives,
                   "kineto, chakra: leave merged collectives' measured durations out, so that the graph's topology times them (give it with --set topology=NAME)");
  import->add_option("--gpu", import_options.gpu, "The GPU it runs on (`foresight list gpus`)")->capture_default_str();
  import->add_option("--gpus", import_options.gpus, "megatron, megatron-bridge, nemo, torchtitan: all the job's GPUs, where the command does not say")->check(CLI::Range(1, 65536));
  import->add_option("--out", import_options.out_path, "Write the scenario here instead of to standard output");
  import->add_option("--set", import_options.overrides,
                     "Set a scenario value the command cannot say: path.to.key=value (repeatable), e.g. serving.speculative.acceptance=0.7; "
                     "for kineto and chakra, a key of the graph, e.g. topology=hgx_h100");

  ExportOptions export_options;
  CLI::App* export_command = app.add_subcommand("export", "The launch command for a scenario: Megatron-LM's (or a Megatron-Bridge config) for training, vLLM's, SGLang's or TensorRT-LLM's for serving (docs/import.md)");
  export_command->add_option("tool", export_options.tool, "megatron, megatron-bridge, vllm, sglang or trtllm")->required()->check(CLI::IsMember({"megatron", "megatron-bridge", "vllm", "sglang", "trtllm"}));
  export_command->add_option("scenario", export_options.scenario, "Scenario JSON file (default: the built-in default)");
  export_command->add_option("--set", export_options.overrides, "Override a scenario key first: key=value (repeatable)");

  if (const std::string mistyped = mistyped_argument(app, args); !mistyped.empty()) {
    err << "error: " << mistyped << "\n";
    return kInputError;
  }
  // An import's launch command, after --, is not foresight's to parse: CLI11 would read a
  // -- after a repeatable option such as --set as the end of that option's values only.
  std::vector<std::string> ours = args;
  if (!args.empty() && args.front() == "import") {
    if (const auto dashes = std::find(args.begin(), args.end(), "--"); dashes != args.end()) {
      import_options.command.assign(dashes + 1, args.end());
      ours.assign(args.begin(), dashes);
    }
  }
  std::vector<std::string> reversed(ours.rbegin(), ours.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    err << "error: " << e.what() << "\nRun `foresight --help` for usage.\n";
    return kInputError;
  }

  try {
    if (run->parsed()) {
      try {
        return command_run(o, out);
      } catch (const SimulatedTimeOverflow& e) {
        throw InputError(o.scenarios.empty() ? "(built-in default)" : o.scenarios.front(), "", e.what());  // name the scenario
      }
    }
    if (validate->parsed()) return command_validate(o, out, err);
    if (list->parsed()) return command_list(o, out);
    if (collective->parsed()) return run_collective_command(collective_options, out);
    if (pipeline->parsed()) return run_pipeline_command(pipeline_options, out);
    if (replay->parsed()) return run_replay_command(replay_options, out);
    if (capacity->parsed()) return run_capacity_command(capacity_options, out);
    if (fit->parsed()) return run_fit_command(fit_options, out);
    if (sweep->parsed()) return run_sweep_command(sweep_options, out);
    if (search->parsed()) return run_search_command(search_options, out);
    if (regress->parsed()) return run_regress_command(regress_options, out);
    if (report->parsed()) return run_report_command(report_options, out);
    if (calibrate->parsed()) return run_calibrate_command(calibrate_options, out);
    if (import->parsed()) return run_import_command(import_options, out);
    if (export_command->parsed()) return run_export_command(export_options, out);
    if (reference->parsed()) {
      if (schema) {
        out << scenario_json_schema(scenario_reference()).dump(1) << "\n";
      } else {
        out << format_reference_table(scenario_reference());
      }
      return 0;
    }
  } catch (const InputError& e) {
    for (const Problem& problem : e.problems()) err << "error: " << format_problem(problem) << "\n";
    return kInputError;
  } catch (const std::invalid_argument& e) {
    err << "error: " << e.what() << "\n";
    return kInputError;
  } catch (const SimulatedTimeOverflow& e) {
    err << "error: " << e.what() << "\n";
    return kInputError;
  } catch (const std::exception& e) {
    err << "internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace foresight
