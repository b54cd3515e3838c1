// foresight import: launch commands to scenarios. The real-world input is LambdaLabs' vLLM
// 0.6.0 server (github.com/LambdaLabsML/vllm-benchmark, benchmark_v0.md: --num-scheduler-steps
// 10, --max-num-seqs 256, --max-model-len 2048), whose runs are serving case S2: the imported
// scenario must predict exactly what the hand-written S2 scenario predicts.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "models/model_arch.hpp"
#include "sim/input/json_document.hpp"
#include "sim/runner/import_trtllm_bench.hpp"
#include "sim/runner/scenario.hpp"
#include "test_support.hpp"

using foresight::testing::file_text;
using foresight::testing::read_json_file;
using foresight::testing::run_cli;
using foresight::testing::source_path;

namespace {
std::string scratch(const std::string& name) { return (std::filesystem::temp_directory_path() / ("foresight_import_" + name)).string(); }
}  // namespace

TEST_CASE("import vllm: LambdaLabs' vLLM 0.6.0 server becomes serving case S2's scenario, and predicts what it does") {
  const std::string imported = scratch("lambda.json");
  const auto r = run_cli({"import", "vllm", "--out", imported, "--", "vllm", "serve", "meta-llama/Meta-Llama-3-8B-Instruct", "--num-scheduler-steps",
                          "10", "--max-num-seqs", "256", "--max-model-len", "2048", "--port", "8000", "--disable-log-requests"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("3 flags mapped, 2 dropped, 0 not modelled") != std::string::npos);
  const std::string text = file_text(imported);
  CHECK(text.find("//   --num-scheduler-steps 10 -> serving.num_scheduler_steps = 10") != std::string::npos);
  CHECK(text.find("// Dropped (no effect on what foresight predicts):\n//   --port 8000\n//   --disable-log-requests") != std::string::npos);
  const nlohmann::json scenario = foresight::parse_json_text(text, imported);
  CHECK(scenario["model"] == "llama3_8b");
  CHECK(scenario["serving"]["engine"] == "vllm_v0");  // multi-step scheduling is V0's

  const std::string trace = source_path("scenarios/validation/serving_lambda_vllm060/n80_requests.csv");
  const std::string by_import = scratch("by_import.json"), by_hand = scratch("by_hand.json");
  REQUIRE(run_cli({"run", imported, "--set", "serving.traffic.trace=" + trace, "--out", by_import}).status == 0);
  REQUIRE(run_cli({"run", source_path("scenarios/validation/serving_lambda_vllm060/n80.json"), "--out", by_hand}).status == 0);
  const nlohmann::json a = read_json_file(by_import), b = read_json_file(by_hand);
  CHECK(a["latency_s"] == b["latency_s"]);
  CHECK(a["throughput"] == b["throughput"]);
}

// DeepSeek-V3's checkpoint is FP8 (its config's quantization_config): `vllm serve
// deepseek-ai/DeepSeek-V3` serves it in FP8, which the import says it assumes; in bf16 its
// 1.3 TB of weights would not fit on 8 H200.
TEST_CASE("import vllm: DeepSeek-V3 is served from its FP8 checkpoint, and fits on 8 H200 at TP 8") {
  const std::string imported = scratch("deepseek.json");
  const auto r = run_cli({"import", "vllm", "--gpu", "h200_sxm", "--out", imported, "--", "vllm", "serve", "deepseek-ai/DeepSeek-V3",
                          "--tensor-parallel-size", "8"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("1 flags mapped, 0 dropped, 0 not modelled, 1 assumed") != std::string::npos);
  const std::string text = file_text(imported);
  CHECK(text.find("serving.dtype = fp8: deepseek-ai/DeepSeek-V3 is published in FP8") != std::string::npos);
  const nlohmann::json scenario = foresight::parse_json_text(text, imported);
  CHECK(scenario["model"] == "deepseek_v3");
  CHECK(scenario["serving"]["dtype"] == "fp8");
  CHECK(run_cli({"run", imported, "--set", "serving.traffic.requests=20"}).status == 0);
}

TEST_CASE("import sglang: flags map to SGLang's own keys; unknown models and misplaced commands are named") {
  const auto r = run_cli({"import", "sglang", "--gpu", "a100_sxm_80gb", "--", "python3", "-m", "sglang.launch_server", "--model-path",
                          "meta-llama/Meta-Llama-3.1-8B-Instruct", "--tp", "2", "--mem-fraction-static", "0.8", "--chunked-prefill-size", "4096",
                          "--schedule-policy", "lpm", "--radix-eviction-policy", "lfu", "--enable-torch-compile"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json scenario = foresight::parse_json_text(r.out, "(stdout)");
  CHECK(scenario["model"] == "llama31_8b");  // "Meta-Llama-3.1" is the older name of "Llama-3.1"
  CHECK(scenario["hardware"]["gpu"] == "a100_sxm_80gb");
  CHECK(scenario["serving"] == nlohmann::json{{"engine", "sglang"}, {"tp", 2}, {"mem_fraction_static", 0.8}, {"chunked_prefill_size", 4096},
                                              {"schedule_policy", "lpm"}, {"eviction_policy", "lfu"}});
  CHECK(r.out.find("// Not modelled (ignored):\n//   --enable-torch-compile") != std::string::npos);

  // EAGLE-2's tree: the draft steps, the candidates each expands, the tokens verified.
  const auto tree = run_cli({"import", "sglang", "--set", "serving.speculative.acceptance=0.7", "--", "python3", "-m",
                             "sglang.launch_server", "--model-path", "meta-llama/Llama-3.1-8B-Instruct", "--speculative-algorithm", "EAGLE",
                             "--speculative-num-steps", "3", "--speculative-eagle-topk", "4", "--speculative-num-draft-tokens", "8"});
  REQUIRE_MESSAGE(tree.status == 0, tree.err);
  const nlohmann::json drafts = foresight::parse_json_text(tree.out, "(stdout)")["serving"]["speculative"];
  CHECK(drafts["num_tokens"] == 3);
  CHECK(drafts["eagle_topk"] == 4);
  CHECK(drafts["num_draft_tokens"] == 8);

  // Data-parallel attention: SGLang's --dp-size counts the attention ranks inside the TP group.
  const auto dp_attention = run_cli({"import", "sglang", "--gpu", "h200_sxm", "--", "python3", "-m", "sglang.launch_server", "--model-path",
                                     "Qwen/Qwen3-235B-A22B-FP8", "--tp", "8", "--dp", "8", "--enable-dp-attention"});
  REQUIRE_MESSAGE(dp_attention.status == 0, dp_attention.err);
  const nlohmann::json dp = foresight::parse_json_text(dp_attention.out, "(stdout)");
  CHECK(dp["serving"] == nlohmann::json{{"engine", "sglang"}, {"tp", 8}, {"enable_dp_attention", true}});
  CHECK(dp_attention.out.find("--dp-size with --enable-dp-attention: the attention ranks inside the tp group") != std::string::npos);

  const auto unknown = run_cli({"import", "vllm", "--", "vllm", "serve", "someone/unknown-model"});
  CHECK(unknown.status == 2);
  CHECK(unknown.err.find("model \"someone/unknown-model\" is not in foresight's catalog") != std::string::npos);
  const auto misplaced = run_cli({"import", "vllm", "vllm", "serve", "meta-llama/Llama-3.1-8B", "--tensor-parallel-size", "2"});
  CHECK(misplaced.status == 2);
  CHECK(misplaced.err.find("the launch command goes after --") != std::string::npos);
  const auto awq = run_cli({"import", "vllm", "--", "vllm", "serve", "meta-llama/Llama-3.1-8B", "--quantization", "awq"});
  CHECK(awq.out.find("--quantization awq -> serving.weight_dtype = \"int4\"") != std::string::npos);  // weight-only, 4-bit
  const auto fp32 = run_cli({"import", "vllm", "--", "vllm", "serve", "meta-llama/Llama-3.1-8B", "--dtype", "float32"});
  CHECK(fp32.out.find("// Not modelled (ignored):\n//   --dtype float32") != std::string::npos);
  const auto pcp = run_cli({"import", "vllm", "--", "vllm", "serve", "meta-llama/Llama-3.1-8B", "--prefill-context-parallel-size", "4"});
  CHECK(pcp.out.find("--prefill-context-parallel-size 4 -> serving.cp = 4") != std::string::npos);
  const auto long_context = run_cli({"export", "vllm", source_path("scenarios/llama31_8b_long_context.json")});
  CHECK(long_context.out.find("--prefill-context-parallel-size 4") != std::string::npos);
  CHECK(long_context.out.find("# Not expressible as vLLM flags: adaptive chunks") != std::string::npos);
  const auto bad_value = run_cli({"import", "vllm", "--", "vllm", "serve", "meta-llama/Llama-3.1-8B", "--tensor-parallel-size", "two"});
  CHECK(bad_value.status == 2);
  CHECK(bad_value.err.find("--tensor-parallel-size: expected a number, got \"two\"") != std::string::npos);
}

namespace {
// Megatron-LM's examples/sc21: run_table_1.sh's 145B case (TP 8, PP 8, micro-batch 2, global
// batch 2304, 80 layers of 12,288, 96 heads, --DDP-impl local, 192 nodes) with CONFIG.sh's
// common arguments, as SRUN.sh launches it: the row validation case V1 reproduces.
std::vector<std::string> sc21_table1_145b() {
  return {"srun", "-l", "-N", "192", "--ntasks-per-node", "8", "--container-image", "nvcr.io#nvidia/pytorch:20.12-py3", "python", "-u",
          "pretrain_gpt.py", "--recompute-method", "uniform", "--num-layers-per-virtual-pipeline-stage", "5", "--tensor-model-parallel-size", "8",
          "--pipeline-model-parallel-size", "8", "--micro-batch-size", "2", "--global-batch-size", "2304", "--num-layers", "80", "--hidden-size",
          "12288", "--num-attention-heads", "96", "--DDP-impl", "local", "--data-path", "my-gpt2_text_document", "--vocab-file",
          "gpt2-vocab.json", "--merge-file", "gpt2-merges.txt", "--log-interval", "5", "--seq-length", "2048", "--max-position-embeddings",
          "2048", "--train-iters", "500", "--lr-decay-iters", "320", "--lr", "0.0001", "--min-lr", "0.00001", "--lr-decay-style", "cosine",
          "--lr-warmup-fraction", "0.01", "--split", "969,30,1", "--eval-iters", "100", "--eval-interval", "1000", "--clip-grad", "1.0",
          "--fp16", "--loss-scale", "8192"};
}

// Megatron-LM's examples/llama/train_llama3_8b_h100_fp8.sh as bash runs it with mock data:
// its DTYPE_ARGS and DATA_ARGS_LIST hold "--flag value" strings, kept whole here as a
// pasted command keeps them.
std::vector<std::string> llama3_8b_h100_fp8() {
  return {"torchrun", "--nproc_per_node", "8", "--nnodes", "1", "--node_rank", "0", "--master_addr", "localhost", "--master_port", "6000",
          "examples/classes/pretrain_gpt.py", "--use-mcore-models", "--num-layers", "32", "--hidden-size", "4096", "--ffn-hidden-size", "14336",
          "--num-attention-heads", "32", "--group-query-attention", "--num-query-groups", "8", "--kv-channels", "128", "--seq-length", "8192",
          "--max-position-embeddings", "8192", "--position-embedding-type", "rope", "--rotary-base", "1000000", "--rotary-percent", "1.0",
          "--attention-dropout", "0.0", "--hidden-dropout", "0.0", "--swiglu", "--init-method-std", "0.0134", "--attention-backend", "fused",
          "--apply-layernorm-1p", "--untie-embeddings-and-output-weights", "--disable-bias-linear", "--micro-batch-size", "1",
          "--global-batch-size", "128", "--train-samples", "1953125000", "--lr", "0.00015", "--clip-grad", "1.0", "--bf16",
          "--grad-reduce-in-bf16", "--cross-entropy-loss-fusion", "--use-distributed-optimizer", "--overlap-grad-reduce", "--overlap-param-gather",
          "--fp8-format hybrid", "--fp8-amax-history-len 1024", "--fp8-amax-compute-algo max", "--fp8-param-gather", "--tensor-model-parallel-size",
          "1", "--context-parallel-size", "1", "--sequence-parallel", "--mock-data", "--tokenizer-type NullTokenizer", "--vocab-size 128256",
          "--log-interval", "1", "--save", "checkpoints/llama3_8b_fp8"};
}

std::vector<std::string> import_megatron_args(const std::vector<std::string>& command, std::vector<std::string> options = {}) {
  std::vector<std::string> args = {"import", "megatron"};
  args.insert(args.end(), options.begin(), options.end());
  args.push_back("--");
  args.insert(args.end(), command.begin(), command.end());
  return args;
}
}  // namespace

TEST_CASE("import megatron: the SC21 Table 1 launch of the 145.6B model becomes validation case V1's scenario, and predicts what it does") {
  const std::string imported = scratch("sc21.json");
  const auto r = run_cli(import_megatron_args(sc21_table1_145b(), {"--gpu", "a100_sxm_80gb", "--out", imported}));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const std::string text = file_text(imported);
  for (const char* line : {"//   -N 192 -> hardware.topology.nodes = 192", "//   --ntasks-per-node 8 -> hardware.topology.gpus = 8",
                           "//   --num-layers-per-virtual-pipeline-stage 5 -> training.parallel.virtual_stages = 2",
                           "//   --recompute-method uniform -> training.recompute = \"full\"", "//   --DDP-impl local -> training.overlap_grad_reduce = false",
                           "GPT-2's BPE vocabulary (50,257 tokens), padded to a multiple of 1024 -> model.vocab = 51200",
                           "no --cross-entropy-loss-fusion: the loss over fp32 logits -> training.cross_entropy = \"fp32\"",
                           "//   --container-image nvcr.io#nvidia/pytorch:20.12-py3\n", "//   --lr 0.0001\n"}) {
    CHECK_MESSAGE(text.find(line) != std::string::npos, line);
  }
  const nlohmann::json scenario = foresight::parse_json_text(text, imported);
  CHECK(scenario["training"]["parallel"] == nlohmann::json{{"tp", 8}, {"pp", 8}, {"dp", "auto"}, {"schedule", "interleaved_1f1b"}, {"virtual_stages", 2},
                                                           {"zero_stage", 0}});
  CHECK(scenario["model"]["ffn_hidden"] == 4 * 12288);

  // What a launch command cannot say (the cluster's NICs; that 2021's Megatron ran unfused
  // attention), and V1's scenario's choice of overlapped gradient reduction, set alike: the
  // same step.
  const std::vector<std::string> same = {"--set", "hardware.topology.scale_out.nic_gbps=25", "--set", "training.attention_kernel=unfused",
                                         "--set", "training.overlap_grad_reduce=true"};
  const std::string by_import = scratch("sc21_run.json"), by_hand = scratch("v1_run.json");
  std::vector<std::string> run_imported = {"run", imported, "--out", by_import}, run_by_hand = {"run", source_path("scenarios/validation/megatron_table1/gpt_145.6b.json"), "--out", by_hand};
  run_imported.insert(run_imported.end(), same.begin(), same.end());
  run_by_hand.insert(run_by_hand.end(), same.begin(), same.end());
  REQUIRE(run_cli(run_imported).status == 0);
  REQUIRE(run_cli(run_by_hand).status == 0);
  CHECK(read_json_file(by_import)["step_time_ps"] == read_json_file(by_hand)["step_time_ps"]);
}

TEST_CASE("import megatron: Megatron-LM's Llama-3-8B FP8 example on one 8 x H100 node") {
  const auto r = run_cli(import_megatron_args(llama3_8b_h100_fp8()));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json s = foresight::parse_json_text(r.out, "(stdout)");
  CHECK(s["hardware"] == nlohmann::json{{"gpu", "h100_sxm"}, {"topology", {{"preset", "nvswitch_node"}, {"gpus", 8}, {"nodes", 1}}}});
  // Its norm is --apply-layernorm-1p's LayerNorm, not Llama's RMSNorm: not the catalog's llama3_8b.
  CHECK(s["model"]["norm"] == "layernorm");
  CHECK(s["model"]["kv_heads"] == 8);
  CHECK(s["model"]["vocab"] == 128256);
  CHECK(s["model"]["tied_embeddings"] == false);
  const nlohmann::json& t = s["training"];
  CHECK(t["dtype"] == "fp8");
  CHECK(t["grad_dtype"] == "bf16");
  CHECK(t["attention_kernel"] == "cudnn");
  CHECK(t["dropout"] == 0.0);
  CHECK(t["overlap_grad_reduce"] == true);
  CHECK(t["parallel"]["zero_stage"] == 1);
  CHECK(t["parallel"]["sequence_parallel"] == false);  // Megatron turns it off at TP 1
  CHECK(r.out.find("//   --fp8-format hybrid -> training.dtype = \"fp8\"") != std::string::npos);
  CHECK(t["overlap_param_gather"] == true);
  CHECK(r.out.find("//   --overlap-param-gather -> training.overlap_param_gather = true") != std::string::npos);
  const std::string path = scratch("llama3_8b_fp8.json");
  REQUIRE(run_cli(import_megatron_args(llama3_8b_h100_fp8(), {"--out", path})).status == 0);
  const auto run = run_cli({"run", path});
  CHECK_MESSAGE(run.status == 0, run.err);

  // With the catalog's RMSNorm it is the catalog's model.
  std::vector<std::string> rms = llama3_8b_h100_fp8();
  rms.push_back("--normalization");
  rms.push_back("RMSNorm");
  const auto named = run_cli(import_megatron_args(rms));
  CHECK(foresight::parse_json_text(named.out, "(stdout)")["model"] == "llama3_8b");
}

TEST_CASE("import megatron: CUDA graphs of whole layers, expert capacity, and graphs of parts of a layer left eager") {
  const std::vector<std::string> bare = {"--num-layers", "24", "--hidden-size", "2048", "--num-attention-heads", "16", "--seq-length", "4096",
                                         "--micro-batch-size", "2", "--bf16"};
  std::vector<std::string> graphed = bare;
  graphed.insert(graphed.end(), {"--cuda-graph-impl", "local"});
  auto r = run_cli(import_megatron_args(graphed));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(foresight::parse_json_text(r.out, "(stdout)")["training"]["host"]["cuda_graphs"] == true);
  CHECK(r.out.find("//   --cuda-graph-impl local -> training.host.cuda_graphs = true") != std::string::npos);

  std::vector<std::string> partial = bare;
  partial.insert(partial.end(), {"--cuda-graph-impl", "transformer_engine", "--cuda-graph-scope", "attn", "moe_router"});
  r = run_cli(import_megatron_args(partial));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(foresight::parse_json_text(r.out, "(stdout)")["training"]["host"]["cuda_graph_scope"] == nlohmann::json{"attn", "moe_router"});
  partial.insert(partial.end(), {"mamba"});
  r = run_cli(import_megatron_args(partial));
  CHECK(r.out.find("--cuda-graph-scope mamba: launched eagerly") != std::string::npos);

  std::vector<std::string> moe = bare;
  moe.insert(moe.end(), {"--num-experts", "8", "--moe-router-topk", "2", "--expert-model-parallel-size", "2", "--cuda-graph-impl", "local"});
  r = run_cli(import_megatron_args(moe, {"--gpus", "8"}));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  nlohmann::json t = foresight::parse_json_text(r.out, "(stdout)")["training"];
  CHECK(t["moe_routing"] == "dropless");
  CHECK_FALSE(t.contains("host"));  // Megatron leaves dropless MoE layers out of its graphs
  std::vector<std::string> moe_parts = moe;
  moe_parts.insert(moe_parts.end(), {"--cuda-graph-scope", "attn", "moe_router", "moe_preprocess"});
  r = run_cli(import_megatron_args(moe_parts, {"--gpus", "8"}));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(foresight::parse_json_text(r.out, "(stdout)")["training"]["host"]["cuda_graph_scope"].size() == 3);
  moe.insert(moe.end(), {"--moe-expert-capacity-factor", "1.0", "--moe-pad-expert-input-to-capacity"});
  r = run_cli(import_megatron_args(moe, {"--gpus", "8"}));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  t = foresight::parse_json_text(r.out, "(stdout)")["training"];
  CHECK(t["moe_routing"] == "capacity");
  CHECK(t["host"]["cuda_graphs"] == true);
}

TEST_CASE("import megatron: the MoE token dispatcher, and export's flags for it") {
  const std::vector<std::string> moe = {"--num-layers", "24", "--hidden-size", "2048", "--num-attention-heads", "16", "--seq-length", "4096",
                                        "--micro-batch-size", "2", "--bf16", "--num-experts", "8", "--moe-router-topk", "2",
                                        "--expert-model-parallel-size", "2"};
  const auto dispatcher = [&](std::vector<std::string> extra) {
    std::vector<std::string> words = moe;
    words.insert(words.end(), extra.begin(), extra.end());
    const auto r = run_cli(import_megatron_args(words, {"--gpus", "8"}));
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return std::pair{foresight::parse_json_text(r.out, "(stdout)")["training"]["moe_dispatcher"].get<std::string>(), r.out};
  };
  CHECK(dispatcher({"--moe-token-dispatcher-type", "alltoall"}).first == "alltoall");
  CHECK(dispatcher({"--moe-token-dispatcher-type", "flex", "--moe-flex-dispatcher-backend", "deepep"}).first == "deepep");
  const auto [unset, text] = dispatcher({});
  CHECK(unset == "alltoall");
  CHECK(text.find("--moe-token-dispatcher-type allgather (Megatron's default): modelled as alltoall") != std::string::npos);
  const auto exported = run_cli({"export", "megatron", source_path("tests/data/qwen15_moe_training.json"), "--set", "training.moe_dispatcher=deepep"});
  REQUIRE_MESSAGE(exported.status == 0, exported.err);
  CHECK(exported.out.find("--moe-token-dispatcher-type flex --moe-flex-dispatcher-backend deepep") != std::string::npos);
}

TEST_CASE("import megatron: the expert all-to-all overlap with delayed weight gradients, the shared-expert overlap, and back out of export") {
  const std::vector<std::string> moe = {"--num-layers", "24", "--hidden-size", "2048", "--num-attention-heads", "16", "--seq-length", "4096",
                                        "--micro-batch-size", "2", "--global-batch-size", "32", "--bf16", "--num-experts", "8",
                                        "--moe-router-topk", "2", "--expert-model-parallel-size", "4", "--moe-token-dispatcher-type", "alltoall"};
  std::vector<std::string> words = moe;
  words.insert(words.end(), {"--overlap-moe-expert-parallel-comm", "--delay-wgrad-compute"});
  const auto r = run_cli(import_megatron_args(words, {"--gpus", "8"}));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json parallel = foresight::parse_json_text(r.out, "(stdout)")["training"]["parallel"];
  CHECK(parallel["moe_a2a_overlap"] == true);
  CHECK(parallel["delay_wgrad_compute"] == true);
  CHECK(r.out.find("--overlap-moe-expert-parallel-comm -> training.parallel.moe_a2a_overlap = true") != std::string::npos);
  CHECK(r.out.find("--delay-wgrad-compute -> training.parallel.delay_wgrad_compute = true") != std::string::npos);
  // Megatron-core refuses the shared expert's overlap beside the all-to-all overlap; alone it maps.
  words = moe;
  words.insert(words.end(), {"--moe-shared-expert-intermediate-size", "1024", "--moe-shared-expert-overlap"});
  const auto shared_only = run_cli(import_megatron_args(words, {"--gpus", "8"}));
  REQUIRE_MESSAGE(shared_only.status == 0, shared_only.err);
  CHECK(foresight::parse_json_text(shared_only.out, "(stdout)")["training"]["moe_shared_expert_overlap"] == true);
  const auto exported = run_cli({"export", "megatron", source_path("tests/data/qwen15_moe_training.json"), "--set", "training.parallel.tp=1",
                                 "--set", "training.parallel.dp=8", "--set", "training.parallel.sequence_parallel=false", "--set",
                                 "training.parallel.moe_a2a_overlap=true", "--set", "training.parallel.delay_wgrad_compute=true"});
  REQUIRE_MESSAGE(exported.status == 0, exported.err);
  CHECK(exported.out.find("--overlap-moe-expert-parallel-comm") != std::string::npos);
  CHECK(exported.out.find("--delay-wgrad-compute") != std::string::npos);
  const auto shared = run_cli({"export", "megatron", source_path("tests/data/qwen15_moe_training.json"), "--set", "training.moe_shared_expert_overlap=true"});
  REQUIRE_MESSAGE(shared.status == 0, shared.err);
  CHECK(shared.out.find("--moe-shared-expert-overlap") != std::string::npos);
  const auto bridge = run_cli({"export", "megatron-bridge", source_path("tests/data/qwen15_moe_training.json"), "--set", "training.parallel.tp=1",
                               "--set", "training.parallel.dp=8", "--set", "training.parallel.sequence_parallel=false", "--set",
                               "training.parallel.moe_a2a_overlap=true"});
  REQUIRE_MESSAGE(bridge.status == 0, bridge.err);
  CHECK(bridge.out.find("overlap_moe_expert_parallel_comm: true") != std::string::npos);
}

TEST_CASE("import megatron: the job's size, Megatron's defaults, and what it refuses") {
  const std::vector<std::string> bare = {"--num-layers", "24", "--hidden-size", "2048", "--num-attention-heads", "16", "--seq-length", "4096",
                                         "--micro-batch-size", "2", "--tensor-model-parallel-size", "2", "--bf16"};
  const auto sized = run_cli(import_megatron_args(bare, {"--gpus", "64"}));
  REQUIRE_MESSAGE(sized.status == 0, sized.err);
  const nlohmann::json s = foresight::parse_json_text(sized.out, "(stdout)");
  CHECK(s["hardware"]["gpus"] == 64);
  CHECK(s["training"]["global_batch"] == 2 * 32);  // micro-batch x data-parallel size
  CHECK(s["training"]["grad_dtype"] == "fp32");     // bf16 training reduces gradients in fp32
  CHECK(s["training"]["dropout"] == 0.1);
  CHECK(s["training"]["overlap_grad_reduce"] == false);
  CHECK(s["model"]["linear_bias"] == true);
  CHECK(s["model"]["position"] == "learned");

  const auto no_layers = run_cli(import_megatron_args({"torchrun", "pretrain_gpt.py", "--hidden-size", "2048", "--seq-length", "2048"}));
  CHECK(no_layers.status == 2);
  CHECK(no_layers.err.find("no --num-layers") != std::string::npos);
  const auto script = run_cli(import_megatron_args({"bash", "train_llama3.sh"}));
  CHECK(script.status == 2);
  CHECK(script.err.find("`bash -x` prints them") != std::string::npos);
  std::vector<std::string> bad = bare;
  bad.insert(bad.end(), {"--recompute-granularity", "most"});
  const auto granularity = run_cli(import_megatron_args(bad));
  CHECK(granularity.status == 2);
  CHECK(granularity.err.find("--recompute-granularity: expected full or selective, got \"most\"") != std::string::npos);

  // Megatron-Bridge's MoE recipes name the modules selective recomputation reruns.
  std::vector<std::string> modules = bare;
  // Modules the model lacks rerun nothing there, as in Megatron, and are dropped; others are listed.
  modules.insert(modules.end(), {"--recompute-granularity", "selective", "--recompute-modules", "layernorm", "mla_up_proj", "core_attn", "moe", "attn_norm"});
  const auto moduled = run_cli(import_megatron_args(modules, {"--gpus", "64"}));
  REQUIRE_MESSAGE(moduled.status == 0, moduled.err);
  const nlohmann::json m = foresight::parse_json_text(moduled.out, "(stdout)");
  CHECK(m["training"]["recompute"] == "selective");
  CHECK(m["training"]["recompute_modules"] == nlohmann::json::array({"layernorm", "core_attn"}));
  CHECK(moduled.out.find("--recompute-modules mla_up_proj (the model has no latent attention)") != std::string::npos);
  CHECK(moduled.out.find("--recompute-modules moe (the model has no experts)") != std::string::npos);
  CHECK(moduled.out.find("--recompute-modules attn_norm: not rerun") != std::string::npos);
}

namespace {
// The words a shell makes of an exported command: comments and line continuations
// dropped, single quotes grouping what they enclose.
std::vector<std::string> exported_words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream lines(text);
  std::string word;
  bool quoted = false, open = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind('#', 0) == 0) continue;
    for (const char ch : line) {
      if (ch == '\'') {
        quoted = !quoted;
        open = true;
      } else if (!quoted && (ch == ' ' || ch == '\\')) {
        if (open) words.push_back(word);
        word.clear();
        open = false;
      } else {
        word += ch;
        open = true;
      }
    }
    if (open && !quoted) words.push_back(word);
    if (!quoted) {
      word.clear();
      open = false;
    }
  }
  return words;
}
// The scenario a round trip starts from: the file, or the built-in default.
nlohmann::json original_scenario(const std::string& scenario) {
  return scenario.empty() ? foresight::parse_json_text(foresight::default_scenario_text(), "default") : read_json_file(scenario);
}

// Whether the imported scenario predicts the original's step to the picosecond; the fabric
// between nodes is the scenario's, not the launch's, so it is carried over.
void check_same_step(const std::string& scenario, const std::string& imported) {
  const nlohmann::json original = original_scenario(scenario);
  std::vector<std::string> fabric;
  if (const nlohmann::json* out = original["hardware"]["topology"].contains("scale_out") ? &original["hardware"]["topology"]["scale_out"] : nullptr) {
    for (const auto& [key, value] : out->items()) fabric.insert(fabric.end(), {"--set", "hardware.topology.scale_out." + key + "=" + value.dump()});
  }
  const std::string by_import = scratch("round_trip_run.json"), by_hand = scratch("original_run.json");
  std::vector<std::string> run_imported = {"run", imported, "--out", by_import};
  run_imported.insert(run_imported.end(), fabric.begin(), fabric.end());
  REQUIRE(run_cli(run_imported).status == 0);
  std::vector<std::string> run_original = {"run"};
  if (!scenario.empty()) run_original.push_back(scenario);
  run_original.insert(run_original.end(), {"--out", by_hand});
  REQUIRE(run_cli(run_original).status == 0);
  CHECK(read_json_file(by_import)["step_time_ps"] == read_json_file(by_hand)["step_time_ps"]);
}
}  // namespace

TEST_CASE("export megatron: a scenario's launch command imports back to the same prediction") {
  for (const std::string& scenario : {std::string(), source_path("scenarios/validation/megatron_bridge_h100/llama3_70b.json"),
                                     source_path("scenarios/validation/megatron_table1/gpt_18.4b.json"),
                                     source_path("tests/data/qwen15_moe_training.json"), source_path("tests/data/qwen15_moe_folded_training.json"),
                                     source_path("scenarios/validation/megatron_bridge_h100_moe/qwen3_30b_a3b_tokendrop.json"),
                                     source_path("tests/data/deepseek_v2_lite_training.json"),
                                     source_path("tests/data/deepseek_v2_lite_mtp_training.json"),
                                     source_path("scenarios/validation/megatron_bridge_blackwell/llama3_70b_gb200_fsdp.json"),
                                     source_path("scenarios/bitpipe_gpt_96_layers_pp8.json"), source_path("tests/data/llama3_8b_fp8_bf16_ends.json")}) {
    CAPTURE(scenario);
    std::vector<std::string> args = {"export", "megatron"};
    if (!scenario.empty()) args.push_back(scenario);
    const auto exported = run_cli(args);
    REQUIRE_MESSAGE(exported.status == 0, exported.err);
    const nlohmann::json original = original_scenario(scenario);
    const std::string imported = scratch("round_trip.json");
    const auto r = run_cli(import_megatron_args(exported_words(exported.out), {"--gpu", original["hardware"]["gpu"].get<std::string>(), "--out", imported}));
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(r.out.find(" 0 not modelled") != std::string::npos);
    check_same_step(scenario, imported);
  }
  // What Megatron-LM cannot run is named, not dropped silently.
  const auto async_tp = run_cli({"export", "megatron", source_path("scenarios/validation/torchtitan_h100/llama31_70b_fsdp32_tp8_asynctp.json")});
  REQUIRE(async_tp.status == 0);
  CHECK(async_tp.out.find("# Not expressible as Megatron-LM arguments: fp8_amax_fused false") != std::string::npos);
  CHECK(async_tp.out.find("# Not expressible as Megatron-LM arguments: tp_comm_overlap_backward_rs false") != std::string::npos);
  CHECK(async_tp.out.find("# Not expressible as Megatron-LM arguments: tp_comm_overlap_separate_sum") != std::string::npos);
  CHECK(async_tp.out.find("# Not expressible as Megatron-LM arguments: fp8_saved_inputs false") != std::string::npos);
  const auto ring = run_cli({"export", "megatron", source_path("scenarios/validation/torchtitan_h100/llama31_8b_cp4_seq128k.json")});
  REQUIRE(ring.status == 0);
  CHECK(ring.out.find("# Not expressible as Megatron-LM arguments: cp_ring pytorch") != std::string::npos);
  const auto serving = run_cli({"export", "megatron", source_path("scenarios/llama3_70b_serving_azure_conv.json")});
  CHECK(serving.status == 2);
  CHECK(serving.err.find("a serving scenario") != std::string::npos);
}

// The Megatron-Bridge export writes the settings export megatron writes as arguments, as the
// ConfigContainer fields the import's table reads them from.
TEST_CASE("export megatron-bridge: a scenario's ConfigContainer overrides import back to the same prediction") {
  for (const std::string& scenario : {std::string(), source_path("scenarios/validation/megatron_bridge_h100/llama3_70b.json"),
                                     source_path("tests/data/qwen15_moe_training.json"), source_path("tests/data/qwen15_moe_folded_training.json"),
                                     source_path("scenarios/validation/megatron_bridge_h100_moe/qwen3_30b_a3b_tokendrop.json"),
                                     source_path("tests/data/deepseek_v2_lite_training.json"),
                                     source_path("tests/data/deepseek_v2_lite_mtp_training.json"),
                                     source_path("scenarios/validation/megatron_bridge_blackwell/llama3_70b_gb200_fsdp.json"),
                                     source_path("scenarios/validation/megatron_bridge_gpt_oss/gpt_oss_120b_b300.json"),
                                     source_path("tests/data/llama3_8b_fp8_bf16_ends.json")}) {
    CAPTURE(scenario);
    std::vector<std::string> args = {"export", "megatron-bridge"};
    if (!scenario.empty()) args.push_back(scenario);
    const auto exported = run_cli(args);
    REQUIRE_MESSAGE(exported.status == 0, exported.err);
    const std::string config = scratch("bridge_round_trip.yaml");
    std::ofstream(config) << exported.out;
    // "... (train.sh --nodes N --gpus-per-node G)."
    const std::string cluster = exported.out.substr(exported.out.find("train.sh --nodes ") + 9);
    std::istringstream words(cluster.substr(0, cluster.find(')')));
    std::string nodes_flag, nodes, per_node_flag, per_node;
    words >> nodes_flag >> nodes >> per_node_flag >> per_node;
    const nlohmann::json original = original_scenario(scenario);
    const std::string imported = scratch("bridge_round_trip.json");
    const auto r = run_cli({"import", "megatron-bridge", "--gpu", original["hardware"]["gpu"].get<std::string>(), "--out", imported, "--",
                            "--nodes", nodes, "--gpus-per-node", per_node, config});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(r.out.find(" 0 not modelled") != std::string::npos);
    check_same_step(scenario, imported);
  }
  const auto serving = run_cli({"export", "megatron-bridge", source_path("scenarios/llama3_70b_serving_azure_conv.json")});
  CHECK(serving.status == 2);
  CHECK(serving.err.find("a serving scenario") != std::string::npos);
}

TEST_CASE("import megatron: fp8 weight gathers and activation offloading") {
  const std::vector<std::string> launch = {"import", "megatron", "--", "torchrun", "--nproc_per_node", "8", "pretrain_gpt.py",
                                           "--num-layers", "32", "--hidden-size", "4096", "--num-attention-heads", "32",
                                           "--seq-length", "4096", "--micro-batch-size", "1", "--use-distributed-optimizer",
                                           "--bf16", "--fp8-param-gather", "--cpu-offloading", "--cpu-offloading-num-layers", "6"};
  auto r = run_cli(launch);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("//   --fp8-param-gather (without --fp8-format: no fp8 weights to gather)") != std::string::npos);
  std::vector<std::string> fp8 = launch;
  fp8.insert(fp8.end(), {"--fp8-format", "hybrid"});
  r = run_cli(fp8);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json t = foresight::parse_json_text(r.out, "(stdout)")["training"];
  CHECK(t["fp8_param_gather"] == true);
  CHECK(t["activation_offload_layers"] == 6);
}

