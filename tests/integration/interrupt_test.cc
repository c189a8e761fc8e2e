// Cancellation (SIGTERM/SIGINT) and the run lock in the real adapters: AsioImds against the IMDS
// emulator, PosixRootFs on real files, and SignalWatcher with a real signal sent to this process.
// A token is cancelled from another thread, the way the signal thread does it.
#include <doctest/doctest.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/platform/asio_imds.h"
#include "agent/platform/posix_root_fs.h"
#include "agent/platform/signal_watcher.h"
#include "agent/platform/steady_clock.h"
#include "tests/integration/imds_fixture.h"

namespace fs = std::filesystem;
using agent::CancelToken;
using agent::Errc;
using agent::WriteOutcome;
using agent::platform::AsioImds;
using agent::platform::PosixRootFs;
using agent::platform::SignalWatcher;
using agent::platform::SteadyClock;
using agent::test::ImdsEmulator;
using namespace std::chrono_literals;

namespace {

// Cancels `token` with `signo` after `delay`, on its own thread; joins on destruction.
class CancelLater {
 public:
  CancelLater(CancelToken& token, std::chrono::milliseconds delay, int signo = SIGTERM)
      : thread_([&token, delay, signo] {
          std::this_thread::sleep_for(delay);
          token.cancel(signo);
        }) {}
  ~CancelLater() { thread_.join(); }

 private:
  std::thread thread_;
};

std::chrono::milliseconds since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
}

AsioImds::Options options_for(const ImdsEmulator& imds) {
  AsioImds::Options o;
  o.endpoint = imds.endpoint();
  o.jitter_seed = 7;
  return o;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "interrupt-test.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& rel) const { return path_ / rel; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int temp_files_under(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().filename().string().find(".tmp.") != std::string::npos) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("AsioImds: a cancellation abandons a hung request within one poll, keeping answers already in") {
  ImdsEmulator imds;
  imds.control({{"action", "fault"}, {"path", "latest/meta-data/mac"}, {"hang", true}});
  SteadyClock clock;
  CancelToken token;
  AsioImds client(options_for(imds), clock, &token);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<agent::Result<std::string>> got;
  {
    CancelLater later(token, 300ms);
    got = client.get_many({"latest/meta-data/mac", "latest/meta-data/instance-id"});
  }
  const auto took = since(t0);
  REQUIRE_FALSE(got[0].has_value());
  CHECK(got[0].error().code == Errc::Interrupted);
  CHECK_MESSAGE(got[0].error().message.find("interrupted by SIGTERM") != std::string::npos, got[0].error().message);
  CHECK(got[1].value() == "i-0123456789abcdef0");  // answered before the signal
  CHECK(took >= 300ms);
  CHECK(took < 300ms + 2 * agent::kCancelPoll);
  imds.control({{"action", "clear_faults"}});
}

TEST_CASE("AsioImds: a cancellation ends the retry backoff, and the token fetch, at once") {
  ImdsEmulator imds;
  SteadyClock clock;
  CancelToken token;
  SUBCASE("backoff between retries of a failing path") {
    imds.control({{"action", "fault"}, {"path", "latest/meta-data/mac"}, {"status", 503}});
    auto o = options_for(imds);
    o.backoff_base = 2000ms;  // long sleeps: only the cancellation can end them early
    o.backoff_cap = 2000ms;
    o.jitter_seed = 1;
    AsioImds client(o, clock, &token);
    const auto t0 = std::chrono::steady_clock::now();
    agent::Result<std::string> r = agent::make_error(Errc::Internal, "unset");
    {
      CancelLater later(token, 200ms, SIGINT);
      r = client.get("latest/meta-data/mac");
    }
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Interrupted);
    CHECK(r.error().message.find("interrupted by SIGINT") != std::string::npos);
    CHECK(since(t0) < 200ms + 2 * agent::kCancelPoll);
  }
  SUBCASE("a hung token request") {
    imds.control({{"action", "fault"}, {"path", "*"}, {"hang", true}});
    AsioImds client(options_for(imds), clock, &token);
    const auto t0 = std::chrono::steady_clock::now();
    agent::Result<std::string> r = agent::make_error(Errc::Internal, "unset");
    {
      CancelLater later(token, 200ms);
      r = client.get("latest/meta-data/mac");
    }
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Interrupted);
    CHECK(since(t0) < 200ms + 2 * agent::kCancelPoll);
    imds.control({{"action", "clear_faults"}});
  }
}

