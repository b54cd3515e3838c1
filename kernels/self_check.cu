#include "kernels/self_check.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda_check.hpp"
#include "kernels/decode_attention.hpp"
#include "kernels/gemm_sweep.hpp"
#include "kernels/memory_sweep.hpp"

namespace foresight::kernels {
namespace {
using bf16 = __nv_bfloat16;

// Random values already rounded to bf16, so that the reference sees what the GPU sees.
std::vector<float> random_bf16_values(std::size_t count, std::mt19937& random) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& v : values) v = __bfloat162float(__float2bfloat16(uniform(random)));
  return values;
}

void to_device_bf16(const std::vector<float>& values, void* device) {
  std::vector<bf16> packed(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) packed[i] = __float2bfloat16(values[i]);
  check(cudaMemcpy(device, packed.data(), packed.size() * sizeof(bf16), cudaMemcpyHostToDevice), "cudaMemcpy (check input)");
}

std::vector<double> from_device_bf16(const void* device, std::size_t count) {
  std::vector<bf16> packed(count);
  check(cudaMemcpy(packed.data(), device, count * sizeof(bf16), cudaMemcpyDeviceToHost), "cudaMemcpy (check output)");
  std::vector<double> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = __bfloat162float(packed[i]);
  return values;
}

// ||out - reference|| / ||reference||; NaN when either holds a NaN, so that it fails.
double relative_error(const std::vector<double>& out, const std::vector<double>& reference) {
  double difference = 0, norm = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    difference += (out[i] - reference[i]) * (out[i] - reference[i]);
    norm += reference[i] * reference[i];
  }
  return std::sqrt(difference / norm);
}

struct Verdicts {
  bool all_pass = true;
  void report(const std::string& what, double error, double tolerance) {
    const bool pass = error <= tolerance;  // false for NaN
    all_pass = all_pass && pass;
    std::printf("  %-52s relative error %.2e (tolerance %.0e)  %s\n", what.c_str(), error, tolerance, pass ? "pass" : "FAIL");
  }
};

std::vector<double> memory_reference(const MemoryCase& c, const std::vector<float>& in, const std::vector<float>& other) {
  const auto rows = static_cast<std::size_t>(c.rows), width = static_cast<std::size_t>(c.width);
  std::vector<double> out(rows * width);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* x = in.data() + r * width;
    double sum = 0, squares = 0, best = -INFINITY;
    for (std::size_t i = 0; i < width; ++i) {
      sum += x[i];
      squares += static_cast<double>(x[i]) * x[i];
      best = std::max(best, static_cast<double>(x[i]));
    }
    const double mean = c.kernel == "layernorm" ? sum / width : 0.0;
    const double scale = 1 / std::sqrt(squares / width - mean * mean + 1e-5);
    double exponentials = 0;
    for (std::size_t i = 0; i < width; ++i) exponentials += std::exp(x[i] - best);
    for (std::size_t i = 0; i < width; ++i) {
      double& y = out[r * width + i];
      if (c.kernel == "add") y = static_cast<double>(x[i]) + other[r * width + i];
      if (c.kernel == "rmsnorm" || c.kernel == "layernorm") y = (x[i] - mean) * scale * other[i];
      if (c.kernel == "softmax") y = std::exp(x[i] - best) / exponentials;
      if (c.kernel == "silu_mul") {
        const double gate = in[r * 2 * width + i], up = in[r * 2 * width + width + i];
        y = gate / (1 + std::exp(-gate)) * up;
      }
    }
  }
  return out;
}

void check_memory_kernels(KernelTimer& timer, std::mt19937& random, Verdicts& verdicts) {
  MemoryBench bench(timer);
  const MemoryCase cases[] = {{"add", 3, 1024},       {"silu_mul", 5, 4096},  {"rmsnorm", 7, 1024}, {"rmsnorm", 3, 16384},
                              {"layernorm", 5, 4096}, {"softmax", 6, 2048}, {"softmax", 2, 16384}};
  for (const MemoryCase& c : cases) {
    const std::size_t n = static_cast<std::size_t>(c.rows * c.width);
    bench.reserve(c);
    const std::vector<float> in = random_bf16_values(c.kernel == "silu_mul" ? 2 * n : n, random);
    const std::vector<float> other = random_bf16_values(c.kernel == "add" ? n : static_cast<std::size_t>(c.width), random);
    to_device_bf16(in, bench.buffer(0));
    to_device_bf16(other, bench.buffer(1));
    bench.enqueue(c, nullptr);
    check(cudaDeviceSynchronize(), c.kernel.c_str());
    verdicts.report(c.kernel + " " + std::to_string(c.rows) + "x" + std::to_string(c.width),
                    relative_error(from_device_bf16(bench.buffer(2), n), memory_reference(c, in, other)), 1e-2);
  }
}

