#include "agent/platform/curl_http.h"
#include "agent/model/text.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <cctype>
#include <charconv>

#include "agent/aws/endpoints.h"

namespace agent::platform {
namespace {

using std::chrono::milliseconds;

// What the callbacks share during one exchange.
struct Transfer {
  const CurlRequest* request = nullptr;
  CurlAnswer answer;
  int status = 0;              // from the latest status line
  std::uint64_t expected = 0;  // Content-Length of the final answer, 0 when unknown
  std::uint64_t reported = 0;  // bytes last told to the progress callback
  bool too_big = false;
  std::uint64_t received = 0;        // body bytes of this answer, kept or sunk
  std::optional<Error> sink_error;   // the sink refused a piece
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    // A new answer (after a 100 Continue, or the proxy's CONNECT answer): forget the last one's.
    t->answer.headers.clear();
    t->expected = 0;
    const auto sp = line.find(' ');
    int status = 0;
    if (sp != std::string_view::npos) {
      std::from_chars(line.data() + sp + 1, line.data() + line.size(), status);
    }
    t->status = status;
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(trim(line.substr(0, colon)));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  const std::string_view value = trim(line.substr(colon + 1));
  if (name == "content-length") {
    std::uint64_t length = 0;
    std::from_chars(value.data(), value.data() + value.size(), length);
    t->expected = length;
    // An answer that announces more than the cap is refused before its body arrives. (A HEAD
    // answer's Content-Length describes a body that is not sent.)
    if (is_success(t->status) && t->request->method != "HEAD") {
      if (length > t->request->max_body) {
        t->too_big = true;
        return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
      }
      if (t->request->sink == nullptr) t->answer.body.reserve(static_cast<size_t>(length));
    }
  }
  t->answer.headers.emplace_back(std::move(name), std::string(value));
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  if (t->received + bytes > t->request->max_body) {
    t->too_big = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  t->received += bytes;
  if (t->request->sink != nullptr && is_success(t->status)) {
    if (auto st = (*t->request->sink)(std::string_view(data, bytes)); !st) {
      t->sink_error = st.error();
      return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    }
    return bytes;
  }
  t->answer.body.append(data, bytes);
  return bytes;
}

int on_progress(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (is_cancelled(t->request->cancel)) return 1;  // aborts (CURLE_ABORTED_BY_CALLBACK)
  const FetchProgress* progress = t->request->progress;
  // Only a 2xx body is a download worth reporting; an error document is not.
  if (progress != nullptr && *progress && is_success(t->status) && dlnow > 0) {
    const auto now = static_cast<std::uint64_t>(dlnow);
    if (now != t->reported) {
      t->reported = now;
      (*progress)(now, t->expected);
    }
  }
  return 0;
}

}  // namespace

Status CurlSession::open(const std::string& soname) {
  if (lib_) return {};
  AGENT_TRY(lib_, CurlLibrary::load(soname));
  easy_ = CurlEasy(lib_->easy_init(), CurlEasyDeleter{lib_.get()});
  if (!easy_) {
    lib_.reset();
    return make_error(Errc::Unavailable, "curl_easy_init failed");
  }
  return {};
}

std::string CurlAnswer::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

namespace {

// The request's header list (and the session token of a signed request).
Result<CurlSlist> header_list(const CurlLibrary& c, const CurlRequest& r) {
  CurlSlist headers(nullptr, CurlSlistDeleter{&c});
  auto add_header = [&](const std::string& line) -> Status {
    curl_slist* next = c.slist_append(headers.get(), line.c_str());
    if (next == nullptr) return make_error(Errc::Internal, "out of memory building headers");
    (void)headers.release();
    headers.reset(next);
    return {};
  };
  for (const auto& line : r.headers) AGENT_TRY_STATUS(add_header(line));
  if (r.credentials != nullptr && !r.sigv4.empty() && !r.credentials->session_token.empty()) {
    AGENT_TRY_STATUS(add_header("X-Amz-Security-Token: " + r.credentials->session_token));
  }
  // No "Expect:" suppression header: libcurl 7.88 would sign that empty header although it is never
  // sent. Its automatic "Expect: 100-continue" only applies to bodies over 1 MiB, which ours are
  // not.
  return headers;
}

// Every option of one exchange on the reset handle. False when libcurl refused one.
bool set_options(const CurlLibrary& c, CURL* h, const CurlRequest& r, curl_slist* headers, Transfer& t,
                 long timeout_ms) {
  bool ok = true;
  auto set = [&](CURLoption o, auto v) { ok = ok && c.easy_setopt(h, o, v) == CURLE_OK; };
  set(CURLOPT_URL, r.url.c_str());
  set(CURLOPT_HTTPHEADER, headers);
  if (r.method == "POST") {
    set(CURLOPT_POST, 1L);
    set(CURLOPT_POSTFIELDS, r.body.c_str());
    set(CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
  } else if (r.method == "HEAD") {
    set(CURLOPT_NOBODY, 1L);
  } else {
    set(CURLOPT_HTTPGET, 1L);
  }
  if (r.credentials != nullptr && !r.sigv4.empty()) {
    set(CURLOPT_AWS_SIGV4, r.sigv4.c_str());
    set(CURLOPT_USERNAME, r.credentials->access_key_id.c_str());
    set(CURLOPT_PASSWORD, r.credentials->secret_access_key.c_str());
  }
  // Our decision, not libcurl's environment lookup: "" means no proxy.
  set(CURLOPT_PROXY, r.proxy.c_str());
  set(CURLOPT_NOPROXY, "");
  set(CURLOPT_TIMEOUT_MS, timeout_ms);
  set(CURLOPT_CONNECTTIMEOUT_MS, std::max<long>(1, std::min<long>(r.connect_timeout.count(), timeout_ms)));
  if (r.stall_timeout.count() > 0) {
    set(CURLOPT_LOW_SPEED_LIMIT, 1L);
    set(CURLOPT_LOW_SPEED_TIME, static_cast<long>(r.stall_timeout.count()));
  }
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_FOLLOWLOCATION, 0L);
  set(CURLOPT_USERAGENT, r.user_agent.c_str());
  set(CURLOPT_WRITEFUNCTION, &on_body);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&t));
  set(CURLOPT_HEADERFUNCTION, &on_header);
  set(CURLOPT_HEADERDATA, static_cast<void*>(&t));
  set(CURLOPT_XFERINFOFUNCTION, &on_progress);
  set(CURLOPT_XFERINFODATA, static_cast<void*>(&t));
  set(CURLOPT_NOPROGRESS, 0L);
  return ok;
}

// What went wrong in a transfer that did not complete (rc from curl_easy_perform), if anything.
Status transfer_status(const CurlLibrary& c, CURL* h, const CurlRequest& r, const Transfer& t, CURLcode rc,
                       long timeout_ms) {
  if (rc == CURLE_ABORTED_BY_CALLBACK && is_cancelled(r.cancel)) {
    return r.cancel->interrupted(fmt::format("during {}", r.what.empty() ? r.url : r.what));
  }
  if (t.sink_error) return *t.sink_error;
  if (t.too_big) return make_error(Errc::Unsupported, "the answer is over {} bytes", r.max_body);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    // CONNECTTIMEOUT, LOW_SPEED_TIME and TIMEOUT all end as CURLE_OPERATION_TIMEDOUT: whether a
    // connection opened and the elapsed time tell which.
    double elapsed_s = 0;
    c.easy_getinfo(h, CURLINFO_TOTAL_TIME, &elapsed_s);
    const double mib = static_cast<double>(t.received) / (1024.0 * 1024.0);
    const bool before_timeout = elapsed_s * 1000.0 + 500.0 < static_cast<double>(timeout_ms);
    double connected_s = 0;  // 0: the connection (to the proxy, if any) never opened
    c.easy_getinfo(h, CURLINFO_CONNECT_TIME, &connected_s);
    if (connected_s == 0 && t.received == 0 && before_timeout) {
      const std::string via = r.proxy.empty() ? "" : fmt::format(" (proxy {})", aws::url_host(r.proxy));
      return make_error(Errc::Timeout, "could not connect within {} ms{}",
                        std::min<long>(r.connect_timeout.count(), timeout_ms), via);
    }
    if (r.stall_timeout.count() > 0 && before_timeout) {
      return make_error(Errc::Timeout, "the transfer stalled: no data for {} s ({:.1f} MiB received)",
                        r.stall_timeout.count(), mib);
    }
    if (t.received > 0) {
      return make_error(Errc::Timeout, "the answer did not complete within {} ms ({:.1f} MiB received)",
                        timeout_ms, mib);
    }
    return make_error(Errc::Timeout, "no answer within {} ms", timeout_ms);
  }
  if (rc != CURLE_OK) {
    const std::string via = r.proxy.empty() ? "" : fmt::format(" via proxy {}", aws::url_host(r.proxy));
    return make_error(Errc::Unavailable, "{}{}", c.easy_strerror(rc), via);
  }
  return {};
}

}  // namespace

Result<CurlAnswer> curl_exchange(CurlSession& session, const CurlRequest& r) {
  if (!session.loaded())
    return make_error(Errc::Internal, "curl_exchange before CurlSession::open");
  const CurlLibrary& c = session.lib();
  CURL* h = session.easy();
  c.easy_reset(h);
  AGENT_TRY(CurlSlist headers, header_list(c, r));
  const long timeout_ms = std::max<long>(1, r.timeout.count());
  Transfer t;
  t.request = &r;
  if (!set_options(c, h, r, headers.get(), t, timeout_ms))
    return make_error(Errc::Invalid, "libcurl {} refused an option for {}", c.version(), r.url);

  const CURLcode rc = c.easy_perform(h);
  AGENT_TRY_STATUS(transfer_status(c, h, r, t, rc, timeout_ms));
  long status = 0;
  c.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  t.answer.status = static_cast<int>(status);
  if (r.progress != nullptr && *r.progress && is_success(t.answer.status)) {
    // The last word: everything arrived (also for an empty object, which never made progress).
    const auto got = t.received;
    if (got != t.reported || got == 0) (*r.progress)(got, std::max(t.expected, got));
  }
  return std::move(t.answer);
}

}  // namespace agent::platform
