#include "sim/input/input_log.hpp"

#include <algorithm>

namespace foresight {
namespace {
thread_local InputLog* current_log = nullptr;
}  // namespace

std::uint64_t content_hash(std::string_view bytes, std::uint64_t seed) {
  std::uint64_t hash = seed;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

InputLog::InputLog() : outer_(current_log) { current_log = this; }

InputLog::~InputLog() { current_log = outer_; }

void InputLog::record(const std::string& path, std::string_view bytes) {
  if (current_log != nullptr) record_hash(path, content_hash(bytes));
}

void InputLog::record_hash(const std::string& path, std::uint64_t hash) {
  // A nested log (a computation inside another) is seen by the outer one too.
  for (InputLog* log = current_log; log != nullptr; log = log->outer_) {
    const std::pair<std::string, std::uint64_t> read{path, hash};
    if (std::find(log->files_.begin(), log->files_.end(), read) == log->files_.end()) log->files_.push_back(read);
  }
}

}  // namespace foresight
