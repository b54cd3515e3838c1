// The libFuzzer entry point (clang -fsanitize=fuzzer).
#include <cstddef>
#include <cstdint>

#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  foresight::fuzz::fuzz_guarded({reinterpret_cast<const char*>(data), size});
  return 0;
}
