#include "agent/platform/posix_command_runner.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

extern char** environ;

namespace agent::platform {

namespace {

// The end of a command's stderr for an error message: the last non-empty lines, at most ~600
// characters, on one line.
std::string stderr_tail(const std::string& err) {
  std::string t = err;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (t.size() > 600) t = "..." + t.substr(t.size() - 600);
  for (char& c : t) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return t;
}

// Starts argv[0] (from PATH) with stdout on `out_fd` and stderr on `err_fd`, or both on our stderr
// when `show_output` (the build log), with no signal blocked.
Result<pid_t> spawn(const std::vector<std::string>& argv, int out_fd, int err_fd, bool show_output) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (show_output) {
    // Everything the command prints goes to our stderr (the build log); stdout is not kept.
    posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  } else {
    posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The agent blocks SIGTERM/SIGINT in its working threads (SignalWatcher); the child must not
  // inherit that, or it could not be stopped.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return make_error(rc == ENOENT ? Errc::NotFound : Errc::Io, "{}: {}", argv[0], std::strerror(rc));
  return pid;
}

// Reads both pipes (err_fd -1: only out_fd) until the command closes them; false when `deadline`
// came first. Output beyond 1 MiB is read and dropped, so a chatty command never blocks on a full
// pipe or dies of SIGPIPE.
bool read_until_closed(int out_fd, int err_fd, std::chrono::steady_clock::time_point deadline, std::string& out,
                       std::string& err) {
  char buf[4096];
  const int nfds = err_fd >= 0 ? 2 : 1;
  int open_fds = nfds;
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    int pr = poll(fds, nfds, static_cast<int>(left.count()));
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) return false;
    if (pr < 0) return true;  // nothing more can be read; the exit status tells the rest
    for (int i = 0; i < nfds; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      std::string& sink = i == 0 ? out : err;
      if (sink.size() < (1 << 20)) sink.append(buf, static_cast<size_t>(n));
    }
  }
  return true;
}

// A finished command's wait status as the run's result: its stdout, or why it failed.
Result<std::string> exit_result(const std::string& program, int status, std::string out, const std::string& err,
                                bool show_output) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return out;
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  const std::string tail = stderr_tail(err);
  if (show_output) return make_error(Errc::Invalid, "{} failed (status {}; its output is above)", program, code);
  if (tail.empty()) return make_error(Errc::Invalid, "{} failed (status {})", program, code);
  return make_error(Errc::Invalid, "{} failed (status {}): {}", program, code, tail);
}

}  // namespace

Result<std::string> PosixCommandRunner::run(const std::vector<std::string>& argv) {
  if (argv.empty()) return make_error(Errc::Internal, "empty command");
  int out_pipe[2];
  int err_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return make_error(Errc::Io, "pipe: {}", std::strerror(errno));
  if (!show_output_ && pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return make_error(Errc::Io, "pipe: {}", std::strerror(errno));
  }
  auto pid = spawn(argv, out_pipe[1], err_pipe[1], show_output_);
  close(out_pipe[1]);
  if (err_pipe[1] >= 0) close(err_pipe[1]);
  std::string out, err;
  const bool finished =
      pid && read_until_closed(out_pipe[0], err_pipe[0], std::chrono::steady_clock::now() + timeout_, out, err);
  close(out_pipe[0]);
  if (err_pipe[0] >= 0) close(err_pipe[0]);
  if (!pid) return pid.error();
  if (!finished) kill(*pid, SIGKILL);
  int status = 0;
  while (waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!finished) return make_error(Errc::Timeout, "{} did not finish in {} ms", argv[0], timeout_.count());
  return exit_result(argv[0], status, std::move(out), err, show_output_);
}

std::vector<std::string> resolve_host(const std::string& host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) return {};
  std::set<std::string> out;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    const void* src = a->ai_family == AF_INET
                          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
                          : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
    if (inet_ntop(a->ai_family, src, buf, sizeof buf) != nullptr) out.insert(buf);
  }
  freeaddrinfo(res);
  return {out.begin(), out.end()};
}

}  // namespace agent::platform