std::vector<double> decode_reference(const DecodeCase& c, const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                                     const std::vector<int>& table) {
  const std::int64_t d = DecodeCase::kHeadDim, group = c.heads / c.kv_heads;
  std::vector<double> out(static_cast<std::size_t>(c.sequences * c.heads * d));
  for (std::int64_t s = 0; s < c.sequences; ++s) {
    for (std::int64_t h = 0; h < c.heads; ++h) {
      const float* query = q.data() + (s * c.heads + h) * d;
      std::vector<double> scores(static_cast<std::size_t>(c.context));
      std::vector<std::size_t> rows(scores.size());
      double best = -INFINITY;
      for (std::int64_t t = 0; t < c.context; ++t) {
        const std::int64_t block = table[static_cast<std::size_t>(s * c.blocks_per_sequence() + t / DecodeCase::kBlockTokens)];
        rows[t] = static_cast<std::size_t>(((block * DecodeCase::kBlockTokens + t % DecodeCase::kBlockTokens) * c.kv_heads + h / group) * d);
        double dot = 0;
        for (std::int64_t i = 0; i < d; ++i) dot += static_cast<double>(query[i]) * k[rows[t] + i];
        scores[t] = dot / std::sqrt(static_cast<double>(d));
        best = std::max(best, scores[t]);
      }
      double total = 0;
      for (double& score : scores) total += (score = std::exp(score - best));
      for (std::int64_t i = 0; i < d; ++i) {
        double value = 0;
        for (std::int64_t t = 0; t < c.context; ++t) value += scores[t] * v[rows[t] + i];
        out[static_cast<std::size_t>((s * c.heads + h) * d + i)] = value / total;
      }
    }
  }
  return out;
}

void check_decode_attention(KernelTimer& timer, std::mt19937& random, Verdicts& verdicts) {
  DecodeAttentionBench bench(timer);
  // Group sizes 1, 2, 4 and 8; one partition, several, and a last partition of a few tokens;
  // contexts that end inside a cache block.
  const DecodeCase cases[] = {{2, 300, 4, 4}, {3, 1000, 8, 2}, {2, 1500, 16, 2}, {1, 5, 8, 1}, {2, 1030, 4, 2}};
  for (const DecodeCase& c : cases) {
    bench.prepare(c);
    const auto query_values = static_cast<std::size_t>(c.sequences * c.heads * DecodeCase::kHeadDim);
    const auto cache_values = static_cast<std::size_t>(c.sequences * c.blocks_per_sequence() * DecodeCase::kBlockTokens * c.kv_heads * DecodeCase::kHeadDim);
    const std::vector<float> q = random_bf16_values(query_values, random), k = random_bf16_values(cache_values, random),
                             v = random_bf16_values(cache_values, random);
    to_device_bf16(q, bench.buffer(DecodeAttentionBench::kQuery));
    to_device_bf16(k, bench.buffer(DecodeAttentionBench::kKeys));
    to_device_bf16(v, bench.buffer(DecodeAttentionBench::kValues));
    std::vector<int> table(static_cast<std::size_t>(c.sequences * c.blocks_per_sequence()));
    check(cudaMemcpy(table.data(), bench.buffer(DecodeAttentionBench::kBlockTable), table.size() * sizeof(int), cudaMemcpyDeviceToHost), "block table");
    const std::vector<double> reference = decode_reference(c, q, k, v, table);
    for (const DecodeConfiguration& configuration : decode_configurations()) {
      check(cudaMemset(bench.buffer(DecodeAttentionBench::kOut), 0xff, query_values * sizeof(bf16)), "poisoning the output");  // NaN
      bench.enqueue(c, configuration, nullptr);
      check(cudaDeviceSynchronize(), "decode attention");
      verdicts.report(std::string(configuration.name) + " " + std::to_string(c.sequences) + "x" + std::to_string(c.context) + ", " +
                          std::to_string(c.heads) + "/" + std::to_string(c.kv_heads) + " heads",
                      relative_error(from_device_bf16(bench.buffer(DecodeAttentionBench::kOut), query_values), reference), 1e-2);
    }
  }
}

