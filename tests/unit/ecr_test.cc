#include "agent/compute/ecr.h"

#include <doctest/doctest.h>

#include <optional>
#include <string>

using agent::compute::ecr_registry_for;
using agent::compute::EcrRegistry;

namespace {

struct Row {
  const char* region;
  const char* account;
};

// bootstrap-sh.md section 3.7, transcribed independently of the implementation.
const Row kOwnAccountRegions[] = {
    {"ap-east-1", "800184023465"},      {"ap-east-2", "533267051163"},
    {"me-south-1", "558608220178"},     {"cn-north-1", "918309763551"},
    {"cn-northwest-1", "961992271922"}, {"us-gov-west-1", "013241004608"},
    {"us-gov-east-1", "151742754352"},  {"us-iso-west-1", "608367168043"},
    {"us-iso-east-1", "725322719131"},  {"us-isob-east-1", "187977181151"},
    {"us-isob-west-1", "321162350305"}, {"eu-isoe-west-1", "249663109785"},
    {"eusc-de-east-1", "877088126301"}, {"us-isof-south-1", "676585237158"},
    {"us-isof-east-1", "171035529773"}, {"af-south-1", "877085696533"},
    {"ap-southeast-3", "296578399912"}, {"me-central-1", "759879836304"},
    {"eu-south-1", "590381155156"},     {"eu-south-2", "455263428931"},
    {"eu-central-2", "900612956339"},   {"ap-south-2", "900889452093"},
    {"ap-southeast-4", "491585149902"}, {"il-central-1", "066635153087"},
    {"ca-west-1", "761377655185"},      {"ap-southeast-5", "151610086707"},
    {"ap-southeast-6", "333609536671"}, {"ap-southeast-7", "121268973566"},
    {"mx-central-1", "730335286997"},
};

const char* const kCommercialRegions[] = {
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1",
    "ap-southeast-2", "ca-central-1",   "eu-central-1",   "eu-north-1", "eu-west-1",
    "eu-west-2",      "eu-west-3",      "sa-east-1",      "us-east-1",  "us-east-2",
    "us-west-1",      "us-west-2",
};

}  // namespace

TEST_CASE("every region with its own EKS account maps to that account in the same region") {
  for (const auto& row : kOwnAccountRegions) {
    CAPTURE(row.region);
    auto r = ecr_registry_for(row.region, "amazonaws.com", std::nullopt);
    CHECK(r.account == row.account);
    CHECK(r.region == row.region);
    CHECK(r.host == std::string(row.account) + ".dkr.ecr." + row.region + ".amazonaws.com");
  }
}

TEST_CASE("every original commercial region uses 602401143452 in its own region") {
  for (const char* region : kCommercialRegions) {
    CAPTURE(region);
    auto r = ecr_registry_for(region, "amazonaws.com", std::nullopt);
    CHECK(r.account == "602401143452");
    CHECK(r.region == region);
  }
}

TEST_CASE("a new region in a known partition borrows that partition's registry") {
  struct Fallback {
    const char* region;
    const char* account;
    const char* registry_region;
  };
  const Fallback cases[] = {
      {"us-gov-central-1", "013241004608", "us-gov-west-1"},
      {"cn-south-1", "961992271922", "cn-northwest-1"},
      {"us-iso-south-1", "725322719131", "us-iso-east-1"},
      {"us-isob-south-1", "187977181151", "us-isob-east-1"},
      {"eu-isoe-east-1", "249663109785", "eu-isoe-west-1"},
      {"eusc-fr-west-1", "877088126301", "eusc-de-east-1"},
      {"us-isof-west-1", "676585237158", "us-isof-south-1"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.region);
    auto r = ecr_registry_for(c.region, "example.domain", std::nullopt);
    CHECK(r.account == c.account);
    CHECK(r.region == c.registry_region);
    CHECK(r.host == std::string(c.account) + ".dkr.ecr." + c.registry_region + ".example.domain");
  }
}

TEST_CASE("any other region pulls from 602401143452 in us-west-2") {
  for (const char* region :
       {"eu-west-9", "xx-new-1", "", "US-EAST-1", "us-east-1 ", "us-east-1\nus-west-2"}) {
    CAPTURE(region);
    auto r = ecr_registry_for(region, "amazonaws.com", std::nullopt);
    CHECK(r == EcrRegistry{.account = "602401143452",
                           .region = "us-west-2",
                           .host = "602401143452.dkr.ecr.us-west-2.amazonaws.com",
                           .fips_host = "602401143452.dkr.ecr-fips.us-west-2.amazonaws.com"});
  }
}

TEST_CASE("--pause-container-account overrides the table and keeps the node's region") {
  CHECK(ecr_registry_for("us-east-1", "amazonaws.com", std::string("123456789012")) ==
        EcrRegistry{.account = "123456789012",
                    .region = "us-east-1",
                    .host = "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                    .fips_host = "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com"});
  // Even a region the table would redirect stays put.
  auto r = ecr_registry_for("xx-new-1", "amazonaws.com", std::string("123456789012"));
  CHECK(r.region == "xx-new-1");
  auto gov = ecr_registry_for("us-gov-central-1", "amazonaws.com", std::string("123456789012"));
  CHECK(gov.region == "us-gov-central-1");
}

TEST_CASE("an empty --pause-container-account counts as not given") {
  CHECK(ecr_registry_for("ap-east-1", "amazonaws.com", std::string("")).account == "800184023465");
}

TEST_CASE("the partition's domain is appended to both the regular and the FIPS host") {
  struct Case {
    const char* region;
    const char* domain;
    const char* host;
    const char* fips_host;
  };
  const Case cases[] = {
      {"us-east-1", "amazonaws.com", "602401143452.dkr.ecr.us-east-1.amazonaws.com",
       "602401143452.dkr.ecr-fips.us-east-1.amazonaws.com"},
      {"cn-north-1", "amazonaws.com.cn", "918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn",
       "918309763551.dkr.ecr-fips.cn-north-1.amazonaws.com.cn"},
      {"us-iso-east-1", "c2s.ic.gov", "725322719131.dkr.ecr.us-iso-east-1.c2s.ic.gov",
       "725322719131.dkr.ecr-fips.us-iso-east-1.c2s.ic.gov"},
      {"us-isob-east-1", "sc2s.sgov.gov", "187977181151.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
       "187977181151.dkr.ecr-fips.us-isob-east-1.sc2s.sgov.gov"},
      {"eu-isoe-west-1", "cloud.adc-e.uk", "249663109785.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
       "249663109785.dkr.ecr-fips.eu-isoe-west-1.cloud.adc-e.uk"},
      {"us-isof-south-1", "csp.hci.ic.gov", "676585237158.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
       "676585237158.dkr.ecr-fips.us-isof-south-1.csp.hci.ic.gov"},
      {"eusc-de-east-1", "amazonaws.eu", "877088126301.dkr.ecr.eusc-de-east-1.amazonaws.eu",
       "877088126301.dkr.ecr-fips.eusc-de-east-1.amazonaws.eu"},
      {"us-gov-west-1", "amazonaws.com", "013241004608.dkr.ecr.us-gov-west-1.amazonaws.com",
       "013241004608.dkr.ecr-fips.us-gov-west-1.amazonaws.com"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.region);
    auto r = ecr_registry_for(c.region, c.domain, std::nullopt);
    CHECK(r.host == c.host);
    CHECK(r.fips_host == c.fips_host);
  }
}
