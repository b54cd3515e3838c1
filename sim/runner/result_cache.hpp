#pragma once
// Whole simulations kept on disk (`--cache DIR` of sweep and search), each under the
// content of everything its result depends on: the program itself (a rebuilt foresight
// may predict differently), the point's --set assignments and price, and every input file
// it read (sim/input/input_log.hpp: the scenario, model configs, topology and cost-model
// files, the request trace). A re-run after a small change simulates only the points the
// change reaches; an entry that cannot be read is a miss, never an error. Safe to use from
// several threads and processes: entries are written whole and renamed into place.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sim/input/input_log.hpp"
#include "sim/runner/sweep.hpp"

namespace foresight {

class ResultCache {
 public:
  // Creates the folder if need be; InputError naming --cache when that fails.
  explicit ResultCache(std::string folder);

  // The entry's name for a point that set `assignments`, at `gpu_hour_usd`, after reading
  // what `reads` logged.
  std::string key(const std::vector<std::string>& assignments, double gpu_hour_usd, const InputLog& reads) const;
  // The stored metrics, feasibility and reason (the caller sets index and assignments) of
  // a whole simulation, or of a cheaper look at the point (`look`: "bound", "estimate").
  std::optional<SweepRow> find(const std::string& key, const std::string& look = "") const;
  void store(const std::string& key, const SweepRow& row, const std::string& look = "") const;

  std::size_t hits() const { return hits_; }      // whole simulations found
  std::size_t stores() const { return stores_; }  // whole simulations kept
  const std::string& folder() const { return folder_; }

 private:
  std::filesystem::path entry(const std::string& key, const std::string& look) const;

  std::string folder_;
  mutable std::atomic<std::size_t> hits_{0}, stores_{0};
};

// A hash of the running program's file, read once (its version where it cannot be read).
std::uint64_t program_hash();

}  // namespace foresight
