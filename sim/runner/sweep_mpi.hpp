#pragma once
// Spreading a sweep or a search over MPI ranks: under mpirun (or srun), each rank runs its
// share of the points; rank 0 gathers a sweep's rows, and a search's ranks exchange what
// each stage found so that every rank chooses the next points alike.
// Without MPI support built in, or when not launched by an MPI launcher, there is one
// rank and nothing to gather.
#include <string>
#include <vector>

#include "sim/runner/sweep.hpp"

namespace foresight {

class MpiSession {
 public:
  MpiSession();  // initializes MPI when launched by mpirun or srun
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Rank 0 gets every rank's rows in grid order; the other ranks get none.
  std::vector<SweepRow> gather(const std::vector<SweepRow>& mine) const;
  // Every rank's text, in rank order, on every rank.
  std::vector<std::string> all_gather(const std::string& mine) const;

 private:
  int rank_ = 0, size_ = 1;
  bool initialized_ = false;
};

bool built_with_mpi();

}  // namespace foresight
