#include "serve/change_feed.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "data/sql.h"
#include "store/serving_store.h"

namespace fraudops {

ChangeFeed::ChangeFeed(std::string url, std::function<void()> on_change, DependencyHealth& health,
                       Logger& logger)
    : url_(std::move(url)),
      on_change_(std::move(on_change)),
      health_(health),
      logger_(logger),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

ChangeFeed::~ChangeFeed() {
  Stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void ChangeFeed::Start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
}

void ChangeFeed::Stop() {
  stop_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

bool ChangeFeed::Pause(int milliseconds) const {
  pollfd fd = {wake_fd_, POLLIN, 0};
  if (!stop_.load(std::memory_order_acquire)) ::poll(&fd, 1, milliseconds);
  return !stop_.load(std::memory_order_acquire);
}

void ChangeFeed::Loop() {
  int pause_ms = 0;
  bool was_up = true;
  while (!stop_.load(std::memory_order_acquire)) {
    auto listener = ListenPostgres(url_, std::string(ServingStore::kChangeChannel));
    if (!listener.ok()) {
      health_.Report(listener.status());
      if (was_up) {
        logger_.Warn("serve", "cannot listen for changes; polling until the metadata store is back",
                     {{"error", listener.status().message()}});
      }
      was_up = false;
      pause_ms = std::clamp(pause_ms * 2, 100, 5000);
      if (!Pause(pause_ms)) return;
      continue;
    }
    health_.Report(Status::Ok());
    if (!was_up) logger_.Info("serve", "listening for changes again");
    was_up = true;
    pause_ms = 0;
    on_change_();  // what changed while this server was not listening
    while (!stop_.load(std::memory_order_acquire)) {
      auto payloads = (*listener)->Wait(std::chrono::milliseconds(60000), wake_fd_);
      if (!payloads.ok()) {
        health_.Report(payloads.status());
        logger_.Warn("serve", "the change feed's connection was lost; reconnecting",
                     {{"error", payloads.status().message()}});
        was_up = false;
        break;
      }
      if (!payloads->empty()) {
        received_.fetch_add(payloads->size(), std::memory_order_relaxed);
        on_change_();
      }
    }
  }
}

}  // namespace fraudops
