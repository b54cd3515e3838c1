#include "kernels/gemm_sweep.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include "kernels/cuda_check.hpp"

namespace foresight::kernels {
namespace {
struct Layer {
  std::int64_t hidden, heads, kv_heads, head_dim, ffn;
  bool gated;
};
// Llama-3 8B, 70B, 405B and GPT-3 175B.
constexpr Layer kLayers[] = {{4096, 32, 8, 128, 14336, true}, {8192, 64, 8, 128, 28672, true},
                             {16384, 128, 8, 128, 53248, true}, {12288, 96, 96, 128, 49152, false}};

struct Types {
  cudaDataType_t ab, cd;
  cublasComputeType_t compute;
  std::size_t ab_bytes, cd_bytes;
};

Types types_of(const std::string& dtype) {
  if (dtype == "fp16") return {CUDA_R_16F, CUDA_R_16F, CUBLAS_COMPUTE_32F, 2, 2};
  if (dtype == "tf32") return {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32, 4, 4};
  if (dtype == "fp8") return {CUDA_R_8F_E4M3, CUDA_R_16BF, CUBLAS_COMPUTE_32F, 1, 2};
  return {CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, 2, 2};
}

// Small values of every dtype's bit patterns: exponents near 1, so no NaN or Inf.
__global__ void fill_small(std::uint8_t* bytes, std::size_t count) {
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < count; i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    bytes[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 24) & 0x3b;
  }
}

void add_projections(std::vector<GemmCase>& cases, const std::string& dtype, const Layer& l, std::int64_t tp, std::int64_t tokens,
                     bool backward) {
  const std::int64_t q = l.heads * l.head_dim, kv = l.kv_heads * l.head_dim;
  const std::int64_t projections[4][2] = {{(q + 2 * kv) / tp, l.hidden}, {l.hidden, q / tp}, {(l.gated ? 2 : 1) * l.ffn / tp, l.hidden},
                                          {l.hidden, l.ffn / tp}};
  for (const auto& [out, in] : projections) {
    cases.push_back({dtype, tokens, out, in, 1});
    if (!backward) continue;
    cases.push_back({dtype, tokens, in, out, 1});  // data gradient: dX = dY W^T
    cases.push_back({dtype, in, out, tokens, 1});  // weight gradient: dW = X^T dY
  }
}
}  // namespace

std::vector<GemmCase> gemm_cases(bool quick, bool fp8) {
  std::vector<GemmCase> cases;
  std::vector<std::string> dtypes = quick ? std::vector<std::string>{"bf16"} : std::vector<std::string>{"bf16", "fp16", "tf32"};
  if (fp8) dtypes.push_back("fp8");
  const std::vector<std::int64_t> tps = quick ? std::vector<std::int64_t>{1, 8} : std::vector<std::int64_t>{1, 2, 4, 8};
  const std::vector<std::int64_t> tokens =
      quick ? std::vector<std::int64_t>{1, 64, 1024, 8192} : std::vector<std::int64_t>{1, 8, 32, 128, 512, 2048, 4096, 8192, 16384};
  for (const std::string& dtype : dtypes) {
    const bool backward = !quick && (dtype == "bf16" || dtype == "fp8");
    for (std::size_t l = 0; l < (quick ? 2u : std::size(kLayers)); ++l) {
      for (std::int64_t tp : tps) {
        for (std::int64_t t : tokens) add_projections(cases, dtype, kLayers[l], tp, t, backward && t >= 512);
      }
    }
  }
  // Attention's batched matmuls (unfused attention, MoE experts): QK^T per head.
  for (std::int64_t batch : {32, 64, 128}) {
    for (std::int64_t s : quick ? std::vector<std::int64_t>{1024} : std::vector<std::int64_t>{512, 1024, 2048, 4096}) {
      cases.push_back({"bf16", s, s, 128, batch});
    }
  }
  return cases;
}

GemmBench::GemmBench(KernelTimer& timer) : timer_(timer) {
  check(cublasLtCreate(&handle_), "cublasLtCreate");
  check(cudaMalloc(&workspace_, workspace_bytes_), "cudaMalloc (cuBLASLt workspace)");
}

GemmBench::~GemmBench() {
  for (void* p : operands_) cudaFree(p);
  cudaFree(workspace_);
  cublasLtDestroy(handle_);
}

