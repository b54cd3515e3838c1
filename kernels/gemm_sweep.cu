#include "kernels/gemm_sweep.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <algorithm>

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

// Uniform values in [-1, 1) from a hash of the index: tensor cores draw more power, and so
// run at lower clocks, on varied bits than on zeros or constants, so operands look like
// real activations and weights. Every value is finite in every dtype.
__device__ float uniform_value(std::size_t i, unsigned seed) {
  unsigned h = static_cast<unsigned>(i) * 2654435761u ^ static_cast<unsigned>(i >> 32) * 2246822519u ^ seed;
  h ^= h >> 15;
  h *= 2654435769u;
  h ^= h >> 13;
  return static_cast<float>(h >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

template <typename T>
__global__ void fill_uniform(T* values, std::size_t count, unsigned seed) {
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < count; i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    values[i] = T(uniform_value(i, seed));
  }
}

void fill_operand(void* data, std::size_t bytes, cudaDataType_t type, unsigned seed) {
  constexpr int kBlocks = 1024, kThreads = 256;
  switch (type) {
    case CUDA_R_16BF: fill_uniform<<<kBlocks, kThreads>>>(static_cast<__nv_bfloat16*>(data), bytes / 2, seed); break;
    case CUDA_R_16F: fill_uniform<<<kBlocks, kThreads>>>(static_cast<__half*>(data), bytes / 2, seed); break;
    case CUDA_R_8F_E4M3: fill_uniform<<<kBlocks, kThreads>>>(static_cast<__nv_fp8_e4m3*>(data), bytes, seed); break;
    default: fill_uniform<<<kBlocks, kThreads>>>(static_cast<float*>(data), bytes / 4, seed); break;
  }
  check(cudaGetLastError(), "filling a GEMM operand");
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

bool fp8_can_run(const GemmCase& c) { return c.m % 16 == 0 && c.n % 16 == 0 && c.k % 16 == 0; }

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
  // cuBLASLt's FP8 kernels need every dimension a multiple of 16 (as Transformer Engine
  // pads its inputs to), so FP8 decode-sized GEMMs are not measured.
  cases.erase(std::remove_if(cases.begin(), cases.end(), [](const GemmCase& c) { return c.dtype == "fp8" && !fp8_can_run(c); }), cases.end());
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

void* GemmBench::buffer(int which, std::size_t bytes, cudaDataType_t type) {
  if (sizes_[which] < bytes) {
    cudaFree(operands_[which]);
    operands_[which] = nullptr;
    check(cudaMalloc(&operands_[which], bytes), "cudaMalloc (GEMM operand)");
    sizes_[which] = bytes;
    filled_as_[which] = kUnfilled;
  }
  // C is only written (beta = 0); A and B hold values of their type, refilled when the type
  // changes, since another type's bits could read as NaN or Inf.
  if (which < 2 && filled_as_[which] != static_cast<int>(type)) {
    fill_operand(operands_[which], sizes_[which], type, static_cast<unsigned>(which) + 1);
    check(cudaDeviceSynchronize(), "filling a GEMM operand");
    filled_as_[which] = static_cast<int>(type);
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
  const Types t = types_of(c.dtype);
  for (int i = 0; i < 3; ++i) buffer(i, operand_bytes(c, i), i < 2 ? t.ab : t.cd);
}

std::unique_ptr<PreparedGemm> GemmBench::prepare(const GemmCase& c) const {
  const Types t = types_of(c.dtype);
  for (int i = 0; i < 3; ++i) {
    if (sizes_[i] < operand_bytes(c, i) || (i < 2 && filled_as_[i] != static_cast<int>(t.ab))) {
      throw CudaFailure("a GEMM was prepared before its operands were reserved");
    }
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
  // As nn.Linear calls cuBLAS for Y = X W^T with row-major X (m x k), W (n x k) and Y
  // (m x n): in cuBLAS's column-major terms Y^T = W X^T, an n x m product with W (stored
  // k x n) as the transposed A and X (stored k x m) as B. Swapping the two changes which
  // kernel cuBLASLt picks.
  const std::int64_t shapes[3][3] = {{c.k, c.n, c.k}, {c.k, c.m, c.k}, {c.n, c.m, c.n}};  // rows, cols, leading dimension
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
  const cublasStatus_t status =
      cublasLtMatmulAlgoGetHeuristic(handle_, desc_, layouts_[0], layouts_[1], layouts_[2], layouts_[2], preference, 1, &heuristic_, &found);
  cublasLtMatmulPreferenceDestroy(preference);
  if (status == CUBLAS_STATUS_NOT_SUPPORTED || (status == CUBLAS_STATUS_SUCCESS && found == 0)) {
    release();
    throw Unsupported("cuBLASLt has no algorithm for this " + c.dtype + " GEMM");
  }
  if (status != CUBLAS_STATUS_SUCCESS) release();
  check(status, "cublasLtMatmulAlgoGetHeuristic");
}

PreparedGemm::~PreparedGemm() { release(); }

void PreparedGemm::release() {
  for (cublasLtMatrixLayout_t& layout : layouts_) {
    if (layout != nullptr) cublasLtMatrixLayoutDestroy(layout);
    layout = nullptr;
  }
  if (desc_ != nullptr) cublasLtMatmulDescDestroy(desc_);
  desc_ = nullptr;
}

void PreparedGemm::enqueue(cudaStream_t stream) const {
  const float alpha = 1, beta = 0;
  check(cublasLtMatmul(handle_, desc_, &alpha, operands_[1], layouts_[0], operands_[0], layouts_[1], &beta, operands_[2], layouts_[2],
                       operands_[2], layouts_[2], &heuristic_.algo, workspace_, workspace_bytes_, stream),
        "cublasLtMatmul");
}

}  // namespace foresight::kernels
