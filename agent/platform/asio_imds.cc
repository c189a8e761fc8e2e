#include "agent/platform/asio_imds.h"
#include "agent/model/text.h"

#include <poll.h>

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <string_view>
#include <utility>

namespace agent::platform {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;
using TimePoint = std::chrono::steady_clock::time_point;
using ErrorCode = boost::system::error_code;

constexpr const char* kTokenPath = "latest/api/token";
constexpr std::size_t kMaxBody = std::size_t{1} << 20;  // user data is capped at 16 KiB by EC2
constexpr std::size_t kMaxHead = 64 * 1024;             // status line + headers (+ chunk trailers)
constexpr std::size_t kMaxChunkLine = 1024;             // "<hex size>[;extensions]"
constexpr std::size_t kMaxToken = 4096;
constexpr std::size_t kMaxIdle = 16;  // kept-alive connections; a batch rarely needs more
constexpr const char* kHint =
    "is the instance metadata service enabled with HttpTokens (IMDSv2) and reachable from this "
    "network namespace (HttpPutResponseHopLimit)?";

// Characters of an IMDS path: ASCII letters, digits and -._:/~ (MACs contain ':'). Nothing that
// could end the request line or start a query.
bool path_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '/' || c == ':' || c == '~';
}

// Strips one leading '/', like the bootstrap.sh helper, and refuses anything that is not a plain
// IMDS path.
Result<std::string> normalize_path(const std::string& path) {
  std::string p = (!path.empty() && path.front() == '/') ? path.substr(1) : path;
  if (p.empty()) return make_error(Errc::Invalid, "IMDS path is empty");
  if (!std::all_of(p.begin(), p.end(), path_char)) {
    return make_error(Errc::Invalid, "IMDS path \"{}\" has a character not allowed in a path", p);
  }
  return p;
}

// A header value must not smuggle a second header.
bool plausible_token(const std::string& t) {
  if (t.empty() || t.size() > kMaxToken) return false;
  return std::none_of(t.begin(), t.end(), [](char c) { return c < 0x21 || c > 0x7e; });
}

std::string with_scheme(std::string v) {
  while (!v.empty() && v.back() == '/') v.pop_back();
  if (v.find("://") == std::string::npos) v = "http://" + v;
  return v;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Calls f(token) for each comma-separated, trimmed, non-empty element of a header value.
template <typename F>
void for_each_token(std::string_view value, F f) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = trim(value.substr(0, comma));
    if (!item.empty()) f(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// Where requests go: the endpoint URL, split once.
struct Target {
  std::string host;  // for the resolver; an IPv6 literal without brackets
  std::uint16_t port = 80;
  std::string authority;  // the Host header: host[:port] as written, brackets included
  std::string base;       // path prefix before "/<imds path>", usually empty
  std::optional<asio::ip::address> literal;
};

// The host part of an authority and the port text after it (nullopt: no port), into `t`: a
// bracketed IPv6 literal (RFC 6874 zone as %25), or a host name or IPv4 address.
Result<std::optional<std::string_view>> parse_host(std::string_view authority, Target& t) {
  std::optional<std::string_view> port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return make_error(Errc::Invalid, "the endpoint has an unclosed '['");
    std::string_view host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return make_error(Errc::Invalid, "unexpected text after ']' in the endpoint");
      port = after.substr(1);
    }
    std::string text(host);
    if (size_t zone = text.find("%25"); zone != std::string::npos) text.replace(zone, 3, "%");  // RFC 6874
    ErrorCode ec;
    auto v6 = asio::ip::make_address_v6(text, ec);
    if (ec) return make_error(Errc::Invalid, "[{}] is not an IPv6 address", host);
    t.literal = asio::ip::address(v6);
    t.host = std::move(text);
    return port;
  }
  size_t colon = authority.find(':');
  if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos) {
    return make_error(Errc::Invalid,
                      "an IPv6 address in the endpoint must be in brackets, as in http://[fd00:ec2::254]");
  }
  std::string_view host = authority.substr(0, colon);
  if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  bool name_chars = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_';
  });
  if (!name_chars) return make_error(Errc::Invalid, "\"{}\" is not a host name or IPv4 address", host);
  t.host = std::string(host);
  ErrorCode ec;
  auto v4 = asio::ip::make_address_v4(t.host, ec);
  if (!ec) t.literal = asio::ip::address(v4);
  return port;
}

