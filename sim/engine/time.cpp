#include "sim/engine/time.hpp"

#include <cstdio>
#include <cstdlib>

namespace foresight {

std::string format_duration(Time t) {
  if (t == 0) return "0";
  struct Unit { Time scale; const char* name; };
  static constexpr Unit kUnits[] = {{kSecond, "s"}, {kMillisecond, "ms"}, {kMicrosecond, "us"},
                                    {kNanosecond, "ns"}, {kPicosecond, "ps"}};
  for (const Unit& unit : kUnits) {
    if (std::llabs(t) >= unit.scale || unit.scale == kPicosecond) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3f %s",
                    static_cast<double>(t) / static_cast<double>(unit.scale), unit.name);
      return buf;
    }
  }
  return "0";
}

std::string format_microseconds_exact(Time t) {
  const bool negative = t < 0;
  const std::uint64_t magnitude = negative ? 0 - static_cast<std::uint64_t>(t)
                                           : static_cast<std::uint64_t>(t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%llu.%06llu", negative ? "-" : "",
                static_cast<unsigned long long>(magnitude / 1'000'000),
                static_cast<unsigned long long>(magnitude % 1'000'000));
  return buf;
}

}  // namespace foresight