TEST_CASE("import: fp8 training's first and last decoder layers kept in bf16 (Megatron, NeMo 2.0)") {
  const std::vector<std::string> launch = {"import", "megatron", "--", "torchrun", "--nproc_per_node", "8", "pretrain_gpt.py",
                                           "--num-layers", "32", "--hidden-size", "4096", "--num-attention-heads", "32",
                                           "--seq-length", "4096", "--micro-batch-size", "1", "--bf16", "--first-last-layers-bf16",
                                           "--num-layers-at-end-in-bf16", "2"};
  auto r = run_cli(launch);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("//   --first-last-layers-bf16 (without --fp8-format every layer runs in bf16)") != std::string::npos);
  std::vector<std::string> fp8 = launch;
  fp8.insert(fp8.end(), {"--fp8-format", "hybrid"});
  r = run_cli(fp8);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  // Megatron's TransformerConfig keeps one layer at an end whose count is not given.
  CHECK(r.out.find("//   --first-last-layers-bf16 without --num-layers-at-start-in-bf16: Megatron keeps 1 layer -> "
                   "training.bf16_layers_at_start = 1") != std::string::npos);
  CHECK(r.out.find("//   --num-layers-at-end-in-bf16 2 -> training.bf16_layers_at_end = 2") != std::string::npos);
  nlohmann::json t = foresight::parse_json_text(r.out, "(stdout)")["training"];
  CHECK(t["bf16_layers_at_start"] == 1);
  CHECK(t["bf16_layers_at_end"] == 2);

  // NeMo 2.0's bf16_with_fp8_current_scaling_mixed keeps one layer at each end; its
  // performance scripts switch that off on the plugin.
  const std::vector<std::string> nemo = {"import", "nemo", "--", "nemo", "llm", "pretrain", "--factory", "llama3_8b",
                                         "trainer.plugins=bf16_with_fp8_current_scaling_mixed"};
  r = run_cli(nemo);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("//   trainer.plugins=bf16_with_fp8_current_scaling_mixed -> training.bf16_layers_at_end = 1") != std::string::npos);
  t = foresight::parse_json_text(r.out, "(stdout)")["training"];
  CHECK(t["bf16_layers_at_start"] == 1);
  CHECK(t["bf16_layers_at_end"] == 1);
  std::vector<std::string> performance = nemo;
  performance.push_back("trainer.plugins.first_last_layers_bf16=False");
  r = run_cli(performance);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("//   trainer.plugins.first_last_layers_bf16=False\n") == std::string::npos);  // read, not listed as not modelled
  CHECK_FALSE(foresight::parse_json_text(r.out, "(stdout)")["training"].contains("bf16_layers_at_start"));
}

