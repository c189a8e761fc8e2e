// The image cache plan (agent/compute/image_cache): which images build mode pulls for a Kubernetes
// version and the add-on versions EKS lists, and which names it tags them with for every region of
// the partition. Expected names are written out by hand from bootstrap-sh.md section 4.2 step 17
// and the ECR account table (section 3.7), not derived from the code under test.
#include "agent/compute/image_cache.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using agent::AddonCompatibility;
using agent::AddonVersionInfo;
using agent::Diagnostic;
using agent::Errc;
using agent::Secret;
namespace c = agent::compute;

namespace {

AddonVersionInfo v(const std::string& addon, const std::string& version, const std::string& minor,
                   bool is_default = false) {
  return AddonVersionInfo{.addon_name = addon, .addon_version = version,
                          .compatibilities = {AddonCompatibility{.cluster_version = minor, .default_version = is_default}}};
}

const std::vector<std::string> kCommercial = {"us-west-2", "us-east-1", "eu-west-1", "af-south-1", "us-east-2",
                                              "ap-northeast-1", "us-west-1"};

c::ImageCacheInputs inputs_130() {
  return c::ImageCacheInputs{
      .kubernetes_version = "1.30.2",
      .pause_container_version = "3.5",
      .region = "us-west-2",
      .domain = "amazonaws.com",
      .account = std::nullopt,
      .kube_proxy_versions = {v("kube-proxy", "v1.30.0-eksbuild.3", "1.30", true),
                              v("kube-proxy", "v1.30.3-eksbuild.9", "1.30"),
                              v("kube-proxy", "v1.30.3-eksbuild.10", "1.30"),
                              v("kube-proxy", "v1.30.1-eksbuild.2", "1.30")},
      .vpc_cni_versions = {v("vpc-cni", "v1.18.1-eksbuild.1", "1.30", true), v("vpc-cni", "v1.18.3-eksbuild.2", "1.30")},
      .partition_regions = kCommercial,
  };
}

std::vector<std::string> targets_of(const c::ImageCachePlan& p, const std::string& source) {
  std::vector<std::string> out;
  for (const auto& t : p.tags) {
    if (t.source == source) out.push_back(t.target);
  }
  return out;
}

bool has(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

const std::string kUsw2 = "602401143452.dkr.ecr.us-west-2.amazonaws.com";

}  // namespace

TEST_CASE("Kubernetes 1.30 caches pause, the -minimal- kube-proxy and the VPC CNI, default and latest") {
  auto p = c::image_cache_plan(inputs_130());
  REQUIRE_MESSAGE(p, (p ? "" : p.error().message));
  CHECK(p->kubernetes_minor == "1.30");
  CHECK(p->registry.host == kUsw2);
  CHECK(p->registry.region == "us-west-2");
  CHECK(p->pulls == std::vector<std::string>{
                        kUsw2 + "/eks/pause:3.5",
                        kUsw2 + "/eks/kube-proxy:v1.30.0-minimal-eksbuild.3",
                        kUsw2 + "/eks/kube-proxy:v1.30.3-minimal-eksbuild.10",  // 10 > 9 > 2: version order
                        kUsw2 + "/amazon-k8s-cni:v1.18.1-eksbuild.1",
                        kUsw2 + "/amazon-k8s-cni-init:v1.18.1-eksbuild.1",
                        kUsw2 + "/amazon-k8s-cni:v1.18.3-eksbuild.2",
                        kUsw2 + "/amazon-k8s-cni-init:v1.18.3-eksbuild.2",
                    });
  CHECK(p->diagnostics.empty());
}

TEST_CASE("below Kubernetes 1.24 both kube-proxy flavours are cached") {
  auto in = inputs_130();
  in.kubernetes_version = "v1.23.17-eks-0a21954";
  in.kube_proxy_versions = {v("kube-proxy", "v1.23.8-eksbuild.2", "1.23", true),
                            v("kube-proxy", "v1.23.16-eksbuild.2", "1.23")};
  in.vpc_cni_versions = {v("vpc-cni", "v1.12.6-eksbuild.2", "1.23", true)};
  auto p = c::image_cache_plan(in);
  REQUIRE_MESSAGE(p, (p ? "" : p.error().message));
  CHECK(p->kubernetes_minor == "1.23");
  CHECK(p->pulls == std::vector<std::string>{
                        kUsw2 + "/eks/pause:3.5",
                        kUsw2 + "/eks/kube-proxy:v1.23.8-eksbuild.2",
                        kUsw2 + "/eks/kube-proxy:v1.23.8-minimal-eksbuild.2",
                        kUsw2 + "/eks/kube-proxy:v1.23.16-eksbuild.2",
                        kUsw2 + "/eks/kube-proxy:v1.23.16-minimal-eksbuild.2",
                        kUsw2 + "/amazon-k8s-cni:v1.12.6-eksbuild.2",
                        kUsw2 + "/amazon-k8s-cni-init:v1.12.6-eksbuild.2",
                    });
}

TEST_CASE("1.24 is the first minor with only the -minimal- kube-proxy") {
  auto in = inputs_130();
  in.kubernetes_version = "1.24";
  in.kube_proxy_versions = {v("kube-proxy", "v1.24.7-eksbuild.2", "1.24", true)};
  in.vpc_cni_versions = {};
  auto p = c::image_cache_plan(in);
  REQUIRE(p);
  CHECK(p->pulls == std::vector<std::string>{kUsw2 + "/eks/pause:3.5",
                                             kUsw2 + "/eks/kube-proxy:v1.24.7-minimal-eksbuild.2"});
}

TEST_CASE("a default that is also the latest is pulled once") {
  auto in = inputs_130();
  in.kube_proxy_versions = {v("kube-proxy", "v1.30.0-eksbuild.3", "1.30", true),
                            v("kube-proxy", "v1.30.0-eksbuild.2", "1.30")};
  in.vpc_cni_versions = {v("vpc-cni", "v1.18.3-eksbuild.2", "1.30", true)};
  auto p = c::image_cache_plan(in);
  REQUIRE(p);
  CHECK(p->pulls == std::vector<std::string>{kUsw2 + "/eks/pause:3.5",
                                             kUsw2 + "/eks/kube-proxy:v1.30.0-minimal-eksbuild.3",
                                             kUsw2 + "/amazon-k8s-cni:v1.18.3-eksbuild.2",
                                             kUsw2 + "/amazon-k8s-cni-init:v1.18.3-eksbuild.2"});
  std::set<std::string> unique(p->pulls.begin(), p->pulls.end());
  CHECK(unique.size() == p->pulls.size());
}

TEST_CASE("the default is the one for this minor, not another minor's") {
  // EKS may list compatibilities for several minors; a default for 1.29 is not the 1.30 default.
  AddonVersionInfo multi{.addon_name = "vpc-cni", .addon_version = "v1.18.5-eksbuild.1",
                         .compatibilities = {{.cluster_version = "1.29", .default_version = true},
                                             {.cluster_version = "1.30", .default_version = false}}};
  auto choice = c::addon_choice({multi, v("vpc-cni", "v1.18.1-eksbuild.1", "1.30", true),
                                 v("vpc-cni", "v1.99.0-eksbuild.1", "1.28", true),
                                 v("kube-proxy", "v9.0.0-eksbuild.1", "1.30", true)},
                                "vpc-cni", "1.30");
  CHECK(choice.default_version == std::optional<std::string>("v1.18.1-eksbuild.1"));
  CHECK(choice.latest_version == std::optional<std::string>("v1.18.5-eksbuild.1"));  // 1.28-only v1.99 ignored
}

TEST_CASE("an add-on without versions is skipped and one without a default caches its latest, with warnings") {
  auto in = inputs_130();
  in.kube_proxy_versions = {};
  in.vpc_cni_versions = {v("vpc-cni", "v1.18.1-eksbuild.1", "1.30"), v("vpc-cni", "v1.18.3-eksbuild.2", "1.30")};
  auto p = c::image_cache_plan(in);
  REQUIRE(p);
  CHECK(p->pulls == std::vector<std::string>{kUsw2 + "/eks/pause:3.5", kUsw2 + "/amazon-k8s-cni:v1.18.3-eksbuild.2",
                                             kUsw2 + "/amazon-k8s-cni-init:v1.18.3-eksbuild.2"});
  REQUIRE(p->diagnostics.size() == 2);
  CHECK(p->diagnostics[0].id == "IMAGE_CACHE_NO_ADDON_VERSIONS");
  CHECK(p->diagnostics[0].level == Diagnostic::Level::Warning);
  CHECK(p->diagnostics[0].message.find("kube-proxy") != std::string::npos);
  CHECK(p->diagnostics[1].id == "IMAGE_CACHE_NO_ADDON_DEFAULT");
}

TEST_CASE("a version that cannot be an image tag is skipped with a warning") {
  auto in = inputs_130();
  in.kube_proxy_versions = {v("kube-proxy", "v1.30.0", "1.30", true)};              // no -eksbuild
  in.vpc_cni_versions = {v("vpc-cni", "v1.18.1 eksbuild.1", "1.30", true)};        // a space
  auto p = c::image_cache_plan(in);
  REQUIRE(p);
  CHECK(p->pulls == std::vector<std::string>{kUsw2 + "/eks/pause:3.5"});
  REQUIRE(p->diagnostics.size() == 2);
  CHECK(p->diagnostics[0].id == "IMAGE_CACHE_BAD_VERSION");
  CHECK(p->diagnostics[1].id == "IMAGE_CACHE_BAD_VERSION");
}

TEST_CASE("every pulled image is tagged for every region of the partition, each with its own registry") {
  auto p = c::image_cache_plan(inputs_130());
  REQUIRE(p);
  CHECK(p->regions == std::vector<std::string>{"af-south-1", "ap-northeast-1", "eu-west-1", "us-east-1",
                                               "us-east-2", "us-west-1", "us-west-2"});
  // Every region's registry host, for every image: the reference's one-iteration loop produced
  // none of these (bootstrap-sh.md section 7 item 9).
  const std::vector<std::string> hosts = {
      "877085696533.dkr.ecr.af-south-1.amazonaws.com",     "602401143452.dkr.ecr.ap-northeast-1.amazonaws.com",
      "602401143452.dkr.ecr.eu-west-1.amazonaws.com",      "602401143452.dkr.ecr.us-east-1.amazonaws.com",
      "602401143452.dkr.ecr-fips.us-east-1.amazonaws.com", "602401143452.dkr.ecr.us-east-2.amazonaws.com",
      "602401143452.dkr.ecr-fips.us-east-2.amazonaws.com", "602401143452.dkr.ecr.us-west-1.amazonaws.com",
      "602401143452.dkr.ecr-fips.us-west-1.amazonaws.com", "602401143452.dkr.ecr-fips.us-west-2.amazonaws.com",
  };
  for (const auto& pulled : p->pulls) {
    const std::string path = pulled.substr(kUsw2.size());  // "/eks/pause:3.5"
    const auto targets = targets_of(*p, pulled);
    for (const auto& h : hosts) CHECK_MESSAGE(has(targets, h + path), (h + path));
    CHECK_FALSE(has(targets, pulled));  // never a tag onto itself
  }
  // pause: one tag per host above; nothing else.
  CHECK(targets_of(*p, kUsw2 + "/eks/pause:3.5").size() == hosts.size());
}

TEST_CASE("ecr-fips tags exist only where ECR has a FIPS endpoint") {
  auto p = c::image_cache_plan(inputs_130());
  REQUIRE(p);
  for (const auto& t : p->tags) {
    if (t.target.find(".dkr.ecr-fips.") == std::string::npos) continue;
    const bool fips_region = t.target.find(".us-east-1.") != std::string::npos ||
                             t.target.find(".us-east-2.") != std::string::npos ||
                             t.target.find(".us-west-1.") != std::string::npos ||
                             t.target.find(".us-west-2.") != std::string::npos;
    CHECK_MESSAGE(fips_region, t.target);
  }
  for (const char* r : {"us-east-1", "us-east-2", "us-west-1", "us-west-2", "us-gov-east-1", "us-gov-west-1"}) {
    CHECK(c::has_ecr_fips(r));
  }
  for (const char* r : {"eu-west-1", "af-south-1", "cn-north-1", "us-gov-east-2", "us-east-1\nus-west-2", ""}) {
    CHECK_FALSE(c::has_ecr_fips(r));
  }
}

TEST_CASE("a newline-joined list of regions is not one region (the reference's bug does not come back)") {
  auto in = inputs_130();
  in.partition_regions = {"us-west-2\nus-east-1\neu-west-1"};
  auto p = c::image_cache_plan(in);
  REQUIRE(p);
  for (const auto& t : p->tags) CHECK(t.target.find('\n') == std::string::npos);
  CHECK(p->regions == std::vector<std::string>{"us-west-2"});
  REQUIRE_FALSE(p->diagnostics.empty());
  CHECK(p->diagnostics.back().id == "IMAGE_CACHE_BAD_REGION");
  // Split properly, the same regions give one registry each.
  in.partition_regions = {"us-west-2", "us-east-1", "eu-west-1"};
  auto split = c::image_cache_plan(in);
  REQUIRE(split);
  const auto targets = targets_of(*split, kUsw2 + "/eks/pause:3.5");
  CHECK(targets == std::vector<std::string>{"602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/pause:3.5",
                                            "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/pause:3.5",
                                            "602401143452.dkr.ecr-fips.us-east-1.amazonaws.com/eks/pause:3.5",
                                            "602401143452.dkr.ecr-fips.us-west-2.amazonaws.com/eks/pause:3.5"});
}

TEST_CASE("VPC CNI images from eksbuild.1 are also tagged without the suffix") {
  auto p = c::image_cache_plan(inputs_130());
  REQUIRE(p);
  const auto cni = targets_of(*p, kUsw2 + "/amazon-k8s-cni:v1.18.1-eksbuild.1");
  CHECK(has(cni, kUsw2 + "/amazon-k8s-cni:v1.18.1"));  // the build region's own name too
  CHECK(has(cni, "877085696533.dkr.ecr.af-south-1.amazonaws.com/amazon-k8s-cni:v1.18.1"));
  CHECK(has(cni, "602401143452.dkr.ecr-fips.us-east-1.amazonaws.com/amazon-k8s-cni:v1.18.1"));
  // eksbuild.2 has no such alias, and kube-proxy never gets one.
  for (const auto& t : p->tags) {
    CHECK(t.target.find("amazon-k8s-cni:v1.18.3\n") == std::string::npos);
    CHECK_FALSE(t.target.ends_with(":v1.18.3"));
    CHECK_FALSE(t.target.ends_with("-minimal"));
  }
}

TEST_CASE("no tag is made twice, and regions that share a registry share its tags") {
  auto in = inputs_130();
  // A region no table knows pulls from us-west-2: its tags would repeat us-west-2's.
  in.partition_regions.push_back("xx-newregion-1");
  in.partition_regions.push_back("us-east-1");  // listed twice
  auto p = c::image_cache_plan(in);
  REQUIRE(p);
  std::set<std::string> seen;
  for (const auto& t : p->tags) {
    CHECK_MESSAGE(seen.insert(t.target).second, t.target);
    CHECK(t.source != t.target);
  }
  auto base = c::image_cache_plan(inputs_130());
  REQUIRE(base);
  CHECK(p->tags == base->tags);
}

TEST_CASE("China: the cn registries and domain, no FIPS") {
  auto in = inputs_130();
  in.region = "cn-north-1";
  in.domain = "amazonaws.com.cn";
  in.partition_regions = {"cn-north-1", "cn-northwest-1"};
  auto p = c::image_cache_plan(in);
  REQUIRE(p);
  const std::string bjs = "918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn";
  CHECK(p->registry.host == bjs);
  CHECK(p->pulls.front() == bjs + "/eks/pause:3.5");
  CHECK(targets_of(*p, bjs + "/eks/pause:3.5") ==
        std::vector<std::string>{"961992271922.dkr.ecr.cn-northwest-1.amazonaws.com.cn/eks/pause:3.5"});
  for (const auto& t : p->tags) CHECK(t.target.find("ecr-fips") == std::string::npos);
}

TEST_CASE("GovCloud: each region's account, and FIPS in both regions") {
  auto in = inputs_130();
  in.region = "us-gov-west-1";
  in.partition_regions = {"us-gov-west-1", "us-gov-east-1"};
  auto p = c::image_cache_plan(in);
  REQUIRE(p);
  const std::string pdt = "013241004608.dkr.ecr.us-gov-west-1.amazonaws.com";
  CHECK(p->registry.host == pdt);
  CHECK(targets_of(*p, pdt + "/eks/pause:3.5") ==
        std::vector<std::string>{"151742754352.dkr.ecr.us-gov-east-1.amazonaws.com/eks/pause:3.5",
                                 "151742754352.dkr.ecr-fips.us-gov-east-1.amazonaws.com/eks/pause:3.5",
                                 "013241004608.dkr.ecr-fips.us-gov-west-1.amazonaws.com/eks/pause:3.5"});
}

TEST_CASE("a build region without its own registry pulls from us-west-2") {
  auto in = inputs_130();
  in.region = "xx-newregion-1";
  auto p = c::image_cache_plan(in);
  REQUIRE(p);
  CHECK(p->registry.host == kUsw2);
  CHECK(p->registry.region == "us-west-2");  // the token must come from there
}

TEST_CASE("an explicit account is used in every region") {
  auto in = inputs_130();
  in.account = "111122223333";
  in.partition_regions = {"us-west-2", "af-south-1"};
  auto p = c::image_cache_plan(in);
  REQUIRE(p);
  CHECK(p->registry.host == "111122223333.dkr.ecr.us-west-2.amazonaws.com");
  for (const auto& t : p->tags) CHECK(t.target.starts_with("111122223333.dkr.ecr"));
  CHECK(has(targets_of(*p, p->pulls.front()), "111122223333.dkr.ecr.af-south-1.amazonaws.com/eks/pause:3.5"));
}

TEST_CASE("no regions listed: tags for the build region's FIPS host only, with a warning") {
  auto in = inputs_130();
  in.partition_regions = {};
  auto p = c::image_cache_plan(in);
  REQUIRE(p);
  CHECK(targets_of(*p, kUsw2 + "/eks/pause:3.5") ==
        std::vector<std::string>{"602401143452.dkr.ecr-fips.us-west-2.amazonaws.com/eks/pause:3.5"});
  CHECK(p->diagnostics.back().id == "IMAGE_CACHE_NO_REGIONS");
}

TEST_CASE("bad inputs are Invalid and name the value") {
  auto in = inputs_130();
  in.kubernetes_version = "latest";
  auto e = c::image_cache_plan(in);
  REQUIRE_FALSE(e);
  CHECK(e.error().code == Errc::Invalid);
  CHECK(e.error().message.find("'latest'") != std::string::npos);

  in = inputs_130();
  in.pause_container_version = "3.5 --all";
  CHECK(c::image_cache_plan(in).error().code == Errc::Invalid);
  in = inputs_130();
  in.region = "";
  CHECK(c::image_cache_plan(in).error().code == Errc::Invalid);
  in = inputs_130();
  in.domain = "amazonaws.com/x";
  CHECK(c::image_cache_plan(in).error().code == Errc::Invalid);
}

TEST_CASE("kubernetes_minor takes major.minor from any version spelling") {
  CHECK(*c::kubernetes_minor("1.30") == "1.30");
  CHECK(*c::kubernetes_minor("1.30.2") == "1.30");
  CHECK(*c::kubernetes_minor("v1.23.17-eks-0a21954") == "1.23");
  CHECK_FALSE(c::kubernetes_minor("one.thirty"));
}

TEST_CASE("version order is sort -V's: digit runs compare as numbers") {
  struct Row {
    const char* a;
    const char* b;
    int want;
  };
  for (const Row& r : {Row{"v1.30.3-eksbuild.10", "v1.30.3-eksbuild.9", 1}, Row{"v1.30.10-eksbuild.1", "v1.30.9-eksbuild.5", 1},
                       Row{"v1.29.0-eksbuild.1", "v1.30.0-eksbuild.1", -1}, Row{"v1.18.1-eksbuild.1", "v1.18.1-eksbuild.1", 0},
                       Row{"v1.18.01", "v1.18.1", 0}, Row{"v1.18.1", "v1.18.1-eksbuild.1", -1},
                       Row{"v2", "v10", -1}, Row{"99999999999999999999999", "100000000000000000000000", -1}}) {
    CAPTURE(r.a);
    CAPTURE(r.b);
    CHECK(c::compare_versions(r.a, r.b) == r.want);
    CHECK(c::compare_versions(r.b, r.a) == -r.want);
  }
}

TEST_CASE("ctr commands, and what a log may show of them") {
  CHECK(c::ctr_version_argv() == std::vector<std::string>{"ctr", "version"});
  const Secret pw("s3cr3t-password");
  const auto pull = c::ctr_pull_argv(kUsw2 + "/eks/pause:3.5", "AWS", pw);
  CHECK(pull == std::vector<std::string>{"ctr", "--namespace", "k8s.io", "images", "pull", "--user",
                                         "AWS:s3cr3t-password", kUsw2 + "/eks/pause:3.5"});
  const auto shown = c::redacted_argv(pull);
  CHECK(shown == std::vector<std::string>{"ctr", "--namespace", "k8s.io", "images", "pull", "--user", "AWS:<redacted>",
                                          kUsw2 + "/eks/pause:3.5"});
  CHECK(c::redacted_argv({"ctr", "content", "fetch", "--user=AWS:pw", "x"}) ==
        std::vector<std::string>{"ctr", "content", "fetch", "--user=AWS:<redacted>", "x"});
  CHECK(c::redacted_argv({"ctr", "-u", "AWS:pw"}) == std::vector<std::string>{"ctr", "-u", "AWS:<redacted>"});
  CHECK(c::redacted_argv({"ctr", "--user"}) == std::vector<std::string>{"ctr", "--user"});
  CHECK(c::ctr_tag_argv({.source = "a/b:1", .target = "c/b:1"}) ==
        std::vector<std::string>{"ctr", "--namespace", "k8s.io", "images", "tag", "--force", "a/b:1", "c/b:1"});
}

TEST_CASE("a Secret prints as <redacted> however it is printed") {
  const Secret pw("s3cr3t");
  CHECK(fmt::format("{}", pw) == "<redacted>");
  CHECK(fmt::format("[{:>12}]", pw) == "[  <redacted>]");
  std::ostringstream os;
  os << pw;
  CHECK(os.str() == "<redacted>");
  CHECK(pw.reveal() == "s3cr3t");
  CHECK(agent::scrub("ctr: auth AWS:s3cr3t failed, s3cr3t", pw) == "ctr: auth AWS:<redacted> failed, <redacted>");
  CHECK(agent::scrub("nothing here", Secret()) == "nothing here");
}
