// SignalWatcher: SIGTERM and SIGINT, turned into a CancelToken, for the length of one run.
//
// main constructs one before it builds the adapters and passes token() to them and to the run.
// A Boost.Asio signal_set waits on its own io_context and thread; the first signal cancels the
// token; every signal is also reported to `on_signal` (on the watcher's thread), for a log line. The code doing the work never
// sees a signal: the constructor blocks SIGTERM and SIGINT in the calling thread (threads it
// creates later inherit the mask) and only the watcher's thread unblocks them, so no blocking call
// in the run returns EINTR. PosixCommandRunner gives its children an empty mask again.
//
// The destructor stops and joins the thread and restores the caller's signal mask; from then on
// the signals have their default effect. One instance at a time per process.
#pragma once
#include <signal.h>

#include <functional>
#include <memory>
#include <thread>

#include "agent/ports/cancel.h"

namespace agent::platform {

class SignalWatcher {
 public:
  // on_signal(signo, first): called on the watcher's thread for each signal; may be empty.
  explicit SignalWatcher(std::function<void(int signo, bool first)> on_signal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  const CancelToken& token() const { return token_; }

 private:
  struct Asio;  // io_context and signal_set (signal_watcher.cc)
  void arm();

  std::function<void(int, bool)> on_signal_;
  CancelToken token_;
  sigset_t saved_mask_;
  std::unique_ptr<Asio> asio_;
  std::thread thread_;
};

}  // namespace agent::platform
