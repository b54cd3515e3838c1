#pragma once
// `foresight-kernels --check`: runs each kernel the microbenchmarks time (our memory-bound
// kernels, paged decode attention, and cuBLASLt GEMMs in every dtype) on small random
// inputs and compares the output with a float64 reference computed on the host, so that a
// profile is never made of fast kernels that compute the wrong thing.
namespace foresight::kernels {

class KernelTimer;

// Prints one line per case (relative error and verdict); true when every case passes.
bool run_self_check(KernelTimer& timer, bool fp8);

}  // namespace foresight::kernels
