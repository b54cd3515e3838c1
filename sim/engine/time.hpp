#pragma once
// Simulated time is an integer count of picoseconds: exact, totally ordered, and the
// same on every platform. int64 covers about 106 days, far beyond any step or trace.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

namespace foresight {

using Time = std::int64_t;

inline constexpr Time kPicosecond = 1;
inline constexpr Time kNanosecond = 1'000;
inline constexpr Time kMicrosecond = 1'000'000;
inline constexpr Time kMillisecond = 1'000'000'000;
inline constexpr Time kSecond = 1'000'000'000'000;
inline constexpr Time kTimeMax = std::numeric_limits<Time>::max();

// The latest simulated time, about 53 days: half of int64's range, so that a time plus
// any duration that passed from_seconds cannot overflow.
inline constexpr Time kTimeLimit = kTimeMax / 2;

// A duration or an event time beyond kTimeLimit: the input asked for something no
// simulation can hold (a rate near zero, an overhead of years). The CLI reports it as an
// input error.
class SimulatedTimeOverflow : public std::overflow_error {
 public:
  explicit SimulatedTimeOverflow(double seconds)
      : std::overflow_error("the simulation reaches " + days_text(seconds) +
                            " days of simulated time, beyond its 53-day clock: a time, size or rate in the input is out of "
                            "range (an overhead of days, a bandwidth or peak near zero)") {}

 private:
  static std::string days_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g", seconds / 86400.0);
    return text;
  }
};

// Cost models compute in floating point; the boundary into simulated time rounds once,
// to the nearest picosecond, and never returns a negative duration.
inline Time from_seconds(double seconds) {
  if (!(seconds > 0.0)) return 0;
  const double ps = std::round(seconds * 1e12);
  if (!(ps <= static_cast<double>(kTimeLimit))) throw SimulatedTimeOverflow(seconds);
  return static_cast<Time>(ps);
}

inline double to_seconds(Time t) { return static_cast<double>(t) * 1e-12; }
inline double to_microseconds(Time t) { return static_cast<double>(t) * 1e-6; }
inline double to_milliseconds(Time t) { return static_cast<double>(t) * 1e-9; }

// "123.456 ms": three significant decimals in the largest unit that keeps the value >= 1.
std::string format_duration(Time t);

// Exact decimal microseconds ("1234.567890") from integer picoseconds, so that trace
// files are byte-identical across platforms and never depend on printf of doubles.
std::string format_microseconds_exact(Time t);

}  // namespace foresight
