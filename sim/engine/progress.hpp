#pragma once
// Progress of long work (sweeps, capacity searches, calibration) on stderr: a bar redrawn
// in place on a terminal, and a plain line every tenth of the way when stderr is a file or
// a pipe (CI logs), so logs stay readable. Safe to call from several threads.
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

namespace foresight {

class Progress {
 public:
  // `quiet`: report nothing (tests, or output that must stay clean). `delay_seconds`:
  // report nothing until the work has taken that long, so quick runs stay silent.
  Progress(std::string what, int total, bool quiet = false, double delay_seconds = 0);
  void step(const std::string& label);
  void finish();

 private:
  std::string what_;
  int total_, done_ = 0, last_tenth_ = -1;
  bool terminal_, quiet_;
  double delay_seconds_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
};

}  // namespace foresight