TEST_CASE("import nemo: a NeMo config with the command's overrides reads as the Megatron arguments its keys are") {
  const auto r = run_cli({"import", "nemo", "--", "python", "megatron_gpt_pretraining.py", "--config-path=" + source_path("tests/data/nemo"),
                          "--config-name=llama3_8b_pretrain", "trainer.num_nodes=4", "model.tensor_model_parallel_size=1", "+model.fp8=True",
                          "model.fp8_hybrid=True", "model.some_future_option=3"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  for (const char* line : {"//   trainer.num_nodes=4 -> hardware.topology.nodes = 4",          // the override wins over the file's 2
                           "//   model.max_position_embeddings=8192 -> model.max_positions",    // ${.encoder_seq_length}, a sibling
                           "//   model.optim.name=distributed_fused_adam -> training.parallel.zero_stage = 1",
                           "//   model.fp8=True -> training.dtype = \"fp8\"", "//   model.some_future_option=3\n",
                           "//   NeMo's default cross_entropy_loss_fusion=True -> training.cross_entropy = \"fused\""}) {
    CHECK_MESSAGE(r.out.find(line) != std::string::npos, line);
  }
  CHECK(r.out.find("model.fp8_hybrid=True\n") == std::string::npos);  // read with model.fp8
  const nlohmann::json s = foresight::parse_json_text(r.out, "(stdout)");
  CHECK(s["model"] == "llama3_8b");  // its shape, RMSNorm and untied embeddings, and Llama 3's tokenizer
  CHECK(s["hardware"]["topology"] == nlohmann::json{{"preset", "nvswitch_node"}, {"gpus", 8}, {"nodes", 4}});
  CHECK(s["training"]["parallel"]["tp"] == 1);
  CHECK(s["training"]["overlap_grad_reduce"] == true);
  // The split as Megatron-core makes it: 32 layers, the embedding and the loss over 2 stages, 17 each.
  const auto split = run_cli({"import", "nemo", "--", "--config-path", source_path("tests/data/nemo"), "--config-name", "llama3_8b_pretrain",
                              "model.pipeline_model_parallel_size=2", "+model.account_for_embedding_in_pipeline_split=True",
                              "+model.account_for_loss_in_pipeline_split=True"});
  REQUIRE_MESSAGE(split.status == 0, split.err);
  const nlohmann::json stages = foresight::parse_json_text(split.out, "(stdout)")["training"]["parallel"];
  CHECK(stages["first_stage_layers"] == 16);
  CHECK(stages["last_stage_layers"] == 16);
  const auto offload = run_cli({"import", "nemo", "--", "--config-path", source_path("tests/data/nemo"), "--config-name", "llama3_8b_pretrain",
                                "+model.cpu_offloading=True", "+model.cpu_offloading_num_layers=8", "+model.fp8=True", "+model.fp8_params=True"});
  REQUIRE_MESSAGE(offload.status == 0, offload.err);
  const nlohmann::json offloaded = foresight::parse_json_text(offload.out, "(stdout)")["training"];
  CHECK(offloaded["activation_offload_layers"] == 8);
  CHECK(offloaded["fp8_param_gather"] == true);
  const std::string path = scratch("nemo.json");
  REQUIRE(run_cli({"import", "nemo", "--out", path, "--", "--config-path", source_path("tests/data/nemo"), "--config-name", "llama3_8b_pretrain"}).status == 0);
  CHECK(run_cli({"run", path}).status == 0);

  const auto missing = run_cli({"import", "nemo", "--", "--config-path", "/nonexistent", "--config-name", "x"});
  CHECK(missing.status == 2);
  CHECK(missing.err.find("/nonexistent/x.yaml: cannot open the config file") != std::string::npos);
  std::ofstream(scratch("tabbed.yaml")) << "model:\n\tnum_layers: 2\n";
  const auto tabbed = run_cli({"import", "nemo", "--", "--config-path", std::filesystem::temp_directory_path().string(), "--config-name",
                               "foresight_import_tabbed.yaml"});
  CHECK(tabbed.status == 2);
  CHECK(tabbed.err.find("foresight_import_tabbed.yaml: line 2: a tab in the indentation") != std::string::npos);
}

// Megatron-Bridge saves a run's whole ConfigContainer as YAML; its model fields are Megatron-core's,
// read as the Megatron arguments they are, and hf_model_id picks the catalog's model of that shape.
TEST_CASE("import megatron-bridge: a ConfigContainer's YAML, with train.sh's cluster and trailing overrides") {
  const std::string config = source_path("tests/data/megatron_bridge/gpt_oss_120b_b200.yaml");
  const std::string path = scratch("megatron_bridge.json");
  const auto r = run_cli({"import", "megatron-bridge", "--gpu", "b200", "--out", path, "--set", "training.attention_kernel=cudnn", "--set",
                          "hardware.topology.scale_out={\"nic_gbps\": 50, \"rail_optimized\": true}", "--", "train.sh", "--nodes", "8",
                          "--gpus-per-node", "8", config});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const std::string comment = foresight::testing::file_text(path);
  for (const char* line : {"//   model.hf_model_id=openai/gpt-oss-120b -> model = \"gpt_oss_120b\"", "//   --nodes 8 -> hardware.topology.nodes = 8",
                           "//   model.expert_model_parallel_size=8 -> training.parallel.ep = 8",
                           "//   mixed_precision.grad_reduce_in_fp32=false -> training.grad_dtype = \"bf16\"",  // over ddp's
                           "//   model.recompute_modules=layernorm moe_act -> training.recompute_modules = [\"layernorm\",\"moe_act\"]",  // a YAML list
                           "//   train.global_batch_size=512 -> training.global_batch = 512"}) {
    CHECK_MESSAGE(comment.find(line) != std::string::npos, line);
  }
  CHECK(comment.find("-> model.layers") == std::string::npos);  // the catalog's model, not one built from the fields
  CHECK(comment.find("cuda-graph") == std::string::npos);       // cuda_graph_impl none: its scope is not read
  // The same layout as V16's hand-written B200 row: the same step to the picosecond.
  const auto imported = run_cli({"run", path, "--out", scratch("megatron_bridge_results.json")});
  REQUIRE_MESSAGE(imported.status == 0, imported.err);
  const auto written = run_cli({"run", source_path("scenarios/validation/megatron_bridge_gpt_oss/gpt_oss_120b_b200.json"), "--out",
                                scratch("megatron_bridge_v16.json")});
  REQUIRE_MESSAGE(written.status == 0, written.err);
  CHECK(foresight::testing::read_json_file(scratch("megatron_bridge_results.json"))["step_time_ps"] ==
        foresight::testing::read_json_file(scratch("megatron_bridge_v16.json"))["step_time_ps"]);

  // Trailing overrides win over the file; a shape hf_model_id does not name keeps the fields' model.
  const auto changed = run_cli({"import", "megatron-bridge", "--gpus", "64", "--", config, "model.num_layers=12", "model.tensor_model_parallel_size=2",
                                "model.sequence_parallel=true", "model.some_future_option=3"});
  REQUIRE_MESSAGE(changed.status == 0, changed.err);
  CHECK(changed.out.find("names gpt_oss_120b, of another shape than the config's fields, which are used") != std::string::npos);
  CHECK(changed.out.find("//   model.some_future_option=3\n") != std::string::npos);
  // Whole experts with EP across the TP ranks: Megatron's MoE parallel folding.
  CHECK(changed.out.find("//   model.expert_tensor_parallel_size=1 -> training.parallel.expert_tp = 1") != std::string::npos);
  const nlohmann::json s = foresight::parse_json_text(changed.out, "(stdout)");
  CHECK(s["model"]["layers"] == 12);
  CHECK(s["training"]["parallel"]["tp"] == 2);

  const auto missing = run_cli({"import", "megatron-bridge", "--", "/nonexistent/config.yaml"});
  CHECK(missing.status == 2);
  CHECK(missing.err.find("/nonexistent/config.yaml: cannot open the config file") != std::string::npos);
  const auto no_config = run_cli({"import", "megatron-bridge", "--", "train.sh", "--recipe", "llama3_8b_pretrain_config"});
  CHECK(no_config.status == 2);
  CHECK(no_config.err.find("no ConfigContainer YAML") != std::string::npos);
  CHECK(run_cli({"import", "megatron-bridge", "--", config, "--nodes"}).status == 2);
  std::ofstream(scratch("listed.yaml")) << "model:\n  recompute_modules:\n  - layernorm\n    num_layers: 2\n";
  const auto listed = run_cli({"import", "megatron-bridge", "--", scratch("listed.yaml")});
  CHECK(listed.status == 2);
  CHECK(listed.err.find("line 4: a key inside a list") != std::string::npos);
}

// NeMo 2.0 names a recipe, not a config file: the recipe's defaults come from foresight's table
// of NeMo's recipe files, the factory's arguments and the key=value settings go on top.
TEST_CASE("import nemo: a NeMo 2.0 recipe from nemo llm pretrain --factory, with its arguments and overrides") {
  const auto r = run_cli({"import", "nemo", "--gpu", "h100_sxm", "--", "nemo", "llm", "pretrain", "--factory", "llama3_70b", "trainer.num_nodes=8",
                          "data.global_batch_size=1024", "-y"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  for (const char* line : {"//   --factory llama3_70b -> model = \"llama3_70b\", and the recipe's defaults (NVIDIA/NeMo nemo/collections/llm/recipes/llama3_70b.py",
                           "//   trainer.num_nodes=8 -> hardware.topology.nodes = 8", "//   data.global_batch_size=1024 -> training.global_batch = 1024",
                           "//   trainer.strategy.virtual_pipeline_model_parallel_size=5 -> training.parallel.virtual_stages = 5",
                           "//   model.config.attention_dropout=0.0 -> training.dropout = 0.0"}) {
    CHECK_MESSAGE(r.out.find(line) != std::string::npos, line);
  }
  CHECK(r.out.find("--num-layers") == std::string::npos);  // the catalog model, not the flags that stood in for it
  const nlohmann::json s = foresight::parse_json_text(r.out, "(stdout)");
  CHECK(s["model"] == "llama3_70b");
  CHECK(s["hardware"]["topology"]["nodes"] == 8);
  const nlohmann::json& p = s["training"]["parallel"];
  CHECK(p["tp"] == 4);
  CHECK(p["pp"] == 4);
  CHECK(p["cp"] == 2);
  CHECK(p["virtual_stages"] == 5);
  CHECK(p["zero_stage"] == 1);  // distributed_fused_adam
  CHECK(s["training"]["overlap_grad_reduce"] == true);
  CHECK(s["training"]["dropout"] == 0.0);

  // The factory as a call; performance mode adds the TP communication overlap.
  const auto call = run_cli({"import", "nemo", "--", "nemo", "llm", "pretrain", "--factory", "llama31_70b(num_nodes=4, performance_mode=True)"});
  REQUIRE_MESSAGE(call.status == 0, call.err);
  const nlohmann::json performance = foresight::parse_json_text(call.out, "(stdout)");
  CHECK(performance["hardware"]["topology"]["nodes"] == 4);
  CHECK(performance["training"]["parallel"]["tp_comm_overlap"] == true);

  // pretrain_recipe() defaults to one node where Llama 3.1 70B's layout needs 32 GPUs.
  const auto one_node = run_cli({"import", "nemo", "--", "nemo", "llm", "pretrain", "--factory", "llama31_70b"});
  CHECK(one_node.status == 2);
  CHECK(one_node.err.find("trainer.num_nodes: llama31_70b's layout, TP x PP x CP = 32") != std::string::npos);
  CHECK(one_node.err.find("set trainer.num_nodes=4") != std::string::npos);
  const auto unknown = run_cli({"import", "nemo", "--", "nemo", "llm", "pretrain", "--factory", "qwen9_1t"});
  CHECK(unknown.status == 2);
  CHECK(unknown.err.find("no NeMo 2.0 pretraining recipe foresight knows by \"qwen9_1t\": it knows llama3_8b") != std::string::npos);
  const auto finetune = run_cli({"import", "nemo", "--", "nemo", "llm", "finetune", "--factory", "llama3_8b"});
  CHECK(finetune.status == 2);
  const auto imported_training = [](const std::string& factory) {
    const auto imported = run_cli({"import", "nemo", "--", "nemo", "llm", "pretrain", "--factory", factory});
    REQUIRE_MESSAGE(imported.status == 0, imported.err);
    return foresight::parse_json_text(imported.out, "(stdout)")["training"];
  };
  // Qwen3-30B-A3B's recipe folds EP 4 over TP 4 (its trainer's expert_tensor_parallel_size=1)
  // and recomputes every layer.
  const nlohmann::json q = imported_training("qwen3_30b_a3b");
  CHECK(q["parallel"]["tp"] == 4);
  CHECK(q["parallel"]["ep"] == 4);
  CHECK(q["parallel"]["expert_tp"] == 1);
  CHECK(q["recompute"] == "full");
  CHECK(q["global_batch"] == 32);
  // Qwen3-235B-A22B's leaves EP unset beside the same expert TP of 1: every expert whole on
  // every one of the 8 TP ranks.
  const nlohmann::json big = imported_training("qwen3_235b_a22b");
  CHECK(big["parallel"]["tp"] == 8);
  CHECK(big["parallel"]["ep"] == 1);
  CHECK(big["parallel"]["expert_tp"] == 1);

  // DeepSeek-V3's recipe: 1,024 GPUs at TP 2 x PP 16 with EP 64 folded over TP, 3 and 2
  // layers on the end stages, one multi-token prediction depth (its factory's use_mtp),
  // DeepEP, gradients reduced in bf16, and four modules recomputed.
  const auto v3 = run_cli({"import", "nemo", "--", "nemo", "llm", "pretrain", "--factory", "deepseek_v3"});
  REQUIRE_MESSAGE(v3.status == 0, v3.err);
  const nlohmann::json d = foresight::parse_json_text(v3.out, "(stdout)");
  const nlohmann::json& dt = d["training"];
  CHECK(d["model"] == "deepseek_v3");
  CHECK(d["hardware"]["topology"]["nodes"] == 128);
  CHECK(dt["parallel"]["tp"] == 2);
  CHECK(dt["parallel"]["pp"] == 16);
  CHECK(dt["parallel"]["ep"] == 64);
  CHECK(dt["parallel"]["expert_tp"] == 1);
  CHECK(dt["parallel"]["first_stage_layers"] == 3);
  CHECK(dt["parallel"]["last_stage_layers"] == 2);
  CHECK(dt["mtp_layers"] == 1);
  CHECK(dt["moe_dispatcher"] == "deepep");
  CHECK(dt["grad_dtype"] == "bf16");
  CHECK(dt["recompute_modules"] == nlohmann::json::array({"mla_up_proj", "layernorm", "moe", "mlp"}));
  // All of it is modelled, the parameter gather's overlap (every NeMo 2.0 recipe's) too.
  CHECK(dt["overlap_param_gather"] == true);
  CHECK(v3.out.find("// Not modelled") == std::string::npos);
  const std::string v3_path = scratch("nemo2_deepseek_v3.json");
  const auto written = run_cli({"import", "nemo", "--out", v3_path, "--", "nemo", "llm", "pretrain", "--factory", "deepseek_v3"});
  REQUIRE(written.status == 0);
  CHECK(written.out.find(", 0 not modelled") != std::string::npos);
  CHECK(run_cli({"validate", v3_path}).status == 0);
  const auto no_mtp = run_cli({"import", "nemo", "--", "nemo", "llm", "pretrain", "--factory", "deepseek_v3(use_mtp=False)"});
  REQUIRE_MESSAGE(no_mtp.status == 0, no_mtp.err);
  CHECK_FALSE(foresight::parse_json_text(no_mtp.out, "(stdout)")["training"].contains("mtp_layers"));
}

TEST_CASE("import nemo: a NeMo 2.0 Python script that builds a recipe and sets its fields") {
  const std::string script = source_path("tests/data/nemo2/pretrain_llama3_70b.py");
  const auto r = run_cli({"import", "nemo", "--gpu", "h100_sxm", "--", "python", script});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json s = foresight::parse_json_text(r.out, "(stdout)");
  const nlohmann::json& t = s["training"];
  CHECK(s["model"] == "llama3_70b");
  CHECK(s["hardware"]["topology"]["nodes"] == 2);  // num_nodes=nodes, the function's default 2
  CHECK(t["parallel"]["tp"] == 8);
  CHECK(t["parallel"]["pp"] == 2);
  CHECK(t["parallel"]["cp"] == 1);
  CHECK_FALSE(t["parallel"].contains("virtual_stages"));  // set to None: 1F1B
  CHECK(t["parallel"]["tp_comm_overlap"] == true);
  CHECK(t["sequence_length"] == 4096);
  CHECK(t["global_batch"] == 128);
  CHECK(t["dtype"] == "fp8");
  CHECK(t["fp8_recipe"] == "delayed");
  CHECK(r.out.find("//   trainer.max_steps=100\n") != std::string::npos);  // dropped: no effect on a step
  const std::string path = scratch("nemo2.json");
  REQUIRE(run_cli({"import", "nemo", "--gpu", "h100_sxm", "--out", path, "--", "python", script}).status == 0);
  CHECK(run_cli({"run", path}).status == 0);

  std::ofstream(scratch("no_recipe.py")) << "import nemo_run as run\nprint('pretrain_recipe is not called here')\n";
  const auto none = run_cli({"import", "nemo", "--", "python", scratch("no_recipe.py")});
  CHECK(none.status == 2);
  CHECK(none.err.find("no recipe: expected a line such as `recipe = llm.llama3_8b.pretrain_recipe(") != std::string::npos);
}

// vLLM's --speculative-config and SGLang's speculative flags become serving.speculative; no
// command says how many drafted tokens are accepted, so import --set gives it, and without it
// the import stops and says so.
TEST_CASE("import: speculative decoding flags, with the acceptance rate from import --set") {
  const std::vector<std::string> vllm = {"vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct", "--speculative-config",
                                         R"({"method": "eagle", "model": "yuhuili/EAGLE-LLaMA3.1-Instruct-8B", "num_speculative_tokens": 3})"};
  std::vector<std::string> args = {"import", "vllm", "--"};
  args.insert(args.end(), vllm.begin(), vllm.end());
  const auto missing = run_cli(args);
  CHECK(missing.status == 2);
  CHECK(missing.err.find("--set serving.speculative.acceptance=A") != std::string::npos);
  const std::string out = scratch("speculative.json");
  args = {"import", "vllm", "--set", "serving.speculative.acceptance=0.7", "--out", out, "--"};
  args.insert(args.end(), vllm.begin(), vllm.end());
  const auto r = run_cli(args);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json scenario = foresight::load_json_file(out);
  CHECK(scenario["serving"]["speculative"]["num_tokens"] == 3);
  CHECK(scenario["serving"]["speculative"]["acceptance"] == 0.7);
  CHECK(foresight::testing::file_text(out).find("// Set by import --set:\n//   serving.speculative.acceptance=0.7") != std::string::npos);
  const auto ngram = run_cli({"import", "vllm", "--", "vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct", "--speculative-config",
                              R"({"method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_max": 4})"});
  REQUIRE_MESSAGE(ngram.status == 0, ngram.err);
  CHECK(ngram.out.find("// Not modelled (ignored):\n//   --speculative-config") != std::string::npos);
  const auto sglang = run_cli({"import", "sglang", "--set", "serving.speculative.acceptance=0.6", "--", "python", "-m", "sglang.launch_server",
                               "--model-path", "meta-llama/Llama-3.1-8B-Instruct", "--speculative-algorithm", "EAGLE", "--speculative-num-steps", "5"});
  REQUIRE_MESSAGE(sglang.status == 0, sglang.err);
  CHECK(sglang.out.find("--speculative-num-steps 5 -> serving.speculative.num_tokens = 5") != std::string::npos);
}

// The reverse of import vllm: a serving scenario's vllm serve command imports back to the
// same server. Traffic is the clients', so the imported scenario gets the original's.
TEST_CASE("export vllm: a serving scenario's launch command imports back to the same prediction") {
  for (const std::string& scenario : {source_path("tests/data/speculative_decode.json"), source_path("tests/data/quantized_decode.json"),
                                     source_path("scenarios/validation/serving_lambda_vllm060/n10.json")}) {
    CAPTURE(scenario);
    const auto exported = run_cli({"export", "vllm", scenario});
    REQUIRE_MESSAGE(exported.status == 0, exported.err);
    const nlohmann::json original = read_json_file(scenario);
    std::vector<std::string> args = {"import", "vllm", "--gpu", original["hardware"]["gpu"].get<std::string>(), "--out", scratch("vllm_round_trip.json")};
    if (original["serving"].contains("speculative")) {
      args.insert(args.end(), {"--set", "serving.speculative.acceptance=" + original["serving"]["speculative"]["acceptance"].dump()});
    }
    args.push_back("--");
    const std::vector<std::string> words = exported_words(exported.out);
    args.insert(args.end(), words.begin(), words.end());
    const auto r = run_cli(args);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CHECK(r.out.find(" 0 not modelled") != std::string::npos);
    nlohmann::json imported = foresight::load_json_file(scratch("vllm_round_trip.json"));
    imported["serving"]["traffic"] = original["serving"]["traffic"];
    imported["hardware"]["topology"] = original["hardware"]["topology"];
    if (imported["serving"]["traffic"].contains("trace")) {  // relative to the original's folder
      imported["serving"]["traffic"]["trace"] = (std::filesystem::path(scenario).parent_path() / imported["serving"]["traffic"]["trace"].get<std::string>()).string();
    }
    std::ofstream(scratch("vllm_round_trip.json")) << imported.dump(2);
    const nlohmann::json by_import = foresight::testing::run_scenario(scratch("vllm_round_trip.json"));
    const nlohmann::json by_hand = foresight::testing::run_scenario(scenario);
    CHECK(by_import["kv_cache"]["tokens_per_replica"] == by_hand["kv_cache"]["tokens_per_replica"]);
    CHECK(by_import["latency_s"]["ttft"]["mean"] == by_hand["latency_s"]["ttft"]["mean"]);
    CHECK(by_import["latency_s"]["tpot"]["mean"] == by_hand["latency_s"]["tpot"]["mean"]);
  }
  const auto training = run_cli({"export", "vllm"});
  CHECK(training.status == 2);
  CHECK(training.err.find("a training scenario") != std::string::npos);
}

namespace {
// An imported scenario, given the original's traffic and topology (which a launch does not
// carry) and written to `path`, predicts the KV capacity, TTFT and TPOT the original does.
void check_same_prediction(nlohmann::json imported, const std::string& scenario, const std::string& path) {
  const nlohmann::json original = read_json_file(scenario);
  imported["serving"]["traffic"] = original["serving"]["traffic"];
  imported["hardware"]["topology"] = original["hardware"]["topology"];
  std::ofstream(path) << imported.dump(2);
  const nlohmann::json by_import = foresight::testing::run_scenario(path);
  const nlohmann::json by_hand = foresight::testing::run_scenario(scenario);
  CHECK(by_import["kv_cache"]["tokens_per_replica"] == by_hand["kv_cache"]["tokens_per_replica"]);
  CHECK(by_import["latency_s"]["ttft"]["mean"] == by_hand["latency_s"]["ttft"]["mean"]);
  CHECK(by_import["latency_s"]["tpot"]["mean"] == by_hand["latency_s"]["tpot"]["mean"]);
}

// Imports an exported launch (`words`) with `tool` and checks that, given the original
// scenario's traffic and fabric (which no launch carries), it predicts what the scenario does.
void check_round_trip(const std::string& tool, const std::vector<std::string>& words, const std::string& scenario) {
  const std::string out = scratch(tool + "_round_trip.json");
  std::vector<std::string> args = {"import", tool, "--out", out, "--"};
  args.insert(args.end(), words.begin(), words.end());
  const auto r = run_cli(args);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find(" 0 not modelled") != std::string::npos);
  check_same_prediction(foresight::load_json_file(out), scenario, out);
}
}  // namespace

TEST_CASE("export sglang: a serving scenario's launch command imports back to the same prediction") {
  const std::string scenario = source_path("tests/data/sglang_serving.json");
  const auto exported = run_cli({"export", "sglang", scenario});
  REQUIRE_MESSAGE(exported.status == 0, exported.err);
  CHECK(exported.out.find("--schedule-policy lpm") != std::string::npos);
  CHECK(exported.out.find("--kv-cache-dtype fp8_e5m2") != std::string::npos);
  check_round_trip("sglang", exported_words(exported.out), scenario);
  // SGLang's mixed chunks (decodes beside each prefill chunk: the sarathi scheduler) go out as
  // --enable-mixed-chunk and come back the same.
  nlohmann::json mixed = read_json_file(scenario);
  mixed["serving"]["enable_mixed_chunk"] = true;
  const std::string mixed_path = scratch("sglang_mixed_chunk.json");
  std::ofstream(mixed_path) << mixed.dump(2);
  const auto mixed_launch = run_cli({"export", "sglang", mixed_path});
  REQUIRE_MESSAGE(mixed_launch.status == 0, mixed_launch.err);
  CHECK(mixed_launch.out.find("--enable-mixed-chunk") != std::string::npos);
  check_round_trip("sglang", exported_words(mixed_launch.out), mixed_path);
  CHECK(foresight::testing::run_scenario(mixed_path)["latency_s"]["tpot"]["mean"].get<double>() <
        foresight::testing::run_scenario(scenario)["latency_s"]["tpot"]["mean"].get<double>());  // decodes no longer wait for prefills
  const auto not_sglang = run_cli({"run", source_path("tests/data/quantized_decode.json"), "--set", "serving.enable_mixed_chunk=true"});
  CHECK(not_sglang.status == 2);
  CHECK(not_sglang.err.find("serving.enable_mixed_chunk: is SGLang's (engine sglang); the engine is vllm_v1") != std::string::npos);
  const auto vllm = run_cli({"export", "sglang", source_path("tests/data/quantized_decode.json")});
  CHECK(vllm.status == 2);
  CHECK(vllm.err.find("serving.engine: the engine is vllm_v1: export sglang writes SGLang launches") != std::string::npos);
}

// export trtllm writes the LLM API's YAML as a here-document before the trtllm-serve
// command; the round trip writes it out and imports the command that reads it.
TEST_CASE("export trtllm: a serving scenario's launch and its YAML import back to the same prediction") {
  const std::string scenario = source_path("tests/data/trtllm_serving.json");
  const auto exported = run_cli({"export", "trtllm", scenario});
  REQUIRE_MESSAGE(exported.status == 0, exported.err);
  const std::string start = "<<'EOF'\n", end = "\nEOF\n";
  const std::size_t yaml_at = exported.out.find(start), yaml_end = exported.out.find(end);
  REQUIRE(yaml_at != std::string::npos);
  REQUIRE(yaml_end != std::string::npos);
  const std::string yaml_path = scratch("extra_llm_api_options.yml");
  std::ofstream(yaml_path) << exported.out.substr(yaml_at + start.size(), yaml_end + 1 - yaml_at - start.size());
  std::vector<std::string> words = exported_words(exported.out.substr(yaml_end + end.size()));
  std::replace(words.begin(), words.end(), std::string("extra_llm_api_options.yml"), yaml_path);
  check_round_trip("trtllm", words, scenario);
  const auto sglang = run_cli({"export", "trtllm", source_path("tests/data/sglang_serving.json")});
  CHECK(sglang.status == 2);
  CHECK(sglang.err.find("serving.engine: the engine is sglang: export trtllm writes TensorRT-LLM launches") != std::string::npos);
}

namespace {
// One exported server of a disaggregated pool, the command from `marker` to its " &", its
// first `environment` words (assignments) left out, imported with `tool` on `gpu`: the
// serving section and the import's own text.
std::pair<nlohmann::json, std::string> imported_server(const std::string& exported, const std::string& marker, std::size_t environment,
                                                       const std::string& tool, const std::string& gpu,
                                                       const std::pair<std::string, std::string>& renamed = {}) {
  const std::size_t at = exported.find(marker);
  REQUIRE(at != std::string::npos);
  std::vector<std::string> words = exported_words(exported.substr(at, exported.find(" &\n", at) - at));
  words.erase(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(environment));
  if (!renamed.first.empty()) std::replace(words.begin(), words.end(), renamed.first, renamed.second);
  std::vector<std::string> args = {"import", tool, "--gpu", gpu, "--"};
  args.insert(args.end(), words.begin(), words.end());
  const auto imported = run_cli(args);
  REQUIRE_MESSAGE(imported.status == 0, imported.err);
  return {foresight::parse_json_text(imported.out, "(stdout)")["serving"], imported.out};
}
}  // namespace

// Disaggregated pools go out as TensorRT-LLM runs them (examples/disaggregated/README.md): a
// trtllm-serve per context and generation server, each pool's own YAML with the cache
// transceiver (the context one without the overlap scheduler), and the disaggregated server's
// config listing them; a decode pool of another GPU on machines of its own. A generation
// server's command, imported with its YAML, has the pool's TP and batch limit.
TEST_CASE("export trtllm: disaggregated pools become context and generation servers behind trtllm-serve disaggregated") {
  const std::string scenario = source_path("tests/data/trtllm_disaggregated.json");
  const auto exported = run_cli({"export", "trtllm", scenario});
  REQUIRE_MESSAGE(exported.status == 0, exported.err);
  const std::string& out = exported.out;
  const auto here_document = [&](const std::string& file) {
    const std::string start = "cat > " + file + " <<'EOF'\n";
    const std::size_t at = out.find(start);
    REQUIRE(at != std::string::npos);
    const std::size_t body = at + start.size();
    return out.substr(body, out.find("EOF\n", body) - body);
  };
  const std::string ctx = here_document("ctx_extra_llm_api_options.yml"), gen = here_document("gen_extra_llm_api_options.yml");
  const std::string transceiver = "cache_transceiver_config:\n  backend: DEFAULT\n  max_tokens_in_buffer: 8192\n";
  CHECK(ctx.find("disable_overlap_scheduler: true\n") != std::string::npos);
  CHECK(ctx.find(transceiver) != std::string::npos);
  CHECK(gen.find("disable_overlap_scheduler") == std::string::npos);
  CHECK(gen.find(transceiver) != std::string::npos);
  const std::string config = here_document("disagg_config.yaml");
  CHECK(config.starts_with("hostname: localhost\nport: 8000\nbackend: pytorch\nmodel: meta-llama/Llama-3.1-70B\nmax_seq_len: 8192\n"));
  CHECK(config.find("kv_cache_config:\n  free_gpu_memory_fraction: 0.9\n") != std::string::npos);
  CHECK(config.ends_with("context_servers:\n  num_instances: 1\n  tensor_parallel_size: 4\n  max_batch_size: 2048\n  max_num_tokens: 8192\n"
                         "  disable_overlap_scheduler: true\n  urls:\n    - \"node0:8001\"\n"
                         "generation_servers:\n  num_instances: 2\n  tensor_parallel_size: 4\n  max_batch_size: 96\n  max_num_tokens: 8192\n"
                         "  urls:\n    - \"node1:8002\"\n    - \"node1:8003\"\n"));
  CHECK(out.find("CUDA_VISIBLE_DEVICES=0,1,2,3 trtllm-serve meta-llama/Llama-3.1-70B \\\n    --host 0.0.0.0 --port 8001") != std::string::npos);
  CHECK(out.find("CUDA_VISIBLE_DEVICES=4,5,6,7 trtllm-serve meta-llama/Llama-3.1-70B \\\n    --host 0.0.0.0 --port 8003") != std::string::npos);
  CHECK(out.find("the decode pool's a100_sxm_80gb on machines of its own") != std::string::npos);
  CHECK(out.ends_with("\ntrtllm-serve disaggregated -c disagg_config.yaml\n"));

  // The second generation server's launch, its YAML written out, imports to the decode pool's shape.
  const std::string yaml_path = scratch("gen_extra_llm_api_options.yml");
  std::ofstream(yaml_path) << gen;
  const nlohmann::json serving =
      imported_server(out, "CUDA_VISIBLE_DEVICES=4,5,6,7", 1, "trtllm", "a100_sxm_80gb", {"gen_extra_llm_api_options.yml", yaml_path}).first;
  CHECK(serving["tp"] == 4);
  CHECK(serving["max_batch_size"] == 96);
  CHECK(serving["kv_dtype"] == "fp8");
}

namespace {
// `foresight import trtllm` of a disaggregated config: the scenario it writes and its comment.
std::pair<nlohmann::json, std::string> imported_disaggregated(const std::string& config, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"import", "trtllm"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), {"--", "trtllm-serve", "disaggregated", "-c", config});
  const auto imported = run_cli(args);
  REQUIRE_MESSAGE(imported.status == 0, imported.err);
  return {foresight::parse_json_text(imported.out, "(stdout)"), imported.out};
}

// Writes `scenario` out with export trtllm and saves the disagg_config.yaml its script holds
// as `name`; the script's text goes to `script`.
std::string exported_disagg_config(const std::string& scenario, const std::string& name, std::string& script) {
  const auto exported = run_cli({"export", "trtllm", scenario});
  REQUIRE_MESSAGE(exported.status == 0, exported.err);
  script = exported.out;
  const std::string start = "cat > disagg_config.yaml <<'EOF'\n";
  const std::size_t body = script.find(start) + start.size();
  REQUIRE(body > start.size());
  const std::string config = scratch(name);
  std::ofstream(config) << script.substr(body, script.find("EOF\n", body) - body);
  return config;
}
}  // namespace

// The config export trtllm writes for disaggregated pools carries each pool's shape and the
// shared options (the form TensorRT-LLM's MPI workers launch from), so it imports back to the
// scenario's pools: the same KV capacity, TTFT and TPOT.
TEST_CASE("import trtllm: an exported disaggregated config imports back to the same prediction") {
  // As TensorRT-LLM runs them: context servers without the overlap scheduler, which its
  // disaggregated context servers do not support, and generation servers with it.
  nlohmann::json original = read_json_file(source_path("tests/data/trtllm_disaggregated.json"));
  original["serving"]["host"]["async_scheduling"] = false;
  original["serving"]["decode_pool"]["async_scheduling"] = true;
  const std::string scenario = scratch("trtllm_disaggregated_overlap.json");
  std::ofstream(scenario) << original.dump(2);
  std::string script;
  const std::string config = exported_disagg_config(scenario, "disagg_config.yaml", script);
  auto [imported, text] = imported_disaggregated(config, {"--set", "serving.decode_pool.gpu=a100_sxm_80gb"});
  CHECK(imported["serving"]["prefill_replicas"] == 1);
  CHECK(imported["serving"]["replicas"] == 3);
  CHECK(imported["serving"]["decode_pool"]["max_num_seqs"] == 96);
  CHECK(text.find("generation_servers max_batch_size: 96 -> the decode replicas' max_batch_size = 96") != std::string::npos);
  CHECK(imported["serving"]["decode_pool"]["async_scheduling"] == true);
  CHECK(imported["serving"]["host"]["async_scheduling"] == false);
  check_same_prediction(imported, scenario, scratch("disaggregated_imported.json"));
}

// TensorRT-LLM's conditional disaggregation (conditional_disagg_config.max_local_prefill_length:
// the generation server prefills short prompts itself) exports and imports back, by length
// alone: TensorRT-LLM has no queue rule, which the export says of Dynamo's.
TEST_CASE("import trtllm: conditional disaggregation round-trips by the prompt's length") {
  nlohmann::json original = read_json_file(source_path("tests/data/trtllm_disaggregated.json"));
  original["serving"]["host"]["async_scheduling"] = false;
  original["serving"]["traffic"]["prompt"] = {{"distribution", "uniform"}, {"min", 500}, {"max", 4000}};
  original["serving"]["conditional_disagg"] = {{"max_local_prefill_length", 2000}, {"max_prefill_queue_size", 1000000000}};
  const std::string scenario = scratch("trtllm_conditional.json");
  std::ofstream(scenario) << original.dump(2);
  std::string script;
  const std::string config = exported_disagg_config(scenario, "disagg_config_conditional.yaml", script);
  CHECK(script.find("conditional_disagg_config:\n  max_local_prefill_length: 2000\n") != std::string::npos);
  CHECK(script.find("Dynamo's rule") == std::string::npos);
  auto [imported, text] = imported_disaggregated(config, {"--set", "serving.decode_pool.gpu=a100_sxm_80gb"});
  CHECK(imported["serving"]["conditional_disagg"] == original["serving"]["conditional_disagg"]);
  CHECK(text.find("conditional_disagg_config.max_local_prefill_length 2000 -> serving.conditional_disagg") != std::string::npos);
  check_same_prediction(imported, scenario, scratch("conditional_imported.json"));

  const std::string bad = scratch("bad_conditional.yaml");
  std::ofstream(bad) << "model: meta-llama/Llama-3.1-8B-Instruct\nconditional_disagg_config:\n  max_local_prefill_length: many\n"
                        "context_servers:\n  num_instances: 1\ngeneration_servers:\n  num_instances: 1\n";
  const auto refused = run_cli({"import", "trtllm", "--", "trtllm-serve", "disaggregated", "-c", bad});
  CHECK(refused.status == 2);
  CHECK(refused.err.find(bad + ": conditional_disagg_config.max_local_prefill_length: expected a whole number") != std::string::npos);
}

// TensorRT-LLM's own example of the MPI-worker form (examples/disaggregated/README.md) with a
// catalog model: top-level options reach both pools; pools of one shape share the cluster.
TEST_CASE("import trtllm: TensorRT-LLM's MPI-worker disaggregated config") {
  const auto [scenario, text] = imported_disaggregated(source_path("tests/data/trtllm/disagg_config_mpi.yaml"));
  const nlohmann::json& serving = scenario["serving"];
  CHECK(serving["engine"] == "trtllm");
  CHECK(serving["prefill_replicas"] == 2);
  CHECK(serving["replicas"] == 3);
  CHECK_FALSE(serving.contains("decode_pool"));
  CHECK(serving["host"]["async_scheduling"] == false);  // disable_overlap_scheduler, for both pools
  CHECK(serving["enforce_eager"] == true);              // use_cuda_graph: False
  CHECK(scenario["hardware"]["gpus"] == 8);
  CHECK(text.find("generation_servers' kv_cache_free_gpu_mem_fraction = the default beside context_servers' 0.9") != std::string::npos);
}

// Generation servers of their own TP and batch limit become a decode pool, which also runs
// their own CUDA graphs and overlap scheduler; the context servers keep theirs.
TEST_CASE("import trtllm: generation servers of another shape become a decode pool") {
  const auto [scenario, text] = imported_disaggregated(source_path("tests/data/trtllm/disagg_config_decode_pool.yaml"));
  const nlohmann::json& serving = scenario["serving"];
  CHECK(serving["tp"] == 4);
  CHECK(serving["decode_pool"] == nlohmann::json{{"gpu", "h100_sxm"}, {"tp", 2}, {"pp", 1}, {"max_num_seqs", 256}, {"max_batched_tokens", 8192},
                                                 {"cuda_graph_max_bs", 256}, {"async_scheduling", true}});
  CHECK_FALSE(serving.contains("cuda_graph_max_bs"));
  CHECK(serving["host"]["async_scheduling"] == false);  // the context servers' disable_overlap_scheduler stays theirs
  CHECK(serving["kv_dtype"] == "fp8");
  CHECK(text.find("a decode pool (serving.decode_pool) of h100_sxm") != std::string::npos);
  CHECK(text.find("top level cache_transceiver_config.backend: UCX") != std::string::npos);  // listed as not modelled
}

TEST_CASE("import trtllm: a disaggregated config that cannot be read names the file and key") {
  const auto fails = [](const std::string& yaml, const std::string& expected) {
    const std::string path = scratch("bad_disagg_config.yaml");
    std::ofstream(path) << yaml;
    const auto r = run_cli({"import", "trtllm", "--", "trtllm-serve", "disaggregated", "-c", path});
    CAPTURE(yaml);
    CHECK(r.status == 2);
    CHECK(r.err.find(path + ": " + expected) != std::string::npos);
    CHECK(r.out.empty());
  };
  const std::string model = "model: meta-llama/Llama-3.1-8B-Instruct\n";
  fails("context_servers:\n  num_instances: 1\n", "model: the config names no model");
  fails(model + "context_servers:\n  num_instances: 2\n  urls:\n    - \"a:1\"\ngeneration_servers:\n  num_instances: 1\n",
        "context_servers.urls: 1 URLs for num_instances 2");
  fails(model + "context_servers:\n  num_instances: 0\ngeneration_servers:\n  num_instances: 1\n", "context_servers.num_instances: 0 servers");
  fails(model + "context_servers:\n  num_instances: 1\n", "generation_servers: expected a mapping");
  fails(model + "context_servers:\n  tensor_parallel_size: x\ngeneration_servers:\n  num_instances: 1\n",
        "context_servers.tensor_parallel_size: expected a number");
  const auto no_config = run_cli({"import", "trtllm", "--", "trtllm-serve", "disaggregated"});
  CHECK(no_config.status == 2);
  CHECK(no_config.err.find("no config: expected `trtllm-serve disaggregated -c disagg_config.yaml`") != std::string::npos);
}

// The same pools under SGLang (docs/advanced_features/pd_disaggregation.md): a launch_server per
// server with --disaggregation-mode, each prefill server its own bootstrap port, each on its
// devices (--base-gpu-id), then sglang_router's PD router listing them. The script imports back
// (the next test).
TEST_CASE("export sglang: disaggregated pools become prefill and decode servers behind sglang_router") {
  const auto exported = run_cli({"export", "sglang", source_path("tests/data/trtllm_disaggregated.json"), "--set", "serving.engine=sglang"});
  REQUIRE_MESSAGE(exported.status == 0, exported.err);
  const std::string& out = exported.out;
  CHECK(out.find("--disaggregation-mode prefill --host 0.0.0.0 --port 30000 --base-gpu-id 0 --disaggregation-bootstrap-port 8998") !=
        std::string::npos);
  CHECK(out.find("--disaggregation-mode decode --host 0.0.0.0 --port 30002 --base-gpu-id 4") != std::string::npos);
  CHECK(out.ends_with("\npython3 -m sglang_router.launch_router --pd-disaggregation --prefill http://node0:30000 8998 --decode "
                      "http://node1:30001 --decode http://node1:30002 --host 0.0.0.0 --port 8000\n"));
}

namespace {
// tests/data/trtllm_disaggregated.json on `engine`, exported by `tool` as a launch script and
// the script imported back (the decode pool's GPU given, as no launch says it): checks that it
// predicts what the scenario does, and returns the imported scenario and its text.
std::pair<nlohmann::json, std::string> exported_script_imported(const std::string& tool, const std::string& engine) {
  nlohmann::json original = read_json_file(source_path("tests/data/trtllm_disaggregated.json"));
  original["serving"]["engine"] = engine;
  const std::string scenario = scratch(tool + "_disaggregated.json");
  std::ofstream(scenario) << original.dump(2);
  const auto exported = run_cli({"export", tool, scenario});
  REQUIRE_MESSAGE(exported.status == 0, exported.err);
  const std::string script = scratch(tool + "_disaggregated_launch.sh");
  std::ofstream(script) << exported.out;
  const std::string out = scratch(tool + "_disaggregated_imported.json");
  const auto r = run_cli({"import", tool, "--out", out, "--set", "serving.decode_pool.gpu=a100_sxm_80gb", "--", "bash", script});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find(" 0 not modelled") != std::string::npos);
  const nlohmann::json imported = foresight::load_json_file(out);
  CHECK(imported["serving"]["engine"] == engine);
  CHECK(imported["serving"]["prefill_replicas"] == 1);
  CHECK(imported["serving"]["replicas"] == 3);
  const std::string text = file_text(out);
  check_same_prediction(imported, scenario, out);
  return {imported, text};
}
}  // namespace

