#pragma once
// Failed CUDA, cuBLASLt and NCCL calls end the run with the call named: a half-measured
// profile is worse than none.
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace foresight::kernels {

struct CudaFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A case the library cannot run on this GPU (cuBLASLt has no algorithm for that shape and
// type): the case is skipped and said so, and the run goes on.
struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw CudaFailure(std::string(what) + ": " + cudaGetErrorString(status));
}

inline void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) throw CudaFailure(std::string(what) + ": cuBLAS status " + std::to_string(static_cast<int>(status)));
}

}  // namespace foresight::kernels
