// Client-side deadlines for one database connection. statement_timeout is enforced by the server,
// so it cannot help when the server is what hangs (a stopped backend, a storage stall, a network
// black hole: no RST, no answer). The worker arms a deadline before each statement; when it passes
// with the statement still running, the watchdog's own thread
//   1. reports the stall (callback: the scheduler sets pg_up 0 at once),
//   2. sends a cancel request (PQcancel, on a short-lived thread: it connects to the server and
//      could itself hang on a black-holed host),
//   3. after a grace period shuts the socket down, so that the worker's blocked read returns and
//      libpq reports a broken connection; the worker then reconnects with back-off.
// interrupt() does the same at once (shutdown: SIGTERM must not wait for a long statement).
//
// Threads: attach/detach/arm/disarm are called by the connection's worker thread only; interrupt()
// and the counters from any thread. The socket is shut down only while a deadline is armed, under
// the mutex that disarm() takes, so a socket number reused after the connection closed is never
// hit.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace pge {

class QueryWatchdog {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Action { Cancel, Disconnect };

  // `on_action` runs on the watchdog thread each time it cancels or disconnects.
  explicit QueryWatchdog(std::function<void(Action)> on_action = {});
  ~QueryWatchdog();
  QueryWatchdog(const QueryWatchdog&) = delete;
  QueryWatchdog& operator=(const QueryWatchdog&) = delete;

  // The connection to watch: its socket and a libpq cancel handle (PGcancel*, freed by the
  // watchdog with PQfreeCancel). Replaces any previous one.
  void attach(int socket, void* cancel_handle);
  void detach();

  // A statement starts: cancel it when `timeout` passes, drop the connection `grace` later.
  void arm(Clock::duration timeout, Clock::duration grace);
  void disarm();
  // Whether interrupt() was called: the worker then starts no new statement.
  bool interrupted() const;

  // Cancels what runs now and drops the connection after at most `grace`; every later arm() expires
  // at once. Any thread.
  void interrupt(Clock::duration grace);

 private:
  void loop();
  void expire_locked(std::unique_lock<std::mutex>& lock);

  std::function<void(Action)> on_action_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;          // guarded by mu_
  bool interrupted_ = false;       // guarded by mu_
  bool armed_ = false;             // guarded by mu_
  bool cancelled_ = false;         // guarded by mu_: this statement's cancel was sent
  Clock::time_point cancel_at_{};  // guarded by mu_
  Clock::time_point drop_at_{};    // guarded by mu_
  int socket_ = -1;                // guarded by mu_
  std::shared_ptr<void> cancel_;   // guarded by mu_
  std::thread thread_;
};

}  // namespace pge
