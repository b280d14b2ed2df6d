#pragma once
/// A one-line progress bar on stderr for long work on a TTY; silent when disabled.

#include <chrono>
#include <string>

namespace fraudops {

class ProgressBar {
 public:
  ProgressBar(bool enabled, std::string label, long long total);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// Sets the done count and an optional suffix (e.g. the current metric).
  void Update(long long done, const std::string& suffix = "");
  void Finish();

 private:
  bool enabled_;
  bool finished_ = false;
  std::string label_;
  long long total_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace fraudops
