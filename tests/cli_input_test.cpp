// Every bad-input path a user can hit from the command line: exit status 2, a message
// naming the file, the JSON path and what was expected, and no output file written.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "test_support.hpp"

using foresight::testing::CliResult;
using foresight::testing::run_cli;
using foresight::testing::source_path;

namespace {
std::string bad(const std::string& name) { return source_path("tests/data/bad/" + name); }

std::string scratch(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "foresight_cli_test";
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  std::filesystem::remove(path);
  return path.string();
}

// Runs `run` with --out and --trace and checks that a failure left neither file behind.
CliResult run_expecting_no_output(std::vector<std::string> args) {
  const std::string out = scratch("results.json");
  const std::string trace = scratch("trace.json");
  args.insert(args.end(), {"--out", out, "--trace", trace});
  const CliResult r = run_cli(args);
  CHECK(r.status == 2);
  CHECK_FALSE(std::filesystem::exists(out));
  CHECK_FALSE(std::filesystem::exists(trace));
  CHECK_FALSE(std::filesystem::exists(out + ".partial"));
  return r;
}

bool has(const std::string& text, const std::string& part) {
  const bool found = text.find(part) != std::string::npos;
  if (!found) MESSAGE("missing \"" << part << "\" in:\n" << text);
  return found;
}
}  // namespace

TEST_CASE("a scenario file that does not exist") {
  const CliResult r = run_expecting_no_output({"run", "/no/such/scenario.json"});
  CHECK(has(r.err, "/no/such/scenario.json"));
}

TEST_CASE("invalid JSON names the line and column") {
  const CliResult r = run_expecting_no_output({"run", bad("syntax_error.json")});
  CHECK(has(r.err, "syntax_error.json: not valid JSON at line 4, column"));
}

TEST_CASE("a document that is not an object") {
  const CliResult r = run_expecting_no_output({"run", bad("not_an_object.json")});
  CHECK(has(r.err, "not_an_object.json: expected an object, got array"));
}

TEST_CASE("validate reports every problem in a file at once") {
  const CliResult r = run_cli({"validate", bad("many_problems.json")});
  CHECK(r.status == 2);
  CHECK(has(r.err, "hardware.gpu: unknown GPU \"h100\" (did you mean \"h100_sxm\"?)"));
  CHECK(has(r.err, "hardware.topology.bandwith_gbps: unknown key \"bandwith_gbps\" (did you mean \"bandwidth_gbps\"?)"));
  CHECK(has(r.err, "trainig: unknown key \"trainig\" (did you mean \"training\"?)"));
  CHECK(has(r.err, "training.global_batch: expected an integer >= 1 and <= 100000000 (sequences), got string \"128\""));
  CHECK(has(r.err, "training.micro_batch: expected an integer >= 1 and <= 100000 (sequences), got 0"));
  CHECK(has(r.err, "training.dtype: unknown value \"bf61\""));
  CHECK(has(r.err, "training.parallel: tp x cp x dp x pp = 16 must equal the cluster's 8 GPUs"));
  CHECK(has(r.err, "cost_model.name: unknown value \"rooflin\""));
  CHECK(has(r.err, "8 problems in"));
}

TEST_CASE("layouts that do not fit the model or the node") {
  CliResult r = run_expecting_no_output({"run", bad("tp_not_dividing.json")});
  CHECK(has(r.err, "training.parallel.tp: tp = 3 must divide the model's 32 attention heads"));
  r = run_expecting_no_output({"run", bad("layout_mismatch.json")});
  CHECK(has(r.err, "training.parallel: tp x cp x dp x pp = 4 must equal the cluster's 8 GPUs"));
  CHECK(has(r.err, "training.global_batch: global_batch 101 must be a multiple of dp x micro_batch = 2"));
  CHECK(has(r.err, "training.sequence_length: sequence_length 16384 exceeds the model's 8192 positions"));
}

TEST_CASE("a document mask needs a fused attention kernel") {
  const CliResult r = run_cli({"run", "--set", "training.document_length=512", "--set", "training.attention_kernel=unfused"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "training.document_length: a document mask saves work only in a fused attention kernel"));
}

TEST_CASE("the graph-size guard counts the ranks that are simulated, not every TP rank") {
  // Megatron's 530B model on 560 GPUs (TP 8 x PP 35 x DP 2, 1,120 micro-batches): one TP
  // rank stands for its group, so the graph holds about 7 M ops and the layout runs.
  const std::vector<std::string> layout = {"--set", "hardware.topology.nodes=70", "--set", "training.parallel.dp=2",
                                           "--set", "training.global_batch=2240"};
  std::vector<std::string> args = {"validate", source_path("scenarios/validation/megatron_table1/gpt_529.6b.json")};
  args.insert(args.end(), layout.begin(), layout.end());
  CHECK(run_cli(args).status == 0);
  // Simulating all 8 TP ranks and both replicas makes it 16 times larger: refused, with
  // advice that keeps the workload.
  args.insert(args.end(), {"--set", "training.simulate_all_ranks=true"});
  const CliResult r = run_cli(args);
  CHECK(r.status == 2);
  CHECK(has(r.err, "that fit in memory: simulate_all_ranks: false simulates one rank of each TP group"));
}

TEST_CASE("context and expert parallelism, overlap, dropout and recomputation options are checked") {
  const CliResult r = run_expecting_no_output({"run", bad("training_options_problems.json")});
  CHECK(has(r.err, "training.parallel.cp: sequence_length 4099 must split into 2 x cp equal chunks"));
  CHECK(has(r.err, "training.parallel.cp: context parallelism runs attention as ring passes of a fused kernel: use attention_kernel: flash"));
  CHECK(has(r.err, "training.parallel.tp_comm_overlap: TP communication overlap needs sequence_parallel: true"));
  CHECK(has(r.err, "training.dropout: expected a number >= 0 and <= 1"));
  CHECK(has(r.err, "training.recompute: unknown value \"partial\""));
  CHECK(has(r.err, "training.parallel.ep: expert parallelism needs a mixture-of-experts model; llama3_8b is dense"));
}

TEST_CASE("conditional disaggregation and the mixed pool need disaggregated pools and thresholds in range") {
  const std::string scenario = source_path("scenarios/llama3_70b_serving_azure_conv.json");
  auto r = run_expecting_no_output({"run", scenario, "--set", "serving.conditional_disagg={}"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "serving.conditional_disagg: needs prefill_replicas > 0"));
  r = run_expecting_no_output({"run", scenario, "--set", "serving.prefill_replicas=1", "--set",
                               "serving.conditional_disagg={\"max_local_prefill_length\":-5}"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "serving.conditional_disagg.max_local_prefill_length"));
  r = run_expecting_no_output({"run", scenario, "--set", "serving.prefill_replicas=1", "--set",
                               "serving.conditional_disagg={\"max_prefill_queue_size\":\"two\"}"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "serving.conditional_disagg.max_prefill_queue_size"));
  r = run_expecting_no_output({"run", scenario, "--set", "serving.mixed_pool_kv_load=0.9"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "serving.mixed_pool_kv_load: needs prefill_replicas > 0"));
  r = run_expecting_no_output({"run", scenario, "--set", "serving.prefill_replicas=1", "--set", "serving.mixed_pool_kv_load=1.5"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "serving.mixed_pool_kv_load"));
}

