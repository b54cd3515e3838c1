#include "sim/runner/import_trtllm_bench.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>

#include <nlohmann/json.hpp>

#include "models/gpu_spec.hpp"
#include "models/model_arch.hpp"
#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"

namespace foresight {
namespace {
bool is_option(const std::string& word) { return word.rfind("-", 0) == 0; }

// The benchmark's own options, which trtllm-serve does not take.
enum class BenchOption { kDataset, kConcurrency, kRequests, kPolicy, kChunked, kUnchunked, kBackend, kBeamWidth, kDropped,
                         kDroppedSwitch, kNotModelled };

BenchOption bench_option(const std::string& name) {
  if (name == "--dataset") return BenchOption::kDataset;
  if (name == "--concurrency") return BenchOption::kConcurrency;
  if (name == "--num_requests") return BenchOption::kRequests;
  if (name == "--scheduler_policy") return BenchOption::kPolicy;
  if (name == "--enable_chunked_context") return BenchOption::kChunked;
  if (name == "--disable_chunked_context") return BenchOption::kUnchunked;
  if (name == "--backend") return BenchOption::kBackend;
  if (name == "--beam_width") return BenchOption::kBeamWidth;
  for (const char* dropped : {"--warmup", "--eos_id", "--report_json", "--iteration_log", "--output_json", "--request_json",
                              "--max_input_len", "--image_data_format", "--data_device", "--workspace", "-w", "--log_level"}) {
    if (name == dropped) return BenchOption::kDropped;
  }
  if (name == "--streaming" || name == "--no_skip_tokenizer_init") return BenchOption::kDroppedSwitch;
  return BenchOption::kNotModelled;  // --modality, --max_seq_len_per_request, and what later releases add
}

bool is_bench_option(const std::string& name) {
  static const char* const kServe[] = {"--tp", "--pp", "--ep", "--max_batch_size", "--max_num_tokens", "--max_seq_len",
                                       "--kv_cache_free_gpu_mem_fraction", "--extra_llm_api_options", "--config",
                                       "--cluster_size"};
  return std::none_of(std::begin(kServe), std::end(kServe), [&](const char* serve) { return name == serve; });
}

// Options of the throughput subcommand that latency does not take: it runs one sequence at a
// time, without chunked context, under GUARANTEED_NO_EVICT (tensorrt_llm/bench/benchmark/low_latency.py).
void refuse_throughput_only(const std::string& name) {
  for (const char* option : {"--max_batch_size", "--max_num_tokens", "--scheduler_policy", "--enable_chunked_context",
                             "--disable_chunked_context"}) {
    if (name == option) {
      throw InputError("", name, "trtllm-bench latency has no such option: it runs at max_batch_size 1, sizes max_num_tokens "
                                 "itself, without chunked context, under GUARANTEED_NO_EVICT");
    }
  }
}

// Reads one option of the subcommand that only the benchmark has.
void read_bench_option(const std::vector<std::string>& words, std::size_t& i, TrtllmBench& b) {
  const auto [name, inline_value] = split_flag(words[i]);
  const BenchOption kind = bench_option(name);
  if (kind == BenchOption::kChunked || kind == BenchOption::kUnchunked) {
    b.chunked_context = kind == BenchOption::kChunked;
    b.mapped.push_back(name + " -> serving.enable_chunked_prefill = " + (b.chunked_context ? "true" : "false"));
    return;
  }
  if (kind == BenchOption::kDroppedSwitch) {
    b.dropped.push_back(name);
    return;
  }
  const std::optional<std::string> value = flag_value(words, i, inline_value);
  if (!value) throw InputError("", name, "expected a value after it");
  switch (kind) {
    case BenchOption::kDataset: b.dataset = *value; break;
    case BenchOption::kConcurrency: b.concurrency = whole_value(name, *value); break;
    case BenchOption::kRequests: b.num_requests = whole_value(name, *value); break;
    case BenchOption::kPolicy: {
      const std::string policy = lower(*value);
      if (policy != "guaranteed_no_evict" && policy != "max_utilization") {
        throw InputError("", name, "expected guaranteed_no_evict or max_utilization, got \"" + *value + "\"");
      }
      b.scheduler_policy = policy == "max_utilization" ? "MAX_UTILIZATION" : "GUARANTEED_NO_EVICT";
      b.mapped.push_back(name + " " + *value + " -> serving.capacity_scheduler_policy = \"" + *b.scheduler_policy + "\"");
      break;
    }
    case BenchOption::kBackend:
      // The PyTorch backend is what the trtllm preset models; the TensorRT engine backend differs in its host side.
      (lower(*value) == "pytorch" ? b.dropped : b.not_modelled).push_back(name + " " + *value);
      break;
    case BenchOption::kBeamWidth:
      (*value == "1" ? b.dropped : b.not_modelled).push_back(name + " " + *value);
      break;
    case BenchOption::kDropped: b.dropped.push_back(name + " " + *value); break;
    default: b.not_modelled.push_back(name + " " + *value); break;
  }
}

// Up to a multiple of the step of the first {limit, step} tier under whose limit `value`
// falls, and at least `least`: tuning.py's rounding.
struct Tier {
  double limit;
  std::int64_t step;
};
std::int64_t rounded_up(double value, std::initializer_list<Tier> tiers, std::int64_t least) {
  const auto tier = std::find_if(tiers.begin(), tiers.end(), [&](const Tier& t) { return value < t.limit; });
  const std::int64_t step = tier == tiers.end() ? std::prev(tiers.end())->step : tier->step;
  return std::max(least, static_cast<std::int64_t>(std::ceil(value / static_cast<double>(step))) * step);
}
}  // namespace

bool is_trtllm_bench(const std::vector<std::string>& words) {
  return std::find(words.begin(), words.end(), "trtllm-bench") != words.end();
}

TrtllmBench split_trtllm_bench(const std::vector<std::string>& words) {
  TrtllmBench b;
  std::size_t i = 0;
  for (; i < words.size() && words[i] != "trtllm-bench"; ++i) b.dropped.push_back(words[i]);  // a launcher (mpirun -n 8)
  ++i;
  // The benchmark's global options come before its subcommand.
  for (; i < words.size() && is_option(words[i]); ++i) {
    const auto [name, inline_value] = split_flag(words[i]);
    const std::optional<std::string> value = flag_value(words, i, inline_value);
    if (!value) throw InputError("", name, "expected a value after it");
    if (name == "--model" || name == "-m") {
      b.model_id = *value;
    } else if (name == "--model_path") {
      b.model_path = *value;
    } else {
      b.dropped.push_back(name + " " + *value);
    }
  }
  if (i >= words.size()) throw InputError("", "trtllm-bench", "expected the throughput or latency subcommand after its global options");
  if (words[i] != "throughput" && words[i] != "latency") {
    throw InputError("", "trtllm-bench", "the throughput and latency subcommands are modelled, got \"" + words[i] + "\"");
  }
  b.latency = words[i] == "latency";
  const std::string model = b.model_path.empty() ? b.model_id : b.model_path;
  if (model.empty()) throw InputError("", "trtllm-bench", "no model: expected --model (or --model_path) before " + words[i]);
  b.serve_command = {"trtllm-serve", model};
  for (++i; i < words.size(); ++i) {
    if (is_option(words[i]) && b.latency) refuse_throughput_only(split_flag(words[i]).name);
    if (is_option(words[i]) && is_bench_option(split_flag(words[i]).name)) {
      read_bench_option(words, i, b);
      continue;
    }
    b.serve_command.push_back(words[i]);  // trtllm-serve's own options and their values
  }
  return b;
}

BenchDataset read_bench_dataset(const std::string& path) {
  refuse_device(path);
  std::ifstream in(path);
  if (!in) throw InputError(path, "", "cannot open the benchmark's dataset");
  BenchDataset d;
  double prompts = 0, outputs = 0;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = "line " + std::to_string(number);
    const nlohmann::json row = parse_json_text(line, path + ", " + where);
    if (!row.is_object() || !row.contains("input_ids") || !row["input_ids"].is_array() || row["input_ids"].empty()) {
      throw InputError(path, "", where + ": expected the prompt's token ids as \"input_ids\" (prepare_dataset.py writes them; a text "
                                         "prompt's tokens cannot be counted without its tokenizer)");
    }
    if (!row.contains("output_tokens") || !row["output_tokens"].is_number_integer() || row["output_tokens"].get<std::int64_t>() < 1) {
      throw InputError(path, "", where + ": expected \"output_tokens\", a whole number of at least 1");
    }
    const auto prompt = static_cast<std::int64_t>(row["input_ids"].size());
    const std::int64_t output = row["output_tokens"].get<std::int64_t>();
    if (d.requests == 0) {
      d.prompt = prompt;
      d.output = output;
    }
    d.uniform = d.uniform && prompt == d.prompt && output == d.output;
    d.longest_prompt = std::max(d.longest_prompt, prompt);
    prompts += static_cast<double>(prompt);
    outputs += static_cast<double>(output);
    ++d.requests;
  }
  if (d.requests == 0) throw InputError(path, "", "the dataset holds no requests");
  d.mean_prompt = prompts / static_cast<double>(d.requests);
  d.mean_output = outputs / static_cast<double>(d.requests);
  return d;
}

