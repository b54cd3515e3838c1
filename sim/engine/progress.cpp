#include "sim/engine/progress.hpp"

#include <unistd.h>

namespace foresight {

Progress::Progress(std::string what, int total, bool quiet, double delay_seconds)
    : what_(std::move(what)),
      total_(total),
      terminal_(isatty(STDERR_FILENO) != 0),
      quiet_(quiet),
      delay_seconds_(delay_seconds),
      start_(std::chrono::steady_clock::now()) {}

void Progress::step(const std::string& label) {
  const std::lock_guard lock(mutex_);
  ++done_;
  if (quiet_) return;
  const double fraction = total_ > 0 ? static_cast<double>(done_) / total_ : 1;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (elapsed < delay_seconds_) return;
  const double left = fraction > 0 ? elapsed / fraction - elapsed : 0;
  if (terminal_) {
    constexpr int kWidth = 30;
    const auto filled = static_cast<std::size_t>(fraction * kWidth);
    std::fprintf(stderr, "\r%s [%-*s] %d/%d, %.0f s left  %-36.36s", what_.c_str(), kWidth, std::string(filled, '#').c_str(), done_, total_,
                 left, label.c_str());
    std::fflush(stderr);
  } else if (const int tenth = static_cast<int>(fraction * 10); tenth != last_tenth_) {
    last_tenth_ = tenth;
    std::fprintf(stderr, "%s: %d of %d (%.0f%%) after %.1f s, about %.0f s left: %s\n", what_.c_str(), done_, total_, 100 * fraction, elapsed,
                 left, label.c_str());
  }
}

void Progress::finish() {
  const std::lock_guard lock(mutex_);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (terminal_ && !quiet_ && done_ > 0 && elapsed >= delay_seconds_) std::fprintf(stderr, "\n");
}

}  // namespace foresight