TEST_CASE("a decode pool needs disaggregated pools and a GPU: a catalog name or one described as hardware.gpu is") {
  const std::string scenario = source_path("scenarios/llama3_70b_serving_azure_conv.json");
  auto r = run_expecting_no_output({"run", scenario, "--set", "serving.decode_pool={\"gpu\":\"a100_sxm_80gb\"}"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "serving.decode_pool: a decode pool needs prefill_replicas > 0 (disaggregated pools)"));
  r = run_expecting_no_output({"run", scenario, "--set", "serving.prefill_replicas=1", "--set", "serving.decode_pool={\"gpu\":\"a100_sxm_80\"}"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "serving.decode_pool.gpu: unknown GPU \"a100_sxm_80\""));
  r = run_expecting_no_output({"run", scenario, "--set", "serving.prefill_replicas=1", "--set", "serving.decode_pool={\"tp\":4}"});
  CHECK(has(r.err, "serving.decode_pool.gpu: is required: the decode machines' GPU"));
  r = run_expecting_no_output({"run", scenario, "--set", "serving.prefill_replicas=1", "--set",
                               "serving.decode_pool={\"gpu\":{\"base\":\"h100_sxm\",\"power_watts\":350}}"});
  CHECK(has(r.err, "serving.decode_pool.gpu.power_watts: unknown key \"power_watts\""));
  r = run_expecting_no_output({"run", scenario, "--set", "serving.prefill_replicas=1", "--set",
                               "serving.decode_pool={\"gpu\":\"h100_sxm\",\"max_num_seqs\":-1}"});
  CHECK(has(r.err, "serving.decode_pool.max_num_seqs"));
  r = run_expecting_no_output({"run", scenario, "--set", "serving.prefill_replicas=1", "--set",
                               "serving.decode_pool={\"gpu\":\"h100_sxm\",\"pp\":1000}"});
  CHECK(has(r.err, "serving.decode_pool: pp = 1000 stages exceed the model's"));
  // On the cluster's own machines: their GPU, and room for both pools.
  r = run_expecting_no_output({"run", scenario, "--set", "serving.prefill_replicas=1", "--set",
                               "serving.decode_pool={\"gpu\":\"a100_sxm_80gb\",\"same_machines\":true}"});
  CHECK(has(r.err, "serving.decode_pool.same_machines: puts the decode replicas on the cluster's h100_sxm machines, but their gpu is "
                   "a100_sxm_80gb: one GPU type per machine"));
  r = run_expecting_no_output({"run", scenario, "--set", "serving.replicas=3", "--set", "serving.prefill_replicas=1", "--set",
                               "serving.decode_pool={\"gpu\":\"h100_sxm\",\"tp\":4,\"same_machines\":true}"});
  CHECK(has(r.err, "serving: the prefill and decode pools' 12 GPUs, more than the cluster's 8"));
  // Two TP 2 decode replicas beside a TP 4 prefill replica fill one 8-GPU machine.
  r = run_cli({"validate", scenario, "--set", "serving.replicas=3", "--set", "serving.prefill_replicas=1", "--set",
               "serving.decode_pool={\"gpu\":\"h100_sxm\",\"tp\":2,\"same_machines\":true}"});
  CHECK_MESSAGE(r.status == 0, r.err);
  // Splitwise's HHcap: decode machines of the prefill's type under a power cap.
  r = run_cli({"run", scenario, "--set", "serving.prefill_replicas=1", "--set",
               "serving.decode_pool={\"gpu\":{\"base\":\"h100_sxm\",\"power_limit_w\":350},\"tp\":4}"});
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(has(r.out, "Decode pool: NVIDIA H100 SXM5 80GB, TP 4"));
}

TEST_CASE("torchtitan's op-level recomputation is refused for a mixture of experts") {
  const CliResult r = run_expecting_no_output({"run", "--set", "model=mixtral_8x7b", "--set", "training.recompute=selective_op"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "training.recompute: selective_op is torchtitan's policy for dense decoder layers; mixtral_8x7b is a mixture "
                   "of experts: use none, selective or full"));
}

TEST_CASE("recompute_modules: known modules, modules the model has; other recompute settings ignore them") {
  CHECK(run_cli({"run", "--set", "training.recompute=full", "--set", "training.recompute_modules=[\"moe_act\"]"}).status == 0);
  CliResult r = run_expecting_no_output({"run", "--set", "training.recompute=selective", "--set", "training.recompute_modules=[\"mla_up\", 3]"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "training.recompute_modules: unknown module \"mla_up\": expected core_attn, layernorm, moe_act, mlp, shared_experts, mla_up_proj or moe"));
  CHECK(has(r.err, "training.recompute_modules: unknown module 3"));
  r = run_expecting_no_output({"run", "--set", "training.recompute=selective", "--set", "training.recompute_modules=[\"moe_act\",\"shared_experts\"]"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "training.recompute_modules: moe_act: llama3_8b has no experts"));
  CHECK(has(r.err, "training.recompute_modules: shared_experts: llama3_8b has no shared expert"));
  r = run_expecting_no_output({"run", "--set", "model=mixtral_8x7b", "--set", "training.recompute=selective", "--set",
                               "training.recompute_modules=[\"mlp\"]"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "training.recompute_modules: mlp: mixtral_8x7b has no dense MLP"));
  r = run_expecting_no_output({"run", "--set", "training.recompute=selective", "--set", "training.recompute_modules=\"mlp\""});
  CHECK(r.status == 2);
  CHECK(has(r.err, "training.recompute_modules: expected an array of module names"));
}

TEST_CASE("CUDA graphs cannot capture a dropless MoE layer; the host's options are checked") {
  CliResult r = run_expecting_no_output({"run", "--set", "model=mixtral_8x7b", "--set", "training.host.cuda_graphs=true"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "training.host.cuda_graphs: a CUDA graph cannot capture a dropless MoE layer, whose shapes follow its routing"));
  // Its parts before the permutation can be.
  r = run_cli({"run", "--set", "model=mixtral_8x7b", "--set", "training.host.cuda_graphs=true", "--set",
               "training.host.cuda_graph_scope=[\"attn\",\"moe_router\"]", "--set", "training.global_batch=8"});
  CHECK_MESSAGE(r.status == 0, r.err);
  r = run_expecting_no_output({"run", "--set", "training.host.cuda_graphs=true", "--set", "training.host.cuda_graph_scope=[\"mamba\"]"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "training.host.cuda_graph_scope: unknown scope \"mamba\": expected one of attn, mlp, moe_router, moe_preprocess, moe"));
  r = run_expecting_no_output({"run", "--set", "training.host.launch_us=-1", "--set", "training.moe_routing=dropped"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "training.host.launch_us: expected a number >= 0"));
  CHECK(has(r.err, "training.moe_routing: unknown value \"dropped\""));
}

