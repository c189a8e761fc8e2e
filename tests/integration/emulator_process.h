// The child-process side of the loopback emulator fixtures (ImdsEmulator, AwsEmulator,
// S3Emulator): start a tests/support/*_emulator.py script on an ephemeral port, wait for its port
// file, stop it, and talk to its control plane.
//
//   EmulatorChild child = start_emulator({.name = "s3 emulator", .programs = {"/usr/bin/python3"},
//                                         .argv = {"/usr/bin/python3", script, "--root", dir}});
//   ...
//   stop_emulator(child.pid, child.dir);
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace agent::test {

struct EmulatorLaunch {
  std::string name;  // "aws emulator": messages, and the temp dir's prefix
  std::vector<std::string>
      programs;                   // tried in order until one spawns; without '/' PATH is searched
  std::vector<std::string> argv;  // argv[0] and the script's arguments ("--port 0 --port-file F"
                                  // are appended)
  std::string exit_hint = "see stderr";  // why an emulator that exits at once may have done so
};

struct EmulatorChild {
  pid_t pid = -1;
  std::string dir;  // temp dir holding the port file; removed by stop_emulator
  int port = 0;
};

// Starts the emulator and returns once it listens (its port file holds the port), at most 10 s.
// Throws std::runtime_error (naming launch.name) when it cannot be spawned, exits during startup
// or does not become ready; nothing is left behind then.
EmulatorChild start_emulator(const EmulatorLaunch& launch);

// SIGTERM, then SIGKILL after 2 s; reaps the child and removes `dir`. A pid <= 0 is skipped.
void stop_emulator(pid_t pid, const std::string& dir);

// A blocking HTTP/1.1 exchange with 127.0.0.1:port ("Connection: close"); returns {status, body}.
// Throws std::runtime_error on a socket error. No libcurl, no proxy.
std::pair<int, std::string> loopback_http(int port, const std::string& method,
                                          const std::string& path, const std::string& body = "");

// POST /_control with one action; GET /_stats. Both throw std::runtime_error (naming `name`)
// unless the emulator answers HTTP 200 with JSON.
nlohmann::json emulator_control(int port, const nlohmann::json& action, const std::string& name);
nlohmann::json emulator_stats(int port, const std::string& name);

// A tests/support/*_emulator.py that needs botocore, run under /usr/bin/python3 (Debian's
// python3-botocore; a pyenv python3 on PATH would lack it) for the lifetime of the object: the
// common part of AwsEmulator and S3Emulator. The constructor throws std::runtime_error when the
// emulator does not start; the destructor stops it.
class BotocoreEmulator {
 public:
  BotocoreEmulator(std::string name, const std::string& script,
                   const std::vector<std::string>& extra_args);
  ~BotocoreEmulator();
  BotocoreEmulator(const BotocoreEmulator&) = delete;
  BotocoreEmulator& operator=(const BotocoreEmulator&) = delete;

  // "http://127.0.0.1:<port>", for AWS_ENDPOINT_URL*.
  const std::string& endpoint() const { return endpoint_; }
  int port() const { return child_.port; }

  // POSTs one action to /_control; throws unless the answer is HTTP 200.
  nlohmann::json control(const nlohmann::json& action);
  // GETs /_stats.
  nlohmann::json stats();

 private:
  std::string name_;
  EmulatorChild child_;
  std::string endpoint_;
};

}  // namespace agent::test
