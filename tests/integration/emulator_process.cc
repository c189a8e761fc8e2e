#include "tests/integration/emulator_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace agent::test {
namespace {

using namespace std::chrono_literals;

// Waits for the child for at most `limit`; true when it has exited (and was reaped).
bool reap_within(pid_t pid, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(5ms);
  }
}

std::string make_temp_dir(const std::string& name) {
  const char* base = std::getenv("TMPDIR");
  std::string prefix = name;
  std::replace(prefix.begin(), prefix.end(), ' ', '-');
  std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error(name + ": mkdtemp " + tmpl + ": " + std::strerror(errno));
  }
  return tmpl;
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

EmulatorChild start_emulator(const EmulatorLaunch& launch) {
  EmulatorChild child;
  child.dir = make_temp_dir(launch.name);
  const std::string port_file = child.dir + "/port";
  std::vector<std::string> args = launch.argv;
  args.insert(args.end(), {"--port", "0", "--port-file", port_file});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int err = ENOENT;
  std::string tried;
  for (const auto& program : launch.programs) {
    err = program.find('/') == std::string::npos
              ? posix_spawnp(&child.pid, program.c_str(), nullptr, nullptr, argv.data(), environ)
              : posix_spawn(&child.pid, program.c_str(), nullptr, nullptr, argv.data(), environ);
    tried = program;
    if (err == 0) break;
  }
  if (err != 0) {
    std::filesystem::remove_all(child.dir);
    throw std::runtime_error(launch.name + ": cannot start " + tried + ": " + std::strerror(err));
  }

  // The emulator writes the port file atomically once its socket listens.
  auto until = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    std::ifstream in(port_file);
    if (in >> child.port && child.port > 0) return child;
    int status = 0;
    const bool exited = waitpid(child.pid, &status, WNOHANG) == child.pid;
    if (exited || std::chrono::steady_clock::now() >= until) {
      if (!exited) {
        kill(child.pid, SIGKILL);
        reap_within(child.pid, 2s);
      }
      std::filesystem::remove_all(child.dir);
      throw std::runtime_error(exited ? launch.name + " exited during startup (" +
                                            launch.exit_hint + ")"
                                      : launch.name + " did not become ready within 10 s");
    }
    std::this_thread::sleep_for(5ms);
  }
}

void stop_emulator(pid_t pid, const std::string& dir) {
  if (pid > 0) {
    kill(pid, SIGTERM);
    if (!reap_within(pid, 2s)) {
      kill(pid, SIGKILL);
      reap_within(pid, 2s);
    }
  }
  std::error_code ec;
  if (!dir.empty()) std::filesystem::remove_all(dir, ec);
}

std::pair<int, std::string> loopback_http(int port, const std::string& method,
                                          const std::string& path, const std::string& body) {
  Fd s{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  timeval tv{10, 0};
  setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("connect to emulator port " + std::to_string(port) + ": " +
                             std::strerror(errno));
  }
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  for (size_t off = 0; off < req.size();) {
    ssize_t n = send(s.fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
  std::string resp;
  char buf[8192];
  for (;;) {
    ssize_t n = recv(s.fd, buf, sizeof buf, 0);
    if (n < 0) throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
    if (n == 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  auto sp = resp.find(' ');
  auto head_end = resp.find("\r\n\r\n");
  if (sp == std::string::npos || head_end == std::string::npos)
    throw std::runtime_error("bad HTTP answer");
  return {std::atoi(resp.c_str() + sp + 1), resp.substr(head_end + 4)};
}

nlohmann::json emulator_control(int port, const nlohmann::json& action, const std::string& name) {
  auto [status, body] = loopback_http(port, "POST", "/_control", action.dump());
  if (status != 200)
    throw std::runtime_error(name + " control: HTTP " + std::to_string(status) + " " + body);
  return nlohmann::json::parse(body);
}

nlohmann::json emulator_stats(int port, const std::string& name) {
  auto [status, body] = loopback_http(port, "GET", "/_stats");
  if (status != 200) throw std::runtime_error(name + " stats: HTTP " + std::to_string(status));
  return nlohmann::json::parse(body);
}

BotocoreEmulator::BotocoreEmulator(std::string name, const std::string& script,
                                   const std::vector<std::string>& extra_args)
    : name_(std::move(name)) {
  std::vector<std::string> argv = {"/usr/bin/python3", script};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  child_ = start_emulator({.name = name_,
                           .programs = {"/usr/bin/python3"},
                           .argv = std::move(argv),
                           .exit_hint = "is python3-botocore installed?"});
  endpoint_ = "http://127.0.0.1:" + std::to_string(child_.port);
}

BotocoreEmulator::~BotocoreEmulator() { stop_emulator(child_.pid, child_.dir); }

nlohmann::json BotocoreEmulator::control(const nlohmann::json& action) {
  return emulator_control(child_.port, action, name_);
}

nlohmann::json BotocoreEmulator::stats() { return emulator_stats(child_.port, name_); }

}  // namespace agent::test
