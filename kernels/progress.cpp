#include "kernels/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace foresight::kernels {

Progress::Progress(int total) : total_(total), terminal_(isatty(STDERR_FILENO) != 0), start_(std::chrono::steady_clock::now()) {}

void Progress::step(const std::string& label) {
  ++done_;
  const double fraction = total_ > 0 ? static_cast<double>(done_) / total_ : 1;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double left = fraction > 0 ? elapsed / fraction - elapsed : 0;
  if (terminal_) {
    const int width = 30, filled = static_cast<int>(fraction * width);
    std::fprintf(stderr, "\r[%-*s] %3.0f%% %4.0f s left  %-40.40s", width, std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 100 * fraction, left, label.c_str());
  } else if (const int tenth = static_cast<int>(fraction * 10); tenth != last_tenth_) {
    last_tenth_ = tenth;
    std::fprintf(stderr, "%3.0f%% (%d of %d, %.0f s, about %.0f s left): %s\n", 100 * fraction, done_, total_, elapsed, left, label.c_str());
  }
}

void Progress::finish() {
  if (terminal_) std::fprintf(stderr, "\n");
}

}  // namespace foresight::kernels
