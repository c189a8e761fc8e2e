#include "agent/compute/ecr.h"

#include <fmt/format.h>

#include <array>
#include <tuple>
#include <utility>

namespace agent::compute {
namespace {

struct RegionAccount {
  std::string_view region;
  std::string_view account;
};

// Regions with their own EKS image account (get-ecr-uri.sh, bootstrap-sh.md section 3.7).
constexpr std::array kOwnAccount = {
    RegionAccount{"ap-east-1", "800184023465"},
    RegionAccount{"ap-east-2", "533267051163"},
    RegionAccount{"me-south-1", "558608220178"},
    RegionAccount{"cn-north-1", "918309763551"},
    RegionAccount{"cn-northwest-1", "961992271922"},
    RegionAccount{"us-gov-west-1", "013241004608"},
    RegionAccount{"us-gov-east-1", "151742754352"},
    RegionAccount{"us-iso-west-1", "608367168043"},
    RegionAccount{"us-iso-east-1", "725322719131"},
    RegionAccount{"us-isob-east-1", "187977181151"},
    RegionAccount{"us-isob-west-1", "321162350305"},
    RegionAccount{"eu-isoe-west-1", "249663109785"},
    RegionAccount{"eusc-de-east-1", "877088126301"},
    RegionAccount{"us-isof-south-1", "676585237158"},
    RegionAccount{"us-isof-east-1", "171035529773"},
    RegionAccount{"af-south-1", "877085696533"},
    RegionAccount{"ap-southeast-3", "296578399912"},
    RegionAccount{"me-central-1", "759879836304"},
    RegionAccount{"eu-south-1", "590381155156"},
    RegionAccount{"eu-south-2", "455263428931"},
    RegionAccount{"eu-central-2", "900612956339"},
    RegionAccount{"ap-south-2", "900889452093"},
    RegionAccount{"ap-southeast-4", "491585149902"},
    RegionAccount{"il-central-1", "066635153087"},
    RegionAccount{"ca-west-1", "761377655185"},
    RegionAccount{"ap-southeast-5", "151610086707"},
    RegionAccount{"ap-southeast-6", "333609536671"},
    RegionAccount{"ap-southeast-7", "121268973566"},
    RegionAccount{"mx-central-1", "730335286997"},
};

constexpr std::string_view kCommercialAccount = "602401143452";

// The original commercial regions, served by the main EKS account in their own region.
constexpr std::array<std::string_view, 17> kCommercialRegions = {
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1",
    "ap-southeast-2", "ca-central-1",   "eu-central-1",   "eu-north-1", "eu-west-1",
    "eu-west-2",      "eu-west-3",      "sa-east-1",      "us-east-1",  "us-east-2",
    "us-west-1",      "us-west-2",
};

struct PrefixFallback {
  std::string_view prefix;
  std::string_view account;
  std::string_view region;
};

// A region new to a partition borrows that partition's registry. Checked in this order after the
// exact matches; the prefixes are disjoint ("us-iso-" does not match "us-isob-...").
constexpr std::array kPartitionFallbacks = {
    PrefixFallback{"us-gov-", "013241004608", "us-gov-west-1"},
    PrefixFallback{"cn-", "961992271922", "cn-northwest-1"},
    PrefixFallback{"us-iso-", "725322719131", "us-iso-east-1"},
    PrefixFallback{"us-isob-", "187977181151", "us-isob-east-1"},
    PrefixFallback{"eu-isoe-", "249663109785", "eu-isoe-west-1"},
    PrefixFallback{"eusc-", "877088126301", "eusc-de-east-1"},
    PrefixFallback{"us-isof-", "676585237158", "us-isof-south-1"},
};

std::pair<std::string, std::string> account_and_region(std::string_view region) {
  for (const auto& r : kOwnAccount) {
    if (r.region == region) return {std::string(r.account), std::string(region)};
  }
  for (auto r : kCommercialRegions) {
    if (r == region) return {std::string(kCommercialAccount), std::string(region)};
  }
  for (const auto& f : kPartitionFallbacks) {
    if (region.starts_with(f.prefix)) return {std::string(f.account), std::string(f.region)};
  }
  // Any other (e.g. a newly launched commercial) region pulls from us-west-2, as upstream does.
  return {std::string(kCommercialAccount), "us-west-2"};
}

}  // namespace

EcrRegistry ecr_registry_for(std::string_view region, std::string_view domain,
                             const std::optional<std::string>& account) {
  EcrRegistry out;
  // An empty --pause-container-account means "not given", as in get-ecr-uri.sh.
  if (account && !account->empty()) {
    out.account = *account;
    out.region = std::string(region);
  } else {
    std::tie(out.account, out.region) = account_and_region(region);
  }
  out.host = fmt::format("{}.dkr.ecr.{}.{}", out.account, out.region, domain);
  out.fips_host = fmt::format("{}.dkr.ecr-fips.{}.{}", out.account, out.region, domain);
  return out;
}

}  // namespace agent::compute
