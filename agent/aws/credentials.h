// AWS credentials: where they come from and when they must be refreshed. Pure: the platform's
// provider (agent/platform/aws_credentials) does the reading.
//
// Order, as the AWS SDKs do for the two sources a node has: the environment
// (AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN]), else the instance profile from
// IMDS (latest/meta-data/iam/security-credentials/ lists the role; .../ROLE holds the JSON).
// Instance-profile credentials expire (about 6 h after issue; IMDS rotates them well before): they
// are refreshed kRefreshMargin before their Expiration, and at once when an API answer says they
// expired.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "agent/aws/endpoints.h"
#include "agent/model/result.h"

namespace agent::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
  std::optional<std::chrono::system_clock::time_point> expiration;  // nullopt: does not expire
  std::string source;  // "environment" or "instance profile ROLE", for messages
  bool operator==(const Credentials&) const = default;
};

inline constexpr std::chrono::minutes kRefreshMargin{5};
inline constexpr std::chrono::seconds kRecheck{10};

inline constexpr const char* kImdsCredentialsPath = "latest/meta-data/iam/security-credentials/";

// Credentials from the environment, or nullopt when AWS_ACCESS_KEY_ID is unset. Errors: Invalid
// when only one of the key id and the secret is set.
Result<std::optional<Credentials>> credentials_from_env(const AwsEnv& env);

// The role name from the IMDS listing (its first non-empty line). Errors: Invalid when empty.
Result<std::string> role_from_listing(std::string_view listing);

// Parses IMDS's iam/security-credentials/ROLE document: {"Code": "Success", "AccessKeyId",
// "SecretAccessKey", "Token", "Expiration": "2024-05-01T18:00:00Z", ...}. Errors: Invalid when
// Code is not Success (its Message is quoted) or a field is missing, Parse for non-JSON.
Result<Credentials> parse_imds_credentials(std::string_view json, const std::string& role);

// "2024-05-01T18:00:00Z" (optionally with fractional seconds) as a UTC time point. Only the
// "Z" zone is accepted, as IMDS writes it.
std::optional<std::chrono::system_clock::time_point> parse_iso8601_utc(std::string_view text);

// The steady-clock time at which credentials expiring at `expiration` (wall clock) must be
// refreshed: `margin` before it, mapped through the pair (wall_now, steady_now) taken at the same
// instant. Credentials IMDS hands out already inside the margin are still valid until they
// expire, so they are re-checked every kRecheck (at most until expiration) rather than fetched
// again for every request; expired ones: steady_now.
std::chrono::steady_clock::time_point refresh_at(std::chrono::system_clock::time_point expiration,
                                                 std::chrono::system_clock::time_point wall_now,
                                                 std::chrono::steady_clock::time_point steady_now,
                                                 std::chrono::seconds margin = kRefreshMargin);

}  // namespace agent::aws