TEST_CASE("activation offloading is refused where Megatron-core refuses it, and needs a host copy rate") {
  CliResult r = run_expecting_no_output({"run", "--set", "training.activation_offload_layers=32"});
  CHECK(has(r.err, "training.activation_offload_layers: 32 must be below the model's 32 layers, as Megatron-core requires"));
  r = run_expecting_no_output({"run", "--set", "training.activation_offload_layers=4", "--set", "training.parallel.pp=2",
                               "--set", "training.parallel.dp=4"});
  CHECK(has(r.err, "training.activation_offload_layers: activation offloading needs pp 1"));
  r = run_expecting_no_output({"run", "--set", "training.activation_offload_layers=4", "--set", "training.recompute=full"});
  CHECK(has(r.err, "training.activation_offload_layers: activation offloading needs recompute: none"));
  r = run_expecting_no_output({"run", "--set", "training.activation_offload_layers=4", "--set",
                               "hardware.gpu={\"base\":\"h100_sxm\",\"host_copy_gbps\":0}"});
  CHECK(has(r.err, "hardware.gpu.host_copy_gbps: expected a number >= 0.001"));
  r = run_cli({"run", "--set", "training.activation_offload_layers=4", "--set", "training.global_batch=8"});
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(has(r.out, "host memory"));
  CHECK(has(r.out, "exposed offload"));
}

TEST_CASE("fp8 weight gathers need fp8 training and sharded data parallelism") {
  CliResult r = run_expecting_no_output({"run", "--set", "training.fp8_param_gather=true"});
  CHECK(has(r.err, "training.fp8_param_gather: gathering weights in fp8 needs dtype fp8 and sharded data parallelism"));
  r = run_expecting_no_output({"run", "--set", "training.fp8_param_gather=true", "--set", "training.dtype=fp8", "--set",
                               "training.parallel.zero_stage=0"});
  CHECK(has(r.err, "training.fp8_param_gather: gathering weights in fp8 needs dtype fp8 and sharded data parallelism"));
  r = run_cli({"run", "--set", "training.fp8_param_gather=true", "--set", "training.dtype=fp8", "--set", "training.global_batch=8"});
  CHECK_MESSAGE(r.status == 0, r.err);
}

TEST_CASE("bf16 layers need fp8 training and fit in the model") {
  CliResult r = run_expecting_no_output({"run", "--set", "training.bf16_layers_at_start=1"});
  CHECK(has(r.err, "training.bf16_layers_at_start: keeping decoder layers in bf16 is a choice fp8 training makes: it needs dtype fp8"));
  r = run_expecting_no_output({"run", "--set", "training.dtype=fp8", "--set", "training.bf16_layers_at_start=20", "--set",
                               "training.bf16_layers_at_end=20"});
  CHECK(has(r.err, "training.bf16_layers_at_end: bf16_layers_at_start + bf16_layers_at_end = 40 is more than the model's 32 decoder layers"));
  r = run_cli({"run", "--set", "training.dtype=fp8", "--set", "training.bf16_layers_at_start=1", "--set", "training.bf16_layers_at_end=1",
               "--set", "training.global_batch=8"});
  CHECK_MESSAGE(r.status == 0, r.err);
}

TEST_CASE("ZeRO++ needs ZeRO-3 and a partition that divides the DP group") {
  CliResult r = run_expecting_no_output({"run", "--set", "training.parallel.zero_quantized_weights=true"});
  CHECK(has(r.err, "training.parallel.zero_quantized_weights: ZeRO++ runs on ZeRO-3: set zero_stage 3"));
  r = run_expecting_no_output({"run", "--set", "training.parallel.zero_stage=3", "--set", "training.parallel.zero_hpz_partition_size=3"});
  CHECK(has(r.err, "training.parallel.zero_hpz_partition_size: 3 must divide the DP x CP group of 8 ranks"));
  r = run_expecting_no_output({"run", "--set", "training.parallel.zero_stage=3", "--set", "training.parallel.zero_quantized_gradients=true",
                               "--set", "training.parallel.fsdp=fsdp2"});
  CHECK(has(r.err, "training.parallel.zero_quantized_gradients: ZeRO++ is DeepSpeed's; fsdp: fsdp2 is PyTorch's FSDP2"));
  r = run_cli({"run", "--set", "training.parallel.zero_stage=3", "--set", "training.parallel.zero_hpz_partition_size=4", "--set",
               "training.parallel.zero_quantized_weights=true", "--set", "training.parallel.zero_quantized_gradients=true"});
  CHECK_MESSAGE(r.status == 0, r.err);
}

TEST_CASE("local SGD needs whole optimizers per replica, or replicas that shard, and replicas") {
  CliResult r = run_expecting_no_output({"run", "--set", "training.local_sgd.period=10"});
  CHECK(has(r.err, "training.local_sgd.period: with every DP rank a replica of its own, each keeps a whole optimizer: set "
                   "training.parallel.zero_stage 0, or local_sgd.replicas below dp to shard within replicas"));
  r = run_expecting_no_output({"run", "--set", "training.local_sgd.period=10", "--set", "training.parallel.zero_stage=0", "--set",
                               "training.parallel.dp=1", "--set", "training.parallel.tp=8"});
  CHECK(has(r.err, "training.local_sgd.period: local SGD needs data-parallel replicas (dp > 1)"));
  r = run_cli({"run", source_path("scenarios/local_sgd_llama3_8b_4_nodes.json")});
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(has(r.out, "the step that averages the weights, every 100 steps"));
  // Sharded replicas: dp / replicas ranks each, ZeRO within them.
  const std::string sharded = source_path("scenarios/local_sgd_fsdp_llama3_8b_4_nodes.json");
  r = run_cli({"run", sharded});
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(has(r.out, "the step that averages the weights, every 100 steps"));
  r = run_expecting_no_output({"run", sharded, "--set", "training.local_sgd.replicas=3"});
  CHECK(has(r.err, "training.local_sgd.replicas: must be 2 or more and divide dp = 32"));
  r = run_expecting_no_output({"run", sharded, "--set", "training.local_sgd.period=1"});
  CHECK(has(r.err, "training.local_sgd.replicas: says how many replicas local SGD averages: set period above 1"));
  r = run_expecting_no_output({"run", sharded, "--set", "training.local_sgd.replicas=32"});
  CHECK(has(r.err, "training.local_sgd.period: with every DP rank a replica of its own, each keeps a whole optimizer"));
}