Result<Target> parse_endpoint(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return make_error(Errc::Invalid, "the endpoint is not an http:// URL");
  if (!iequals(url.substr(0, sep), "http")) {
    return make_error(Errc::Invalid, "scheme \"{}\" is not supported: IMDS is plain http://", url.substr(0, sep));
  }
  std::string_view rest = url.substr(sep + 3);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  Target t;
  if (slash != std::string_view::npos) {
    std::string_view base = rest.substr(slash);
    while (!base.empty() && base.back() == '/') base.remove_suffix(1);
    if (!std::all_of(base.begin(), base.end(), path_char)) {
      return make_error(Errc::Invalid, "the endpoint path has a character not allowed in a path");
    }
    t.base = std::string(base);
  }
  if (authority.empty()) return make_error(Errc::Invalid, "the endpoint has no host");
  if (authority.find('@') != std::string_view::npos) {
    return make_error(Errc::Invalid, "credentials in the endpoint are not supported");
  }
  AGENT_TRY(std::optional<std::string_view> port, parse_host(authority, t));
  if (port) {
    if (!all_digits(*port) || port->size() > 5 || std::stoi(std::string(*port)) < 1 ||
        std::stoi(std::string(*port)) > 65535) {
      return make_error(Errc::Invalid, "\"{}\" is not a port number (1..65535)", *port);
    }
    t.port = static_cast<std::uint16_t>(std::stoi(std::string(*port)));
  }
  t.authority = std::string(authority);
  return t;
}

// An incremental HTTP/1.1 response parser: feed() bytes as they arrive, finish_at_eof() when the
// peer closes. Understands the status line, header fields (names case-insensitive), Content-Length,
// chunked bodies and bodies delimited by the end of the connection; refuses a body over kMaxBody,
// a header section over kMaxHead and a chunk size line over kMaxChunkLine. Interim 1xx responses
// are skipped.
class ResponseParser {
 public:
  enum class Progress { NeedMore, Done, Malformed, TooLarge };

  Progress feed(std::string_view data) {
    if (failed_) return *failed_;
    if (stage_ == Stage::Done) {
      keep_alive_ = false;  // bytes after the response: do not trust this connection again
      return Progress::Done;
    }
    buf_.append(data);
    Progress p = consume();
    buf_.erase(0, pos_);
    pos_ = 0;
    if (p == Progress::Malformed || p == Progress::TooLarge) failed_ = p;
    return p;
  }

  // The peer closed the connection: Done when that ends the body, NeedMore when it cut the
  // response short.
  Progress finish_at_eof() {
    if (stage_ == Stage::UntilClose) stage_ = Stage::Done;
    return stage_ == Stage::Done ? Progress::Done : Progress::NeedMore;
  }

  int status() const { return status_; }
  std::string take_body() { return std::move(body_); }
  // The connection may carry another request: HTTP/1.1 (or 1.0 with keep-alive), no
  // "Connection: close", and a body whose end was known without closing.
  bool keep_alive() const { return keep_alive_; }
  const std::string& error() const { return error_; }

 private:
  enum class Stage {
    StatusLine,
    Headers,
    Length,
    ChunkSize,
    ChunkData,
    ChunkEnd,
    Trailers,
    UntilClose,
    Done
  };

  Progress malformed(std::string why) {
    error_ = std::move(why);
    return Progress::Malformed;
  }

  // The next complete line without its line ending, or nothing yet. `used` is the line's length
  // with its ending, or what is buffered of an incomplete line.
  std::optional<std::string_view> next_line(std::size_t& used) {
    size_t nl = buf_.find('\n', pos_);
    if (nl == std::string::npos) {
      used = buf_.size() - pos_;
      return std::nullopt;
    }
    std::string_view line(buf_.data() + pos_, nl - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    used = nl + 1 - pos_;
    pos_ = nl + 1;
    return line;
  }

  bool parse_status_line(std::string_view line) {
    // "HTTP/1.1 200 OK": the reason phrase is optional and ignored.
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[7] < '0' || line[7] > '9' ||
        line[8] != ' ' || !all_digits(line.substr(9, 3)) || (line.size() > 12 && line[12] != ' ')) {
      return false;
    }
    http11_ = line[7] != '0';
    status_ = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    return status_ >= 100;
  }

  Progress header_line(std::string_view line) {
    if (line.front() == ' ' || line.front() == '\t') return malformed("folded header line");
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return malformed("header line without a name");
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (name.find_first_of(" \t") != std::string_view::npos)
      return malformed("space in a header name");
    if (iequals(name, "Content-Length")) {
      if (!all_digits(value) || value.size() > 18) return malformed("bad Content-Length");
      std::size_t n = std::stoull(std::string(value));
      if (content_length_ && *content_length_ != n)
        return malformed("conflicting Content-Length headers");
      content_length_ = n;
    } else if (iequals(name, "Transfer-Encoding")) {
      // Only the last coding decides how the body ends; IMDS never applies another one.
      for_each_token(value,
                     [this](std::string_view coding) { chunked_ = iequals(coding, "chunked"); });
      transfer_encoding_ = true;
    } else if (iequals(name, "Connection")) {
      for_each_token(value, [this](std::string_view option) {
        if (iequals(option, "close")) close_ = true;
        if (iequals(option, "keep-alive")) keep_alive_header_ = true;
      });
    }
    return Progress::NeedMore;
  }

