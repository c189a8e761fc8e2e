#include "tests/integration/aws_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

std::pair<int, std::string> loopback_http(int port, const std::string& method, const std::string& path,
                                          const std::string& body) {
  Fd s{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  timeval tv{10, 0};
  setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("connect to emulator port " + std::to_string(port) + ": " + std::strerror(errno));
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
  if (sp == std::string::npos || head_end == std::string::npos) throw std::runtime_error("bad HTTP answer");
  return {std::atoi(resp.c_str() + sp + 1), resp.substr(head_end + 4)};
}

std::string AwsEmulator::script_path() { return std::string(AGENT_SOURCE_DIR) + "/tests/support/aws_emulator.py"; }

AwsEmulator::AwsEmulator(std::vector<std::string> extra_args) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/aws-emulator-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("aws emulator: mkdtemp failed");
  dir_ = tmpl;
  const std::string port_file = dir_ + "/port";
  std::vector<std::string> args = {"/usr/bin/python3", script_path(), "--port", "0", "--port-file", port_file};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (int err = posix_spawn(&pid_, "/usr/bin/python3", nullptr, nullptr, argv.data(), environ); err != 0) {
    std::filesystem::remove_all(dir_);
    throw std::runtime_error(std::string("aws emulator: cannot start /usr/bin/python3: ") + std::strerror(err));
  }
  auto until = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    std::ifstream in(port_file);
    if (in >> port_ && port_ > 0) break;
    int status = 0;
    bool exited = waitpid(pid_, &status, WNOHANG) == pid_;
    if (exited || std::chrono::steady_clock::now() >= until) {
      if (!exited) {
        kill(pid_, SIGKILL);
        reap_within(pid_, 2s);
      }
      pid_ = -1;
      std::filesystem::remove_all(dir_);
      throw std::runtime_error(exited ? "aws emulator exited during startup (is python3-botocore installed?)"
                                      : "aws emulator did not become ready within 10 s");
    }
    std::this_thread::sleep_for(5ms);
  }
  endpoint_ = "http://127.0.0.1:" + std::to_string(port_);
}

AwsEmulator::~AwsEmulator() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    if (!reap_within(pid_, 2s)) {
      kill(pid_, SIGKILL);
      reap_within(pid_, 2s);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

nlohmann::json AwsEmulator::control(const nlohmann::json& action) {
  auto [status, body] = loopback_http(port_, "POST", "/_control", action.dump());
  if (status != 200) throw std::runtime_error("aws emulator control: HTTP " + std::to_string(status) + " " + body);
  return nlohmann::json::parse(body);
}

nlohmann::json AwsEmulator::stats() {
  auto [status, body] = loopback_http(port_, "GET", "/_stats");
  if (status != 200) throw std::runtime_error("aws emulator stats: HTTP " + std::to_string(status));
  return nlohmann::json::parse(body);
}

}  // namespace agent::test
