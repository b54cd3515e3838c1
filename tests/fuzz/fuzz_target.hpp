#pragma once
// One input surface under fuzzing: each fuzz_*.cpp defines fuzz_input() for its reader.
// The same target builds two ways (tests/fuzz/CMakeLists.txt): with clang's libFuzzer for
// fuzzing (scripts/fuzz.sh), and with any compiler as a regression runner that replays the
// saved corpus in CTest (release and sanitizer builds alike).
#include <string>
#include <string_view>

namespace foresight::fuzz {

// Feeds `data` to the surface's reader (and, where cheap, on to a simulation). Input
// errors are the expected way to fail; anything else escapes.
void fuzz_input(std::string_view data);

// `data` in a scratch file of this process, for readers that take a path; `extension`
// picks the reader (".csv", ".jsonl", ".json").
std::string scratch_file(std::string_view data, const std::string& extension);

// Runs fuzz_input(data); an exception other than an input error is an internal error
// reachable from input: it is printed and the process aborts, so both drivers report it.
void fuzz_guarded(std::string_view data);

}  // namespace foresight::fuzz
