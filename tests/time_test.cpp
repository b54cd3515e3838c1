#include <doctest/doctest.h>

#include "sim/engine/time.hpp"

using namespace foresight;

TEST_CASE("conversions to integer picoseconds round to nearest and never go negative") {
  CHECK(from_seconds(1.0) == kSecond);
  CHECK(from_seconds(1.5e-12) == 2);
  CHECK(from_seconds(1.4e-12) == 1);
  CHECK(from_seconds(-3.0) == 0);
  CHECK_THROWS_AS(from_seconds(1e9), SimulatedTimeOverflow);  // beyond the 53-day clock: an input error
  CHECK(from_seconds(4e6) == 4'000'000'000'000'000'000);  // 46 days still fit
}

TEST_CASE("exact microsecond text for traces") {
  CHECK(format_microseconds_exact(0) == "0.000000");
  CHECK(format_microseconds_exact(1) == "0.000001");
  CHECK(format_microseconds_exact(1'234'567'890) == "1234.567890");
  CHECK(format_microseconds_exact(-5) == "-0.000005");
}

TEST_CASE("durations print in the largest fitting unit") {
  CHECK(format_duration(0) == "0");
  CHECK(format_duration(1500 * kMicrosecond) == "1.500 ms");
  CHECK(format_duration(2 * kSecond) == "2.000 s");
  CHECK(format_duration(750) == "750.000 ps");
}
