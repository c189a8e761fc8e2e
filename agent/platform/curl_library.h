// CurlLibrary: libcurl loaded at run time with dlopen("libcurl.so.4"), only when an AWS API call
// is actually made.
//
// Why not link it: libcurl (OpenSSL flavour) pulls in ~30 shared libraries at process start (TLS,
// Kerberos, LDAP, SSH, ...), about +5 MiB RSS and +3 ms CPU, on every bootstrap, although a
// bootstrap with complete flags makes no AWS call. The binary therefore has no DT_NEEDED on
// libcurl (checked by tests/e2e/aws_test.sh), and only this object ever maps it.
//
// Owns the library: load() dlopens it, resolves the functions the AWS adapter uses and calls
// curl_global_init; the destructor calls curl_global_cleanup and dlcloses it. Handles created
// through it must be released before it is destroyed. Not thread-safe (curl_global_init is not).
#pragma once
#include <curl/curl.h>

#include <memory>
#include <string>

#include "agent/model/result.h"

namespace agent::platform {

class CurlLibrary {
 public:
  // CURLOPT_AWS_SIGV4 appeared in 7.75.0.
  static constexpr unsigned kMinVersion = 0x074B00;

  // Errors: Unavailable when the library cannot be loaded, lacks a symbol, is older than 7.75.0 or
  // fails to initialise; the message names the library and what went wrong.
  static Result<std::unique_ptr<CurlLibrary>> load(const std::string& soname = "libcurl.so.4");
  ~CurlLibrary();
  CurlLibrary(const CurlLibrary&) = delete;
  CurlLibrary& operator=(const CurlLibrary&) = delete;

  // "7.88.1", from curl_version_info.
  const std::string& version() const { return version_; }

  // The resolved functions, with libcurl's own signatures.
  CURL* (*easy_init)() = nullptr;
  void (*easy_cleanup)(CURL*) = nullptr;
  void (*easy_reset)(CURL*) = nullptr;
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...) = nullptr;
  CURLcode (*easy_perform)(CURL*) = nullptr;
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...) = nullptr;
  const char* (*easy_strerror)(CURLcode) = nullptr;
  curl_slist* (*slist_append)(curl_slist*, const char*) = nullptr;
  void (*slist_free_all)(curl_slist*) = nullptr;

 private:
  CurlLibrary() = default;
  void* handle_ = nullptr;
  bool initialised_ = false;
  void (*global_cleanup_)() = nullptr;
  std::string version_;
};

// RAII for the handles, released through the library that made them.
struct CurlEasyDeleter {
  const CurlLibrary* lib;
  void operator()(CURL* e) const { lib->easy_cleanup(e); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  const CurlLibrary* lib;
  void operator()(curl_slist* s) const { lib->slist_free_all(s); }
};
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

}  // namespace agent::platform
