#pragma once
// Files many scenarios read (a fitted model, a profile) are parsed once per process: kept
// by path and modification time, so that a rewritten file is read again. Thread-safe.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "sim/input/input_log.hpp"
#include "sim/input/json_document.hpp"

namespace foresight {

// Every call, the first or not, records the file's content in the thread's InputLog.
template <class T, class Load>
std::shared_ptr<const T> load_once(const std::string& path, Load load) {
  static std::mutex mutex;
  static std::map<std::pair<std::string, std::filesystem::file_time_type>, std::pair<std::shared_ptr<const T>, std::uint64_t>> loaded;
  std::error_code missing;  // a missing file is for `load` to report
  const auto key = std::pair{path, std::filesystem::last_write_time(path, missing)};
  const std::lock_guard lock(mutex);
  if (const auto found = loaded.find(key); found != loaded.end()) {
    InputLog::record_hash(path, found->second.second);
    return found->second.first;
  }
  auto value = std::make_shared<const T>(load(path));  // logs the read where `load` reads through read_input_file
  loaded.emplace(key, std::pair{value, content_hash(read_input_file(path))});
  return value;
}

}  // namespace foresight
