#pragma once
// Writes what the microbenchmarks measured as a foresight.profile.v1 document
// (docs/calibration.md), which `foresight calibrate` reads back before keeping it.
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/timing.hpp"

namespace foresight::kernels {

// One JSON object's fields, in the order they are added.
class Fields {
 public:
  Fields& text(const char* key, const std::string& value);
  Fields& number(const char* key, double value);
  Fields& integer(const char* key, std::int64_t value);
  Fields& boolean(const char* key, bool value);
  Fields& spread(const Spread& s);
  Fields& raw(const char* key, const std::string& json);  // a value already written as JSON
  std::string object() const { return "{" + body_ + "}"; }

 private:
  void key(const char* name);
  std::string body_;
};

struct DeviceInfo {
  std::string gpu;  // the catalog name, as guessed from the device name
  std::string name;
  int sms = 0;
  double sm_clock_mhz = 0, memory_clock_mhz = 0, memory_gb = 0;
  std::string driver, cuda, cublas, cudnn, nccl;
  std::size_t l2_bytes = 0;
  double power_limit_w = 0;  // 0 when NVML could not say
};

std::string profile_document(const DeviceInfo& device, const std::string& source, const std::vector<std::string>& measurements);

}  // namespace foresight::kernels
