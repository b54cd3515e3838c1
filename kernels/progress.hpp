#pragma once
// Progress on stderr: a bar redrawn in place on a terminal, and a plain line every tenth
// of the way when stderr is a file or a pipe (CI logs, ssh without a tty).
#include <chrono>
#include <string>

namespace foresight::kernels {

class Progress {
 public:
  explicit Progress(int total);
  void step(const std::string& label);
  void finish();

 private:
  int total_, done_ = 0, last_tenth_ = -1;
  bool terminal_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace foresight::kernels