// The script export sglang writes for disaggregated pools imports back: the router's URLs
// give each pool's servers, the decode servers' batch limit makes the decode pool, and the
// prediction is the scenario's.
TEST_CASE("import sglang: an exported prefill-decode launch script imports back to the same prediction") {
  const auto [imported, text] = exported_script_imported("sglang", "sglang");
  CHECK(imported["serving"]["decode_pool"]["max_num_seqs"] == 96);
  CHECK(text.find("): --max-running-requests 96 -> the decode replicas' max_running_requests = 96") != std::string::npos);
  CHECK(text.find("-> the decode replicas' tp") == std::string::npos);  // the prefill servers' line says it
}

// The commands as words, ';' between them, without a router: one server per command; pools of
// one shape share the cluster, and what only decodes use is the decode servers'.
TEST_CASE("import sglang: prefill and decode servers given as commands with ';' between them") {
  const std::vector<std::string> server = {"python3", "-m", "sglang.launch_server", "--model-path", "meta-llama/Llama-3.1-8B-Instruct", "--tp", "2"};
  std::vector<std::string> args = {"import", "sglang", "--"};
  for (const char* mode : {"prefill", "decode", "decode"}) {
    args.insert(args.end(), server.begin(), server.end());
    args.insert(args.end(), {"--disaggregation-mode", mode, mode == std::string("prefill") ? "--disable-cuda-graph" : "--cuda-graph-max-bs", "64"});
    args.push_back(";");
  }
  args.erase(std::find(args.begin(), args.end(), "64"));  // --disable-cuda-graph takes no value
  const auto r = run_cli(args);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json scenario = foresight::parse_json_text(r.out, "(stdout)");
  const nlohmann::json& serving = scenario["serving"];
  CHECK(serving["prefill_replicas"] == 1);
  CHECK(serving["replicas"] == 3);
  CHECK_FALSE(serving.contains("decode_pool"));
  CHECK(serving["cuda_graph_max_bs"] == 64);
  CHECK_FALSE(serving.contains("disable_cuda_graph"));
  CHECK(scenario["hardware"]["gpus"] == 8);
  CHECK(r.out.find("no router command: one server per server command") != std::string::npos);
  CHECK(r.out.find("serving.disable_cuda_graph: the decode servers' setting (the default) for every replica") != std::string::npos);
}