BenchEngineSetting bench_engine_setting(const BenchModel& m, double gpu_memory_gib, std::int64_t tp, std::int64_t pp,
                                        double mean_prompt, double mean_output, double kv_fraction) {
  // Each TP rank holds at least one KV head.
  const double kv_heads = static_cast<double>(std::max(tp, m.kv_heads));
  const double gib_per_token = 2 * static_cast<double>(m.layers) * kv_heads * static_cast<double>(m.head_dim) * m.kv_bytes / kGiB;
  const double weights_gib = m.parameters * m.weight_bytes / kGiB;
  const double cache_gib = (gpu_memory_gib * static_cast<double>(tp * pp) - weights_gib) * kv_fraction;
  const double requests = cache_gib / (gib_per_token * (mean_prompt + mean_output));
  const double batch = std::min(requests, 4096.0) / static_cast<double>(pp);
  const double tokens = std::min(batch * (1 + mean_prompt / mean_output), 32768.0);
  BenchEngineSetting s;
  constexpr double kAbove = std::numeric_limits<double>::infinity();
  s.max_batch_size = rounded_up(batch, {{256, 32}, {1024, 128}, {kAbove, 256}}, 64);
  s.max_num_tokens = rounded_up(tokens, {{4096, 256}, {8192, 512}, {kAbove, 1024}}, 2048);
  return s;
}

