// Replays every file of the folders (or files) given, as libFuzzer would replay a corpus:
// the saved crashers and seeds stay fixed in every build, sanitized or not.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "fuzz_target.hpp"

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    if (std::filesystem::is_directory(argv[i])) {
      for (const auto& entry : std::filesystem::directory_iterator(argv[i])) inputs.push_back(entry.path());
    } else {
      inputs.emplace_back(argv[i]);
    }
  }
  std::sort(inputs.begin(), inputs.end());
  for (const auto& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    foresight::fuzz::fuzz_guarded(text.str());
  }
  std::printf("%zu inputs replayed, no internal error\n", inputs.size());
  return inputs.empty() ? 1 : 0;
}