// A launch script as SGLang's docs write one (tests/data/sglang/pd_launch.sh): logs redirected,
// devices set per server, other commands between; the router's policy is listed as not modelled.
TEST_CASE("import sglang: a prefill-decode launch script on one node") {
  const auto r = run_cli({"import", "sglang", "--", "bash", source_path("tests/data/sglang/pd_launch.sh")});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json scenario = foresight::parse_json_text(r.out, "(stdout)");
  const nlohmann::json& serving = scenario["serving"];
  CHECK(serving["tp"] == 2);
  CHECK(serving["mem_fraction_static"] == 0.85);
  // The script starts every server on one host: the decode pool shares its machines.
  CHECK(serving["decode_pool"] ==
        nlohmann::json{{"gpu", "h100_sxm"}, {"tp", 2}, {"pp", 1}, {"max_num_seqs", 128}, {"max_batched_tokens", 8192}, {"same_machines", true}});
  for (const char* line : {"//   line 11: CUDA_VISIBLE_DEVICES=2,3\n", "//   line 5: set ... (not SGLang's server or router)\n",
                           "//   router (line 19): --policy cache_aware (the router's policy: serving.router routes both pools)\n",
                           "on the prefill servers' machines, as the source puts both pools on one host (decode_pool.same_machines)"}) {
    CHECK_MESSAGE(r.out.find(line) != std::string::npos, line);
  }
  const std::string path = scratch("sglang_pd_launch.json");
  std::ofstream(path) << r.out;
  CHECK(foresight::testing::run_scenario(path)["kv_cache"]["tokens_per_replica"].get<double>() > 0);
}

// The same launch with its model, shared flags and ports in shell variables
// (tests/data/sglang/pd_launch_variables.sh): the same scenario.
TEST_CASE("import sglang: a launch script's variables expand as bash expands them") {
  const auto plain = run_cli({"import", "sglang", "--", "bash", source_path("tests/data/sglang/pd_launch.sh")});
  const auto variables = run_cli({"import", "sglang", "--", "bash", source_path("tests/data/sglang/pd_launch_variables.sh")});
  REQUIRE_MESSAGE(variables.status == 0, variables.err);
  REQUIRE(plain.status == 0);
  const nlohmann::json a = foresight::parse_json_text(plain.out, "(stdout)"), b = foresight::parse_json_text(variables.out, "(stdout)");
  CHECK(a["serving"] == b["serving"]);
  CHECK(a["hardware"] == b["hardware"]);
  CHECK(a["model"] == b["model"]);
}

TEST_CASE("import sglang: prefill-decode launches that cannot be read name the command and what was expected") {
  const std::vector<std::string> prefill = {"python3", "-m", "sglang.launch_server", "--model-path", "meta-llama/Llama-3.1-8B-Instruct",
                                            "--disaggregation-mode", "prefill"};
  const auto fails = [](std::vector<std::string> words, const std::string& expected) {
    words.insert(words.begin(), {"import", "sglang", "--"});
    const auto r = run_cli(words);
    CAPTURE(expected);
    CHECK(r.status == 2);
    CHECK(r.err.find(expected) != std::string::npos);
    CHECK(r.out.empty());
  };
  fails(prefill, "the launch commands: no decode server: expected a `python -m sglang.launch_server ... --disaggregation-mode` decode server's command");
  std::vector<std::string> wrong_mode = prefill;
  wrong_mode.back() = "both";
  fails(wrong_mode, "command 1: --disaggregation-mode: expected prefill or decode, got \"both\"");
  std::vector<std::string> two = prefill;
  two.insert(two.end(), {";"});
  two.insert(two.end(), prefill.begin(), prefill.end());
  two.insert(two.end(), {"--tp", "2", ";"});
  two.insert(two.end(), prefill.begin(), prefill.end() - 1);
  two.push_back("decode");
  fails(two, "command 2: tp: this prefill server runs tp = 2, the one at command 1 the default: foresight runs one shape per pool");
  std::vector<std::string> no_decode_url = prefill;
  no_decode_url.insert(no_decode_url.end(), {";"});
  no_decode_url.insert(no_decode_url.end(), prefill.begin(), prefill.end() - 1);
  no_decode_url.insert(no_decode_url.end(), {"decode", ";", "python3", "-m", "sglang_router.launch_router", "--pd-disaggregation", "--prefill",
                                             "http://a:30000"});
  fails(no_decode_url, "the router: it lists no decode server (--decode URL)");
  const std::string script = scratch("unclosed_launch.sh");
  std::ofstream(script) << "python3 -m sglang.launch_server --model-path 'm\n";
  fails({"bash", script}, script + ": line 1: a ' quote that never closes");
  fails({"bash", "/nonexistent/launch.sh"}, "/nonexistent/launch.sh");
}