namespace {
// The checkpoint's quantization: ModelOpt's hf_quant_config.json beside a local checkpoint,
// else what its name says (ModelOpt's published "-FP8" checkpoints quantize the KV cache too).
void apply_quantization(const TrtllmBench& b, nlohmann::json& serving, Imported& r) {
  const std::string folder = b.model_path.empty() ? b.model_id : b.model_path;
  std::string weights, cache;
  std::error_code error;
  const std::filesystem::path config = std::filesystem::path(folder) / "hf_quant_config.json";
  if (std::filesystem::exists(config, error)) {
    const nlohmann::json q = load_json_file(config.string()).value("quantization", nlohmann::json::object());
    weights = q.is_object() ? lower(q.value("quant_algo", "")) : "";
    cache = q.is_object() && q.contains("kv_cache_quant_algo") && q["kv_cache_quant_algo"].is_string() ? lower(q["kv_cache_quant_algo"].get<std::string>()) : "";
    r.mapped.push_back(config.string() + ": quant_algo " + weights + ", kv_cache_quant_algo " + (cache.empty() ? "none" : cache));
  } else {
    const std::string name = lower(b.model_id.empty() ? folder : b.model_id);
    if (name.ends_with("-fp8")) {
      weights = "fp8";
      if (name.rfind("nvidia/", 0) == 0) cache = "fp8";
      r.assumed.push_back("an FP8 checkpoint, by its name: fp8 weights and GEMMs" + std::string(cache.empty() ? "" : ", an fp8 KV cache (as ModelOpt exports them)"));
    } else if (name.ends_with("-fp4") || name.find("nvfp4") != std::string::npos) {
      weights = "nvfp4";
    }
  }
  if (weights.find("fp4") != std::string::npos || weights.find("w4a") != std::string::npos) {
    throw InputError(folder, "", "an FP4 checkpoint: foresight does not model FP4 GEMMs");
  }
  if (weights.rfind("fp8", 0) == 0) serving["dtype"] = "fp8";
  if (cache.rfind("fp8", 0) == 0 && !serving.contains("kv_dtype")) serving["kv_dtype"] = "fp8";
}

BenchModel bench_model(const ModelArch& model, const nlohmann::json& serving) {
  BenchModel m;
  m.parameters = count_parameters(model).total;
  m.weight_bytes = serving.value("dtype", "bf16") == "fp8" ? 1.0 : 2.0;
  const std::string kv = serving.value("kv_dtype", "bf16");
  m.kv_bytes = kv == "fp8" ? 1.0 : kv == "int8" ? 1.0 + 4.0 / 64 : kv == "int4" ? 0.5 + 4.0 / 64 : 2.0;
  m.layers = model.layers;
  m.kv_heads = model.kv_heads;
  m.head_dim = model.head_dim;
  return m;
}
}  // namespace