TEST_CASE("Streaming DiLoCo: fragments divide the period, an overlap spans at most the steps between averages") {
  const std::string s = source_path("scenarios/local_sgd_llama3_8b_4_nodes.json");
  CliResult r = run_expecting_no_output({"run", s, "--set", "training.local_sgd.fragments=3"});
  CHECK(has(r.err, "training.local_sgd.fragments: 3 must divide period = 100: the fragments' averages come at even offsets within the period"));
  r = run_expecting_no_output({"run", s, "--set", "training.local_sgd.fragments=4", "--set", "training.local_sgd.overlap_steps=26"});
  CHECK(has(r.err, "training.local_sgd.overlap_steps: must be at most period / fragments = 25 steps, so that one average is in flight at a time"));
  r = run_expecting_no_output({"run", s, "--set", "training.local_sgd.period=1", "--set", "training.local_sgd.overlap_steps=1"});
  CHECK(has(r.err, "training.local_sgd.overlap_steps: overlaps local SGD's averages: set period above 1"));
  r = run_expecting_no_output({"run", s, "--set", "training.local_sgd.period=1", "--set", "training.local_sgd.fragments=2"});
  CHECK(has(r.err, "training.local_sgd.fragments: splits local SGD's averages: set period above 1"));
  r = run_cli({"run", s, "--set", "training.local_sgd.fragments=4", "--set", "training.local_sgd.overlap_steps=1", "--set",
               "training.local_sgd.sync_dtype=fp8"});
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(has(r.out, "the step that averages one of 4 fragments of the weights, every 25 steps"));
  CHECK(has(r.out, "the average's all-reduce beside 1 inner step, not waited for"));
}

TEST_CASE("offloaded experts over expert parallelism: the resident experts split evenly over the GPUs") {
  const std::string s = source_path("scenarios/mixtral_expert_offload_rtx4090.json");
  CliResult r = run_cli({"run", s, "--set", "hardware.topology.gpus=2", "--set", "serving.tp=2", "--set", "serving.expert_offload.gpu_experts=2",
                         "--set", "serving.expert_parallel=true"});
  CHECK_MESSAGE(r.status == 0, r.err);
  r = run_expecting_no_output({"run", s, "--set", "hardware.topology.gpus=2", "--set", "serving.tp=2", "--set",
                               "serving.expert_offload.gpu_experts=3", "--set", "serving.expert_parallel=true"});
  CHECK(has(r.err, "serving.expert_offload.gpu_experts: 3 must split evenly over the tp = 2 GPUs that hold the experts"));
}

TEST_CASE("mixed LoRA ranks and unified paging: what they need") {
  const std::string lora = source_path("scenarios/multi_lora_llama2_7b_a100.json");
  CliResult r = run_cli({"run", lora, "--set", "serving.lora_memory=unified", "--set", "serving.traffic.requests=50"});
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(has(r.out, "LoRA: ranks up to 64 paged into the KV cache's blocks"));
  r = run_expecting_no_output({"run", lora, "--set", "serving.lora_rank=32"});
  CHECK(has(r.err, "serving.lora_rank: is 32, below the largest of lora_ranks (64)"));
  r = run_expecting_no_output({"run", lora, "--set", "serving.lora_ranks=[8,0]"});
  CHECK(has(r.err, "serving.lora_ranks: expected whole ranks from 1 to 4,096, got 0"));
  r = run_expecting_no_output({"run", lora, "--set", "serving.lora_ranks=16"});
  CHECK(has(r.err, "serving.lora_ranks: expected a non-empty array of adapter ranks"));
  r = run_expecting_no_output({"run", lora, "--set", "serving.lora_memory=paged"});
  CHECK(has(r.err, "serving.lora_memory"));
  r = run_expecting_no_output({"run", lora, "--set", "serving.lora_kernel=cutlass"});
  CHECK(has(r.err, "serving.lora_kernel"));
  CHECK(has(r.err, "bgmv"));
  r = run_expecting_no_output({"run", lora, "--set", "serving.kv_admission=peak", "--set", "serving.capacity_scheduler_policy=MAX_UTILIZATION"});
  CHECK(has(r.err, "serving.kv_admission: set it or capacity_scheduler_policy (TensorRT-LLM's name for it), not both"));
  r = run_expecting_no_output({"run", lora, "--set", "serving.router_max_wait_tokens=10", "--set", "serving.scheduler=sarathi"});
  CHECK(has(r.err, "serving.router_max_wait_tokens: LightLLM's router prefills in iterations of their own: use scheduler vllm, not sarathi"));
  r = run_expecting_no_output({"run", lora, "--set", "serving.router_max_wait_tokens=10", "--set", "serving.replicas=2", "--set", "serving.prefill_replicas=1"});
  CHECK(has(r.err, "serving.router_max_wait_tokens: counts a replica's own decode steps; with disaggregated pools (prefill_replicas) leave it 0"));
  r = run_expecting_no_output({"run", lora, "--set", "serving.engine=trtllm", "--set", "serving.lora_memory=unified"});
  CHECK(has(r.err, "serving.lora_memory: unified paging with guaranteed_no_evict admission (TensorRT-LLM's) is not modelled"));
}

TEST_CASE("1-bit Adam needs a whole optimizer per rank") {
  CliResult r = run_expecting_no_output({"run", "--set", "training.grad_compression=onebit_adam"});
  CHECK(has(r.err, "training.grad_compression: 1-bit Adam keeps a whole optimizer per rank"));
  r = run_expecting_no_output({"run", "--set", "training.grad_compression=onebit"});
  CHECK(has(r.err, "training.grad_compression"));
  r = run_cli({"run", source_path("scenarios/local_sgd_llama3_8b_4_nodes.json"), "--set", "training.local_sgd.period=1", "--set",
               "training.grad_compression=onebit_adam"});
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK_FALSE(has(r.out, "1-bit Adam warmup"));
  r = run_expecting_no_output({"run", "--set", "training.freeze_step=1000"});
  CHECK(has(r.err, "training.freeze_step: is 1-bit Adam's warmup: set grad_compression to onebit_adam"));
  r = run_cli({"run", source_path("scenarios/local_sgd_llama3_8b_4_nodes.json"), "--set", "training.local_sgd.period=1", "--set",
               "training.grad_compression=onebit_adam", "--set", "training.freeze_step=1000", "--set", "training.target.steps=4000"});
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(has(r.out, "1-bit Adam warmup   the first 1000 steps uncompressed"));
}

