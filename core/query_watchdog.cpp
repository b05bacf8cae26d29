#include "core/query_watchdog.h"

#include <libpq-fe.h>
#include <sys/socket.h>

#include "core/log.h"

namespace pge {

namespace {

// PQcancel connects to the server: on a black-holed host that blocks until TCP gives up, so it runs
// on a thread of its own and the watchdog goes on to drop the connection regardless.
void send_cancel(std::shared_ptr<void> handle) {
  std::thread([handle = std::move(handle)] {
    char error[256] = {0};
    if (!PQcancel(static_cast<PGcancel*>(handle.get()), error, sizeof error)) {
      log::debug("cancel request failed", {{"err", error}});
    }
  }).detach();
}

}  // namespace

QueryWatchdog::QueryWatchdog(std::function<void(Action)> on_action)
    : on_action_(std::move(on_action)), thread_([this] { loop(); }) {}

QueryWatchdog::~QueryWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void QueryWatchdog::attach(int socket, void* cancel_handle) {
  std::lock_guard<std::mutex> lock(mu_);
  socket_ = socket;
  cancel_ = std::shared_ptr<void>(cancel_handle, [](void* c) {
    if (c) PQfreeCancel(static_cast<PGcancel*>(c));
  });
}

void QueryWatchdog::detach() {
  std::lock_guard<std::mutex> lock(mu_);
  armed_ = false;
  socket_ = -1;
  cancel_.reset();
}

void QueryWatchdog::arm(Clock::duration timeout, Clock::duration grace) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = Clock::now();
    armed_ = true;
    cancelled_ = false;
    cancel_at_ = interrupted_ ? now : now + timeout;
    drop_at_ = cancel_at_ + grace;
  }
  wake_.notify_all();
}

void QueryWatchdog::disarm() {
  std::lock_guard<std::mutex> lock(mu_);
  armed_ = false;
}

bool QueryWatchdog::interrupted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return interrupted_;
}

void QueryWatchdog::interrupt(Clock::duration grace) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    interrupted_ = true;
    if (armed_) {
      const auto now = Clock::now();
      cancel_at_ = std::min(cancel_at_, now);
      drop_at_ = std::min(drop_at_, now + grace);
    }
  }
  wake_.notify_all();
}

void QueryWatchdog::expire_locked(std::unique_lock<std::mutex>& lock) {
  const auto now = Clock::now();
  if (!cancelled_ && now >= cancel_at_) {
    cancelled_ = true;
    auto handle = cancel_;
    lock.unlock();
    if (on_action_) on_action_(Action::Cancel);
    if (handle) send_cancel(std::move(handle));
    lock.lock();
    return;
  }
  if (cancelled_ && now >= drop_at_) {
    // Still armed after the grace period: the statement did not return, not even to the cancel.
    // shutdown() (not close(): the descriptor stays libpq's) wakes the blocked read.
    armed_ = false;
    if (socket_ >= 0) ::shutdown(socket_, SHUT_RDWR);
    lock.unlock();
    if (on_action_) on_action_(Action::Disconnect);
    lock.lock();
  }
}

void QueryWatchdog::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (!armed_) {
      wake_.wait(lock);
      continue;
    }
    const auto next = cancelled_ ? drop_at_ : cancel_at_;
    if (Clock::now() < next) {
      wake_.wait_until(lock, next);
      continue;
    }
    expire_locked(lock);
  }
}

}  // namespace pge
