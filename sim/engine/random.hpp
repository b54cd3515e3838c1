#pragma once
// Reproducible randomness: one scenario seed, and an independent stream per component
// derived from (seed, component name), as ns-3's RngSeedManager does with run numbers.
// Distributions are written here on std::mt19937_64 because the standard library's
// distributions produce different sequences on different implementations.
#include <cstdint>
#include <random>
#include <string_view>

namespace foresight {

class RandomStream {
 public:
  RandomStream(std::uint64_t seed, std::string_view component);

  std::uint64_t next_u64() { return generator_(); }
  double uniform01();  // in [0, 1), 53 random bits
  double exponential(double mean);
  double normal();  // standard normal (Marsaglia's polar method)
  // Gamma with the given shape and scale (Marsaglia and Tsang 2000; shape < 1 by boosting).
  double gamma(double shape, double scale);

 private:
  std::mt19937_64 generator_;
};

}  // namespace foresight
