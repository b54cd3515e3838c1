#pragma once
// What a computation read. While an InputLog is open on a thread, every input file read
// on that thread records its path and a hash of its bytes, so that a result can be kept
// under the content of everything it depended on (sim/runner/result_cache.hpp) and found
// again only while none of it has changed.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace foresight {

// 64-bit FNV-1a of `bytes`, continuing from `seed`.
std::uint64_t content_hash(std::string_view bytes, std::uint64_t seed = 0xcbf29ce484222325ULL);

class InputLog {
 public:
  InputLog();  // records this thread's reads until destroyed; an enclosing log records them too
  ~InputLog();
  InputLog(const InputLog&) = delete;
  InputLog& operator=(const InputLog&) = delete;

  // Path and content hash of each file read, once each, in the order of first reading.
  const std::vector<std::pair<std::string, std::uint64_t>>& files() const { return files_; }

  // Called where input files are read; nothing happens without an open log.
  static void record(const std::string& path, std::string_view bytes);
  // For readers that keep what they parsed: the hash of the bytes they read before.
  static void record_hash(const std::string& path, std::uint64_t hash);

 private:
  std::vector<std::pair<std::string, std::uint64_t>> files_;
  InputLog* outer_ = nullptr;
};

}  // namespace foresight
