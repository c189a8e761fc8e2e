#include "agent/platform/signal_watcher.h"

#include <pthread.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

namespace agent::platform {
namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

struct SignalWatcher::Asio {
  boost::asio::io_context io{1};
  boost::asio::signal_set signals{io, SIGTERM, SIGINT};
};

SignalWatcher::SignalWatcher(std::function<void(int signo, bool first)> on_signal)
    : on_signal_(std::move(on_signal)) {
  const sigset_t stop = stop_signals();
  pthread_sigmask(SIG_BLOCK, &stop, &saved_mask_);
  // The handlers are installed here; a signal arriving before the thread runs stays pending (it
  // is blocked everywhere) and is delivered as soon as the thread unblocks it.
  asio_ = std::make_unique<Asio>();
  arm();
  thread_ = std::thread([this] {
    const sigset_t unblock = stop_signals();
    pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);
    asio_->io.run();
  });
}

SignalWatcher::~SignalWatcher() {
  asio_->io.stop();
  thread_.join();
  asio_.reset();  // uninstalls the handlers
  pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr);
}

void SignalWatcher::arm() {
  asio_->signals.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;  // the watcher is shutting down
    const bool first = !token_.cancelled();
    token_.cancel(signo);
    if (on_signal_) on_signal_(signo, first);
    arm();
  });
}

}  // namespace agent::platform
