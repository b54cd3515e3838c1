#include "sim/random.hpp"

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

}  // namespace foresight