  // The header section ended: decide how the body is delimited.
  Progress end_of_headers() {
    if (status_ < 200) {
      if (status_ == 101) return malformed("unexpected protocol switch");
      // An interim response: forget it, keep what is buffered of the real one.
      std::string rest = std::move(buf_);
      std::size_t pos = pos_;
      *this = ResponseParser{};
      buf_ = std::move(rest);
      pos_ = pos;
      return Progress::NeedMore;
    }
    keep_alive_ = !close_ && (http11_ || keep_alive_header_);
    if (status_ == 204 || status_ == 304) {
      stage_ = Stage::Done;
    } else if (transfer_encoding_) {
      if (!chunked_) return malformed("unsupported Transfer-Encoding");
      stage_ = Stage::ChunkSize;
    } else if (content_length_) {
      if (*content_length_ > kMaxBody) return Progress::TooLarge;
      remaining_ = *content_length_;
      body_.reserve(remaining_);
      stage_ = remaining_ > 0 ? Stage::Length : Stage::Done;
    } else {
      keep_alive_ = false;
      stage_ = Stage::UntilClose;
    }
    return Progress::NeedMore;
  }

  Progress chunk_size_line(std::string_view line) {
    std::string_view digits = trim(line.substr(0, line.find(';')));  // chunk extensions are ignored
    if (digits.empty()) return malformed("empty chunk size");
    std::size_t n = 0;
    for (char c : digits) {
      int v = (c >= '0' && c <= '9')                 ? c - '0'
              : (lower(c) >= 'a' && lower(c) <= 'f') ? lower(c) - 'a' + 10
                                                     : -1;
      if (v < 0) return malformed("bad chunk size");
      n = n * 16 + static_cast<std::size_t>(v);
      if (n > kMaxBody) return Progress::TooLarge;
    }
    if (body_.size() + n > kMaxBody) return Progress::TooLarge;
    remaining_ = n;
    stage_ = n == 0 ? Stage::Trailers : Stage::ChunkData;
    return Progress::NeedMore;
  }

  // Copies up to remaining_ buffered bytes into the body.
  void take_data() {
    std::size_t n = std::min(remaining_, buf_.size() - pos_);
    body_.append(buf_, pos_, n);
    pos_ += n;
    remaining_ -= n;
  }

  Progress consume() {
    for (;;) {
      switch (stage_) {
        case Stage::StatusLine:
        case Stage::Headers:
        case Stage::Trailers:
        case Stage::ChunkSize:
        case Stage::ChunkEnd: {
          std::size_t used = 0;
          auto line = next_line(used);
          if (stage_ == Stage::ChunkSize || stage_ == Stage::ChunkEnd) {
            if (used > kMaxChunkLine) return malformed("chunk size line too long");
          } else if (head_bytes_ + used > kMaxHead) {
            return malformed("header section larger than 64 KiB");
          } else if (line) {
            head_bytes_ += used;
          }
          if (!line) return Progress::NeedMore;
          Progress p = Progress::NeedMore;
          if (stage_ == Stage::StatusLine) {
            if (!parse_status_line(*line)) return malformed("not an HTTP/1.x status line");
            stage_ = Stage::Headers;
          } else if (stage_ == Stage::Headers) {
            p = line->empty() ? end_of_headers() : header_line(*line);
          } else if (stage_ == Stage::Trailers) {
            if (line->empty()) stage_ = Stage::Done;
          } else if (stage_ == Stage::ChunkSize) {
            p = chunk_size_line(*line);
          } else {
            if (!line->empty()) return malformed("missing CRLF after chunk data");
            stage_ = Stage::ChunkSize;
          }
          if (p != Progress::NeedMore) return p;
          break;
        }
        case Stage::Length:
          take_data();
          if (remaining_ > 0) return Progress::NeedMore;
          stage_ = Stage::Done;
          break;
        case Stage::ChunkData:
          take_data();
          if (remaining_ > 0) return Progress::NeedMore;
          stage_ = Stage::ChunkEnd;
          break;
        case Stage::UntilClose:
          if (body_.size() + (buf_.size() - pos_) > kMaxBody) return Progress::TooLarge;
          body_.append(buf_, pos_, std::string::npos);
          pos_ = buf_.size();
          return Progress::NeedMore;
        case Stage::Done:
          if (pos_ < buf_.size()) keep_alive_ = false;
          return Progress::Done;
      }
    }
  }

  std::string buf_;  // received, not yet consumed (from pos_)
  std::size_t pos_ = 0;
  std::size_t head_bytes_ = 0;
  Stage stage_ = Stage::StatusLine;
  std::optional<Progress> failed_;
  std::string error_;
  int status_ = 0;
  bool http11_ = false;
  std::optional<std::size_t> content_length_;
  bool transfer_encoding_ = false, chunked_ = false, close_ = false, keep_alive_header_ = false;
  bool keep_alive_ = false;
  std::size_t remaining_ = 0;
  std::string body_;
};

