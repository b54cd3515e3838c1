#include "sim/runner/sweep_mpi.hpp"

#include <algorithm>
#include <cstdlib>

#ifdef FORESIGHT_WITH_MPI
#include <mpi.h>
#endif

namespace foresight {
namespace {
// OpenMPI's mpirun, PMIx launchers and Slurm's srun each leave one of these.
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "SLURM_PROCID"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

std::vector<SweepRow> sorted(std::vector<SweepRow> rows) {
  std::sort(rows.begin(), rows.end(), [](const SweepRow& a, const SweepRow& b) { return a.index < b.index; });
  return rows;
}
}  // namespace

#ifdef FORESIGHT_WITH_MPI
bool built_with_mpi() { return true; }

MpiSession::MpiSession() {
  if (!launched_by_mpi()) return;
  MPI_Init(nullptr, nullptr);
  initialized_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiSession::~MpiSession() {
  if (initialized_) MPI_Finalize();
}

std::vector<SweepRow> MpiSession::gather(const std::vector<SweepRow>& mine) const {
  if (size_ == 1) return sorted(mine);
  nlohmann::json rows = nlohmann::json::array();
  for (const SweepRow& row : mine) rows.push_back(row.to_wire_json());
  const std::string text = rows.dump();
  int length = static_cast<int>(text.size());
  std::vector<int> lengths(static_cast<std::size_t>(size_)), offsets(static_cast<std::size_t>(size_));
  MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  std::string all;
  if (rank_ == 0) {
    int total = 0;
    for (int r = 0; r < size_; ++r) {
      offsets[static_cast<std::size_t>(r)] = total;
      total += lengths[static_cast<std::size_t>(r)];
    }
    all.resize(static_cast<std::size_t>(total));
  }
  MPI_Gatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, 0, MPI_COMM_WORLD);
  if (rank_ != 0) return {};
  std::vector<SweepRow> gathered;
  for (int r = 0; r < size_; ++r) {
    const auto part = all.substr(static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)]), static_cast<std::size_t>(lengths[static_cast<std::size_t>(r)]));
    for (const nlohmann::json& row : nlohmann::json::parse(part)) gathered.push_back(SweepRow::from_json(row));
  }
  return sorted(std::move(gathered));
}
std::vector<std::string> MpiSession::all_gather(const std::string& mine) const {
  if (size_ == 1) return {mine};
  int length = static_cast<int>(mine.size());
  std::vector<int> lengths(static_cast<std::size_t>(size_)), offsets(static_cast<std::size_t>(size_));
  MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < size_; ++r) {
    offsets[static_cast<std::size_t>(r)] = total;
    total += lengths[static_cast<std::size_t>(r)];
  }
  std::string all(static_cast<std::size_t>(total), '\0');
  MPI_Allgatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, MPI_COMM_WORLD);
  std::vector<std::string> texts;
  for (int r = 0; r < size_; ++r) {
    texts.push_back(all.substr(static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)]), static_cast<std::size_t>(lengths[static_cast<std::size_t>(r)])));
  }
  return texts;
}
#else
bool built_with_mpi() { return false; }
MpiSession::MpiSession() = default;
MpiSession::~MpiSession() = default;
std::vector<SweepRow> MpiSession::gather(const std::vector<SweepRow>& mine) const { return sorted(mine); }
std::vector<std::string> MpiSession::all_gather(const std::string& mine) const { return {mine}; }
#endif

}  // namespace foresight
