#include "sim/runner/result_cache.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sim/input/input_error.hpp"
#include "sim/runner/output_files.hpp"

namespace foresight {
namespace {
constexpr const char* kFormat = "foresight.cache.v1";

std::string hex(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}
}  // namespace

std::uint64_t program_hash() {
  static const std::uint64_t hash = [] {
    std::ifstream in("/proc/self/exe", std::ios::binary);
    std::ostringstream bytes;
    if (in) bytes << in.rdbuf();
    const std::string program = bytes.str();
    return program.empty() ? content_hash(FORESIGHT_VERSION_TEXT) : content_hash(program);
  }();
  return hash;
}

ResultCache::ResultCache(std::string folder) : folder_(std::move(folder)) {
  std::error_code error;
  std::filesystem::create_directories(folder_, error);
  if (error || !std::filesystem::is_directory(folder_)) throw InputError(folder_, "--cache", "cannot create the folder: " + error.message());
}

std::string ResultCache::key(const std::vector<std::string>& assignments, double gpu_hour_usd, const InputLog& reads) const {
  // Files count by content, not by path, so that a moved checkout finds its entries.
  std::vector<std::uint64_t> contents;
  for (const auto& [path, hash] : reads.files()) contents.push_back(hash);
  std::sort(contents.begin(), contents.end());
  std::string text = std::string(kFormat) + "\n" + hex(program_hash()) + "\n";
  for (const std::string& a : assignments) text += a + "\n";
  char price[64];
  std::snprintf(price, sizeof price, "gpu_hour_usd=%.17g\n", gpu_hour_usd);
  text += price;
  for (const std::uint64_t hash : contents) text += hex(hash) + "\n";
  // Two 64-bit hashes: 128 bits keep collisions out of reach of any cache's size.
  return hex(content_hash(text)) + hex(content_hash(text, 0x84222325cbf29ce4ULL));
}

std::filesystem::path ResultCache::entry(const std::string& key, const std::string& look) const {
  return std::filesystem::path(folder_) / (key + (look.empty() ? "" : "." + look) + ".json");
}

std::optional<SweepRow> ResultCache::find(const std::string& key, const std::string& look) const {
  const std::filesystem::path path = entry(key, look);
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  try {
    const nlohmann::json kept = nlohmann::json::parse(in);
    if (kept.at("format") != kFormat) return std::nullopt;
    SweepRow row = SweepRow::from_json(kept.at("row"));
    if (look.empty()) ++hits_;
    return row;
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged or foreign entry: simulate again
  }
}

void ResultCache::store(const std::string& key, const SweepRow& row, const std::string& look) const {
  const nlohmann::json kept = {{"format", kFormat}, {"row", row.to_wire_json()}};
  try {
    write_file_atomically(entry(key, look).string(), kept.dump() + "\n");
    if (look.empty()) ++stores_;
  } catch (const std::exception&) {
    // A full disk or a read-only folder costs the next run a simulation, not this run its result.
  }
}

}  // namespace foresight
