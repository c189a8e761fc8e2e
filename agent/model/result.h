// Result<T>: the project's single error model (STYLE.md lesson 5).
//
// A Result holds either a value or an Error. The API is the subset of C++23 std::expected the code
// uses (has_value, value, error, operator*, operator->), so that it can become an alias of
// std::expected once the toolchain moves on. Exceptions are reserved for programming errors:
// calling value() on an error Result aborts with the message, it does not throw.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace agent {

// What kind of failure this is. main maps each code to an exit status (see README "Exit codes").
enum class Errc {
  Usage,        // bad command line (exit 2)
  Invalid,      // bad input value: flag, file, user data (exit 3)
  Parse,        // malformed document (exit 3)
  NotFound,     // something that must exist does not (exit 3 unless mapped otherwise)
  Unavailable,  // a dependency (IMDS, API) cannot be reached (exit 4 for IMDS)
  Timeout,      // a deadline passed (exit 4/5)
  Denied,       // permission denied (exit 6)
  Io,           // local filesystem failure (exit 6)
  Service,      // a systemd unit failed to start or stay up (exit 7)
  AwsApi,       // an AWS API call failed (exit 5)
  Unsupported,  // the operation is not possible with these adapters (exit 8)
  Interrupted,  // SIGTERM/SIGINT (exit 130)
  Internal,     // a bug (exit 70)
};

const char* errc_name(Errc c);

struct Error {
  Errc code = Errc::Internal;
  std::string message;

  // Prefixes context, like Go's fmt.Errorf("reading %s: %w"): "reading /x: <message>".
  template <typename... Args>
  Error wrap(fmt::format_string<Args...> f, Args&&... args) const {
    return Error{code, fmt::format(f, std::forward<Args>(args)...) + ": " + message};
  }
  bool operator==(const Error&) const = default;
};

template <typename... Args>
Error make_error(Errc code, fmt::format_string<Args...> f, Args&&... args) {
  return Error{code, fmt::format(f, std::forward<Args>(args)...)};
}

// Tag to construct an error Result, like std::unexpected.
struct Unexpected {
  Error error;
};
inline Unexpected unexpected(Error e) { return Unexpected{std::move(e)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}      // NOLINT
  Result(Unexpected u) : v_(std::in_place_index<1>, std::move(u.error)) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { check(); return std::get<0>(v_); }
  const T& value() const& { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  void check() const {
    if (!has_value()) {
      std::fprintf(stderr, "BUG: value() on error Result: %s\n", std::get<1>(v_).message.c_str());
      std::abort();
    }
  }
  std::variant<T, Error> v_;
};

// Result<void>: success carries nothing.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : err_(std::move(e)), ok_(false) {}      // NOLINT
  Result(Unexpected u) : err_(std::move(u.error)), ok_(false) {}  // NOLINT
  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace agent

// Propagates an error Result out of the current function: AGENT_TRY(auto x, f());
#define AGENT_CONCAT_INNER(a, b) a##b
#define AGENT_CONCAT(a, b) AGENT_CONCAT_INNER(a, b)
#define AGENT_TRY_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                    \
  if (!tmp.has_value()) return tmp.error(); \
  decl = std::move(tmp).value()
#define AGENT_TRY(decl, expr) AGENT_TRY_IMPL(AGENT_CONCAT(agent_try_, __COUNTER__), decl, expr)
#define AGENT_TRY_STATUS(expr)                         \
  do {                                                 \
    auto agent_try_status_ = (expr);                   \
    if (!agent_try_status_.has_value()) return agent_try_status_.error(); \
  } while (0)
