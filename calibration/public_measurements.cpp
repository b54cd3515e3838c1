#include "calibration/public_measurements.hpp"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "models/transformer_ops.hpp"
#include "sim/input/csv_reader.hpp"
#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"

namespace foresight {
namespace {
double positive_field(const nlohmann::json& config, const char* key, const std::string& file) {
  if (!config.contains(key) || !config[key].is_number() || config[key].get<double>() <= 0) {
    throw InputError(file, key, "expected a positive number");
  }
  return config[key].get<double>();
}

double positive_cell(const CsvReader& reader, const std::vector<std::string>& cells, std::size_t column, std::string_view name) {
  try {
    std::size_t used = 0;
    const double value = std::stod(cells.at(column), &used);
    if (used == cells.at(column).size() && value > 0) return value;
  } catch (const std::exception&) {
  }
  throw InputError(reader.path(), "", "line " + std::to_string(reader.line()) + ", column " + std::string(name) + ": expected a positive number");
}

std::int64_t count_cell(const CsvReader& reader, const std::vector<std::string>& cells, std::size_t column, std::string_view name) {
  return static_cast<std::int64_t>(positive_cell(reader, cells, column, name));
}

// FLOPs per element and tensors streamed (read or written) per element of NeuSight's
// elementwise ops: binary ops read two tensors, "u" ops take a scalar.
struct ElementwiseCost {
  const char* name;
  double flops;
  double tensors;
};
constexpr ElementwiseCost kElementwise[] = {
    {"add", 1, 3}, {"mul", 1, 3}, {"div", 1, 3}, {"pow", 2, 3}, {"addu", 1, 2}, {"mulu", 1, 2}, {"divu", 1, 2},
    {"powu", 2, 2}, {"relu", 1, 2}, {"tanh", 5, 2}, {"gelu", 8, 2}, {"ln", 8, 2}, {"softmax", 5, 2},
};

Op memory_op(const std::string& name, double elements, const ElementwiseCost& cost) {
  Op op;
  op.name = name;
  op.kind = name == "ln" ? OpClass::kNorm : OpClass::kElementwise;
  op.dtype = Dtype::kFp32;
  op.flops = cost.flops * elements;
  op.bytes = cost.tensors * elements * 4;
  return op;
}

// Vidur's column for each op foresight builds in a decoder layer.
struct VidurColumn {
  const char* column;
  const char* op;
};
constexpr VidurColumn kVidurColumns[] = {
    {"time_stats.input_layernorm.median", "attn.norm"},  {"time_stats.attn_pre_proj.median", "attn.qkv"},
    {"time_stats.attn_rope.median", "attn.rope"},        {"time_stats.attn_post_proj.median", "attn.out"},
    {"time_stats.post_attention_layernorm.median", "mlp.norm"}, {"time_stats.mlp_up_proj.median", "mlp.gate_up"},
    {"time_stats.mlp_act.median", "mlp.act"},            {"time_stats.mlp_down_proj.median", "mlp.down"},
    {"time_stats.add.median", "attn.residual"},
};

const Op& find_op(const std::vector<Op>& ops, std::string_view name) {
  for (const Op& op : ops) {
    if (op.name == name) return op;
  }
  throw std::logic_error("the layer has no op " + std::string(name));
}
}  // namespace

void MeasuredKernels::add(std::vector<KernelSample> more) {
  samples.insert(samples.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
}

DeviceTable load_neusight_devices(const std::string& folder) {
  DeviceTable devices;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    const std::string text = read_input_file(path.string());
    nlohmann::json config;
    try {
      config = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(path.string(), "", std::string("not JSON: ") + e.what());
    }
    if (!config.contains("Device") || !config["Device"].is_string()) throw InputError(path.string(), "Device", "expected a string");
    GpuSpec gpu;
    gpu.name = gpu.description = config["Device"].get<std::string>();
    // FP32 GFLOP/s; AMD's configs give the matrix cores' figure apart.
    gpu.peak_flops[static_cast<std::size_t>(Dtype::kFp32)] =
        positive_field(config, config.contains("SingleFLOPsMM") ? "SingleFLOPsMM" : "SingleFLOPs", path.string()) * 1e9;
    gpu.memory_bandwidth = positive_field(config, "Mem_Bw", path.string()) * 1e9;  // GB/s
    gpu.sm_count = static_cast<int>(positive_field(config, "Num_Sm", path.string()));
    gpu.l2_bytes = positive_field(config, "L2Cache", path.string()) * 1e6;  // MB
    gpu.source = "NeuSight device config " + path.filename().string();
    devices.emplace(gpu.name, gpu);
  }
  return devices;
}

std::vector<KernelSample> load_neusight_gemms(const std::string& csv) {
  CsvReader reader(csv, "measurements");
  const std::size_t name = reader.column("OPName"), latency = reader.column("Latency"), device = reader.column("Device");
  const std::size_t b = reader.column("B"), m = reader.column("M"), n = reader.column("N"), k = reader.column("K");
  std::vector<KernelSample> samples;
  std::vector<std::string> cells;
  while (reader.next(cells)) {
    const GemmShape shape{count_cell(reader, cells, m, "M"), count_cell(reader, cells, n, "N"), count_cell(reader, cells, k, "K"),
                          count_cell(reader, cells, b, "B")};
    KernelSample s{gemm_op(cells.at(name), shape, Dtype::kFp32, Phase::kForward), cells.at(device),
                   positive_cell(reader, cells, latency, "Latency") * 1e-3, "neusight"};
    samples.push_back(std::move(s));
  }
  return samples;
}

std::vector<KernelSample> load_neusight_memory_ops(const std::string& csv) {
  CsvReader reader(csv, "measurements");
  const std::size_t name = reader.column("OPName"), latency = reader.column("Latency"), device = reader.column("Device");
  const std::size_t b = reader.column("B"), h = reader.column("H");
  std::vector<KernelSample> samples;
  std::vector<std::string> cells;
  while (reader.next(cells)) {
    const std::string& op = cells.at(name);
    const auto* cost = std::find_if(std::begin(kElementwise), std::end(kElementwise), [&](const ElementwiseCost& c) { return op == c.name; });
    if (cost == std::end(kElementwise)) {
      throw InputError(csv, "", "line " + std::to_string(reader.line()) + ", column OPName: unknown op \"" + op + "\"");
    }
    const double elements = positive_cell(reader, cells, b, "B") * positive_cell(reader, cells, h, "H");
    samples.push_back({memory_op(op, elements, *cost), cells.at(device), positive_cell(reader, cells, latency, "Latency") * 1e-3, "neusight"});
  }
  return samples;
}

std::vector<KernelSample> load_vidur_layer_ops(const std::string& csv, const ModelArch& model, const GpuSpec& gpu) {
  CsvReader reader(csv, "measurements");
  const std::size_t tokens = reader.column("num_tokens"), tp = reader.column("num_tensor_parallel_workers");
  std::vector<std::size_t> columns;
  for (const VidurColumn& c : kVidurColumns) columns.push_back(reader.column(c.column));
  std::vector<KernelSample> samples;
  std::vector<std::string> cells;
  while (reader.next(cells)) {
    ShapeConfig shape;
    shape.micro_batch = 1;
    shape.sequence = count_cell(reader, cells, tokens, "num_tokens");
    shape.tp = count_cell(reader, cells, tp, "num_tensor_parallel_workers");
    shape.dtype = Dtype::kFp16;
    const ModelOps ops = build_model_ops(model, shape);
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const double ms = positive_cell(reader, cells, columns[i], kVidurColumns[i].column);
      samples.push_back({find_op(ops.layer_forward, kVidurColumns[i].op), gpu.description, ms * 1e-3, "vidur"});
    }
  }
  return samples;
}