// And under vLLM (docs/features/nixl_connector_usage.md): a vllm serve per server with the NIXL
// connector and a handshake port of its own per GPU worker on each machine, then the proxy
// listing prefillers and decoders. A decoder's command imports back to the pool's shape.
TEST_CASE("export vllm: disaggregated pools become NIXL-connected servers behind vLLM's proxy") {
  const auto exported = run_cli({"export", "vllm", source_path("tests/data/trtllm_disaggregated.json"), "--set", "serving.engine=vllm_v1"});
  REQUIRE_MESSAGE(exported.status == 0, exported.err);
  const std::string& out = exported.out;
  CHECK(out.find("CUDA_VISIBLE_DEVICES=4,5,6,7 VLLM_NIXL_SIDE_CHANNEL_PORT=5604 vllm serve meta-llama/Llama-3.1-70B") != std::string::npos);
  CHECK(out.find("--kv-transfer-config '{\"kv_connector\":\"NixlConnector\",\"kv_role\":\"kv_both\"}' &\n") != std::string::npos);
  CHECK(out.ends_with("--port 8192 --prefiller-hosts node0 --prefiller-ports 8100 --decoder-hosts node1 node1 --decoder-ports 8101 8102\n"));
  const nlohmann::json serving = imported_server(out, "CUDA_VISIBLE_DEVICES=4,5,6,7", 2, "vllm", "a100_sxm_80gb").first;
  CHECK(serving["tp"] == 4);
  CHECK(serving["max_num_seqs"] == 96);
}

// The script export vllm writes (NIXL's kv_both servers behind vLLM's toy proxy) imports back:
// each server's pool is the one the proxy lists its port in.
TEST_CASE("import vllm: an exported NIXL launch script imports back to the same prediction") {
  const auto [imported, text] = exported_script_imported("vllm", "vllm_v1");
  CHECK(imported["serving"]["decode_pool"]["max_num_seqs"] == 96);
  CHECK(text.find("): --port 8101\n") != std::string::npos);  // the first decoder's, which the proxy lists
}

// Servers whose kv_role says their pool (P2P NCCL's kv_producer and kv_consumer) need no proxy;
// a kv_both server does, and the proxy must list its port in one pool.
TEST_CASE("import vllm: prefillers and decoders by their kv_role, and kv_both servers by the proxy's ports") {
  const std::vector<std::string> serve = {"vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct", "--tensor-parallel-size", "2"};
  const auto with_role = [&serve](const std::string& role, const std::string& port) {
    std::vector<std::string> words = serve;
    words.insert(words.end(), {"--port", port, "--kv-transfer-config", "{\"kv_connector\":\"P2pNcclConnector\",\"kv_role\":\"" + role + "\"}"});
    return words;
  };
  const auto launch = [](const std::vector<std::vector<std::string>>& commands) {
    std::vector<std::string> args = {"import", "vllm", "--"};
    for (const auto& command : commands) {
      args.insert(args.end(), command.begin(), command.end());
      args.push_back(";");
    }
    return run_cli(args);
  };
  const auto roles = launch({with_role("kv_producer", "8100"), with_role("kv_consumer", "8200"), with_role("kv_consumer", "8201")});
  REQUIRE_MESSAGE(roles.status == 0, roles.err);
  const nlohmann::json scenario = foresight::parse_json_text(roles.out, "(stdout)");
  CHECK(scenario["serving"]["prefill_replicas"] == 1);
  CHECK(scenario["serving"]["replicas"] == 3);
  CHECK(scenario["hardware"]["gpus"] == 8);

  const std::vector<std::string> proxy = {"python3", "toy_proxy_server.py", "--prefiller-hosts", "a", "--prefiller-ports", "8100",
                                          "--decoder-hosts", "b", "--decoder-ports", "8200"};
  const auto unlisted = launch({with_role("kv_both", "8100"), with_role("kv_both", "8300"), proxy});
  CHECK(unlisted.status == 2);
  CHECK(unlisted.err.find("command 2: --port: the proxy lists port 8300 as neither a prefiller's nor a decoder's") != std::string::npos);
  const auto no_proxy = launch({with_role("kv_both", "8100"), with_role("kv_both", "8200")});
  CHECK(no_proxy.status == 2);
  CHECK(no_proxy.err.find("command 1: a kv_both server, and no proxy command to say whether it prefills or decodes") != std::string::npos);
  std::vector<std::string> bad = serve;
  bad.insert(bad.end(), {"--kv-transfer-config", "{\"kv_role\":\"kv_sender\"}"});
  const auto bad_role = launch({bad, with_role("kv_consumer", "8200")});
  CHECK(bad_role.status == 2);
  CHECK(bad_role.err.find("command 1: --kv-transfer-config: expected a JSON object whose kv_role is kv_producer, kv_consumer or kv_both") !=
        std::string::npos);
}