// How one attempt ended, before HTTP status codes are looked at.
enum class Transport {
  Pending,        // still running
  Ok,             // a complete HTTP response
  ConnectFailed,  // name resolution or the TCP connect failed
  TimedOut,       // the attempt's timeout passed
  Broken,         // reset, or closed before the response was complete
  BadResponse,    // the answer is not HTTP/1.x
  TooLarge,       // the body is over kMaxBody
};

// What one attempt means for the caller.
enum class Outcome { Ok, NotFound, Denied, Unauthorized, Retry, Final };

}  // namespace

struct AsioImds::Net {
  explicit Net(const std::string& endpoint) : target(parse_endpoint(endpoint)) {
    if (target.has_value() && target->literal)
      addresses.emplace_back(*target->literal, target->port);
  }

  asio::io_context io{1};
  Result<Target> target;
  std::vector<tcp::endpoint> addresses;  // the literal address, or what the host name resolved to
  std::vector<tcp::socket> idle;         // open connections whose last response allowed another
};

// One HTTP attempt: connect (or take an idle connection), send, read one response, all under one
// timer. Runs on Net::io; every handler checks done_ first, so a timeout or an early result can
// close the socket while other operations are still queued.
class AsioImds::Exchange {
 public:
  using Steady = asio::steady_timer::clock_type;

  Exchange(Net& net, std::string path, std::string request, milliseconds connect_timeout,
           milliseconds timeout)
      : path(std::move(path)),
        net_(net),
        request_(std::move(request)),
        connect_timeout_(connect_timeout),
        timeout_(timeout),
        socket_(net.io),
        timer_(net.io) {}

  // Gives up on this attempt at once (SIGTERM): closes the socket so queued handlers finish.
  void abort() {
    if (!done_) finish(Transport::Broken, "interrupted");
  }

  void start() {
    attempt_by_ = Steady::now() + timeout_;
    while (!net_.idle.empty()) {
      tcp::socket s = std::move(net_.idle.back());
      net_.idle.pop_back();
      if (!quiet(s)) continue;  // closed by IMDS, or an unsolicited answer (408): not reusable
      socket_ = std::move(s);
      reused_ = true;
      connected = true;
      arm(attempt_by_);
      send();
      return;
    }
    connect_fresh();
  }

  Outcome outcome() const {
    switch (transport) {
      case Transport::Ok:
        if (http_status >= 200 && http_status < 300) return Outcome::Ok;
        if (http_status == 404) return Outcome::NotFound;
        if (http_status == 401) return Outcome::Unauthorized;
        if (http_status == 403) return Outcome::Denied;
        if (http_status == 429 || http_status >= 500) return Outcome::Retry;
        return Outcome::Final;
      case Transport::ConnectFailed:
      case Transport::TimedOut:
      case Transport::Broken:
        return Outcome::Retry;
      case Transport::Pending:
      case Transport::BadResponse:
      case Transport::TooLarge:
        return Outcome::Final;
    }
    return Outcome::Final;
  }

  // "HTTP 503" or "connecting to 127.0.0.1:1: Connection refused". Built from the status, the
  // endpoint and socket errors only: no request header (so no token) can appear here.
  std::string failure() const {
    return transport == Transport::Ok ? fmt::format("HTTP {}", http_status) : detail;
  }

  // The code for an Outcome::Final failure.
  Errc final_errc() const {
    if (transport == Transport::Ok) return http_status == 400 ? Errc::Invalid : Errc::Unavailable;
    if (transport == Transport::TooLarge) return Errc::Invalid;
    if (transport == Transport::Pending) return Errc::Internal;
    return Errc::Unavailable;
  }

  const std::string path;
  Transport transport = Transport::Pending;
  int http_status = 0;
  bool connected = false;  // a TCP connection to IMDS existed for this attempt
  std::string body;
  std::string detail;  // what went wrong, for transports other than Ok

 private:
  const Target& target() const { return *net_.target; }

