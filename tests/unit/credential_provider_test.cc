#include "agent/compute/credential_provider.h"

#include <doctest/doctest.h>

#include <algorithm>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

using agent::Version;
using agent::compute::credential_provider_config_for;
using agent::compute::ecr_match_images;
using json = nlohmann::ordered_json;

namespace {

const std::vector<std::string> kEcrPatterns = {
    "*.dkr.ecr.*.amazonaws.com",      "*.dkr-ecr.*.on.aws",
    "*.dkr.ecr.*.amazonaws.com.cn",   "*.dkr-ecr.*.on.amazonwebservices.com.cn",
    "*.dkr.ecr-fips.*.amazonaws.com", "*.dkr-ecr-fips.*.on.aws",
    "*.dkr.ecr.*.c2s.ic.gov",         "*.dkr.ecr.*.sc2s.sgov.gov",
    "*.dkr.ecr.*.cloud.adc-e.uk",     "*.dkr.ecr.*.csp.hci.ic.gov",
    "*.dkr.ecr.*.amazonaws.eu",
};

json config(const Version& v, const std::optional<std::string>& current = std::nullopt,
            bool* unparsable = nullptr) {
  return json::parse(credential_provider_config_for(v, current, unparsable));
}

const json kForeign = {
    {"name", "my-registry-provider"},
    {"matchImages", {"registry.example.com"}},
    {"defaultCacheDuration", "1h"},
    {"apiVersion", "credentialprovider.kubelet.k8s.io/v1"},
    {"args", {"--flag"}},
};

}  // namespace

TEST_CASE("the ECR match list covers every partition and adds public.ecr.aws from 1.27") {
  CHECK(ecr_match_images({1, 26, 15}) == kEcrPatterns);
  auto with_public = kEcrPatterns;
  with_public.push_back("public.ecr.aws");
  CHECK(ecr_match_images({1, 27, 0}) == with_public);
  CHECK(ecr_match_images({1, 31, 2}) == with_public);
}

TEST_CASE("API versions are v1alpha1 before kubelet 1.27 and v1 from 1.27.0") {
  struct Row {
    Version v;
    std::string config_api;
    std::string provider_api;
    bool public_ecr;
  };
  const std::vector<Row> rows = {
      {{1, 22, 0}, "kubelet.config.k8s.io/v1alpha1", "credentialprovider.kubelet.k8s.io/v1alpha1", false},
      {{1, 26, 0}, "kubelet.config.k8s.io/v1alpha1", "credentialprovider.kubelet.k8s.io/v1alpha1", false},
      {{1, 26, 99}, "kubelet.config.k8s.io/v1alpha1", "credentialprovider.kubelet.k8s.io/v1alpha1", false},
      {{1, 27, 0}, "kubelet.config.k8s.io/v1", "credentialprovider.kubelet.k8s.io/v1", true},
      {{1, 30, 4}, "kubelet.config.k8s.io/v1", "credentialprovider.kubelet.k8s.io/v1", true},
  };
  for (const auto& row : rows) {
    CAPTURE(row.v.str());
    const json cfg = config(row.v);
    CHECK(cfg["apiVersion"] == row.config_api);
    REQUIRE(cfg["providers"].size() == 1);
    CHECK(cfg["providers"][0]["apiVersion"] == row.provider_api);
    const auto& images = cfg["providers"][0]["matchImages"];
    CHECK((std::find(images.begin(), images.end(), "public.ecr.aws") != images.end()) == row.public_ecr);
  }
}

TEST_CASE("the 1.27 config is the AMI's shipped config") {
  auto images = kEcrPatterns;
  images.push_back("public.ecr.aws");
  const json want = {
      {"apiVersion", "kubelet.config.k8s.io/v1"},
      {"kind", "CredentialProviderConfig"},
      {"providers",
       {{{"name", "ecr-credential-provider"},
         {"matchImages", images},
         {"defaultCacheDuration", "12h"},
         {"apiVersion", "credentialprovider.kubelet.k8s.io/v1"}}}},
  };
  const std::string out = credential_provider_config_for({1, 27, 0}, std::nullopt);
  CHECK(json::parse(out) == want);
  CHECK(out == want.dump(2) + "\n");
}

TEST_CASE("providers other than ECR's are kept after ours, in their order") {
  json second = kForeign;
  second["name"] = "another-provider";
  const json current = {
      {"apiVersion", "kubelet.config.k8s.io/v1"},
      {"kind", "CredentialProviderConfig"},
      {"providers",
       {kForeign,
        {{"name", "ecr-credential-provider"}, {"matchImages", {"*.old"}}, {"apiVersion", "x"}},
        second}},
  };
  bool unparsable = false;
  const json cfg = config({1, 29, 0}, current.dump(2), &unparsable);
  CHECK_FALSE(unparsable);
  REQUIRE(cfg["providers"].size() == 3);
  CHECK(cfg["providers"][0]["name"] == "ecr-credential-provider");
  CHECK(cfg["providers"][0]["matchImages"].size() == kEcrPatterns.size() + 1);
  CHECK(cfg["providers"][1] == kForeign);
  CHECK(cfg["providers"][2] == second);
}

TEST_CASE("the agent's own output is a fixed point") {
  for (Version v : {Version{1, 25, 3}, Version{1, 28, 1}}) {
    CAPTURE(v.str());
    json current = {{"providers", {kForeign}}};
    const std::string first = credential_provider_config_for(v, current.dump());
    CHECK(credential_provider_config_for(v, first) == first);
  }
}

TEST_CASE("an unusable current config is flagged and replaced by ours alone") {
  for (const std::string text : {"not json", "", "[]", "{\"providers\": 3}", "{\"kind\": \"x\"}", "{\"providers\": {}}"}) {
    CAPTURE(text);
    bool unparsable = false;
    const json cfg = config({1, 30, 0}, std::string(text), &unparsable);
    CHECK(unparsable);
    REQUIRE(cfg["providers"].size() == 1);
    CHECK(cfg["providers"][0]["name"] == "ecr-credential-provider");
  }
  SUBCASE("absent is not unparsable") {
    bool unparsable = false;
    (void)config({1, 30, 0}, std::nullopt, &unparsable);
    CHECK_FALSE(unparsable);
  }
  SUBCASE("the flag is optional") {
    CHECK(config({1, 30, 0}, std::string("junk"))["providers"].size() == 1);
  }
  SUBCASE("non-object provider entries are dropped") {
    bool unparsable = false;
    json current = {{"providers", {1, "x", kForeign}}};
    const json cfg = config({1, 30, 0}, current.dump(), &unparsable);
    CHECK_FALSE(unparsable);
    REQUIRE(cfg["providers"].size() == 2);
    CHECK(cfg["providers"][1] == kForeign);
  }
}
