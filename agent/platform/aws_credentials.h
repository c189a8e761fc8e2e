// AwsCredentialProvider: the credentials AWS API calls are signed with (rules in
// agent/aws/credentials.h): the environment, else the instance profile through the Imds port
// (which never uses a proxy).
#pragma once
#include <chrono>
#include <functional>
#include <optional>

#include "agent/aws/credentials.h"
#include "agent/ports/clock.h"
#include "agent/ports/imds.h"

namespace agent::platform {

using WallClock = std::function<std::chrono::system_clock::time_point()>;

class AwsCredentialProvider {
 public:
  // `imds` and `clock` must outlive the provider. `wall` tells the UTC time, to compare with the
  // credentials' Expiration; `clock` (steady) decides when the refresh is due.
  AwsCredentialProvider(aws::AwsEnv env, Imds& imds, Clock& clock, WallClock wall);

  // The credentials to sign the next request with. Environment credentials are returned as they
  // are. Instance-profile credentials are fetched on first use (two IMDS GETs: the role listing,
  // then the role's document) and cached until kRefreshMargin before their Expiration; `force`
  // fetches them again regardless (after an answer saying they expired).
  // Errors: AwsApi when the instance has no instance profile (IMDS 404) or IMDS says the role has
  // no usable credentials; Invalid for half-set environment keys; IMDS errors (Unavailable,
  // Timeout, Denied) wrapped with the path.
  Result<aws::Credentials> get(bool force = false);

  // IMDS credential documents fetched so far.
  int fetches() const { return fetches_; }

  // The environment changed (NodeConfig's instance.environment.default): its keys, if any, sign
  // the next request. Instance-profile credentials already fetched stay cached.
  void set_environment(aws::AwsEnv env) { env_ = std::move(env); }

 private:
  aws::AwsEnv env_;
  Imds& imds_;
  Clock& clock_;
  WallClock wall_;
  std::optional<aws::Credentials> cached_;
  std::optional<std::chrono::steady_clock::time_point> refresh_at_;  // nullopt: never
  int fetches_ = 0;
};

}  // namespace agent::platform
