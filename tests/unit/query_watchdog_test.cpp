// The client-side deadline without a database: a socket pair stands in for the connection, a
// thread blocked in recv() for the worker stuck on a frozen server.
#include "core/query_watchdog.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace pge {
namespace {

using namespace std::chrono_literals;
using Action = QueryWatchdog::Action;

struct SocketPair {
  SocketPair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0); }
  ~SocketPair() {
    close(fd[0]);
    close(fd[1]);
  }
  int fd[2];
};

struct Recorder {
  std::mutex mu;
  std::vector<Action> actions;
  std::function<void(Action)> callback() {
    return [this](Action a) {
      std::lock_guard<std::mutex> lock(mu);
      actions.push_back(a);
    };
  }
  void wait_for(std::size_t n) {
    for (int i = 0; i < 100 && get().size() < n; ++i) std::this_thread::sleep_for(10ms);
  }
  std::vector<Action> get() {
    std::lock_guard<std::mutex> lock(mu);
    return actions;
  }
};

// Blocks in recv() like libpq waiting for a server that never answers; returns the seconds until
// recv() came back.
std::future<double> blocked_read(int fd) {
  return std::async(std::launch::async, [fd] {
    const auto t0 = std::chrono::steady_clock::now();
    char c;
    (void)recv(fd, &c, 1, 0);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  });
}

// A watchdog attached to one end of a socket pair (the connection), recording what it does.
class QueryWatchdogTest : public ::testing::Test {
 protected:
  QueryWatchdogTest() { dog.attach(sp.fd[0], nullptr); }

  SocketPair sp;
  Recorder rec;
  QueryWatchdog dog{rec.callback()};
};

TEST_F(QueryWatchdogTest, AStatementPastItsDeadlineIsCancelledThenItsConnectionDropped) {
  auto read = blocked_read(sp.fd[0]);
  dog.arm(200ms, 300ms);
  ASSERT_EQ(read.wait_for(5s), std::future_status::ready) << "the blocked read never returned";
  const double waited = read.get();
  EXPECT_GE(waited, 0.45);
  EXPECT_LT(waited, 1.5);
  rec.wait_for(2);  // the disconnect is reported right after the socket is shut down
  EXPECT_EQ(rec.get(), (std::vector<Action>{Action::Cancel, Action::Disconnect}));
}

TEST_F(QueryWatchdogTest, AStatementThatFinishesInTimeIsLeftAlone) {
  for (int i = 0; i < 20; ++i) {
    dog.arm(100ms, 100ms);
    std::this_thread::sleep_for(5ms);
    dog.disarm();
  }
  std::this_thread::sleep_for(400ms);
  EXPECT_TRUE(rec.get().empty());
  char c = 'x';
  EXPECT_EQ(send(sp.fd[1], &c, 1, 0), 1);
  EXPECT_EQ(recv(sp.fd[0], &c, 1, 0), 1) << "the socket was shut down although no deadline passed";
}

TEST_F(QueryWatchdogTest, ACancelThatWorksWithinTheGraceKeepsTheConnection) {
  dog.arm(100ms, 400ms);
  std::this_thread::sleep_for(250ms);  // cancelled, and the statement returns (with its error)
  dog.disarm();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(rec.get(), (std::vector<Action>{Action::Cancel}));
  char c = 'x';
  EXPECT_EQ(send(sp.fd[1], &c, 1, 0), 1);
  EXPECT_EQ(recv(sp.fd[0], &c, 1, 0), 1);
}

TEST_F(QueryWatchdogTest, InterruptEndsALongStatementAtOnceAndEveryLaterOne) {
  auto read = blocked_read(sp.fd[0]);
  dog.arm(1h, 1h);
  std::this_thread::sleep_for(50ms);
  dog.interrupt(200ms);
  ASSERT_EQ(read.wait_for(3s), std::future_status::ready);
  EXPECT_LT(read.get(), 1.0);
  EXPECT_TRUE(dog.interrupted());
  rec.wait_for(2);
  EXPECT_EQ(rec.get(), (std::vector<Action>{Action::Cancel, Action::Disconnect}));
}

}  // namespace
}  // namespace pge
