// ECR registry host for the pause image (get-ecr-uri.sh, bootstrap-sh.md section 3.7). Pure.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace agent::compute {

struct EcrRegistry {
  std::string account;
  std::string region;   // may differ from the node's (e.g. unknown regions use us-west-2)
  std::string host;     // <account>.dkr.ecr.<region>.<domain>
  std::string fips_host;  // <account>.dkr.ecr-fips.<region>.<domain>
  bool operator==(const EcrRegistry&) const = default;
};

// The registry for a region and domain; `account` (--pause-container-account) overrides the table
// and keeps the node's region.
EcrRegistry ecr_registry_for(std::string_view region, std::string_view domain,
                             const std::optional<std::string>& account);

}  // namespace agent::compute
