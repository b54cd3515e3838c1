#include "sim/engine/random.hpp"

#include <cmath>

namespace foresight {
namespace {
// FNV-1a then a splitmix64 finalizer: stable across platforms and compilers.
std::uint64_t mix(std::uint64_t seed, std::string_view component) {
  std::uint64_t h = 14695981039346656037ull ^ seed;
  for (const char c : component) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  h += 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}
}  // namespace

RandomStream::RandomStream(std::uint64_t seed, std::string_view component)
    : generator_(mix(seed, component)) {}

double RandomStream::uniform01() {
  return static_cast<double>(generator_() >> 11) * 0x1.0p-53;
}

double RandomStream::exponential(double mean) { return -mean * std::log1p(-uniform01()); }

double RandomStream::normal() {
  for (;;) {
    const double u = 2 * uniform01() - 1, v = 2 * uniform01() - 1;
    const double s = u * u + v * v;
    if (s > 0 && s < 1) return u * std::sqrt(-2 * std::log(s) / s);
  }
}

double RandomStream::gamma(double shape, double scale) {
  if (shape < 1) {
    // Gamma(a) = Gamma(a + 1) x U^(1/a).
    const double u = uniform01();
    return gamma(shape + 1, scale) * std::pow(u > 0 ? u : 0x1.0p-53, 1 / shape);
  }
  const double d = shape - 1.0 / 3, c = 1 / std::sqrt(9 * d);
  for (;;) {
    double x = 0, v = 0;
    do {
      x = normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = uniform01();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v * scale;
    if (std::log(u) < 0.5 * x * x + d * (1 - v + std::log(v))) return d * v * scale;
  }
}

}  // namespace foresight
