#pragma once
// cuBLASLt GEMM sweeps over the shapes of real transformer layers: the QKV, output, MLP
// up and down projections of Llama-3 8B, 70B and 405B and GPT-3 175B at TP 1-8, forward
// (tokens x out x in), and the backward data- and weight-gradient GEMMs, for bf16, fp16,
// tf32 and fp8 (Hopper and later), plus batched GEMMs as attention's QK^T uses them.
// Layout is "TN" (A transposed), which every dtype, fp8 included, supports.
#include <cublasLt.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/timing.hpp"

namespace foresight::kernels {

struct GemmCase {
  std::string dtype;  // "bf16", "fp16", "tf32", "fp8"
  std::int64_t m, n, k, batch;
};

std::vector<GemmCase> gemm_cases(bool quick, bool fp8);
bool fp8_can_run(const GemmCase& c);

// A GEMM with its descriptors and algorithm chosen, ready to enqueue again and again.
class PreparedGemm {
 public:
  PreparedGemm(cublasLtHandle_t handle, const GemmCase& c, void* const operands[3], void* workspace, std::size_t workspace_bytes);
  ~PreparedGemm();
  PreparedGemm(const PreparedGemm&) = delete;
  PreparedGemm& operator=(const PreparedGemm&) = delete;
  void enqueue(cudaStream_t stream) const;

 private:
  void release();  // the descriptors; the constructor's failures too, since no destructor runs then

  cublasLtHandle_t handle_;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t layouts_[3] = {};
  cublasLtMatmulHeuristicResult_t heuristic_{};
  void* operands_[3];
  void* workspace_;
  std::size_t workspace_bytes_;
};

class GemmBench {
 public:
  explicit GemmBench(KernelTimer& timer);
  ~GemmBench();
  GemmBench(const GemmBench&) = delete;
  GemmBench& operator=(const GemmBench&) = delete;
  Spread run(const GemmCase& c, const TimingPlan& plan);
  // Grows the operand buffers for `c`; prepare() then needs no more. Reserve every GEMM
  // of a sequence before preparing any: growing moves the buffers.
  void reserve(const GemmCase& c);
  std::unique_ptr<PreparedGemm> prepare(const GemmCase& c) const;
  // X (m x k), W (n x k) and Y (m x n), row-major, batch after batch, as reserve() left them.
  void* operand(int which) const { return operands_[which]; }

 private:
  // Operand `which`, at least `bytes` long; A and B hold uniform random values of `type`.
  void* buffer(int which, std::size_t bytes, cudaDataType_t type);

  KernelTimer& timer_;
  cublasLtHandle_t handle_ = nullptr;
  void* operands_[3] = {};
  std::size_t sizes_[3] = {};
  int filled_as_[3] = {kUnfilled, kUnfilled, kUnfilled};  // the cudaDataType_t each holds values of
  static constexpr int kUnfilled = -1;
  void* workspace_ = nullptr;
  std::size_t workspace_bytes_ = 64u << 20;
};

}  // namespace foresight::kernels
