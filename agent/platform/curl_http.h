// One HTTP exchange through the dlopen'ed libcurl, shared by the AWS adapters (CurlAwsApi for the
// EKS/EC2 APIs, CurlS3 for the binary bucket), so that signing, proxy choice, bounds, body caps,
// progress and cancellation are set up in one place.
//
//   CurlSession session;                       // nothing loaded yet
//   AGENT_TRY_STATUS(session.open("libcurl.so.4"));
//   auto answer = curl_exchange(session, {.url = ..., .sigv4 = "aws:amz:us-west-2:s3", ...});
//
// Not thread-safe: a session has one easy handle, reused so that retries share a connection.
#pragma once
#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/aws/credentials.h"
#include "agent/model/result.h"
#include "agent/platform/curl_library.h"
#include "agent/ports/cancel.h"
#include "agent/ports/object_store.h"

namespace agent::platform {

// An HTTP status in 2xx.
inline bool is_success(int status) { return status >= 200 && status < 300; }

// libcurl loaded on first use plus the one easy handle the adapter reuses.
class CurlSession {
 public:
  // Loads the library (CurlLibrary::load) and creates the handle; a no-op once done. Errors:
  // Unavailable (the library cannot be loaded, or curl_easy_init failed).
  Status open(const std::string& soname);
  bool loaded() const { return lib_ != nullptr; }
  // Both only after a successful open().
  const CurlLibrary& lib() const { return *lib_; }
  CURL* easy() const { return easy_.get(); }

 private:
  std::unique_ptr<CurlLibrary> lib_;
  CurlEasy easy_{nullptr, CurlEasyDeleter{nullptr}};
};

struct CurlRequest {
  std::string method = "GET";  // GET | HEAD | POST
  std::string url;
  std::vector<std::string> headers;  // "Name: value", besides Host and the signature's own
  std::string body;                  // POST only
  // CURLOPT_AWS_SIGV4 ("aws:amz:REGION:SERVICE") with these credentials; a session token travels
  // in X-Amz-Security-Token (signed). Null credentials: an anonymous request, not signed.
  std::string sigv4;
  const aws::Credentials* credentials = nullptr;
  std::string proxy;  // "" connects directly (ambient proxy variables are ignored)
  std::string user_agent;
  std::chrono::milliseconds timeout{20000};  // the whole exchange, connect included
  std::chrono::milliseconds connect_timeout{5000};
  // When > 0: abort an exchange that receives less than 1 byte/s for this long (a stalled
  // download), independent of `timeout`.
  std::chrono::seconds stall_timeout{0};
  std::size_t max_body = 16u << 20;         // larger answers abort the exchange
  const FetchProgress* progress = nullptr;  // told about the body of a 2xx answer as it arrives
  // When set, the body of a 2xx answer goes here piece by piece instead of into CurlAnswer::body
  // (max_body still applies); an error from it ends the exchange with that error.
  const std::function<Status(std::string_view)>* sink = nullptr;
  const CancelToken* cancel = nullptr;      // looked at from libcurl's progress callback
  std::string what;                         // "DescribeCluster at URL", for the Interrupted message
};

struct CurlAnswer {
  int status = 0;
  std::string body;
  // The final answer's headers, names lower-cased, values trimmed, in order.
  std::vector<std::pair<std::string, std::string>> headers;

  // The first header with this (lower-case) name, or "".
  std::string header(std::string_view name) const;
};

// Sends `request` on the session's handle and returns the answer whatever its HTTP status.
// Errors:
//   Unavailable  connection-level failure (names libcurl's reason and the proxy, if any): retryable
//   Timeout      the exchange's time ran out, or it stalled (see stall_timeout): retryable
//   Unsupported  the answer is over max_body bytes (by Content-Length or as it arrived)
//   Interrupted  `cancel` was set during the exchange
//   Invalid      libcurl refused an option (e.g. the URL); Internal: out of memory
Result<CurlAnswer> curl_exchange(CurlSession& session, const CurlRequest& request);

}  // namespace agent::platform
