#include "core/progress.h"

#include <cstdio>

namespace fraudops {

ProgressBar::ProgressBar(bool enabled, std::string label, long long total)
    : enabled_(enabled), label_(std::move(label)), total_(total > 0 ? total : 1) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(long long done, const std::string& suffix) {
  if (!enabled_ || finished_) return;
  auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(50)) return;
  last_draw_ = now;
  constexpr int kWidth = 30;
  int filled = static_cast<int>(kWidth * done / total_);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r\033[K%s [%s] %lld/%lld %s", label_.c_str(), bar.c_str(), done, total_,
               suffix.c_str());
  std::fflush(stderr);
}

void ProgressBar::Finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

}  // namespace fraudops
