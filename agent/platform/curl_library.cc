#include "agent/platform/curl_library.h"

#include <dlfcn.h>

#include <fmt/format.h>

namespace agent::platform {
namespace {

template <typename F>
bool resolve(void* handle, const char* name, F& out) {
  void* sym = dlsym(handle, name);
  if (sym == nullptr) return false;
  out = reinterpret_cast<F>(sym);
  return true;
}

}  // namespace

Result<std::unique_ptr<CurlLibrary>> CurlLibrary::load(const std::string& soname) {
  std::unique_ptr<CurlLibrary> lib(new CurlLibrary());
  // RTLD_LOCAL: its symbols stay out of the global namespace; RTLD_NOW: a broken install fails
  // here, not in the middle of a request.
  lib->handle_ = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib->handle_ == nullptr) {
    const char* why = dlerror();
    return make_error(Errc::Unavailable,
                      "cannot load {} for AWS API calls ({}); install libcurl4 (7.75 or later)",
                      soname, why != nullptr ? why : "unknown error");
  }
  CURLcode (*global_init)(long) = nullptr;
  curl_version_info_data* (*version_info)(CURLversion) = nullptr;
  const bool ok = resolve(lib->handle_, "curl_global_init", global_init) &&
                  resolve(lib->handle_, "curl_global_cleanup", lib->global_cleanup_) &&
                  resolve(lib->handle_, "curl_version_info", version_info) &&
                  resolve(lib->handle_, "curl_easy_init", lib->easy_init) &&
                  resolve(lib->handle_, "curl_easy_cleanup", lib->easy_cleanup) &&
                  resolve(lib->handle_, "curl_easy_reset", lib->easy_reset) &&
                  resolve(lib->handle_, "curl_easy_setopt", lib->easy_setopt) &&
                  resolve(lib->handle_, "curl_easy_perform", lib->easy_perform) &&
                  resolve(lib->handle_, "curl_easy_getinfo", lib->easy_getinfo) &&
                  resolve(lib->handle_, "curl_easy_strerror", lib->easy_strerror) &&
                  resolve(lib->handle_, "curl_slist_append", lib->slist_append) &&
                  resolve(lib->handle_, "curl_slist_free_all", lib->slist_free_all);
  if (!ok) return make_error(Errc::Unavailable, "{} lacks a libcurl function: {}", soname, dlerror());
  const curl_version_info_data* info = version_info(CURLVERSION_NOW);
  if (info == nullptr || info->version_num < kMinVersion) {
    return make_error(Errc::Unavailable, "{} is libcurl {}, older than 7.75.0 (no AWS SigV4 signing)",
                      soname, info != nullptr && info->version != nullptr ? info->version : "?");
  }
  lib->version_ = info->version != nullptr ? info->version : "";
  if (CURLcode rc = global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
    return make_error(Errc::Unavailable, "curl_global_init failed ({})", lib->easy_strerror(rc));
  }
  lib->initialised_ = true;
  return lib;
}

CurlLibrary::~CurlLibrary() {
  if (initialised_) global_cleanup_();
  if (handle_ != nullptr) dlclose(handle_);
}

}  // namespace agent::platform