TEST_CASE("plain SGD keeps no optimizer state for 1-bit Adam or local SGD to use") {
  CliResult r = run_expecting_no_output({"run", "--set", "training.optimizer=sgd", "--set", "training.grad_compression=onebit_adam",
                                         "--set", "training.parallel.zero_stage=0"});
  CHECK(has(r.err, "training.optimizer: sgd keeps no optimizer state"));
  r = run_expecting_no_output({"run", "--set", "training.optimizer=lamb"});
  CHECK(has(r.err, "training.optimizer: unknown value \"lamb\": expected one of adam, sgd"));
  r = run_cli({"run", "--set", "training.optimizer=sgd"});
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(has(r.out, "optimizer 0.0 GiB"));
}

TEST_CASE("a disk KV tier needs host memory above it, its read bandwidth, and a write bandwidth of 0 or more") {
  const std::string serving = source_path("scenarios/llama3_70b_serving_azure_conv.json");
  CliResult r = run_expecting_no_output({"run", serving, "--set", "serving.prefix_caching=true", "--set", "serving.kv_disk_gb=100",
                                         "--set", "serving.disk_read_gbps=2"});
  CHECK(has(r.err, "serving.kv_disk_gb: holds what host memory drops"));
  r = run_expecting_no_output({"run", serving, "--set", "serving.prefix_caching=true", "--set", "serving.kv_offload_gb=10", "--set",
                               "serving.kv_disk_gb=100"});
  CHECK(has(r.err, "serving.disk_read_gbps: a disk tier (kv_disk_gb) needs its read bandwidth per GPU"));
  r = run_expecting_no_output({"run", serving, "--set", "serving.prefix_caching=true", "--set", "serving.disk_prefetch=true"});
  CHECK(has(r.err, "serving.disk_prefetch: reads ahead from the disk tier: set kv_disk_gb too"));
  r = run_expecting_no_output({"run", serving, "--set", "serving.disk_write_gbps=-1"});
  CHECK(has(r.err, "serving.disk_write_gbps: expected a number >= 0 and <= 100000 (GB/s), got -1"));
}

TEST_CASE("stragglers: rates and lengths in range; not with local SGD's unsynchronized inner steps") {
  CliResult r = run_expecting_no_output({"run", "--set", "training.stragglers.stall_ms=-1"});
  CHECK(has(r.err, "training.stragglers.stall_ms"));
  r = run_expecting_no_output({"run", "--set", "training.stragglers.stalls_per_gpu_hour=1e9"});
  CHECK(has(r.err, "training.stragglers.stalls_per_gpu_hour"));
  r = run_expecting_no_output({"run", source_path("scenarios/local_sgd_llama3_8b_4_nodes.json"), "--set",
                               "training.stragglers.stalls_per_gpu_hour=1", "--set", "training.stragglers.stall_ms=100"});
  CHECK(has(r.err, "training.stragglers: local SGD's inner steps do not synchronize the replicas"));
}

TEST_CASE("FP8 gradient reduction reduces buckets: refused with ZeRO-3 and local SGD") {
  CliResult r = run_expecting_no_output({"run", "--set", "training.grad_compression=fp8", "--set", "training.parallel.zero_stage=3"});
  CHECK(has(r.err, "training.grad_compression: fp8 reduces the gradient buckets of zero_stage 0-2"));
  r = run_expecting_no_output({"run", source_path("scenarios/local_sgd_llama3_8b_4_nodes.json"), "--set", "training.grad_compression=fp8"});
  CHECK(has(r.err, "training.grad_compression: fp8"));
  r = run_cli({"run", source_path("scenarios/local_sgd_llama3_8b_4_nodes.json"), "--set", "training.local_sgd.period=1", "--set",
               "training.grad_compression=fp8"});
  CHECK_MESSAGE(r.status == 0, r.err);
}

TEST_CASE("a pipeline's layers per stage: one count per virtual stage, summing to the model's layers") {
  const std::string pp4 = source_path("scenarios/llama3_70b_pp4.json");
  CliResult r = run_cli({"run", pp4, "--set", "training.parallel.stage_layers=[19,21,21,19]"});
  CHECK_MESSAGE(r.status == 0, r.err);
  r = run_expecting_no_output({"run", pp4, "--set", "training.parallel.stage_layers=[20,20,40]"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "training.parallel.stage_layers: expected one count per virtual stage (pp x virtual_stages = 4) summing to the "
                   "model's 80 layers; got 3 summing to 80"));
  r = run_expecting_no_output({"run", pp4, "--set", "training.parallel.stage_layers=[20,20,20,-20]"});
  CHECK(has(r.err, "training.parallel.stage_layers: expected whole layer counts from 0 to 1,000,000, got -20"));
  r = run_expecting_no_output({"run", pp4, "--set", "training.parallel.stage_layers=[20,20,20,20]", "--set", "training.parallel.last_stage_layers=20"});
  CHECK(has(r.err, "training.parallel.stage_layers: give either stage_layers or first_stage_layers / last_stage_layers, not both"));
  r = run_expecting_no_output({"run", pp4, "--set", "training.parallel.stage_layers=20"});
  CHECK(has(r.err, "training.parallel.stage_layers: expected \"balanced\" or a non-empty array of layer counts, one per virtual stage"));
  r = run_cli({"run", pp4, "--set", "training.parallel.stage_layers=\"balanced\""});
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(has(r.out, "layers per stage   20 x 4 (balanced)"));
}

