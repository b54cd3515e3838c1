#include "kernels/nccl_sweep.hpp"

#include <nccl.h>

#include <algorithm>
#include <cmath>

#include "kernels/cuda_check.hpp"

namespace foresight::kernels {
namespace {
void check_nccl(ncclResult_t status, const char* what) {
  if (status != ncclSuccess) throw CudaFailure(std::string(what) + ": " + ncclGetErrorString(status));
}

double percentile(const std::vector<double>& sorted, double q) {
  const auto at = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::max<std::size_t>(at, 1) - 1];
}
}  // namespace

struct NcclBench::Rank {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  void* send = nullptr;
  void* receive = nullptr;
  std::size_t bytes = 0;
};

std::vector<CollectiveCase> collective_cases(bool quick) {
  std::vector<CollectiveCase> cases;
  for (const char* kind : {"all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv"}) {
    for (std::int64_t bytes = 1024; bytes <= (std::int64_t{1} << 30); bytes *= quick ? 32 : 4) cases.push_back({kind, bytes});
  }
  return cases;
}

NcclBench::NcclBench(int gpus) : gpus_(gpus), ranks_(static_cast<std::size_t>(gpus)) {
  std::vector<ncclComm_t> comms(static_cast<std::size_t>(gpus));
  check_nccl(ncclCommInitAll(comms.data(), gpus, nullptr), "ncclCommInitAll");
  for (int g = 0; g < gpus; ++g) {
    Rank& r = ranks_[static_cast<std::size_t>(g)];
    r.comm = comms[static_cast<std::size_t>(g)];
    check(cudaSetDevice(g), "cudaSetDevice");
    check(cudaStreamCreate(&r.stream), "cudaStreamCreate");
  }
  check(cudaSetDevice(0), "cudaSetDevice");
}

NcclBench::~NcclBench() {
  for (std::size_t g = 0; g < ranks_.size(); ++g) {
    cudaSetDevice(static_cast<int>(g));
    cudaFree(ranks_[g].send);
    cudaFree(ranks_[g].receive);
    cudaStreamDestroy(ranks_[g].stream);
    ncclCommDestroy(ranks_[g].comm);
  }
  cudaSetDevice(0);
}

Spread NcclBench::run(const CollectiveCase& c, const TimingPlan& plan) {
  const auto bytes = static_cast<std::size_t>(c.bytes);
  const std::size_t n = static_cast<std::size_t>(gpus_);
  for (std::size_t g = 0; g < n; ++g) {
    Rank& r = ranks_[g];
    if (r.bytes >= bytes) continue;
    check(cudaSetDevice(static_cast<int>(g)), "cudaSetDevice");
    cudaFree(r.send);
    cudaFree(r.receive);
    check(cudaMalloc(&r.send, bytes), "cudaMalloc (NCCL send buffer)");
    check(cudaMalloc(&r.receive, bytes), "cudaMalloc (NCCL receive buffer)");
    r.bytes = bytes;
  }
  const auto launch = [&] {
    check_nccl(ncclGroupStart(), "ncclGroupStart");
    for (std::size_t g = 0; g < n; ++g) {
      Rank& r = ranks_[g];
      const std::size_t share = bytes / n;  // bytes per peer (all-to-all) or per rank's shard
      if (c.kind == "all_reduce") check_nccl(ncclAllReduce(r.send, r.receive, bytes / 2, ncclBfloat16, ncclSum, r.comm, r.stream), "ncclAllReduce");
      if (c.kind == "all_gather") check_nccl(ncclAllGather(r.send, r.receive, share / 2, ncclBfloat16, r.comm, r.stream), "ncclAllGather");
      if (c.kind == "reduce_scatter") {
        check_nccl(ncclReduceScatter(r.send, r.receive, share / 2, ncclBfloat16, ncclSum, r.comm, r.stream), "ncclReduceScatter");
      }
      if (c.kind == "all_to_all") {
        for (std::size_t peer = 0; peer < n; ++peer) {
          check_nccl(ncclSend(static_cast<char*>(r.send) + peer * share, share, ncclChar, static_cast<int>(peer), r.comm, r.stream), "ncclSend");
          check_nccl(ncclRecv(static_cast<char*>(r.receive) + peer * share, share, ncclChar, static_cast<int>(peer), r.comm, r.stream), "ncclRecv");
        }
      }
      if (c.kind == "send_recv") {  // a ring of pairs: each rank sends the whole buffer to the next
        check_nccl(ncclSend(r.send, bytes, ncclChar, static_cast<int>((g + 1) % n), r.comm, r.stream), "ncclSend");
        check_nccl(ncclRecv(r.receive, bytes, ncclChar, static_cast<int>((g + n - 1) % n), r.comm, r.stream), "ncclRecv");
      }
    }
    check_nccl(ncclGroupEnd(), "ncclGroupEnd");
  };
  const auto wait_all = [&] {
    for (std::size_t g = 0; g < n; ++g) {
      check(cudaSetDevice(static_cast<int>(g)), "cudaSetDevice");
      check(cudaStreamSynchronize(ranks_[g].stream), "cudaStreamSynchronize");
    }
    check(cudaSetDevice(0), "cudaSetDevice");
  };
  for (int i = 0; i < plan.warmup; ++i) {
    launch();
    wait_all();
  }
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  std::vector<double> times;
  for (int i = 0; i < plan.min_repetitions * 4; ++i) {
    check(cudaEventRecord(start, ranks_[0].stream), "cudaEventRecord");
    launch();
    check(cudaEventRecord(stop, ranks_[0].stream), "cudaEventRecord");
    wait_all();
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    times.push_back(static_cast<double>(ms) * 1e3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(times.begin(), times.end());
  return {percentile(times, 0.5), percentile(times, 0.1), percentile(times, 0.9), static_cast<int>(times.size())};
}

}  // namespace foresight::kernels