void* GemmBench::buffer(int which, std::size_t bytes) {
  if (sizes_[which] < bytes) {
    cudaFree(operands_[which]);
    check(cudaMalloc(&operands_[which], bytes), "cudaMalloc (GEMM operand)");
    fill_small<<<1024, 256>>>(static_cast<std::uint8_t*>(operands_[which]), bytes);
    check(cudaDeviceSynchronize(), "filling a GEMM operand");
    sizes_[which] = bytes;
  }
  return operands_[which];
}

namespace {
std::size_t operand_bytes(const GemmCase& c, int which) {
  const Types t = types_of(c.dtype);
  const std::int64_t rows[3] = {c.k, c.k, c.m}, cols[3] = {c.m, c.n, c.n};
  return static_cast<std::size_t>(rows[which] * cols[which] * c.batch) * (which < 2 ? t.ab_bytes : t.cd_bytes);
}
}  // namespace

void GemmBench::reserve(const GemmCase& c) {
  for (int i = 0; i < 3; ++i) buffer(i, operand_bytes(c, i));
}

std::unique_ptr<PreparedGemm> GemmBench::prepare(const GemmCase& c) const {
  for (int i = 0; i < 3; ++i) {
    if (sizes_[i] < operand_bytes(c, i)) throw CudaFailure("a GEMM was prepared before its operands were reserved");
  }
  return std::make_unique<PreparedGemm>(handle_, c, operands_, workspace_, workspace_bytes_);
}

Spread GemmBench::run(const GemmCase& c, const TimingPlan& plan) {
  reserve(c);
  const std::unique_ptr<PreparedGemm> gemm = prepare(c);
  return timer_.time([&](cudaStream_t stream) { gemm->enqueue(stream); }, plan);
}

PreparedGemm::PreparedGemm(cublasLtHandle_t handle, const GemmCase& c, void* const operands[3], void* workspace, std::size_t workspace_bytes)
    : handle_(handle), operands_{operands[0], operands[1], operands[2]}, workspace_(workspace), workspace_bytes_(workspace_bytes) {
  const Types t = types_of(c.dtype);
  check(cublasLtMatmulDescCreate(&desc_, t.compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
  const cublasOperation_t transpose = CUBLAS_OP_T, keep = CUBLAS_OP_N;
  check(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof transpose), "TRANSA");
  check(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &keep, sizeof keep), "TRANSB");
  const std::int64_t shapes[3][3] = {{c.k, c.m, c.k}, {c.k, c.n, c.k}, {c.m, c.n, c.m}};  // rows, cols, leading dimension
  for (int i = 0; i < 3; ++i) {
    check(cublasLtMatrixLayoutCreate(&layouts_[i], i < 2 ? t.ab : t.cd, static_cast<std::uint64_t>(shapes[i][0]),
                                     static_cast<std::uint64_t>(shapes[i][1]), shapes[i][2]),
          "cublasLtMatrixLayoutCreate");
    if (c.batch > 1) {
      const int count = static_cast<int>(c.batch);
      const std::int64_t stride = shapes[i][0] * shapes[i][1];
      check(cublasLtMatrixLayoutSetAttribute(layouts_[i], CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count), "BATCH_COUNT");
      check(cublasLtMatrixLayoutSetAttribute(layouts_[i], CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride), "BATCH_OFFSET");
    }
  }
  cublasLtMatmulPreference_t preference;
  check(cublasLtMatmulPreferenceCreate(&preference), "cublasLtMatmulPreferenceCreate");
  check(cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_, sizeof workspace_bytes_),
        "MAX_WORKSPACE_BYTES");
  int found = 0;
  check(cublasLtMatmulAlgoGetHeuristic(handle_, desc_, layouts_[0], layouts_[1], layouts_[2], layouts_[2], preference, 1, &heuristic_, &found),
        "cublasLtMatmulAlgoGetHeuristic");
  cublasLtMatmulPreferenceDestroy(preference);
  if (found == 0) throw CudaFailure("cuBLASLt has no algorithm for a " + c.dtype + " GEMM");
}

PreparedGemm::~PreparedGemm() {
  for (cublasLtMatrixLayout_t layout : layouts_) cublasLtMatrixLayoutDestroy(layout);
  cublasLtMatmulDescDestroy(desc_);
}

void PreparedGemm::enqueue(cudaStream_t stream) const {
  const float alpha = 1, beta = 0;
  check(cublasLtMatmul(handle_, desc_, &alpha, operands_[0], layouts_[0], operands_[1], layouts_[1], &beta, operands_[2], layouts_[2],
                       operands_[2], layouts_[2], &heuristic_.algo, workspace_, workspace_bytes_, stream),
        "cublasLtMatmul");
}

}  // namespace foresight::kernels