TEST_CASE("serving scenarios: bad sections, traces and flags are named") {
  CliResult r = run_expecting_no_output({"run", bad("serving_problems.json")});
  CHECK(has(r.err, "training: a scenario has a training or a serving section, not both"));
  CHECK(has(r.err, "serving: replicas x tp x pp x cp = 16 GPUs, more than the cluster's 8"));
  CHECK(has(r.err, "serving.scheduler: unknown value \"orca\""));
  CHECK(has(r.err, "serving.expert_parallel: expert parallelism needs a mixture-of-experts model; llama3_8b is dense"));
  CHECK(has(r.err, "serving.traffic.rate: expected a number >= 1e-09 and <= 1000000000 (requests/s), got 0"));
  CHECK(has(r.err, "serving.traffic.prompt.max: max 100 must be at least min 900"));
  r = run_expecting_no_output({"run", bad("serving_bad_trace.json")});
  CHECK(has(r.err, "trace_bad_number.csv: line 3, column num_prefill_tokens: expected a number, got \"abc\""));
  r = run_expecting_no_output({"run", bad("serving_bad_trace.json"), "--set", "serving.traffic.trace=trace_missing_column.csv"});
  CHECK(has(r.err, "trace_missing_column.csv: line 1: no column \"num_prefill_tokens\" in the header"));
  r = run_expecting_no_output({"run", bad("serving_bad_trace.json"), "--set", "serving.traffic.trace=trace_bad_key.jsonl"});
  CHECK(has(r.err, "trace_bad_key.jsonl: line 2, key num_prefill_tokens: expected a number >= 1, got \"many\""));
  r = run_expecting_no_output({"run", source_path("scenarios/llama3_70b_serving_azure_conv.json"), "--set", "serving.tp=1"});
  CHECK(has(r.err, "serving.tp: no room for the KV cache"));
  r = run_expecting_no_output({"run", source_path("scenarios/llama3_70b_serving_azure_conv.json"), "--set", "serving.max_total_tokens=9000000"});
  CHECK(has(r.err, "serving.max_total_tokens: max_total_tokens 9000000 needs"));
  CHECK(has(r.err, "; give a smaller pool"));
  r = run_expecting_no_output({"run", source_path("scenarios/llama3_70b_serving_azure_conv.json"), "--set", "serving.max_total_tokens=3"});
  CHECK(has(r.err, "serving.max_total_tokens: max_total_tokens 3 is less than one block of 16 tokens"));
  r = run_expecting_no_output({"run", "--requests", "x.csv"});
  CHECK(has(r.err, "--requests: --requests is for serving scenarios"));
  // The engines' own knobs are checked like foresight's.
  const std::string azure = source_path("scenarios/llama3_70b_serving_azure_conv.json");
  r = run_expecting_no_output({"run", azure, "--set", "serving.engine=vllm_v2"});
  CHECK(has(r.err, "serving.engine: unknown value \"vllm_v2\""));
  r = run_expecting_no_output({"run", azure, "--set", "serving.scheduler=sarathi", "--set", "serving.enable_chunked_prefill=true"});
  CHECK(has(r.err, "serving.enable_chunked_prefill: give scheduler or enable_chunked_prefill, not both"));
  r = run_expecting_no_output({"run", azure, "--set", "serving.capacity_scheduler_policy=GREEDY"});
  CHECK(has(r.err, "serving.capacity_scheduler_policy: unknown value \"GREEDY\""));
  r = run_expecting_no_output({"run", azure, "--set", "serving.num_scheduler_steps=0"});
  CHECK(has(r.err, "serving.num_scheduler_steps"));
  r = run_expecting_no_output({"run", azure, "--set", "serving.host.request_ms=-1"});
  CHECK(has(r.err, "serving.host.request_ms"));
  r = run_expecting_no_output({"run", azure, "--set", "serving.traffic.max_concurrency=-4"});
  CHECK(has(r.err, "serving.traffic.max_concurrency"));
  r = run_expecting_no_output({"run", azure, "--set", "serving.cp=16"});
  CHECK(has(r.err, "serving: replicas x tp x pp x cp = "));
  r = run_expecting_no_output({"run", azure, "--set", "serving.cp=0"});
  CHECK(has(r.err, "serving.cp"));
}

TEST_CASE("capacity: malformed SLOs and non-serving scenarios are refused") {
  const std::string serving = source_path("scenarios/llama3_70b_serving_azure_conv.json");
  CliResult r = run_cli({"capacity", serving, "--slo", "ttft_p99=fast"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "--slo: \"ttft_p99=fast\": expected a positive duration with a unit (s, ms, us), like 500ms"));
  r = run_cli({"capacity", serving, "--slo", "latency_p95=1s"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "the metric is one of ttft, tpot, itl, e2e, queueing and the statistic one of mean, p50, p90, p99"));
  r = run_cli({"capacity", serving, "--vary", "serving.scheduler"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "--vary: \"serving.scheduler\": expected key=value1,value2,..."));
  r = run_cli({"capacity", source_path("scenarios/llama3_8b_hgx_h100.json")});
  CHECK(r.status == 2);
  CHECK(has(r.err, "serving: capacity needs a serving scenario"));
}

TEST_CASE("fit: a data folder without NeuSight's device configs is refused") {
  const CliResult r = run_cli({"fit", "--data", "/no/such/folder"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "--data: no NeuSight device configs here"));
}

TEST_CASE("calibrated cost models: missing, damaged and mismatched files are named, and nothing is written") {
  const CliResult no_profile = run_expecting_no_output({"run", "--set", "cost_model.name=profile"});
  CHECK(has(no_profile.err, "cost_model.profile: the profile model needs a profile file"));
  const CliResult bad_profile =
      run_expecting_no_output({"run", "--set", "cost_model.name=profile", "--set", "cost_model.profile=" + bad("profile_problems.json")});
  CHECK(has(bad_profile.err, "cost_model.profile: " + bad("profile_problems.json") + ": measurements[1].kv_len: expected kv_len >= q_len"));
  const CliResult no_model = run_expecting_no_output({"run", "--set", "cost_model.name=learned", "--set", "cost_model.model=/no/such/model.json"});
  CHECK(has(no_model.err, "cost_model.model: /no/such/model.json: cannot open the file"));
  const CliResult not_a_model = run_expecting_no_output({"run", "--set", "cost_model.name=learned", "--set", "cost_model.model=" + bad("not_an_object.json")});
  CHECK(has(not_a_model.err, "format: expected \"foresight.kernel-model.v1\""));
}

TEST_CASE("calibrate: an unknown GPU and missing microbenchmarks are refused") {
  const std::string out = scratch("profile.json");
  const CliResult unknown = run_cli({"calibrate", "--from-public", "h100", "--out", out});
  CHECK(unknown.status == 2);
  CHECK(has(unknown.err, "--from-public: unknown GPU \"h100\" (did you mean"));
  const CliResult no_kernels = run_cli({"calibrate", "--kernels", "/no/such/foresight-kernels", "--out", out});
  CHECK(no_kernels.status == 2);
  CHECK(has(no_kernels.err, "the CUDA microbenchmarks are not built here"));
  CHECK_FALSE(std::filesystem::exists(out));
  CHECK(run_cli({"calibrate"}).status == 2);  // --out is required
}