namespace {
// The dataset's requests as the traffic: every one at once, at most --concurrency outstanding
// (latency's default: one).
void apply_bench_traffic(const TrtllmBench& b, const BenchDataset& data, nlohmann::json& serving, Imported& r) {
  // --num_requests takes the dataset's first requests.
  const std::int64_t requests = std::min(b.num_requests.value_or(data.requests), data.requests);
  nlohmann::json traffic = {{"arrival", "instant"}};
  if (data.uniform) {
    traffic["requests"] = requests;
    traffic["prompt"] = {{"tokens", data.prompt}};
    traffic["output"] = {{"tokens", data.output}};
  } else {
    traffic["trace"] = std::filesystem::absolute(b.dataset).string();
    if (requests < data.requests) traffic["requests"] = requests;
  }
  const std::optional<std::int64_t> concurrency = b.latency ? std::optional<std::int64_t>(b.concurrency.value_or(1)) : b.concurrency;
  if (concurrency) traffic["max_concurrency"] = *concurrency;
  serving["traffic"] = traffic;
  r.mapped.push_back("--dataset " + b.dataset + " -> serving.traffic: " + std::to_string(requests) + " requests at once" +
                     (data.uniform ? ", " + std::to_string(data.prompt) + " prompt and " + std::to_string(data.output) + " output tokens each"
                                   : " as a trace (their own lengths)") +
                     (concurrency ? ", at most " + std::to_string(*concurrency) + " outstanding" : ""));
}

std::string sizing_note(const GpuSpec& gpu, double fraction, const BenchDataset& data) {
  return "trtllm-bench's sizing for this model on " + gpu.name + " (the memory CUDA reports; trtllm-bench reads NVML's total, a few "
         "hundred MiB more) with a cache fraction of " + number_text(fraction) + " and the dataset's mean prompt " +
         number_text(std::round(data.mean_prompt)) + " and output " + number_text(std::round(data.mean_output));
}
}  // namespace

void apply_trtllm_bench(const TrtllmBench& b, const GpuSpec& gpu, const ModelArch& model, Imported& r) {
  const std::string subcommand = b.latency ? "latency" : "throughput";
  if (b.dataset.empty()) {
    throw InputError("", "trtllm-bench " + subcommand, "expected --dataset: its requests are the benchmark's traffic and size its engine");
  }
  const BenchDataset data = read_bench_dataset(b.dataset);
  nlohmann::json& serving = r.scenario["serving"];
  apply_quantization(b, serving, r);
  if (b.latency) {
    serving["capacity_scheduler_policy"] = "GUARANTEED_NO_EVICT";
    serving["enable_chunked_prefill"] = false;
    r.mapped.push_back("latency -> one sequence at a time (max_batch_size 1), no chunked context, GUARANTEED_NO_EVICT, CUDA graphs: "
                       "the settings trtllm-bench latency forces");
  }
  if (b.scheduler_policy) serving["capacity_scheduler_policy"] = *b.scheduler_policy;
  if (!serving.contains("enable_chunked_prefill")) {
    serving["enable_chunked_prefill"] = b.chunked_context;
    if (b.chunked_context) r.assumed.push_back("chunked context, trtllm-bench's default in its recent releases (--disable_chunked_context turns it off)");
  }
  apply_bench_traffic(b, data, serving, r);

  // The engine sizes trtllm-bench picks where neither the command nor its YAML gives them.
  const bool batch_given = serving.contains("max_batch_size") && !b.latency, tokens_given = serving.contains("max_num_tokens");
  if (batch_given && tokens_given) return;
  const double fraction = serving.value("kv_cache_free_gpu_mem_fraction", 0.9);
  const BenchEngineSetting s = bench_engine_setting(bench_model(model, serving), gpu.usable_memory_bytes() / kGiB,
                                                    serving.value("tp", std::int64_t{1}), serving.value("pp", std::int64_t{1}),
                                                    data.mean_prompt, data.mean_output, fraction);
  const std::int64_t sized_batch = batch_given ? serving["max_batch_size"].get<std::int64_t>() : s.max_batch_size;
  std::int64_t tokens = tokens_given ? serving["max_num_tokens"].get<std::int64_t>() : s.max_num_tokens;
  // Without chunked context a prompt must fit whole: trtllm-bench raises its budget to the
  // longest prompt beside a full batch of decodes (the batch it sized, latency's too).
  if (!tokens_given && !serving["enable_chunked_prefill"].get<bool>()) tokens = std::max(tokens, data.longest_prompt + sized_batch);
  const std::int64_t batch = b.latency ? 1 : sized_batch;
  serving["max_batch_size"] = batch;
  serving["max_num_tokens"] = tokens;
  if (!serving.contains("cuda_graph_max_bs") || b.latency) serving["cuda_graph_max_bs"] = batch;  // graphs up to it, padded
  r.assumed.push_back((b.latency ? "max_num_tokens " + std::to_string(tokens) + ": "
                                 : "max_batch_size " + std::to_string(batch) + ", max_num_tokens " + std::to_string(tokens) +
                                       " and CUDA graphs up to that batch: ") +
                      sizing_note(gpu, fraction, data));
}

}  // namespace foresight