TEST_CASE("PosixRootFs: a cancellation before the renames leaves every file as it was and no temp file") {
  TempDir dir;
  auto fs = PosixRootFs::open(dir.path().string()).value();
  REQUIRE(fs->write_atomic("/etc/kubernetes/a.json", "old a\n", 0644).has_value());
  std::vector<agent::RootFs::FileContent> batch = {{"/etc/kubernetes/a.json", "new a\n", 0644},
                                                   {"/etc/kubernetes/b.json", "new b\n", 0644},
                                                   {"/var/lib/kubelet/kubeconfig", "new c\n", 0600}};
  CancelToken token;
  token.cancel(SIGTERM);  // seen right after the first file is staged
  auto r = fs->write_atomic_all(batch, &token);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::Interrupted);
  CHECK(slurp(dir / "etc/kubernetes/a.json") == "old a\n");
  CHECK_FALSE(fs::exists(dir / "etc/kubernetes/b.json"));
  CHECK_FALSE(fs::exists(dir / "var/lib/kubelet/kubeconfig"));
  CHECK(temp_files_under(dir.path()) == 0);

  auto ok = fs->write_atomic_all(batch, nullptr);  // not cancellable: the whole batch
  REQUIRE(ok.has_value());
  CHECK(*ok == std::vector<WriteOutcome>{WriteOutcome::Updated, WriteOutcome::Created, WriteOutcome::Created});
  CHECK(slurp(dir / "var/lib/kubelet/kubeconfig") == "new c\n");
  CHECK(temp_files_under(dir.path()) == 0);
}

TEST_CASE("PosixRootFs: try_lock is exclusive between opens, says who holds it, and frees on release") {
  TempDir dir;
  auto a = PosixRootFs::open(dir.path().string()).value();
  auto b = PosixRootFs::open(dir.path().string()).value();
  const std::string path = "/run/eks-node-agent/lock";
  auto first = a->try_lock(path, "pid 111\n");
  REQUIRE_MESSAGE(first.has_value(), first.error().message);
  REQUIRE(*first != nullptr);
  CHECK(slurp(dir / "run/eks-node-agent/lock") == "pid 111\n");

  auto second = b->try_lock(path, "pid 222\n");
  REQUIRE(second.has_value());
  CHECK(*second == nullptr);  // busy, not an error
  CHECK(slurp(dir / "run/eks-node-agent/lock") == "pid 111\n");  // the waiter does not overwrite it
  auto same_fs = a->try_lock(path, "pid 111\n");  // flock: a second open conflicts even in-process
  REQUIRE(same_fs.has_value());
  CHECK(*same_fs == nullptr);

  first->reset();
  auto third = b->try_lock(path, "pid 222\n");
  REQUIRE(third.has_value());
  CHECK(*third != nullptr);
  CHECK(slurp(dir / "run/eks-node-agent/lock") == "pid 222\n");
  CHECK(fs::exists(dir / "run/eks-node-agent/lock"));  // never removed (a waiter may have it open)
}

TEST_CASE("SignalWatcher turns SIGTERM into a cancellation and keeps it from the calling thread") {
  int seen_signo = 0;
  bool seen_first = false;
  {
    SignalWatcher watcher([&](int signo, bool first) {
      seen_signo = signo;
      seen_first = first;
    });
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, nullptr, &now);
    CHECK(sigismember(&now, SIGTERM) == 1);  // blocked here: no EINTR in the working thread
    CHECK(sigismember(&now, SIGINT) == 1);
    CHECK_FALSE(watcher.token().cancelled());

    REQUIRE(::kill(::getpid(), SIGTERM) == 0);  // the whole process, as systemd sends it
    const auto t0 = std::chrono::steady_clock::now();
    while (!watcher.token().cancelled() && since(t0) < 2s) std::this_thread::sleep_for(5ms);
    CHECK(watcher.token().cancelled());
    CHECK(watcher.token().cause() == "SIGTERM");
    CHECK(since(t0) < agent::kCancelPoll);
  }
  CHECK(seen_signo == SIGTERM);
  CHECK(seen_first);
  sigset_t after;
  pthread_sigmask(SIG_SETMASK, nullptr, &after);
  CHECK(sigismember(&after, SIGTERM) == 0);  // the caller's mask is back
}