TEST_CASE("calibrate --merge: profiles of one GPU measured in parts become one; another GPU's are refused") {
  const auto part = [](const std::string& name, const std::string& gpu, const std::string& device_name, const std::string& measurement) {
    const std::string path = scratch(name);
    std::ofstream(path) << R"({"format": "foresight.profile.v1", "source": ")" << name << R"(", "device": {"gpu": ")" << gpu
                        << R"(", "name": ")" << device_name << R"("}, "measurements": [)" << measurement << "]}";
    return path;
  };
  const std::string gemms = part("gemms.json", "h200_sxm", "NVIDIA H200",
                                 R"({"op": "gemm", "dtype": "fp8", "m": 4096, "n": 4096, "k": 4096, "median_us": 120, "sm_clock_mhz": 1500})");
  const std::string norms = part("norms.json", "h200_sxm", "NVIDIA H200",
                                 R"({"op": "memory", "kind": "norm", "dtype": "bf16", "kernel": "rmsnorm", "bytes": 1e8, "median_us": 30})");
  const std::string out = scratch("merged.json");
  const CliResult merged = run_cli({"calibrate", "--merge", gemms, norms, "--out", out});
  CHECK(merged.status == 0);
  CHECK(has(merged.out, "Wrote 2 measurements of NVIDIA H200 from 2 profiles"));
  const nlohmann::json document = foresight::testing::read_json_file(out);
  CHECK(document["measurements"][1]["kernel"] == "rmsnorm");  // informational fields survive
  CHECK(has(document["source"].get<std::string>(), "merged by foresight calibrate --merge from: gemms.json; norms.json"));
  const std::string other = part("a100.json", "a100_sxm_80gb", "NVIDIA A100-SXM4-80GB", R"({"op": "launch", "median_us": 3})");
  const std::string refused = scratch("refused.json");
  const CliResult mixed = run_cli({"calibrate", "--merge", gemms, other, "--out", refused});
  CHECK(mixed.status == 2);
  CHECK(has(mixed.err, "a100.json: device: measured on NVIDIA A100-SXM4-80GB (a100_sxm_80gb), not on the first profile's NVIDIA H200"));
  CHECK_FALSE(std::filesystem::exists(refused));
  const std::string broken = part("broken.json", "h200_sxm", "NVIDIA H200", R"({"op": "gemm", "dtype": "bf16", "m": 1, "median_us": 3})");
  const CliResult bad = run_cli({"calibrate", "--merge", gemms, broken, "--out", refused});
  CHECK(bad.status == 2);
  CHECK(has(bad.err, "broken.json: measurements[0].n: is required"));
  CHECK_FALSE(std::filesystem::exists(refused));
}

TEST_CASE("the CUDA microbenchmarks list their plan without a GPU and refuse bad arguments") {
#ifdef FORESIGHT_KERNELS_PROGRAM
  const std::string program = FORESIGHT_KERNELS_PROGRAM;
  const std::string listing = scratch("kernels_list.txt");
  CHECK(std::system((program + " --list --quick > " + listing).c_str()) == 0);
  std::ifstream in(listing);
  std::string first;
  std::getline(in, first);
  CHECK(has(first, "222 measurements (--quick"));
  CHECK(std::system((program + " --list --only holdout,gemm.fp8 > " + listing).c_str()) == 0);
  std::ifstream holdout(listing);
  std::getline(holdout, first);
  CHECK(has(first, "1428 measurements"));  // 340 held-out shapes and 1,088 FP8 GEMMs
  int fp8_rows = 0;
  for (std::string line; std::getline(holdout, line);) {
    if (line.find("gemm fp8 ") == std::string::npos) continue;
    long long m = 0, n = 0, k = 0;
    REQUIRE(std::sscanf(line.substr(line.find("gemm fp8 ") + 9).c_str(), "%lldx%lldx%lld", &m, &n, &k) == 3);
    CHECK_MESSAGE(m % 16 + n % 16 + k % 16 == 0, line);  // cuBLASLt's FP8 kernels need multiples of 16
    ++fp8_rows;
  }
  CHECK(fp8_rows == 1148);
  CHECK(WEXITSTATUS(std::system((program + " --list --only gemm.fp9 2> /dev/null").c_str())) == 2);
  CHECK(WEXITSTATUS(std::system((program + " --out x.json --max-seconds 0 2> /dev/null").c_str())) == 2);
  CHECK(WEXITSTATUS(std::system((program + " --bogus 2> /dev/null").c_str())) == 2);
  CHECK(WEXITSTATUS(std::system((program + " 2> /dev/null").c_str())) == 2);  // neither --out nor --list
#else
  MESSAGE("kernels/ is not built here (no nvcc at configure time)");
#endif
}

TEST_CASE("multi-node fabrics: what they need is said, not assumed") {
  const CliResult r = run_expecting_no_output({"run", bad("multi_node_problems.json")});
  CHECK(has(r.err, "hardware.topology.network: more than one node needs the flow network"));
  CHECK(has(r.err, "hardware.topology.preset: more than one node needs NVSwitch nodes"));
  CHECK(has(r.err, "hardware.topology.scale_out.nic_gbps: expected a number >= 0.001 and <= 1000000 (GB/s), got 0"));
  CHECK(has(r.err, "hardware.topology.scale_out.spine: unknown key \"spine\" (did you mean \"spines\"?)"));
  CHECK(has(r.err, "training.parallel.tp: tp = 16 must divide the 8 GPUs of a node"));
}

TEST_CASE("a dtype the GPU does not support") {
  const CliResult r = run_expecting_no_output({"run", bad("fp8_on_a100.json")});
  CHECK(has(r.err, "training.dtype: a100_sxm_80gb does not support fp8"));
}

TEST_CASE("a user-defined GPU missing its required figures") {
  const CliResult r = run_expecting_no_output({"run", bad("custom_gpu_incomplete.json")});
  CHECK(has(r.err, "hardware.gpu.bf16_tflops: is required"));
  CHECK(has(r.err, "hardware.gpu.memory_gb: is required"));
  CHECK(has(r.err, "hardware.gpu.fp8_tflops: expected a number >= 0 and <= 1000000 (TFLOP/s), got -5"));
}

TEST_CASE("model problems: a missing HF config, inconsistent fields") {
  CliResult r = run_expecting_no_output({"run", bad("missing_hf_config.json")});
  CHECK(has(r.err, "model.hf_config: "));
  CHECK(has(r.err, "no/such/config.json: cannot open the file"));
  r = run_expecting_no_output({"run", bad("bad_model_object.json")});
  CHECK(has(r.err, "model.kv_heads: must divide heads (32)"));
  CHECK(has(r.err, "model.experts_per_token: is set but experts is 0"));
  // Found by the scenario fuzzer: more heads than hidden width left head_dim 0, and the KV
  // cache's bytes per token with it (a division by zero downstream).
  r = run_expecting_no_output({"run", source_path("tests/fuzz/corpus/scenario/crash_heads_over_hidden.json")});
  CHECK(has(r.err, "model.head_dim: hidden / heads = 5120 / 40000 rounds to 0: give head_dim, or fewer heads"));
}

TEST_CASE("--set goes through the same checks and says it was the override") {
  CliResult r = run_expecting_no_output({"run", "--set", "training.parallel.tp=0"});
  CHECK(has(r.err, "training.parallel.tp: expected an integer >= 1 and <= 1024, got 0 (set by --set training.parallel.tp=0)"));
  r = run_expecting_no_output({"run", "--set", "training.paralel.tp=2"});
  CHECK(has(r.err, "did you mean \"parallel\"?"));
  r = run_expecting_no_output({"run", "--set", "model=llama4"});
  CHECK(has(r.err, "model: unknown model \"llama4\""));
  r = run_expecting_no_output({"run", "--set", "justakey"});
  CHECK(has(r.err, "--set justakey: expected key.path=value"));
}

