#pragma once
// Device buffers that grow to the largest size asked and are reused across measurements,
// filled with 0x3c bytes (bf16 0x3c3c is about 0.011: finite, so no NaN slows a kernel).
#include <cstddef>
#include <vector>

namespace foresight::kernels {

class DeviceBuffers {
 public:
  explicit DeviceBuffers(std::size_t count) : buffers_(count, nullptr), sizes_(count, 0) {}
  ~DeviceBuffers();
  DeviceBuffers(const DeviceBuffers&) = delete;
  DeviceBuffers& operator=(const DeviceBuffers&) = delete;

  // Buffer `which`, at least `bytes` long; growing it moves it.
  void* grow(std::size_t which, std::size_t bytes);
  void* at(std::size_t which) const { return buffers_[which]; }

 private:
  std::vector<void*> buffers_;
  std::vector<std::size_t> sizes_;
};

}  // namespace foresight::kernels
