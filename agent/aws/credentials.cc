#include "agent/aws/credentials.h"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

namespace agent::aws {
namespace {

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  auto [p, ec] = std::from_chars(s.data() + pos, s.data() + pos + n, out);
  return ec == std::errc() && p == s.data() + pos + n;
}

// Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's days_from_civil.
long days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long>(doe) - 719468;
}

std::string string_field(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<std::optional<Credentials>> credentials_from_env(const AwsEnv& env) {
  if (!env.access_key_id && !env.secret_access_key) return std::optional<Credentials>();
  if (!env.access_key_id || !env.secret_access_key) {
    return make_error(Errc::Invalid,
                      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together (only {} is)",
                      env.access_key_id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY");
  }
  return std::optional<Credentials>(Credentials{
      .access_key_id = *env.access_key_id,
      .secret_access_key = *env.secret_access_key,
      .session_token = env.session_token.value_or(""),
      .expiration = std::nullopt,
      .source = "environment",
  });
}

Result<std::string> role_from_listing(std::string_view listing) {
  while (!listing.empty()) {
    auto nl = listing.find('\n');
    std::string_view line = listing.substr(0, nl);
    listing = nl == std::string_view::npos ? std::string_view{} : listing.substr(nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '/')) {
      line.remove_suffix(1);
    }
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (!line.empty()) return std::string(line);
  }
  return make_error(Errc::Invalid, "IMDS {} lists no role", kImdsCredentialsPath);
}

Result<Credentials> parse_imds_credentials(std::string_view json, const std::string& role) {
  auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return make_error(Errc::Parse, "IMDS {}{} is not a JSON object", kImdsCredentialsPath, role);
  }
  if (std::string code = string_field(j, "Code"); !code.empty() && code != "Success") {
    return make_error(Errc::Invalid, "the instance profile role {} has no usable credentials ({}: {})",
                      role, code, string_field(j, "Message"));
  }
  Credentials c{
      .access_key_id = string_field(j, "AccessKeyId"),
      .secret_access_key = string_field(j, "SecretAccessKey"),
      .session_token = string_field(j, "Token"),
      .expiration = std::nullopt,
      .source = "instance profile " + role,
  };
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return make_error(Errc::Invalid, "IMDS {}{} lacks AccessKeyId or SecretAccessKey",
                      kImdsCredentialsPath, role);
  }
  if (std::string exp = string_field(j, "Expiration"); !exp.empty()) {
    c.expiration = parse_iso8601_utc(exp);
    if (!c.expiration) {
      return make_error(Errc::Invalid, "IMDS {}{}: Expiration '{}' is not an ISO 8601 UTC time",
                        kImdsCredentialsPath, role, exp);
    }
  }
  return c;
}

std::optional<std::chrono::system_clock::time_point> parse_iso8601_utc(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fff]Z
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (s.size() < 20 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, sec)) {
    return std::nullopt;
  }
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
  }
  if (pos + 1 != s.size() || (s[pos] != 'Z' && s[pos] != 'z')) return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  const long days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const auto secs = std::chrono::seconds(days * 86400L + h * 3600L + mi * 60L + sec);
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(secs));
}

std::chrono::steady_clock::time_point refresh_at(std::chrono::system_clock::time_point expiration,
                                                 std::chrono::system_clock::time_point wall_now,
                                                 std::chrono::steady_clock::time_point steady_now,
                                                 std::chrono::seconds margin) {
  using std::chrono::duration_cast;
  using SteadyDur = std::chrono::steady_clock::duration;
  const auto to_expiry = expiration - wall_now;
  if (to_expiry <= std::chrono::system_clock::duration::zero()) return steady_now;
  const auto to_refresh = to_expiry - margin;
  if (to_refresh > std::chrono::system_clock::duration::zero()) {
    return steady_now + duration_cast<SteadyDur>(to_refresh);
  }
  return steady_now + std::min(duration_cast<SteadyDur>(to_expiry), duration_cast<SteadyDur>(kRecheck));
}

}  // namespace agent::aws
