#pragma once
// What surrounds the kernels: the launch-to-completion time of an empty kernel, and
// host-device copies over PCIe (or C2C) from pinned and pageable host memory.
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/timing.hpp"

namespace foresight::kernels {

struct HostCopyCase {
  std::string direction;  // "h2d" or "d2h"
  bool pinned;
  std::int64_t bytes;
};

std::vector<HostCopyCase> host_copy_cases(bool quick);
Spread time_empty_kernel(KernelTimer& timer);
Spread time_host_copy(KernelTimer& timer, const HostCopyCase& c, const TimingPlan& plan);

}  // namespace foresight::kernels