// Host values representable in the GEMM's input type, and their bytes for the device.
std::vector<float> gemm_input(const std::string& dtype, std::size_t count, std::mt19937& random, std::vector<unsigned char>& bytes) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(count);
  const std::size_t width = dtype == "fp8" ? 1 : dtype == "tf32" ? 4 : 2;
  bytes.resize(count * width);
  for (std::size_t i = 0; i < count; ++i) {
    const float x = uniform(random);
    if (dtype == "fp8") {
      const __nv_fp8_e4m3 e(x);
      values[i] = static_cast<float>(e);
      std::memcpy(&bytes[i], &e, 1);
    } else if (dtype == "fp16") {
      const __half h = __float2half(x);
      values[i] = __half2float(h);
      std::memcpy(&bytes[i * 2], &h, 2);
    } else if (dtype == "tf32") {
      values[i] = x;
      std::memcpy(&bytes[i * 4], &x, 4);
    } else {
      const bf16 b = __float2bfloat16(x);
      values[i] = __bfloat162float(b);
      std::memcpy(&bytes[i * 2], &b, 2);
    }
  }
  return values;
}

std::vector<double> gemm_output(const std::string& dtype, const void* device, std::size_t count) {
  if (dtype == "fp16") {
    std::vector<__half> packed(count);
    check(cudaMemcpy(packed.data(), device, count * 2, cudaMemcpyDeviceToHost), "cudaMemcpy (GEMM output)");
    std::vector<double> values(count);
    for (std::size_t i = 0; i < count; ++i) values[i] = __half2float(packed[i]);
    return values;
  }
  if (dtype == "tf32") {
    std::vector<float> packed(count);
    check(cudaMemcpy(packed.data(), device, count * 4, cudaMemcpyDeviceToHost), "cudaMemcpy (GEMM output)");
    return {packed.begin(), packed.end()};
  }
  return from_device_bf16(device, count);  // bf16, and fp8's bf16 output
}

void check_gemms(KernelTimer& timer, std::mt19937& random, bool fp8, Verdicts& verdicts) {
  GemmBench bench(timer);
  std::vector<std::string> dtypes = {"bf16", "fp16", "tf32"};
  if (fp8) dtypes.push_back("fp8");
  for (const std::string& dtype : dtypes) {
    for (const GemmCase& c : {GemmCase{dtype, 64, 96, 128, 1}, GemmCase{dtype, 48, 80, 256, 3}}) {
      if (dtype == "fp8" && c.batch > 1) continue;
      bench.reserve(c);
      const auto a_count = static_cast<std::size_t>(c.k * c.m * c.batch), b_count = static_cast<std::size_t>(c.k * c.n * c.batch);
      std::vector<unsigned char> a_bytes, b_bytes;
      const std::vector<float> a = gemm_input(dtype, a_count, random, a_bytes), b = gemm_input(dtype, b_count, random, b_bytes);
      check(cudaMemcpy(bench.operand(0), a_bytes.data(), a_bytes.size(), cudaMemcpyHostToDevice), "cudaMemcpy (A)");
      check(cudaMemcpy(bench.operand(1), b_bytes.data(), b_bytes.size(), cudaMemcpyHostToDevice), "cudaMemcpy (B)");
      bench.prepare(c)->enqueue(nullptr);
      check(cudaDeviceSynchronize(), "GEMM");
      // Y = X W^T per batch, X (m x k), W (n x k) and Y (m x n) row-major.
      std::vector<double> reference(static_cast<std::size_t>(c.m * c.n * c.batch));
      for (std::int64_t batch = 0; batch < c.batch; ++batch) {
        for (std::int64_t i = 0; i < c.m; ++i) {
          for (std::int64_t j = 0; j < c.n; ++j) {
            double dot = 0;
            for (std::int64_t l = 0; l < c.k; ++l) dot += static_cast<double>(a[(batch * c.m + i) * c.k + l]) * b[(batch * c.n + j) * c.k + l];
            reference[static_cast<std::size_t>((batch * c.m + i) * c.n + j)] = dot;
          }
        }
      }
      verdicts.report("gemm " + dtype + " " + std::to_string(c.m) + "x" + std::to_string(c.n) + "x" + std::to_string(c.k) + " batch " + std::to_string(c.batch),
                      relative_error(gemm_output(dtype, bench.operand(2), reference.size()), reference), 1e-2);
    }
  }
}
}  // namespace

bool run_self_check(KernelTimer& timer, bool fp8) {
  std::mt19937 random(20261130);
  Verdicts verdicts;
  std::printf("foresight-kernels --check: each kernel against a float64 reference on random inputs\n");
  check_memory_kernels(timer, random, verdicts);
  check_decode_attention(timer, random, verdicts);
  check_gemms(timer, random, fp8, verdicts);
  std::printf("%s\n", verdicts.all_pass ? "all kernels compute what they should" : "some kernels are WRONG: do not trust their timings");
  return verdicts.all_pass;
}

}  // namespace foresight::kernels
