#pragma once
// `foresight import trtllm -- trtllm-bench --model M throughput --dataset D ...` (docs/import.md):
// TensorRT-LLM's benchmark, which serves like trtllm-serve but sizes max_batch_size and
// max_num_tokens itself from the model, the GPU's memory and the dataset's lengths, and sends
// the dataset's requests all at once (or at most --concurrency of them). Its `latency`
// subcommand runs the same sizing's max_num_tokens at a max_batch_size of 1, without chunked
// context, one request outstanding unless --concurrency says more.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/runner/import_support.hpp"

namespace foresight {

struct GpuSpec;
struct ModelArch;

// A trtllm-bench throughput or latency command taken apart: the words trtllm-serve would
// take for the same engine (its program, the model and the engine's options), and what only
// the benchmark says.
struct TrtllmBench {
  bool latency = false;    // the latency subcommand
  std::vector<std::string> serve_command;
  std::string model_id;    // --model
  std::string model_path;  // --model_path: a local checkpoint, whose config and quantization are read
  std::string dataset;     // --dataset
  std::optional<std::int64_t> concurrency, num_requests;
  std::optional<std::string> scheduler_policy;
  bool chunked_context = true;  // --enable_chunked_context, on by default in trtllm-bench's recent releases
  std::vector<std::string> mapped, dropped, not_modelled;
};

// True when the command runs trtllm-bench.
bool is_trtllm_bench(const std::vector<std::string>& words);
TrtllmBench split_trtllm_bench(const std::vector<std::string>& words);

// The dataset's requests: prepare_dataset.py's JSON lines, each with the prompt's input_ids
// and its output_tokens.
struct BenchDataset {
  std::int64_t requests = 0;
  double mean_prompt = 0, mean_output = 0;
  std::int64_t longest_prompt = 0;
  bool uniform = true;  // every request has the first one's lengths
  std::int64_t prompt = 0, output = 0;
};
BenchDataset read_bench_dataset(const std::string& path);

// What trtllm-bench sizes the engine at (tensorrt_llm/bench/build/tuning.py): the KV cache's
// room for requests of the dataset's mean length, from the GPUs' memory less the weights
// times the cache fraction, sets max_batch_size (rounded up, at most 4,096 over the stages)
// and max_num_tokens (max_batch_size x (1 + prompt / output), rounded up, 2,048 to 32,768).
struct BenchEngineSetting {
  std::int64_t max_batch_size = 0, max_num_tokens = 0;
};
struct BenchModel {
  double parameters = 0;        // the checkpoint's, all of them
  double weight_bytes = 2;      // per parameter: 1 for FP8 checkpoints
  double kv_bytes = 2;          // per KV element
  std::int64_t layers = 0, kv_heads = 0, head_dim = 0;
};
BenchEngineSetting bench_engine_setting(const BenchModel& model, double gpu_memory_gib, std::int64_t tp, std::int64_t pp,
                                        double mean_prompt, double mean_output, double kv_fraction);

// Completes the scenario trtllm-serve's translation made: the dataset as traffic, the
// checkpoint's quantization, and the engine sizes trtllm-bench picks where the command does
// not give them.
void apply_trtllm_bench(const TrtllmBench& bench, const GpuSpec& gpu, const ModelArch& model, Imported& result);

}  // namespace foresight