// TensorRT-LLM's trtllm-serve spells its options with underscores; they map onto the trtllm
// preset's knobs of the same names, and the scenario runs.
TEST_CASE("import trtllm: trtllm-serve's options map to the trtllm engine's knobs") {
  const std::string out = scratch("trtllm.json");
  const auto r = run_cli({"import", "trtllm", "--out", out, "--", "trtllm-serve", "meta-llama/Llama-3.1-70B-Instruct", "--backend", "pytorch",
                          "--tp_size", "4", "--max_batch_size", "128", "--max_num_tokens", "4096", "--max_seq_len", "8192",
                          "--kv_cache_free_gpu_memory_fraction", "0.85"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("5 flags mapped, 1 dropped, 0 not modelled") != std::string::npos);
  const nlohmann::json scenario = foresight::load_json_file(out);
  CHECK(scenario["serving"]["engine"] == "trtllm");
  CHECK(scenario["serving"]["tp"] == 4);
  CHECK(scenario["serving"]["max_num_tokens"] == 4096);
  CHECK(scenario["serving"]["kv_cache_free_gpu_mem_fraction"] == 0.85);
  const nlohmann::json results = foresight::testing::run_scenario(out);
  CHECK(results["kv_cache"]["tokens_per_replica"].get<double>() > 0);

  // The --extra_llm_api_options YAML wins over the command's options, as trtllm-serve has it.
  const auto yaml = run_cli({"import", "trtllm", "--set", "serving.speculative.acceptance=0.7", "--", "trtllm-serve",
                             "meta-llama/Llama-3.1-70B-Instruct", "--tp_size", "4", "--kv_cache_free_gpu_memory_fraction", "0.9",
                             "--extra_llm_api_options", source_path("tests/data/trtllm/extra_llm_api_options.yml")});
  REQUIRE_MESSAGE(yaml.status == 0, yaml.err);
  for (const char* line : {"//   extra_llm_api_options kv_cache_config.free_gpu_memory_fraction: 0.8 -> serving.kv_cache_free_gpu_mem_fraction = 0.8",
                           "//   extra_llm_api_options scheduler_config.capacity_scheduler_policy: MAX_UTILIZATION -> serving.capacity_scheduler_policy",
                           "//   extra_llm_api_options speculative_config.max_draft_len: 3 -> serving.speculative.num_tokens = 3",
                           "//   extra_llm_api_options enable_attention_dp: false -> serving.enable_attention_dp = false",
                           "//   extra_llm_api_options print_iter_log: true\n"}) {
    CHECK_MESSAGE(yaml.out.find(line) != std::string::npos, line);
  }
  const nlohmann::json with_yaml = foresight::parse_json_text(yaml.out, "(stdout)");
  CHECK(with_yaml["serving"]["kv_cache_free_gpu_mem_fraction"] == 0.8);
  CHECK(with_yaml["serving"]["kv_dtype"] == "fp8");
  CHECK(with_yaml["serving"]["enable_prefix_caching"] == true);
  // --ep_size: experts spread over the TP ranks, which a dense model refuses.
  const auto moe = run_cli({"import", "trtllm", "--", "trtllm-serve", "Qwen/Qwen3-30B-A3B", "--tp_size", "4", "--ep_size", "4"});
  REQUIRE_MESSAGE(moe.status == 0, moe.err);
  CHECK(moe.out.find("//   --ep_size 4 -> serving.expert_parallel = true") != std::string::npos);
  const auto missing = run_cli({"import", "trtllm", "--", "trtllm-serve", "meta-llama/Llama-3.1-70B-Instruct", "--config", "/nonexistent.yml"});
  CHECK(missing.status == 2);
  CHECK(missing.err.find("/nonexistent.yml: cannot open the config file") != std::string::npos);
  const auto no_model = run_cli({"import", "trtllm", "--", "trtllm-serve", "--tp_size", "4"});
  CHECK(no_model.status == 2);
  CHECK(no_model.err.find("expected `trtllm-serve MODEL`") != std::string::npos);
}

// trtllm-bench throughput: the trtllm-serve options it shares, its dataset as the traffic,
// the checkpoint's FP8 from its name, and the engine sizes trtllm-bench picks itself.
TEST_CASE("import trtllm: a trtllm-bench throughput command becomes S5's kind of scenario") {
  const std::string dataset = source_path("tests/data/trtllm/dataset_128_128.jsonl");
  const auto r = run_cli({"import", "trtllm", "--", "trtllm-bench", "--model", "nvidia/Llama-3.1-8B-Instruct-FP8", "--workspace", "/tmp/w",
                          "throughput", "--dataset", dataset, "--num_requests", "3", "--backend", "pytorch", "--tp", "1",
                          "--kv_cache_free_gpu_mem_fraction", "0.95", "--warmup", "2", "--streaming"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json scenario = foresight::parse_json_text(r.out, "(stdout)");
  const nlohmann::json& serving = scenario["serving"];
  CHECK(scenario["model"] == "llama31_8b");  // nvidia's FP8 re-upload of meta-llama/Llama-3.1-8B
  CHECK(serving["engine"] == "trtllm");
  CHECK(serving["dtype"] == "fp8");
  CHECK(serving["kv_dtype"] == "fp8");
  CHECK(serving["enable_chunked_prefill"] == true);
  CHECK(serving["traffic"] == nlohmann::json{{"arrival", "instant"}, {"requests", 3}, {"prompt", {{"tokens", 128}}}, {"output", {{"tokens", 128}}}});
  // S5's row for this model and length: 4,096 sequences and 8,192 tokens.
  CHECK(serving["max_batch_size"] == 4096);
  CHECK(serving["max_num_tokens"] == 8192);
  CHECK(serving["cuda_graph_max_bs"] == 4096);
  CHECK(r.out.find("//   --workspace /tmp/w") != std::string::npos);
  CHECK(r.out.find("//   --streaming") != std::string::npos);
  CHECK(r.out.find("Traffic is not either") == std::string::npos);

  // A dataset of mixed lengths is replayed as a trace; without chunked context the budget
  // holds the longest prompt beside a full batch; --concurrency paces it.
  const std::string mixed = source_path("tests/data/trtllm/dataset_mixed.jsonl");
  const std::string out = scratch("trtllm_bench.json");
  const auto m = run_cli({"import", "trtllm", "--gpu", "h200_sxm", "--out", out, "--", "trtllm-bench", "-m", "meta-llama/Llama-3.1-8B-Instruct",
                          "throughput", "--dataset", mixed, "--disable_chunked_context", "--concurrency", "4",
                          "--scheduler_policy", "max_utilization"});
  REQUIRE_MESSAGE(m.status == 0, m.err);
  const nlohmann::json traced = foresight::load_json_file(out);
  CHECK(traced["serving"]["traffic"]["trace"] == std::filesystem::absolute(mixed).string());
  CHECK(traced["serving"]["traffic"]["max_concurrency"] == 4);
  CHECK(traced["serving"]["enable_chunked_prefill"] == false);
  CHECK(traced["serving"]["capacity_scheduler_policy"] == "MAX_UTILIZATION");
  CHECK_FALSE(traced["serving"].contains("dtype"));
  CHECK(traced["serving"]["max_num_tokens"].get<std::int64_t>() >= 1500 + traced["serving"]["max_batch_size"].get<std::int64_t>());
  const nlohmann::json results = foresight::testing::run_scenario(out);
  CHECK(results["requests"] == 6);

  const auto no_dataset = run_cli({"import", "trtllm", "--", "trtllm-bench", "--model", "meta-llama/Llama-3.1-8B", "throughput"});
  CHECK(no_dataset.status == 2);
  CHECK(no_dataset.err.find("expected --dataset") != std::string::npos);
  const auto unknown = run_cli({"import", "trtllm", "--", "trtllm-bench", "--model", "meta-llama/Llama-3.1-8B", "build", "--dataset", dataset});
  CHECK(unknown.status == 2);
  CHECK(unknown.err.find("the throughput and latency subcommands are modelled, got \"build\"") != std::string::npos);
  const auto fp4 = run_cli({"import", "trtllm", "--", "trtllm-bench", "--model", "nvidia/Llama-3.3-70B-Instruct-FP4", "throughput", "--dataset", dataset});
  CHECK(fp4.status == 2);
  CHECK(fp4.err.find("foresight does not model FP4 GEMMs") != std::string::npos);
  const std::string text = scratch("text_prompt.jsonl");
  std::ofstream(text) << "{\"task_id\": 0, \"prompt\": \"Hello\", \"output_tokens\": 8}\n";
  const auto prompt = run_cli({"import", "trtllm", "--", "trtllm-bench", "--model", "meta-llama/Llama-3.1-8B", "throughput", "--dataset", text});
  CHECK(prompt.status == 2);
  CHECK(prompt.err.find("line 1: expected the prompt's token ids as \"input_ids\"") != std::string::npos);
}

// trtllm-bench latency: the throughput sizing's max_num_tokens (raised for the longest prompt,
// as without chunked context) at a max_batch_size of 1, one request outstanding by default
// (tensorrt_llm/bench/benchmark/low_latency.py).
TEST_CASE("import trtllm: a trtllm-bench latency command runs one sequence at a time") {
  const std::string dataset = source_path("tests/data/trtllm/dataset_128_128.jsonl");
  const auto r = run_cli({"import", "trtllm", "--gpu", "h100_sxm", "--", "trtllm-bench", "--model", "nvidia/Llama-3.1-8B-Instruct-FP8",
                          "latency", "--dataset", dataset, "--num_requests", "2", "--warmup", "2"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json scenario = foresight::parse_json_text(r.out, "(stdout)");
  const nlohmann::json& serving = scenario["serving"];
  CHECK(serving["max_batch_size"] == 1);
  CHECK(serving["cuda_graph_max_bs"] == 1);
  CHECK(serving["enable_chunked_prefill"] == false);
  CHECK(serving["capacity_scheduler_policy"] == "GUARANTEED_NO_EVICT");
  CHECK(serving["traffic"]["max_concurrency"] == 1);
  // The throughput command's sizing for this dataset: 4,096 sequences and 8,192 tokens, which
  // already hold a 128-token prompt beside the sized batch.
  CHECK(serving["max_num_tokens"] == 8192);
  CHECK(scenario["description"].get<std::string>().find("latency") != std::string::npos);
  const std::string out = scratch("trtllm_latency.json");
  std::ofstream(out) << r.out;
  const nlohmann::json results = foresight::testing::run_scenario(out);
  CHECK(results["requests"] == 2);
  // One at a time: the second request is sent when the first has finished.
  CHECK(results["makespan_s"].get<double>() > 1.95 * results["latency_s"]["e2e"]["mean"].get<double>());

  const auto paced = run_cli({"import", "trtllm", "--", "trtllm-bench", "--model", "meta-llama/Llama-3.1-8B", "latency", "--dataset", dataset,
                              "--concurrency", "4"});
  REQUIRE_MESSAGE(paced.status == 0, paced.err);
  CHECK(foresight::parse_json_text(paced.out, "(stdout)")["serving"]["traffic"]["max_concurrency"] == 4);
  const auto sized = run_cli({"import", "trtllm", "--", "trtllm-bench", "--model", "meta-llama/Llama-3.1-8B", "latency", "--dataset", dataset,
                              "--max_batch_size", "8"});
  CHECK(sized.status == 2);
  CHECK(sized.err.find("--max_batch_size: trtllm-bench latency has no such option") != std::string::npos);
}

// trtllm-bench's engine sizing, repeated in C++ for the importer, agrees with the settings
// S5's scenarios carry (written by scripts/trtllm_perf_overview_scenarios.py from NVML's memory).
TEST_CASE("trtllm-bench's engine sizing matches every S5 scenario's max_batch_size and max_num_tokens") {
  const std::string folder = source_path("scenarios/validation/trtllm_perf_overview/");
  int rows = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().extension() != ".json") continue;
    const nlohmann::json s = read_json_file(entry.path().string());
    const nlohmann::json& serving = s["serving"];
    const foresight::ModelArch& model = *foresight::find_builtin_model(s["model"].get<std::string>());
    foresight::BenchModel m;
    m.parameters = foresight::count_parameters(model).total;
    m.weight_bytes = m.kv_bytes = 1;  // FP8 checkpoints with FP8 KV caches
    m.layers = model.layers;
    m.kv_heads = model.kv_heads;
    m.head_dim = model.head_dim;
    const double nvml_gib = s["hardware"]["gpu"] == "h100_sxm" ? 81559.0 / 1024 : 143771.0 / 1024;
    const auto setting = foresight::bench_engine_setting(m, nvml_gib, serving["tp"], 1, serving["traffic"]["prompt"]["tokens"].get<double>(),
                                                         serving["traffic"]["output"]["tokens"].get<double>(), 0.95);
    const std::string name = entry.path().filename().string();
    CAPTURE(name);
    CHECK(setting.max_batch_size == serving["max_batch_size"].get<std::int64_t>());
    CHECK(setting.max_num_tokens == serving["max_num_tokens"].get<std::int64_t>());
    ++rows;
  }
  CHECK(rows == 60);
}

// torchtitan's configs: the December 2024 benchmark's Llama 3.1 8B FSDP row (V7), 70B FSDP x
// TP row and 405B FSDP x TP x PP row (V8), written in the two layouts torchtitan's releases
// use; each imports to the validation scenario of its row and predicts exactly what that
// scenario does.
TEST_CASE("import torchtitan: configs in both layouts become the V7 and V8 scenarios of their rows") {
  const std::string gpu = read_json_file(source_path("scenarios/validation/torchtitan_h100/llama31_8b_fsdp8_compile.json"))["hardware"]["gpu"].dump();
  struct Row {
    const char* config;
    std::vector<std::string> launcher;
    std::vector<std::string> sets;
    const char* scenario;
    std::vector<const char*> lines;
  };
  const std::vector<Row> rows = {
      {"tests/data/torchtitan/llama3_8b.toml",
       {"torchrun", "--nproc_per_node=8", "--rdzv_backend", "c10d", "--local-ranks-filter", "0", "-m", "torchtitan.train"},
       {},
       "llama31_8b_fsdp8_compile",
       {"//   model.name = llama3, model.flavor = 8B -> model = \"llama31_8b\"", "//   activation_checkpoint: selective (op) -> training.recompute = \"selective_op\"",
        "//   torch.compile on the model -> training.elementwise = \"fused\"", "//   optimizer.lr = 3e-4\n",
        "//   float8.enable_fsdp_float8_all_gather = false\n", "//   --training.steps 50\n"}},
      {"tests/data/torchtitan/llama3_70b_2024.toml",
       {"torchrun", "--nnodes", "32", "--nproc_per_node", "8", "train.py"},
       {"--set", "hardware.topology.scale_out.nic_gbps=50", "--set", "hardware.topology.scale_out.rail_optimized=true"},
       "llama31_70b_fsdp32_tp8",
       {"//   training.tensor_parallel_degree = 8 -> training.parallel.tp = 8", "//   activation_checkpoint: full -> training.recompute = \"full\"",
        "//   Float8 linear layers (torchao, tensorwise dynamic scaling) -> training.dtype = \"fp8\""}},
      // The 405B pipeline: no split points given, so late 2024's generate_split_points splits
      // the 126 layers 15 / 16 x 6 / 15, as the scenario has them.
      {"tests/data/torchtitan/llama3_405b_2024.toml",
       {"torchrun", "--nnodes", "64", "--nproc_per_node", "8", "train.py"},
       {"--set", "hardware.topology.scale_out.nic_gbps=50", "--set", "hardware.topology.scale_out.rail_optimized=true"},
       "llama3_405b_tp8_pp8_1f1b",
       {"//   no pipeline_parallel_split_points: torchtitan's default split (late 2024's generate_split_points) -> "
        "training.parallel.stage_layers = [15,16,16,16,16,16,16,15]",
        "//   FSDP inside pipeline stages (gathered through the step, reduced once) -> training.parallel.zero_stage = 1",
        "//   no pipeline_parallel_microbatches: late-2024 torchtitan's default, one per pipeline rank (8) -> training.micro_batch = 4",
        "//   experimental.pipeline_parallel_schedule = 1f1b -> training.parallel.schedule = \"1f1b\""}},
      // Interleaved: two stages per rank (7 / 8 x 14 / 7 layers), and still 8 micro-batches of
      // 4, that release's default (one per stage, 16, only from January 2025).
      {"tests/data/torchtitan/llama3_405b_2024.toml",
       {"torchrun", "--nnodes", "64", "--nproc_per_node", "8", "train.py", "--experimental.pipeline_parallel_schedule", "Interleaved1F1B"},
       {"--set", "hardware.topology.scale_out.nic_gbps=50", "--set", "hardware.topology.scale_out.rail_optimized=true"},
       "llama3_405b_tp8_pp8_interleaved",
       {"//   no pipeline_parallel_microbatches: late-2024 torchtitan's default, one per pipeline rank (8) -> training.micro_batch = 4 "
        "(from torchtitan PR 781 of 2025-01-07 on, one per stage: 16, micro-batch 2)",
        "training.parallel.stage_layers = [7,8,8,8,8,8,8,8,8,8,8,8,8,8,8,7]"}},
  };
  for (const Row& row : rows) {
    CAPTURE(row.scenario);
    const std::string imported = scratch(std::string(row.scenario) + ".json");
    std::vector<std::string> args = {"import", "torchtitan", "--out", imported, "--set", "hardware.gpu=" + gpu};
    args.insert(args.end(), row.sets.begin(), row.sets.end());
    args.emplace_back("--");
    args.insert(args.end(), row.launcher.begin(), row.launcher.end());
    for (const char* word : {"--job.config_file", "", "--training.steps", "50"}) args.emplace_back(*word ? word : source_path(row.config));
    const auto r = run_cli(args);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const std::string text = file_text(imported);
    for (const char* line : row.lines) CHECK_MESSAGE(text.find(line) != std::string::npos, line);
    const std::string by_import = scratch(std::string(row.scenario) + "_run.json"), by_hand = scratch(std::string(row.scenario) + "_hand.json");
    REQUIRE(run_cli({"run", imported, "--out", by_import}).status == 0);
    REQUIRE(run_cli({"run", source_path("scenarios/validation/torchtitan_h100/" + std::string(row.scenario) + ".json"), "--out", by_hand}).status == 0);
    CHECK(read_json_file(by_import)["step_time_ps"] == read_json_file(by_hand)["step_time_ps"]);
  }
}

TEST_CASE("import megatron: BitPipe's fork's --enable-bitpipe-schedule runs the bitpipe schedule") {
  // wuhouming/BitPipe's README GPT example: 96 layers over 8 stages, 16 micro-batches.
  const std::vector<std::string> args = {"--pipeline-model-parallel-size", "8", "--enable-bitpipe-schedule", "--num-layers", "96",
                                         "--hidden-size", "3072", "--num-attention-heads", "32", "--seq-length", "1024",
                                         "--max-position-embeddings", "1024", "--micro-batch-size", "1", "--global-batch-size", "16", "--fp16"};
  const auto r = run_cli(import_megatron_args(args, {"--gpus", "8"}));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json p = foresight::parse_json_text(r.out, "(stdout)")["training"]["parallel"];
  CHECK(p["schedule"] == "bitpipe");
  CHECK(p["virtual_stages"] == 4);
  CHECK(r.out.find("//   --enable-bitpipe-schedule -> training.parallel.schedule = \"bitpipe\"") != std::string::npos);
  const std::string imported = scratch("bitpipe_gpt96.json");
  {
    std::ofstream out(imported);
    out << r.out;
  }
  CHECK(run_cli({"run", imported}).status == 0);
}

TEST_CASE("import megatron: the layers' split over pipeline stages, as Megatron-core counts them") {
  // Megatron-Bridge's Llama 3.1 405B recipe: 126 layers over 8 stages x 8 chunks, the
  // embedding and the loss counted as a layer each: 128 / 64 = 2 a chunk, one layer beside each.
  const std::vector<std::string> bare = {"--num-layers", "126", "--hidden-size", "2048", "--num-attention-heads", "16", "--seq-length", "4096",
                                         "--micro-batch-size", "1", "--global-batch-size", "64", "--pipeline-model-parallel-size", "8",
                                         "--num-virtual-stages-per-pipeline-rank", "8", "--bf16"};
  std::vector<std::string> counted = bare;
  counted.insert(counted.end(), {"--account-for-embedding-in-pipeline-split", "--account-for-loss-in-pipeline-split"});
  auto r = run_cli(import_megatron_args(counted, {"--gpus", "64"}));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  nlohmann::json p = foresight::parse_json_text(r.out, "(stdout)")["training"]["parallel"];
  CHECK(p["first_stage_layers"] == 1);
  CHECK(p["last_stage_layers"] == 1);
  CHECK(r.out.find("//   --account-for-embedding-in-pipeline-split -> training.parallel.first_stage_layers = 1") != std::string::npos);
  // Only the embedding counted: 127 layers do not split over 64 chunks.
  std::vector<std::string> uneven = bare;
  uneven.push_back("--account-for-embedding-in-pipeline-split");
  r = run_cli(import_megatron_args(uneven, {"--gpus", "64"}));
  CHECK(r.status == 2);
  CHECK(r.err.find("--account-for-embedding-in-pipeline-split: the 126 layers with the embedding or loss counted (127) must split evenly") !=
        std::string::npos);

  // An explicit layout: stages split by '|', repetitions with *N and parentheses.
  std::vector<std::string> laid_out = {"--num-layers", "30", "--hidden-size", "2048", "--num-attention-heads", "16", "--seq-length", "4096",
                                       "--micro-batch-size", "1", "--pipeline-model-parallel-size", "4", "--bf16",
                                       "--pipeline-model-parallel-layout", "Et*6|(t*8|)*2,t*8L"};
  r = run_cli(import_megatron_args(laid_out, {"--gpus", "4"}));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  p = foresight::parse_json_text(r.out, "(stdout)")["training"]["parallel"];
  CHECK(p["stage_layers"] == nlohmann::json{6, 8, 8, 8});
  const std::string path = scratch("layout.json");
  REQUIRE(run_cli(import_megatron_args(laid_out, {"--gpus", "4", "--out", path})).status == 0);
  CHECK(run_cli({"run", path}).status == 0);
  // Multi-token prediction: the layout's m pieces must be the --mtp-num-layers depths, which
  // the last stage trains; placed elsewhere they are timed there all the same, and said so.
  laid_out.back() = "Et*6|(t*8|)*2,t*8mL";
  r = run_cli(import_megatron_args(laid_out, {"--gpus", "4"}));
  CHECK(r.status == 2);
  CHECK(r.err.find("places 1 MTP layers (m) where --mtp-num-layers asks for 0") != std::string::npos);
  laid_out.insert(laid_out.end() - 2, {"--mtp-num-layers", "1"});
  r = run_cli(import_megatron_args(laid_out, {"--gpus", "4"}));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(foresight::parse_json_text(r.out, "(stdout)")["training"]["mtp_layers"] == 1);
  CHECK(r.out.find("MTP layers (m) off the last stage") == std::string::npos);
  laid_out.back() = "Et*6m|(t*8|)*2,t*8L";
  r = run_cli(import_megatron_args(laid_out, {"--gpus", "4"}));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("MTP layers (m) off the last stage (timed there)") != std::string::npos);
  laid_out.erase(laid_out.end() - 4, laid_out.end() - 2);
  for (const char* bad : {"Et*6|t*8|t*8", "Et*6|x|t*8|t*8L", "E(t*6|t*8|t*8|t*8L", "Et*|t*8|t*8|t*8L"}) {
    CAPTURE(bad);
    laid_out.back() = bad;
    r = run_cli(import_megatron_args(laid_out, {"--gpus", "4"}));
    CHECK(r.status == 2);
    CHECK(r.err.find("--pipeline-model-parallel-layout") != std::string::npos);
  }
}

TEST_CASE("export megatron: a split of its own becomes a layout that imports back to the same step") {
  const std::string scenario = source_path("scenarios/llama3_70b_pp4.json");
  const std::vector<std::string> split = {"--set", "training.parallel.stage_layers=[19,21,21,19]"};
  std::vector<std::string> args = {"export", "megatron", scenario};
  args.insert(args.end(), split.begin(), split.end());
  const auto exported = run_cli(args);
  REQUIRE_MESSAGE(exported.status == 0, exported.err);
  CHECK(exported.out.find("--pipeline-model-parallel-layout 'Et*19|t*21|t*21|t*19L'") != std::string::npos);
  const std::string imported = scratch("layout_round_trip.json");
  const nlohmann::json original = read_json_file(scenario);
  const auto r = run_cli(import_megatron_args(exported_words(exported.out), {"--gpu", original["hardware"]["gpu"].get<std::string>(), "--out", imported}));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(foresight::parse_json_text(file_text(imported), imported)["training"]["parallel"]["stage_layers"] == nlohmann::json{19, 21, 21, 19});

  // Multi-token prediction: its depths on the last stage, and --mtp-num-layers to match.
  args.insert(args.end(), {"--set", "training.mtp_layers=2"});
  const auto mtp = run_cli(args);
  REQUIRE_MESSAGE(mtp.status == 0, mtp.err);
  CHECK(mtp.out.find("--pipeline-model-parallel-layout 'Et*19|t*21|t*21|t*19m*2L'") != std::string::npos);
  CHECK(mtp.out.find("--mtp-num-layers 2") != std::string::npos);
  const auto back = run_cli(import_megatron_args(exported_words(mtp.out), {"--gpu", original["hardware"]["gpu"].get<std::string>(), "--out", imported}));
  REQUIRE_MESSAGE(back.status == 0, back.err);
  CHECK(back.out.find(" 0 not modelled") != std::string::npos);
  const nlohmann::json training = foresight::parse_json_text(file_text(imported), imported)["training"];
  CHECK(training["mtp_layers"] == 2);
  const std::string by_hand = scratch("mtp_original.json"), by_import = scratch("mtp_imported.json");
  std::vector<std::string> run_original = {"run", scenario, "--out", by_hand};
  run_original.insert(run_original.end(), split.begin(), split.end());
  run_original.insert(run_original.end(), {"--set", "training.mtp_layers=2"});
  REQUIRE(run_cli(run_original).status == 0);
  REQUIRE(run_cli({"run", imported, "--out", by_import}).status == 0);
  CHECK(read_json_file(by_import)["step_time_ps"] == read_json_file(by_hand)["step_time_ps"]);
}

TEST_CASE("import torchtitan: split points, and the default split of 2025's releases") {
  // 2025's layout: the embedding and the output count as a layer each, 34 over 4 stages.
  std::ofstream(scratch("pp.toml")) << "[model]\nname = \"llama3\"\nflavor = \"8B\"\n[training]\nlocal_batch_size = 8\n"
                                       "[parallelism]\npipeline_parallel_degree = 4\npipeline_parallel_schedule = \"1F1B\"\n";
  auto r = run_cli({"import", "torchtitan", "--", "NGPU=8", "CONFIG_FILE=" + scratch("pp.toml"), "./run_train.sh"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(foresight::parse_json_text(r.out, "(stdout)")["training"]["parallel"]["stage_layers"] == nlohmann::json{8, 9, 8, 7});
  // Split points set the stages: five points on 2 ranks of an interleaved schedule, 3 chunks each.
  r = run_cli({"import", "torchtitan", "--", "NGPU=8", "CONFIG_FILE=" + scratch("pp.toml"), "./run_train.sh",
               "--parallelism.pipeline_parallel_degree", "2", "--parallelism.pipeline_parallel_schedule", "Interleaved1F1B",
               "--parallelism.pipeline_parallel_split_points", "layers.4,layers.10,layers.16,layers.22,layers.28"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json p = foresight::parse_json_text(r.out, "(stdout)")["training"]["parallel"];
  CHECK(p["stage_layers"] == nlohmann::json{4, 6, 6, 6, 6, 4});
  CHECK(p["virtual_stages"] == 3);
  // ZBVZeroBubble: two stages per rank in a V, split as the looped schedules are.
  r = run_cli({"import", "torchtitan", "--", "NGPU=8", "CONFIG_FILE=" + scratch("pp.toml"), "./run_train.sh",
               "--parallelism.pipeline_parallel_degree", "2", "--parallelism.pipeline_parallel_schedule", "ZBVZeroBubble"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json v = foresight::parse_json_text(r.out, "(stdout)")["training"]["parallel"];
  CHECK(v["schedule"] == "zb_v");
  CHECK(v["virtual_stages"] == 2);
  CHECK(v["stage_layers"] == nlohmann::json{8, 9, 8, 7});
  // PyTorch's ScheduleDualPipeV: the same V.
  r = run_cli({"import", "torchtitan", "--", "NGPU=8", "CONFIG_FILE=" + scratch("pp.toml"), "./run_train.sh",
               "--parallelism.pipeline_parallel_degree", "2", "--parallelism.pipeline_parallel_schedule", "DualPipeV"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json dv = foresight::parse_json_text(r.out, "(stdout)")["training"]["parallel"];
  CHECK(dv["schedule"] == "dualpipev");
  CHECK(dv["virtual_stages"] == 2);
  for (const char* bad : {"layers.4,layers.4,layers.10", "layers.40", "norm.1", "layers.8"}) {
    CAPTURE(bad);
    r = run_cli({"import", "torchtitan", "--", "NGPU=8", "CONFIG_FILE=" + scratch("pp.toml"), "./run_train.sh",
                 "--parallelism.pipeline_parallel_split_points", bad});
    CHECK(r.status == 2);
    CHECK(r.err.find("pipeline_parallel_split_points") != std::string::npos);
  }
}

TEST_CASE("import torchtitan: context parallelism runs PyTorch's ring") {
  std::ofstream(scratch("cp.toml")) << "[model]\nname = \"llama3\"\nflavor = \"8B\"\n[training]\nlocal_batch_size = 1\nseq_len = 65536\n"
                                       "[parallelism]\ncontext_parallel_degree = 2\n";
  auto r = run_cli({"import", "torchtitan", "--", "NGPU=8", "CONFIG_FILE=" + scratch("cp.toml"), "./run_train.sh"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  nlohmann::json p = foresight::parse_json_text(r.out, "(stdout)")["training"]["parallel"];
  CHECK(p["cp"] == 2);
  CHECK(p["cp_ring"] == "pytorch");
  CHECK(r.out.find("CP through PyTorch's context_parallel -> training.parallel.cp_ring = \"pytorch\"") != std::string::npos);
  r = run_cli({"import", "torchtitan", "--", "NGPU=8", "CONFIG_FILE=" + scratch("cp.toml"), "./run_train.sh", "--parallelism.context_parallel_degree", "1"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK_FALSE(foresight::parse_json_text(r.out, "(stdout)")["training"]["parallel"].contains("cp_ring"));
}

TEST_CASE("import torchtitan: expert parallelism keeps each GPU's share of the experts, FSDP beside it") {
  const std::vector<std::string> qwen = {"import", "torchtitan", "--", "torchrun", "--nproc_per_node", "8", "-m", "torchtitan.train",
                                         "--model.name", "qwen3", "--model.flavor", "30B-A3B", "--training.local_batch_size", "4",
                                         "--parallelism.expert_parallel_degree", "8"};
  auto r = run_cli(qwen);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("//   --parallelism.expert_parallel_degree 8 -> training.parallel.ep = 8") != std::string::npos);
  nlohmann::json p = foresight::parse_json_text(r.out, "(stdout)")["training"]["parallel"];
  CHECK(p["ep"] == 8);
  CHECK(p["zero_stage"] == 3);  // FSDP2 over the 8 GPUs, experts held whole by each
  // With ETP 1 (torchtitan's default) EP borrows the TP ranks: 8 experts' ranks are 4 DP ranks x TP 2.
  std::vector<std::string> with_tp = qwen;
  with_tp.insert(with_tp.end(), {"--parallelism.tensor_parallel_degree", "2"});
  r = run_cli(with_tp);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  p = foresight::parse_json_text(r.out, "(stdout)")["training"]["parallel"];
  CHECK(p["ep"] == 4);
  CHECK(r.out.find("EP across TP (expert_tensor_parallel_degree 1) ranks") != std::string::npos);
  with_tp.insert(with_tp.end(), {"--parallelism.expert_tensor_parallel_degree", "2"});
  r = run_cli(with_tp);
  CHECK(r.status == 2);  // ETP = TP: EP 8 must divide the 4 data-parallel ranks
  CHECK(r.err.find("parallelism.expert_parallel_degree: 8 must divide data_parallel_shard = 4") != std::string::npos);
  std::vector<std::string> dense = qwen;
  dense[11] = "8B";
  r = run_cli(dense);
  CHECK(r.status == 2);
  CHECK(r.err.find("parallelism.expert_parallel_degree: expert parallelism needs a mixture-of-experts model") != std::string::npos);
}

TEST_CASE("import torchtitan: run_train.sh's variables, command-line overrides, defaults, and what it refuses") {
  // NGPU and CONFIG_FILE as run_train.sh reads them; tyro's --section.no-key switch; an
  // override in hyphens; torchtitan's defaults where the config is silent.
  std::ofstream(scratch("small.toml")) << "[model]\nname = \"llama3\"\nflavor = \"8B\"\n[training]\nbatch_size = 1\n";
  auto r = run_cli({"import", "torchtitan", "--", "NGPU=4", "CONFIG_FILE=" + scratch("small.toml"), "LOG_RANK=0", "./run_train.sh",
                    "--training.seq-len", "4096", "--compile.no-enable", "--parallelism.tensor_parallel_degree=2"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  for (const char* line : {"//   NGPU=4 -> hardware.topology.gpus = 4", "//   --training.seq_len 4096 -> training.sequence_length = 4096",
                           "//   --parallelism.tensor_parallel_degree 2 -> training.parallel.tp = 2",
                           "//   no torch.compile (eager) -> training.elementwise = \"eager\"",
                           "//   no activation_checkpoint.mode: torchtitan's default, selective",
                           "//   activation_checkpoint: selective (2) -> training.recompute = \"full\", training.recompute_every = 2", "//   LOG_RANK=0\n"}) {
    CHECK_MESSAGE(r.out.find(line) != std::string::npos, line);
  }
  const nlohmann::json s = foresight::parse_json_text(r.out, "(stdout)");
  CHECK(s["training"]["parallel"]["dp"] == 2);
  CHECK(s["training"]["parallel"]["sequence_parallel"] == true);
  CHECK(s["training"]["global_batch"] == 2);

  // Float8 weights gathered by FSDP2 in fp8.
  std::ofstream(scratch("float8.toml")) << "[model]\nname = \"llama3\"\nflavor = \"8B\"\n[float8]\nenable_float8_linear = true\n"
                                        << "enable_fsdp_float8_all_gather = true\n";
  r = run_cli({"import", "torchtitan", "--", "NGPU=8", "CONFIG_FILE=" + scratch("float8.toml"), "./run_train.sh"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("//   float8.enable_fsdp_float8_all_gather = true -> training.fp8_param_gather = true") != std::string::npos);
  CHECK(foresight::parse_json_text(r.out, "(stdout)")["training"]["fp8_param_gather"] == true);

  std::ofstream(scratch("bad.toml")) << "[model]\nname = \"llama3\"\nflavor = \"debugmodel\"\n";
  r = run_cli({"import", "torchtitan", "--", "--job.config_file", scratch("bad.toml")});
  CHECK(r.status == 2);
  CHECK(r.err.find("model.flavor: no catalog model for llama3 \"debugmodel\": foresight knows 405B, 70B, 8B") != std::string::npos);
  std::ofstream(scratch("inline.toml")) << "[model]\nname = \"llama3\"\nspec = { flavor = \"8B\" }\n";
  r = run_cli({"import", "torchtitan", "--", "--job.config_file", scratch("inline.toml")});
  CHECK(r.status == 2);
  CHECK(r.err.find("foresight_import_inline.toml: line 3: inline tables ({...}) are not read; write the table as [model.spec]") != std::string::npos);
  r = run_cli({"import", "torchtitan", "--", "torchrun", "--nproc_per_node", "8", "-m", "torchtitan.train", "--job.config_file", scratch("small.toml"),
               "--parallelism.data_parallel_shard_degree", "3"});
  CHECK(r.status == 2);
  CHECK(r.err.find("parallelism.data_parallel_shard_degree: data_parallel_shard x replicate x tensor x pipeline x context = 3, but the job has 8 GPUs") !=
        std::string::npos);
  r = run_cli({"import", "torchtitan", "--", "--job.config_file", "/nonexistent.toml"});
  CHECK(r.status == 2);
  CHECK(r.err.find("/nonexistent.toml: cannot open the config file") != std::string::npos);
}

// tests/data/kineto/rank{0,1}.json follow PyTorch 2.5's profiler output (Kineto's Chrome
// trace: distributedInfo, cuda_runtime launches linked to kernels by correlation id, and
// the NCCL kernel carrying its communication record): two ranks each run a GEMM, an add,
// an all-reduce of 8,388,608 bf16 elements on NCCL's stream, a GEMM that waits for it, and,
// after the host stalls 220 us, a fill and a copy. Rank 0's GEMM is 50 us faster, so its
// all-reduce kernel lasts 250 us, waiting for rank 1's; rank 1's lasts 200 us.
TEST_CASE("import kineto: two ranks' traces replay as their GPU timeline less the host's stalls") {
  const std::vector<std::string> traces = {source_path("tests/data/kineto/rank0.json"), source_path("tests/data/kineto/rank1.json")};
  const std::string graph = scratch("kineto_graph.json"), results = scratch("kineto_replay.json");
  std::vector<std::string> args = {"import", "kineto", "--out", graph, "--"};
  args.insert(args.end(), traces.begin(), traces.end());
  const auto imported = run_cli(args);
  REQUIRE_MESSAGE(imported.status == 0, imported.err);
  const nlohmann::json g = foresight::load_json_file(graph);
  CHECK(g["ranks"] == 2);
  const auto op = [&](const std::string& name) {
    for (const auto& o : g["ops"]) {
      if (o["name"] == name) return o;
    }
    FAIL("no op " << name);
    return nlohmann::json();
  };
  // One all-reduce over both ranks, of nccl-tests' size, with the member that did not wait's time.
  const nlohmann::json all_reduce = op("pg0.0 all_reduce");
  CHECK(all_reduce["group"] == nlohmann::json::array({0, 1}));
  CHECK(all_reduce["bytes"] == 8388608.0 * 2);
  CHECK(all_reduce["duration_us"] == 200.0);
  // It started 8 us after each rank's add ended, and each rank's next GEMM 5 us after it:
  // waits between streams, read from the timing.
  CHECK(all_reduce["after"] == nlohmann::json::array({"r0.1 at::native::vectorized_elementwise_kernel", "r1.1 at::native::vectorized_elementwise_kernel"}));
  CHECK(op("r0.3 sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesiz")["after"] == nlohmann::json::array({"pg0.0 all_reduce"}));
  const std::string header = file_text(graph);
  CHECK(header.find("rank 0: the GPU waited 0.230 ms for kernel launches") != std::string::npos);

  REQUIRE(run_cli({"replay", graph, "--out", results}).status == 0);
  // Rank 1 as measured (100 us to 1,485 us: 1,385 us) less the host's 230 us stall and the
  // 8 + 5 us the streams took to see each other's events: 450 + 50 + 200 + 400 + 30 + 12.
  CHECK(read_json_file(results)["makespan_s"].get<double>() == doctest::Approx(1142e-6).epsilon(1e-9));

  // What-if on the network: the merged all-reduce loses its duration and is timed on a topology.
  std::vector<std::string> retime = {"import", "kineto", "--retime-collectives", "--out", graph, "--"};
  retime.insert(retime.end(), traces.begin(), traces.end());
  const auto without_topology = run_cli(retime);
  CHECK(without_topology.status == 2);
  CHECK(without_topology.err.find("add --set topology=NAME") != std::string::npos);
  retime.insert(retime.begin() + 3, {"--set", "topology=hgx_h100"});
  REQUIRE(run_cli(retime).status == 0);
  CHECK_FALSE(foresight::load_json_file(graph)["ops"][4].contains("duration_us"));
  CHECK(run_cli({"replay", graph}).status == 0);
}

TEST_CASE("import kineto: a collective whose members' traces are not all given keeps its measured time on each rank") {
  const std::string graph = scratch("kineto_one_rank.json");
  const auto r = run_cli({"import", "kineto", "--out", graph, "--", source_path("tests/data/kineto/rank0.json")});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(file_text(graph).find("process group 0: kept as measured on each rank, since rank 1 of it has no trace here") != std::string::npos);
  const nlohmann::json g = foresight::load_json_file(graph);
  CHECK(g["ranks"] == 1);
  bool kept = false;
  for (const auto& op : g["ops"]) kept |= op["name"] == "r0.2 ncclDevKernel_AllReduce_Sum_bf16_RING_LL" && op["duration_us"] == 250.0 && op["stream"] == "nccl.0";
  CHECK(kept);
}

TEST_CASE("import kineto: what it cannot read is named by file and JSON path, exit 2, nothing written") {
  const std::string graph = scratch("kineto_refused.json");
  std::filesystem::remove(graph);
  const auto write = [](const std::string& name, const std::string& text) {
    const std::string path = scratch(name);
    std::ofstream(path) << text;
    return path;
  };
  const std::string kernel = R"({"ph": "X", "cat": "kernel", "name": "ncclDevKernel_AllReduce", "ts": 10, "dur": 5, "args": {"stream": 20, )";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {write("kineto_no_events.json", R"({"schemaVersion": 1})"), "traceEvents: expected a PyTorch profiler trace"},
      {write("kineto_dtype.json", R"({"traceEvents": [)" + kernel + R"("Collective name": "allreduce", "dtype": "Quaternion", "In msg nelems": 4, "Out msg nelems": 4}}]})"),
       "traceEvents[0].args.dtype: expected a PyTorch dtype name"},
      {write("kineto_stream.json", R"({"traceEvents": [{"ph": "X", "cat": "kernel", "name": "k", "ts": 1, "dur": 1, "args": {"stream": -3}}]})"),
       "traceEvents[0].args.stream: expected a whole number"},
      {write("kineto_cpu_only.json", R"({"traceEvents": [{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 1, "dur": 1}]})"),
       "no GPU kernels, memcpys or memsets"},
      {write("kineto_gzip.json.gz", std::string("\x1f\x8b\x08\x00", 4)), "a gzip file: decompress it first"},
  };
  for (const auto& entry : cases) {
    const std::string& trace = entry.first;  // clang before 16 cannot capture a structured binding
    const std::string& expected = entry.second;
    CAPTURE(trace);
    const auto r = run_cli({"import", "kineto", "--out", graph, "--", trace});
    CHECK(r.status == 2);
    CHECK_MESSAGE(r.err.find(trace) != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find(expected) != std::string::npos, r.err);
    CHECK_FALSE(std::filesystem::exists(graph));
  }
  const std::string rank0 = source_path("tests/data/kineto/rank0.json");
  const auto twice = run_cli({"import", "kineto", "--out", graph, "--", rank0, rank0});
  CHECK(twice.status == 2);
  CHECK(twice.err.find("distributedInfo.rank: rank 0 is given by another trace too") != std::string::npos);
  CHECK(run_cli({"import", "kineto"}).err.find("expected the trace files after --") != std::string::npos);
}

// Two collectives seen in opposite orders on two ranks (their clocks disagree): the waits
// inferred into them would loop, so they are left out and the graph still replays.
TEST_CASE("import kineto: inferred waits that would loop are left out") {
  const auto rank_trace = [](int rank, const std::string& first, const std::string& second) {
    // Each launched at 10 us, so that starting at 205 us, 5 us after the other ended, reads as a wait.
    const auto collective = [](const std::string& group, int ts) {
      const std::string correlation = group == "a" ? "1" : "2";
      return R"({"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernelExC", "ts": 10, "dur": 2, "args": {"correlation": )" + correlation +
             R"(}}, {"ph": "X", "cat": "kernel", "name": "ncclDevKernel_AllReduce", "ts": )" + std::to_string(ts) +
             R"(, "dur": 100, "args": {"correlation": )" + correlation + R"(, "stream": )" + (group == "a" ? "20" : "21") +
             R"(, "Collective name": "allreduce", "dtype": "Float", "In msg nelems": 1024, "Out msg nelems": 1024, "Group size": 2, "Process Group Name": ")" +
             group + R"(", "Process Group Ranks": "[0, 1]"}})";
    };
    const std::string path = scratch("kineto_loop_" + std::to_string(rank) + ".json");
    std::ofstream(path) << R"({"distributedInfo": {"rank": )" << rank << R"(}, "traceEvents": [)" << collective(first, 100) << ", "
                        << collective(second, 205) << "]}";
    return path;
  };
  const std::string graph = scratch("kineto_loop.json");
  const auto r = run_cli({"import", "kineto", "--out", graph, "--", rank_trace(0, "a", "b"), rank_trace(1, "b", "a")});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(file_text(graph).find("the waits inferred into collectives formed a cycle") != std::string::npos);
  CHECK(run_cli({"replay", graph}).status == 0);
}

TEST_CASE("import kineto: PyTorch 1.x's capitalized categories read as today's") {
  const std::string trace = scratch("kineto_v1.json"), graph = scratch("kineto_v1_graph.json");
  std::ofstream(trace) << R"({"traceEvents": [{"ph": "X", "cat": "Runtime", "name": "cudaLaunchKernel", "ts": 1, "dur": 2, "args": {"correlation": 4}},)"
                       << R"({"ph": "X", "cat": "Kernel", "name": "volta_sgemm_128x64_nn", "ts": 9, "dur": 40, "args": {"stream": 7, "correlation": 4}},)"
                       << R"json({"ph": "X", "cat": "Memcpy", "name": "Memcpy HtoD (Pageable -> Device)", "ts": 60, "dur": 3, "args": {"stream": 7}}]})json";
  const auto r = run_cli({"import", "kineto", "--out", graph, "--", trace});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const nlohmann::json g = foresight::load_json_file(graph);
  REQUIRE(g["ops"].size() == 2);
  CHECK(g["ops"][0]["name"] == "r0.0 volta_sgemm_128x64_nn");
  CHECK(g["ops"][1]["duration_us"] == 3.0);
}

// PyTorch before 2.3 writes the communication record on the record_param_comms operator,
// which shares its External id with the NCCL kernel it launched.
TEST_CASE("import kineto: a communication record on the launching operator") {
  const std::string trace = scratch("kineto_record_op.json"), graph = scratch("kineto_record_op_graph.json");
  std::ofstream(trace) << R"({"distributedInfo": {"rank": 0, "world_size": 2}, "traceEvents": [)"
                       << R"({"ph": "X", "cat": "kernel", "name": "ncclKernel_AllGather_RING_LL_Sum_int8_t", "ts": 50, "dur": 80, "args": {"stream": 20, "External id": 77}},)"
                       << R"({"ph": "X", "cat": "cpu_op", "name": "record_param_comms", "ts": 10, "dur": 5, "args": {"External id": 77, "Collective name": "_allgather_base", )"
                       << R"("dtype": "BFloat16", "In msg nelems": 512, "Out msg nelems": 1024, "Group size": 2}}]})";
  const auto r = run_cli({"import", "kineto", "--out", graph, "--", trace});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const std::string text = file_text(graph);
  CHECK(text.find("carry no communication record") == std::string::npos);
  // Its ranks came from the group's size, the world's: rank 1's trace is missing.
  CHECK(text.find("process group 0: kept as measured on each rank, since rank 1 of it has no trace here") != std::string::npos);
  CHECK(foresight::load_json_file(graph)["ops"][0]["stream"] == "nccl.0");
}

TEST_CASE("export: a LoRA scenario says where LoRA runs, Megatron-LM not being the place") {
  const std::string scenario = source_path("scenarios/validation/nemo_h100_finetune/llama2_7b_lora.json");
  const auto megatron = run_cli({"export", "megatron", scenario});
  REQUIRE(megatron.status == 0);
  CHECK(megatron.out.find("# Not expressible as Megatron-LM arguments: lora: Megatron-LM's pretrain_gpt.py trains every weight") != std::string::npos);
  const auto bridge = run_cli({"export", "megatron-bridge", scenario});
  REQUIRE(bridge.status == 0);
  CHECK(bridge.out.find("peft = LoRA(target_modules=[\"linear_qkv\"], dim=32)") != std::string::npos);
  CHECK(bridge.out.find("pretrain_gpt.py trains every weight") == std::string::npos);
}