std::vector<KernelSample> load_vidur_attention(const std::string& csv, const GpuSpec& gpu) {
  CsvReader reader(csv, "measurements");
  const std::size_t heads = reader.column("n_q_head"), kv_heads = reader.column("n_kv_head"), width = reader.column("n_embd");
  const std::size_t tp = reader.column("num_tensor_parallel_workers"), batch = reader.column("batch_size");
  const std::size_t chunk = reader.column("prefill_chunk_size"), cached = reader.column("kv_cache_size");
  const std::size_t prefill = reader.column("is_prefill");
  const std::size_t prefill_time = reader.column("time_stats.attn_prefill.median");
  const std::size_t decode_time = reader.column("time_stats.attn_decode.median");
  std::vector<KernelSample> samples;
  std::vector<std::string> cells;
  while (reader.next(cells)) {
    const std::int64_t ranks = count_cell(reader, cells, tp, "num_tensor_parallel_workers");
    const std::int64_t q = count_cell(reader, cells, heads, "n_q_head");
    const std::int64_t head_dim = count_cell(reader, cells, width, "n_embd") / q;
    const std::int64_t kv = std::max<std::int64_t>(1, count_cell(reader, cells, kv_heads, "n_kv_head") / ranks);
    const std::int64_t b = count_cell(reader, cells, batch, "batch_size");
    const std::int64_t context = cells.at(cached) == "0" ? 0 : count_cell(reader, cells, cached, "kv_cache_size");
    if (cells.at(prefill) == "True") {
      const std::int64_t c = count_cell(reader, cells, chunk, "prefill_chunk_size");
      samples.push_back({prefill_attention_op(b, q / ranks, kv, head_dim, c, context, Dtype::kFp16), gpu.description,
                         positive_cell(reader, cells, prefill_time, "time_stats.attn_prefill.median") * 1e-3, "vidur"});
    } else {
      samples.push_back({decode_attention_op(b, q / ranks, kv, head_dim, b * context, Dtype::kFp16, 2.0), gpu.description,
                         positive_cell(reader, cells, decode_time, "time_stats.attn_decode.median") * 1e-3, "vidur"});
    }
  }
  return samples;
}

