#pragma once
// Files many scenarios read (a fitted model, a profile) are parsed once per process: kept
// by path and modification time, so that a rewritten file is read again. Thread-safe.
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace foresight {

template <class T, class Load>
std::shared_ptr<const T> load_once(const std::string& path, Load load) {
  static std::mutex mutex;
  static std::map<std::pair<std::string, std::filesystem::file_time_type>, std::shared_ptr<const T>> loaded;
  std::error_code missing;  // a missing file is for `load` to report
  const auto key = std::pair{path, std::filesystem::last_write_time(path, missing)};
  const std::lock_guard lock(mutex);
  if (const auto found = loaded.find(key); found != loaded.end()) return found->second;
  auto value = std::make_shared<const T>(load(path));
  loaded.emplace(key, value);
  return value;
}

}  // namespace foresight
