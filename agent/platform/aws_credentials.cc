#include "agent/platform/aws_credentials.h"

#include <fmt/format.h>

namespace agent::platform {

AwsCredentialProvider::AwsCredentialProvider(aws::AwsEnv env, Imds& imds, Clock& clock, WallClock wall)
    : env_(std::move(env)), imds_(imds), clock_(clock), wall_(std::move(wall)) {}

Result<aws::Credentials> AwsCredentialProvider::get(bool force) {
  AGENT_TRY(std::optional<aws::Credentials> from_env, aws::credentials_from_env(env_));
  if (from_env) return *from_env;

  if (cached_ && !force && (!refresh_at_ || clock_.now() < *refresh_at_)) return *cached_;

  const std::string listing_path = aws::kImdsCredentialsPath;
  auto listing = imds_.get(listing_path);
  if (!listing) {
    if (listing.error().code == Errc::NotFound) {
      return make_error(Errc::AwsApi,
                        "no AWS credentials: AWS_ACCESS_KEY_ID is not set and the instance has no "
                        "instance profile (IMDS {} is absent); attach an IAM role to the instance",
                        listing_path);
    }
    return listing.error().wrap("reading IMDS {}", listing_path);
  }
  auto role = aws::role_from_listing(*listing);
  if (!role) return make_error(Errc::AwsApi, "no AWS credentials: {}", role.error().message);
  const std::string doc_path = listing_path + *role;
  auto doc = imds_.get(doc_path);
  if (!doc) return doc.error().wrap("reading IMDS {}", doc_path);
  ++fetches_;
  auto creds = aws::parse_imds_credentials(*doc, *role);
  if (!creds) return make_error(Errc::AwsApi, "no usable AWS credentials: {}", creds.error().message);

  if (creds->expiration) {
    refresh_at_ = aws::refresh_at(*creds->expiration, wall_(), clock_.now());
  } else {
    refresh_at_.reset();
  }
  cached_ = std::move(creds).value();
  return *cached_;
}

}  // namespace agent::platform
