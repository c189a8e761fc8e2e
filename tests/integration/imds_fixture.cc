#include "tests/integration/imds_fixture.h"

#include <curl/curl.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "tests/integration/emulator_process.h"

namespace agent::test {
namespace {

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The interpreter behind "python3" on PATH, learnt from the first emulator's /proc/<pid>/exe.
// Spawning it directly skips version-manager shims (pyenv's costs ~150 ms per start).
std::mutex python_mu;
std::string python_exe;

std::string resolved_python() {
  std::lock_guard lock(python_mu);
  return python_exe;
}

void remember_python(pid_t pid) {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  if (ec || exe.filename().string().rfind("python", 0) != 0) return;  // e.g. a shim that did not exec
  std::lock_guard lock(python_mu);
  if (python_exe.empty()) python_exe = exe.string();
}

struct EasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};

size_t append_body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One request to the emulator's control plane; throws unless it answers 200 with JSON.
nlohmann::json call(const std::string& url, const std::string* post_body) {
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  if (!easy) throw std::runtime_error("imds emulator: curl_easy_init failed");
  std::unique_ptr<curl_slist, SlistDeleter> headers(curl_slist_append(nullptr, "Content-Type: application/json"));
  std::string body;
  CURL* e = easy.get();
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &append_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
  if (post_body != nullptr) {
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, post_body->c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(post_body->size()));
  }
  CURLcode rc = curl_easy_perform(e);
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK || status != 200) {
    throw std::runtime_error("imds emulator: " + url + ": " +
                             (rc != CURLE_OK ? std::string(curl_easy_strerror(rc)) : "HTTP " + std::to_string(status)) +
                             " " + body);
  }
  return nlohmann::json::parse(body);
}

}  // namespace

std::string ImdsEmulator::script_path() { return std::string(AGENT_SOURCE_DIR) + "/tests/support/imds_emulator.py"; }

std::string ImdsEmulator::default_values_path() {
  return std::string(AGENT_SOURCE_DIR) + "/tests/support/imds-default.json";
}

ImdsEmulator::ImdsEmulator() : ImdsEmulator(Options{}) {}

ImdsEmulator::ImdsEmulator(Options options) {
  init_curl_once();
  std::vector<std::string> args = {"python3", script_path(), "--bind", "127.0.0.1", "--latency-ms",
                                   std::to_string(options.latency_ms)};
  if (!options.values_file.empty()) {
    args.push_back("--values");
    args.push_back(options.values_file);
  }
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  const std::string python = resolved_python();
  EmulatorChild child = start_emulator({.name = "imds emulator",
                                        .programs = {python.empty() ? "python3" : python, "/usr/bin/python3"},
                                        .argv = std::move(args)});
  pid_ = child.pid;
  dir_ = child.dir;
  port_ = child.port;
  endpoint_ = "http://127.0.0.1:" + std::to_string(port_);
  remember_python(pid_);
}

ImdsEmulator::~ImdsEmulator() { stop_emulator(pid_, dir_); }

nlohmann::json ImdsEmulator::control(const nlohmann::json& action) {
  std::string body = action.dump();
  return call(endpoint_ + "/_control", &body);
}

nlohmann::json ImdsEmulator::stats() { return call(endpoint_ + "/_stats", nullptr); }

}  // namespace agent::test