MeasuredKernels load_public_measurements(const std::string& data_folder) {
  const std::filesystem::path data(data_folder), neusight = data / "neusight", vidur = data / "vidur";
  std::error_code error;
  if (!std::filesystem::is_directory(neusight / "device_configs", error)) {
    throw InputError((neusight / "device_configs").string(), "--data", "no NeuSight device configs here; point --data at the public data folder");
  }
  MeasuredKernels kernels;
  kernels.devices = load_neusight_devices((neusight / "device_configs").string());
  const auto read = [&](const std::filesystem::path& file, auto loader) {
    if (!std::filesystem::exists(file, error)) return;
    std::vector<KernelSample> samples = loader(file.string());
    std::erase_if(samples, [&](const KernelSample& s) { return !kernels.devices.contains(s.device); });
    kernels.add(std::move(samples));
    kernels.sources.push_back(file.string());
  };
  for (const char* file : {"test_linear.csv", "test_bmm.csv"}) read(neusight / file, load_neusight_gemms);
  for (const char* file : {"test_elem.csv", "test_ln.csv", "test_softmax.csv"}) read(neusight / file, load_neusight_memory_ops);
  const struct { const char* file; const char* gpu; } vidur_gpus[] = {{"h100", "h100_sxm"}, {"a100", "a100_sxm_80gb"}, {"a40", "a40"}};
  for (const auto& [file, name] : vidur_gpus) {
    const GpuSpec& gpu = *find_builtin_gpu(name);
    kernels.devices.emplace(gpu.description, gpu);
    for (const auto& [model_file, model] : {std::pair{"Llama-2-7b-hf", "llama2_7b"}, std::pair{"Llama-2-70b-hf", "llama2_70b"}}) {
      read(vidur / (std::string("mlp_") + file + "_" + model_file + ".csv"),
           [&, model_name = model](const std::string& csv) { return load_vidur_layer_ops(csv, *find_builtin_model(model_name), gpu); });
    }
  }
  read(vidur / "attention_a100_llama2-70b-shapes_e2d00e9.csv",
       [&](const std::string& csv) { return load_vidur_attention(csv, *find_builtin_gpu("a100_sxm_80gb")); });
  return kernels;
}

}  // namespace foresight