TEST_CASE("sizes that would exhaust memory or overflow are refused up front") {
  CliResult r = run_expecting_no_output({"run", "--set", "training.global_batch=80000000"});
  CHECK(has(r.err, "training.global_batch: this step would expand to about"));
  r = run_expecting_no_output({"run", "--set", "training.sequence_length=1e12"});
  CHECK(has(r.err, "training.sequence_length: expected an integer >= 1 and <= 100000000 (tokens)"));
  r = run_expecting_no_output({"run", "--set", "model={\"base\":\"llama3_8b\",\"hidden\":1e12}"});
  CHECK(has(r.err, "model.hidden: expected an integer >= 1 and <= 10000000"));
}

TEST_CASE("an empty file and a directory given as a scenario") {
  const std::string empty = scratch("empty.json");
  { std::ofstream touch(empty); }
  CliResult r = run_expecting_no_output({"run", empty});
  CHECK(has(r.err, "empty.json: not valid JSON at line 1, column 1"));
  r = run_cli({"validate", std::filesystem::temp_directory_path().string()});
  CHECK(r.status == 2);
}

TEST_CASE("list gpus says which GPUs run measured kernels and which the generic curves") {
  const auto r = run_cli({"list", "gpus"});
  REQUIRE(r.status == 0);
  const auto row = [&](const std::string& name) {
    const std::size_t at = r.out.find("\n" + name + " ");
    return at == std::string::npos ? std::string() : r.out.substr(at + 1, r.out.find('\n', at + 1) - at - 1);
  };
  CHECK(has(row("rtx_4090"), " measured "));
  CHECK(has(row("h100_sxm"), " measured "));
  CHECK(has(row("l4"), " generic "));
}

TEST_CASE("command-line mistakes") {
  CHECK(run_cli({"run", "--no-such-flag"}).status == 2);
  CHECK(run_cli({"list", "planets"}).status == 2);
  CHECK(run_cli({}).status == 2);
  CHECK(run_cli({"frobnicate"}).status == 2);
}

TEST_CASE("an output path that cannot be written leaves nothing behind") {
  const CliResult r = run_cli({"run", "--out", "/no/such/dir/results.json"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "/no/such/dir/results.json: --out: the folder /no/such/dir does not exist"));
}

TEST_CASE("help and version succeed") {
  CHECK(run_cli({"--help"}).status == 0);
  CHECK(run_cli({"run", "--help"}).status == 0);
  const CliResult v = run_cli({"--version"});
  CHECK(v.status == 0);
}

TEST_CASE("pipeline layouts that do not fit the model or the schedule") {
  CliResult r = run_expecting_no_output({"run", bad("pipeline_problems.json")});
  CHECK(has(r.err, "training.parallel.pp: pp x virtual_stages = 24 must divide the model's 32 layers"));
  CHECK(has(r.err, "training.parallel.virtual_stages: virtual_stages > 1 needs a looped schedule"));
  r = run_expecting_no_output({"run", bad("pipeline_problems.json"), "--set", "training.parallel.schedule=interleaved_1f1b",
                               "--set", "training.parallel.virtual_stages=2"});
  CHECK(has(r.err, "training.parallel.schedule: interleaved 1F1B needs the micro-batches (12) to be a multiple of the stages (8)"));
  r = run_expecting_no_output({"run", bad("pipeline_problems.json"), "--set", "training.parallel.schedule=zb_h3"});
  CHECK(has(r.err, "training.parallel.schedule: unknown value \"zb_h3\""));
}

TEST_CASE("hardware.gpus and --gpus size the cluster in GPUs; dp follows with --gpus") {
  // Whole nodes beyond one, the node itself below a node's worth.
  const auto sixteen = run_cli({"run", "--gpus", "16", "--out", (std::filesystem::temp_directory_path() / "foresight_gpus16.json").string()});
  REQUIRE(sixteen.status == 0);
  CHECK(sixteen.out.find("TP 1 x DP 16") != std::string::npos);
  const nlohmann::json results = foresight::testing::read_json_file((std::filesystem::temp_directory_path() / "foresight_gpus16.json").string());
  CHECK(results["hardware"]["gpus"] == 16);
  CHECK(run_cli({"run", "--gpus", "4"}).out.find("TP 1 x DP 4") != std::string::npos);
  // An explicit dp still wins over --gpus' auto, and must then match.
  const auto mismatch = run_cli({"run", "--gpus", "16", "--set", "training.parallel.dp=8"});
  CHECK(mismatch.status == 2);
  CHECK(mismatch.err.find("must equal the cluster's 16 GPUs") != std::string::npos);
  const auto ragged = run_cli({"run", "--set", "hardware.gpus=12", "--set", "training.parallel.dp=auto"});
  CHECK(ragged.status == 2);
  CHECK(ragged.err.find("hardware.gpus: 12 GPUs are not a whole number of nodes of 8") != std::string::npos);
  const auto both = run_cli({"run", "--set", "hardware.gpus=16", "--set", "hardware.topology.nodes=2", "--set", "training.parallel.dp=auto"});
  CHECK(both.err.find("give either hardware.gpus or hardware.topology.nodes, not both") != std::string::npos);
  const auto serving = run_cli({"run", source_path("scenarios/llama3_70b_serving_azure_conv.json"), "--gpus", "8"});
  CHECK(serving.status == 2);
  CHECK(serving.err.find("--gpus: a serving scenario is sized by serving.replicas") != std::string::npos);
}

TEST_CASE("training.lora: known layer names in three dialects, and the combinations it does not model refused") {
  CHECK(run_cli({"run", "--set", "training.lora={\"rank\":16,\"target_modules\":[\"linear_qkv\",\"o_proj\",\"fc1\"]}"}).status == 0);
  CHECK(run_cli({"run", "--set", "training.lora={}", "--set", "training.parallel.zero_stage=3"}).status == 0);
  CliResult r = run_expecting_no_output({"run", "--set", "training.lora={\"target_modules\":[\"mlp_fc1\", 3]}"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "training.lora.target_modules: unknown layer \"mlp_fc1\": expected qkv, proj, fc1, fc2"));
  CHECK(has(r.err, "training.lora.target_modules: unknown layer a number"));
  r = run_expecting_no_output({"run", "--set", "training.lora={\"rank\":0}"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "training.lora.rank"));
  r = run_expecting_no_output({"run", "--set", "training.lora={}", "--set", "training.grad_compression=onebit_adam", "--set",
                               "training.parallel.zero_stage=0"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "training.lora: LoRA with 1-bit Adam or local SGD is not modelled"));
  r = run_expecting_no_output({"run", "--set", "model=mixtral_8x7b", "--set", "training.lora={\"target_modules\":[\"fc1\",\"fc2\"]}"});
  CHECK(r.status == 2);
  CHECK(has(r.err, "training.lora.target_modules: mixtral_8x7b's MLPs are experts, which are not adapted"));
}