  // True when nothing arrived on an idle connection since its last response. A close that races
  // with a new request is still possible; send() and receive() handle that by reconnecting.
  static bool quiet(tcp::socket& s) {
    pollfd p{s.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }

  void connect_fresh() {
    reused_ = false;
    connected = false;
    ErrorCode ignored;
    socket_.close(ignored);
    arm(std::min(Steady::now() + connect_timeout_, attempt_by_));
    if (!net_.addresses.empty()) {
      connect();
      return;
    }
    resolver_.emplace(net_.io);
    resolver_->async_resolve(
        target().host, std::to_string(target().port),
        [this](const ErrorCode& ec, const tcp::resolver::results_type& results) {
          if (done_) return;
          if (ec) {
            finish(Transport::ConnectFailed,
                   fmt::format("resolving {}: {}", target().host, ec.message()));
            return;
          }
          if (net_.addresses.empty()) {
            for (const auto& entry : results) net_.addresses.push_back(entry.endpoint());
          }
          connect();
        });
  }

  void connect() {
    asio::async_connect(socket_, net_.addresses, [this](const ErrorCode& ec, const tcp::endpoint&) {
      if (done_) return;
      if (ec) {
        finish(Transport::ConnectFailed,
               fmt::format("connecting to {}: {}", target().authority, ec.message()));
        return;
      }
      connected = true;
      ErrorCode ignored;
      socket_.set_option(tcp::no_delay(true), ignored);
      arm(attempt_by_);
      send();
    });
  }

  void send() {
    asio::async_write(socket_, asio::buffer(request_), [this](const ErrorCode& ec, std::size_t) {
      if (done_) return;
      if (ec) {
        if (reused_) return connect_fresh();  // IMDS closed the idle connection; not a failure
        finish(Transport::Broken, fmt::format("sending the request: {}", ec.message()));
        return;
      }
      receive();
    });
  }

  void receive() {
    socket_.async_read_some(asio::buffer(buf_), [this](const ErrorCode& ec, std::size_t n) {
      if (done_) return;
      if (n > 0) {
        got_bytes_ = true;
        switch (parser_.feed(std::string_view(buf_.data(), n))) {
          case ResponseParser::Progress::Done:
            return finish(Transport::Ok);
          case ResponseParser::Progress::Malformed:
            return finish(Transport::BadResponse,
                          fmt::format("malformed HTTP response: {}", parser_.error()));
          case ResponseParser::Progress::TooLarge:
            return finish(Transport::TooLarge,
                          fmt::format("response larger than {} bytes", kMaxBody));
          case ResponseParser::Progress::NeedMore:
            break;
        }
      }
      if (ec == asio::error::eof) {
        if (parser_.finish_at_eof() == ResponseParser::Progress::Done) return finish(Transport::Ok);
        if (reused_ && !got_bytes_) return connect_fresh();
        return finish(Transport::Broken, got_bytes_
                                             ? "the connection closed in the middle of the response"
                                             : "the connection closed without a response");
      }
      if (ec) {
        if (reused_ && !got_bytes_) return connect_fresh();
        return finish(Transport::Broken, fmt::format("receiving the response: {}", ec.message()));
      }
      receive();
    });
  }

  void arm(Steady::time_point at) {
    timer_.expires_at(at);
    timer_.async_wait([this](const ErrorCode& ec) {
      // A wait that completed just before the timer was re-armed still runs: check the expiry.
      if (done_ || ec == asio::error::operation_aborted || timer_.expiry() > Steady::now()) return;
      finish(Transport::TimedOut,
             connected ? fmt::format("no complete answer within {} ms", timeout_.count())
                       : fmt::format("connecting to {}: timed out", target().authority));
    });
  }

  void finish(Transport t, std::string what = {}) {
    done_ = true;
    transport = t;
    detail = std::move(what);
    timer_.cancel();
    if (resolver_) resolver_->cancel();
    if (t == Transport::Ok) {
      http_status = parser_.status();
      body = parser_.take_body();
      if (parser_.keep_alive() && socket_.is_open() && net_.idle.size() < kMaxIdle) {
        net_.idle.push_back(std::move(socket_));
        return;
      }
    }
    ErrorCode ignored;
    socket_.close(ignored);
  }

  Net& net_;
  const std::string request_;
  const milliseconds connect_timeout_, timeout_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::optional<tcp::resolver> resolver_;
  ResponseParser parser_;
  std::array<char, 16 * 1024> buf_;
  Steady::time_point attempt_by_{};
  bool reused_ = false;     // socket_ came from the idle list
  bool got_bytes_ = false;  // some of the response arrived
  bool done_ = false;
};

// Retry bookkeeping for one path across rounds.
struct imds_detail::Job {
  size_t index = 0;
  std::string path;
  int attempts = 0;
  bool ever_connected = false;
  bool last_timed_out = false;
  std::string last_failure;
};
using imds_detail::Job;

AsioImds::AsioImds(Options options, Clock& clock, const CancelToken* cancel)
    : options_(std::move(options)), clock_(clock), cancel_(cancel) {
  while (!options_.endpoint.empty() && options_.endpoint.back() == '/')
    options_.endpoint.pop_back();
  options_.max_attempts = std::max(1, options_.max_attempts);
  net_ = std::make_unique<Net>(options_.endpoint);
  auto seed = options_.jitter_seed.value_or(
      static_cast<std::uint32_t>(clock_.now().time_since_epoch().count()));
  jitter_.seed(seed);
}

AsioImds::~AsioImds() = default;

std::chrono::steady_clock::time_point AsioImds::deadline() {
  if (!deadline_) deadline_ = clock_.now() + options_.overall;
  return *deadline_;
}

bool AsioImds::retries_not_found(const std::string& path) const {
  const auto& list = options_.retry_not_found;
  return std::find(list.begin(), list.end(), path) != list.end();
}

milliseconds AsioImds::backoff_for(int attempt) {
  // Full jitter (uniform in [0, min(cap, base * 2^(attempt-1))]) spreads out many nodes retrying
  // against a recovering IMDS; the shift is bounded so the product cannot overflow.
  int shift = std::clamp(attempt - 1, 0, 20);
  long long ceiling = std::min<long long>(options_.backoff_cap.count(),
                                          options_.backoff_base.count() * (1LL << shift));
  if (ceiling <= 0) return milliseconds{0};
  std::uniform_int_distribution<long long> pick(0, ceiling);
  return milliseconds{pick(jitter_)};
}

std::unique_ptr<AsioImds::Exchange> AsioImds::make_exchange(const std::string& path, bool put,
                                                            const std::string& header) {
  milliseconds left = std::chrono::ceil<milliseconds>(deadline() - clock_.now());
  milliseconds timeout = std::max(milliseconds{1}, std::min(options_.request_timeout, left));
  milliseconds connect = std::max(milliseconds{1}, std::min(options_.connect_timeout, timeout));
  const Target& t = *net_->target;
  // The path and the header were checked (path_char, plausible_token), so neither can end a line.
  std::string request = fmt::format(
      "{} {}/{} HTTP/1.1\r\nHost: {}\r\nUser-Agent: eks-node-agent\r\nAccept: */*\r\n{}\r\n{}\r\n",
      put ? "PUT" : "GET", t.base, path, t.authority, header, put ? "Content-Length: 0\r\n" : "");
  return std::make_unique<Exchange>(*net_, path, std::move(request), connect, timeout);
}

void AsioImds::run_round(const std::vector<Exchange*>& exchanges) {
  ++stats_.round_trips;
  stats_.requests += static_cast<int>(exchanges.size());
  // Every exchange carries its own timer, so run() returns once all have finished.
  net_->io.restart();
  for (Exchange* x : exchanges) x->start();
  if (cancel_ == nullptr) {
    net_->io.run();
    return;
  }
  // Run in slices so a cancellation is seen within kCancelPoll; aborted exchanges close their
  // sockets, their handlers run, and the io_context then runs out of work.
  while (!net_->io.stopped()) {
    net_->io.run_for(kCancelPoll);
    if (cancel_->cancelled()) {
      for (Exchange* x : exchanges) x->abort();
    }
  }
}

namespace {

// Why a job stopped retrying. `deadline_hit` is true when the budget ran out before another try.
Error give_up(const Job& j, const char* verb, const std::string& endpoint, milliseconds overall,
              bool deadline_hit) {
  if (j.attempts > 0 && !j.ever_connected) {
    return make_error(Errc::Unavailable,
                      "IMDS {} {} at {}: could not connect after {} attempt(s) ({}); {}", verb,
                      j.path, endpoint, j.attempts, j.last_failure, kHint);
  }
  if (deadline_hit || j.last_timed_out) {
    return make_error(
        Errc::Timeout,
        "IMDS {} {} at {}: no answer within the {} ms IMDS deadline after {} attempt(s){}; {}",
        verb, j.path, endpoint, overall.count(), j.attempts,
        j.last_failure.empty() ? "" : " (last: " + j.last_failure + ")", kHint);
  }
  return make_error(Errc::Unavailable,
                    "IMDS {} {} at {}: still failing after {} attempt(s) (last: {}); {}", verb,
                    j.path, endpoint, j.attempts, j.last_failure, kHint);
}

// One GET attempt once its round is over, as get_many judges it.
struct Attempt {
  Outcome outcome;
  Transport transport;
  bool connected;
  std::string body;
  std::string failure;  // "HTTP 503", a socket error, ...
  Errc final_errc;
};

// The rules one job's attempt is judged by.
struct GetRules {
  const std::string& endpoint;
  int max_attempts;
  milliseconds overall;
  bool retry_404;        // the path is in Options::retry_not_found
  bool token_refreshed;  // this call already refreshed the token after a 401
};

enum class Verdict { Answered, Retry, RetryWithNewToken };

// What becomes of job `j` after attempt `a`: Answered fills `answer` (the body or the error).
Verdict judge_get(Job& j, Attempt a, const GetRules& r, std::optional<Result<std::string>>& answer) {
  ++j.attempts;
  j.ever_connected = j.ever_connected || a.connected;
  const std::string& ep = r.endpoint;
  switch (a.outcome) {
    case Outcome::Ok:
      answer.emplace(std::move(a.body));
      return Verdict::Answered;
    case Outcome::NotFound:
      if (r.retry_404 && j.attempts < r.max_attempts) {
        j.last_failure = "HTTP 404";
        return Verdict::Retry;
      }
      answer.emplace(make_error(Errc::NotFound, "IMDS GET {} at {}: HTTP 404, not found{}", j.path, ep,
                                j.attempts > 1 ? fmt::format(" after {} attempts", j.attempts) : std::string()));
      return Verdict::Answered;
    case Outcome::Denied:
      answer.emplace(make_error(Errc::Denied, "IMDS GET {} at {}: HTTP 403, forbidden; {}", j.path, ep, kHint));
      return Verdict::Answered;
    case Outcome::Unauthorized:
      if (!r.token_refreshed) return Verdict::RetryWithNewToken;
      answer.emplace(make_error(Errc::Denied, "IMDS GET {} at {}: HTTP 401 even with a freshly issued token; {}",
                                j.path, ep, kHint));
      return Verdict::Answered;
    case Outcome::Retry:
      j.last_failure = std::move(a.failure);
      j.last_timed_out = a.transport == Transport::TimedOut;
      if (j.attempts < r.max_attempts) return Verdict::Retry;
      answer.emplace(give_up(j, "GET", ep, r.overall, false));
      return Verdict::Answered;
    case Outcome::Final:
      break;
  }
  answer.emplace(make_error(a.final_errc, "IMDS GET {} at {}: {}", j.path, ep, a.failure));
  return Verdict::Answered;
}

}  // namespace

Status AsioImds::ensure_token() {
  if (!token_.empty() && clock_.now() < token_refresh_at_) return {};
  token_.clear();
  const std::string& ep = options_.endpoint;
  Job job{0, kTokenPath};
  const std::string ttl_header =
      fmt::format("X-aws-ec2-metadata-token-ttl-seconds: {}", options_.token_ttl_seconds);
  for (;;) {
    TimePoint start = clock_.now();
    if (start >= deadline()) return give_up(job, "PUT", ep, options_.overall, true);
    auto x = make_exchange(kTokenPath, /*put=*/true, ttl_header);
    run_round({x.get()});
    if (is_cancelled(cancel_))
      return cancel_->interrupted(fmt::format("while waiting for IMDS at {}", ep));
    ++job.attempts;
    job.ever_connected = job.ever_connected || x->connected;
    switch (x->outcome()) {
      case Outcome::Ok:
        if (!plausible_token(x->body)) {
          return make_error(Errc::Parse,
                            "IMDS PUT {} at {}: the answer is not a usable token ({} bytes)",
                            kTokenPath, ep, x->body.size());
        }
        token_ = std::move(x->body);
        // Refresh a little before IMDS would expire it, so a long retry loop never sends a token
        // that dies in flight.
        token_refresh_at_ = start + milliseconds{options_.token_ttl_seconds * 900LL};
        ++stats_.token_fetches;
        return {};
      case Outcome::NotFound:
        return make_error(Errc::Unsupported,
                          "IMDS PUT {} at {}: HTTP 404, the endpoint does not issue IMDSv2 tokens",
                          kTokenPath, ep);
      case Outcome::Denied:
      case Outcome::Unauthorized:
        return make_error(Errc::Denied, "IMDS PUT {} at {}: HTTP {}, token request refused; {}",
                          kTokenPath, ep, x->http_status, kHint);
      case Outcome::Retry: {
        job.last_failure = x->failure();
        job.last_timed_out = x->transport == Transport::TimedOut;
        if (job.attempts >= options_.max_attempts)
          return give_up(job, "PUT", ep, options_.overall, false);
        TimePoint wake = clock_.now() + backoff_for(job.attempts);
        if (wake >= deadline()) return give_up(job, "PUT", ep, options_.overall, true);
        if (!sleep_until(clock_, cancel_, wake)) {
          return cancel_->interrupted(fmt::format("while retrying IMDS at {}", ep));
        }
        break;
      }
      case Outcome::Final:
        if (x->transport == Transport::Ok && x->http_status == 405) {
          return make_error(
              Errc::Unsupported,
              "IMDS PUT {} at {}: HTTP 405, the endpoint does not issue IMDSv2 tokens", kTokenPath,
              ep);
        }
        if (x->transport == Transport::Ok && x->http_status == 400) {
          return make_error(
              Errc::Invalid,
              "IMDS PUT {} at {}: HTTP 400, token request rejected; is the token TTL ({} s) "
              "within 1..21600?",
              kTokenPath, ep, options_.token_ttl_seconds);
        }
        return make_error(x->final_errc(), "IMDS PUT {} at {}: {}", kTokenPath, ep, x->failure());
    }
  }
}

Result<std::string> AsioImds::get(const std::string& path) {
  auto results = get_many({path});
  return std::move(results.front());
}

bool AsioImds::wait_for_retry(const std::vector<Job>& next, int backoff_attempt, Answers& out) {
  const std::string& ep = options_.endpoint;
  const TimePoint wake = clock_.now() + backoff_for(backoff_attempt);
  if (wake >= deadline()) {
    for (const Job& j : next) out[j.index].emplace(give_up(j, "GET", ep, options_.overall, true));
    return false;
  }
  if (!sleep_until(clock_, cancel_, wake)) {
    for (const Job& j : next) {
      out[j.index].emplace(cancel_->interrupted(fmt::format("while retrying IMDS GET {} at {}", j.path, ep)));
    }
    return false;
  }
  return true;
}

std::vector<Job> AsioImds::get_round(std::vector<Job>& pending, bool& token_refreshed, Answers& out) {
  const std::string& ep = options_.endpoint;
  if (Status s = ensure_token(); !s.has_value()) {
    for (const Job& j : pending) out[j.index].emplace(s.error().wrap("IMDS GET {}", j.path));
    return {};
  }
  if (clock_.now() >= deadline()) {
    for (const Job& j : pending) out[j.index].emplace(give_up(j, "GET", ep, options_.overall, true));
    return {};
  }
  const std::string header = "X-aws-ec2-metadata-token: " + token_;
  std::vector<std::unique_ptr<Exchange>> exchanges;
  std::vector<Exchange*> round;
  for (const Job& j : pending) {
    exchanges.push_back(make_exchange(j.path, /*put=*/false, header));
    round.push_back(exchanges.back().get());
  }
  run_round(round);
  // A cancellation abandons what is unanswered (and any retry); answers already in are kept.
  const bool cancelled = is_cancelled(cancel_);
  auto interrupted = [&](const Job& j) {
    out[j.index].emplace(cancel_->interrupted(fmt::format("while waiting for IMDS GET {} at {}", j.path, ep)));
  };
  std::vector<Job> next;
  int backoff_attempt = 0;
  bool drop_token = false;
  for (size_t k = 0; k < pending.size(); ++k) {
    Job& j = pending[k];
    Exchange& x = *exchanges[k];
    if (cancelled && x.transport != Transport::Ok) {
      interrupted(j);
      continue;
    }
    const GetRules rules{ep, options_.max_attempts, options_.overall, retries_not_found(j.path), token_refreshed};
    Attempt a{x.outcome(), x.transport, x.connected, std::move(x.body), x.failure(), x.final_errc()};
    const Verdict v = judge_get(j, std::move(a), rules, out[j.index]);
    if (v == Verdict::Answered) continue;
    if (v == Verdict::Retry) backoff_attempt = std::max(backoff_attempt, j.attempts);
    if (v == Verdict::RetryWithNewToken) drop_token = true;
    next.push_back(std::move(j));
  }
  if (cancelled) {
    for (const Job& job : next) interrupted(job);
    return {};
  }
  if (drop_token) {  // a 401 refreshes the token once per call
    token_.clear();
    token_refreshed = true;
  }
  if (backoff_attempt > 0 && !next.empty() && !wait_for_retry(next, backoff_attempt, out)) return {};
  return next;
}

std::vector<Result<std::string>> AsioImds::get_many(const std::vector<std::string>& paths) {
  const std::string& ep = options_.endpoint;
  Answers out(paths.size());
  std::vector<Job> pending;
  for (size_t i = 0; i < paths.size(); ++i) {
    auto p = normalize_path(paths[i]);
    if (!p.has_value()) {
      out[i].emplace(p.error());
    } else if (!net_->target.has_value()) {
      out[i].emplace(make_error(Errc::Invalid, "IMDS GET {} at {}: {}", *p, ep, net_->target.error().message));
    } else {
      pending.push_back(Job{i, std::move(p).value()});
    }
  }
  bool token_refreshed = false;
  while (!pending.empty()) pending = get_round(pending, token_refreshed, out);

  std::vector<Result<std::string>> results;
  results.reserve(out.size());
  for (auto& r : out) {
    results.push_back(r.has_value() ? std::move(*r)
                                    : Result<std::string>(make_error(Errc::Internal, "IMDS GET: no result")));
  }
  return results;
}

std::string resolve_imds_endpoint(const std::optional<std::string>& flag,
                                  const char* aws_ec2_metadata_service_endpoint_env,
                                  const char* imds_endpoint_env) {
  if (flag && !flag->empty()) return with_scheme(*flag);
  if (aws_ec2_metadata_service_endpoint_env != nullptr &&
      *aws_ec2_metadata_service_endpoint_env != '\0') {
    return with_scheme(aws_ec2_metadata_service_endpoint_env);
  }
  if (imds_endpoint_env != nullptr && *imds_endpoint_env != '\0')
    return with_scheme(imds_endpoint_env);
  return "http://169.254.169.254";
}

}  // namespace agent::platform
