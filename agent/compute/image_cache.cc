#include "agent/compute/image_cache.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "agent/model/version.h"

namespace agent::compute {
namespace {

constexpr std::array<std::string_view, 6> kEcrFipsRegions = {
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "us-gov-east-1", "us-gov-west-1",
};

constexpr std::string_view kCniAlias = "-eksbuild.1";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool valid_region_name(std::string_view r) {
  return !r.empty() && r.size() <= 64 && std::all_of(r.begin(), r.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-';
  });
}

bool valid_domain(std::string_view d) {
  return !d.empty() && d.size() <= 128 && d.front() != '.' && d.back() != '.' &&
         std::all_of(d.begin(), d.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
         });
}

// One image to pull: repository under the registry host, and tag.
struct Wanted {
  std::string repository;  // "eks/pause", "amazon-k8s-cni"
  std::string tag;
  bool vpc_cni = false;
};

Diagnostic warning(std::string id, std::string message) {
  return Diagnostic{.level = Diagnostic::Level::Warning, .id = std::move(id), .message = std::move(message)};
}

// The versions to cache for one add-on (default first, then latest; once when they are the same),
// with warnings for what is missing.
std::vector<std::string> versions_to_cache(const std::vector<AddonVersionInfo>& listed, std::string_view addon,
                                           const std::string& minor, std::vector<Diagnostic>& diagnostics) {
  const AddonChoice choice = addon_choice(listed, addon, minor);
  std::vector<std::string> out;
  if (!choice.latest_version) {
    diagnostics.push_back(warning("IMAGE_CACHE_NO_ADDON_VERSIONS",
                                  fmt::format("EKS lists no {} version for Kubernetes {}: no {} image is cached",
                                              addon, minor, addon)));
    return out;
  }
  if (!choice.default_version) {
    diagnostics.push_back(warning("IMAGE_CACHE_NO_ADDON_DEFAULT",
                                  fmt::format("EKS names no default {} version for Kubernetes {}: only the "
                                              "latest, {}, is cached",
                                              addon, minor, *choice.latest_version)));
  } else {
    out.push_back(*choice.default_version);
  }
  if (out.empty() || out.front() != *choice.latest_version) out.push_back(*choice.latest_version);
  return out;
}

}  // namespace

Result<std::string> kubernetes_minor(std::string_view kubernetes_version) {
  auto v = parse_version(kubernetes_version);
  if (!v) {
    return make_error(Errc::Invalid, "'{}' is not a Kubernetes version (like 1.30 or 1.30.2)", kubernetes_version);
  }
  return fmt::format("{}.{}", v->major, v->minor);
}

int compare_versions(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (is_digit(a[i]) && is_digit(b[j])) {
      // Compare the digit runs as numbers of any length: skip leading zeros, then longer wins,
      // then the digits decide.
      size_t i0 = i, j0 = j;
      while (i < a.size() && is_digit(a[i])) ++i;
      while (j < b.size() && is_digit(b[j])) ++j;
      std::string_view da = a.substr(i0, i - i0), db = b.substr(j0, j - j0);
      while (da.size() > 1 && da.front() == '0') da.remove_prefix(1);
      while (db.size() > 1 && db.front() == '0') db.remove_prefix(1);
      if (da.size() != db.size()) return da.size() < db.size() ? -1 : 1;
      if (int c = da.compare(db); c != 0) return c < 0 ? -1 : 1;
      continue;
    }
    if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]) ? -1 : 1;
    ++i;
    ++j;
  }
  if (i < a.size()) return 1;
  if (j < b.size()) return -1;
  return 0;
}

AddonChoice addon_choice(const std::vector<AddonVersionInfo>& versions, std::string_view addon,
                         std::string_view minor) {
  AddonChoice out;
  auto higher = [](const std::optional<std::string>& have, const std::string& v) {
    return !have || compare_versions(v, *have) > 0;
  };
  for (const auto& v : versions) {
    if (v.addon_name != addon || v.addon_version.empty()) continue;
    bool compatible = v.compatibilities.empty();
    bool is_default = false;
    for (const auto& c : v.compatibilities) {
      if (c.cluster_version != minor && !c.cluster_version.empty()) continue;
      compatible = true;
      is_default = is_default || c.default_version;
    }
    if (!compatible) continue;
    if (higher(out.latest_version, v.addon_version)) out.latest_version = v.addon_version;
    // Two defaults would be EKS's inconsistency; the higher one wins, so the answer is stable.
    if (is_default && higher(out.default_version, v.addon_version)) out.default_version = v.addon_version;
  }
  return out;
}

bool has_ecr_fips(std::string_view region) {
  return std::find(kEcrFipsRegions.begin(), kEcrFipsRegions.end(), region) != kEcrFipsRegions.end();
}

bool valid_image_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(tag.front())) return false;
  return std::all_of(tag.begin(), tag.end(), [&](char c) { return word(c) || c == '.' || c == '-'; });
}

namespace {

Status check_image_cache_inputs(const ImageCacheInputs& in) {
  if (!valid_image_tag(in.pause_container_version)) {
    return make_error(Errc::Invalid, "pause_container_version '{}' is not an image tag", in.pause_container_version);
  }
  if (!valid_region_name(in.region)) {
    return make_error(Errc::Invalid, "'{}' is not an AWS region name", in.region);
  }
  if (!valid_domain(in.domain)) {
    return make_error(Errc::Invalid, "'{}' is not a partition domain (like amazonaws.com)", in.domain);
  }
  return {};
}

// The images to cache, in pull order (duplicates possible): pause, kube-proxy, the VPC CNI.
std::vector<Wanted> wanted_images(const ImageCacheInputs& in, const std::string& minor, ImageCachePlan& plan) {
  // Only the -minimal- kube-proxy images exist from 1.24 on (install-worker.sh's gate).
  const bool minimal_only = *parse_version(in.kubernetes_version) >= Version{1, 24, 0};
  std::vector<Wanted> wanted;
  wanted.push_back({"eks/pause", in.pause_container_version, false});
  for (const auto& v : versions_to_cache(in.kube_proxy_versions, kKubeProxyAddon, minor, plan.diagnostics)) {
    // "v1.30.0-eksbuild.3": the image tags are "v1.30.0-minimal-eksbuild.3" (and below 1.24 also
    // "v1.30.0-eksbuild.3").
    const auto dash = v.find('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 == v.size() || !valid_image_tag(v)) {
      plan.diagnostics.push_back(warning("IMAGE_CACHE_BAD_VERSION",
                                         fmt::format("kube-proxy version '{}' is not <version>-<eksbuild>: "
                                                     "not cached",
                                                     v)));
      continue;
    }
    const std::string base = v.substr(0, dash), build = v.substr(dash + 1);
    if (!minimal_only) wanted.push_back({"eks/kube-proxy", base + "-" + build, false});
    wanted.push_back({"eks/kube-proxy", base + "-minimal-" + build, false});
  }
  for (const auto& v : versions_to_cache(in.vpc_cni_versions, kVpcCniAddon, minor, plan.diagnostics)) {
    if (!valid_image_tag(v)) {
      plan.diagnostics.push_back(warning("IMAGE_CACHE_BAD_VERSION",
                                         fmt::format("vpc-cni version '{}' is not an image tag: not cached", v)));
      continue;
    }
    wanted.push_back({"amazon-k8s-cni", v, true});
    wanted.push_back({"amazon-k8s-cni-init", v, true});
  }
  return wanted;
}

// plan.regions: the partition's valid region names plus the build region, sorted.
void plan_regions(const ImageCacheInputs& in, ImageCachePlan& plan) {
  std::set<std::string> regions{in.region};
  std::vector<std::string> bad_regions;
  for (const auto& r : in.partition_regions) {
    if (valid_region_name(r)) {
      regions.insert(r);
    } else {
      bad_regions.push_back(r);
    }
  }
  if (!bad_regions.empty()) {
    plan.diagnostics.push_back(warning("IMAGE_CACHE_BAD_REGION",
                                       fmt::format("not AWS region names, no tags for them: '{}'",
                                                   fmt::join(bad_regions, "', '"))));
  }
  if (in.partition_regions.empty()) {
    plan.diagnostics.push_back(warning("IMAGE_CACHE_NO_REGIONS",
                                       fmt::format("DescribeRegions listed no region: images are tagged for {} only",
                                                   in.region)));
  }
  plan.regions.assign(regions.begin(), regions.end());
}

// The registry hosts to tag for, in region order, each once: the region's own registry, and its
// ecr-fips twin where ECR has one.
std::vector<std::string> tag_hosts(const ImageCacheInputs& in, const ImageCachePlan& plan) {
  std::vector<std::string> hosts;
  auto add_host = [&](const std::string& h) {
    if (std::find(hosts.begin(), hosts.end(), h) == hosts.end()) hosts.push_back(h);
  };
  for (const auto& r : plan.regions) {
    const EcrRegistry reg = ecr_registry_for(r, in.domain, in.account);
    add_host(reg.host);
    if (has_ecr_fips(reg.region)) add_host(reg.fips_host);
  }
  return hosts;
}

}  // namespace

Result<ImageCachePlan> image_cache_plan(const ImageCacheInputs& in) {
  AGENT_TRY(std::string minor, kubernetes_minor(in.kubernetes_version));
  AGENT_TRY_STATUS(check_image_cache_inputs(in));
  ImageCachePlan plan;
  plan.kubernetes_minor = minor;
  plan.registry = ecr_registry_for(in.region, in.domain, in.account);

  // Pulls, without duplicates, in order.
  std::vector<Wanted> pulled;
  for (auto& w : wanted_images(in, minor, plan)) {
    std::string ref = fmt::format("{}/{}:{}", plan.registry.host, w.repository, w.tag);
    if (std::find(plan.pulls.begin(), plan.pulls.end(), ref) != plan.pulls.end()) continue;
    plan.pulls.push_back(std::move(ref));
    pulled.push_back(std::move(w));
  }
  plan_regions(in, plan);
  const std::vector<std::string> hosts = tag_hosts(in, plan);

  // Every pulled image under every host's name (and the VPC CNI also without its alias suffix).
  std::set<std::string> named(plan.pulls.begin(), plan.pulls.end());
  for (size_t i = 0; i < pulled.size(); ++i) {
    const Wanted& w = pulled[i];
    std::vector<std::string> tags{w.tag};
    if (w.vpc_cni && w.tag.size() > kCniAlias.size() && w.tag.ends_with(kCniAlias)) {
      tags.push_back(w.tag.substr(0, w.tag.size() - kCniAlias.size()));
    }
    for (const auto& host : hosts) {
      for (const auto& tag : tags) {
        std::string target = fmt::format("{}/{}:{}", host, w.repository, tag);
        if (!named.insert(target).second) continue;  // the pulled name itself, or made already
        plan.tags.push_back(ImageTag{.source = plan.pulls[i], .target = std::move(target)});
      }
    }
  }
  return plan;
}

std::vector<std::string> ctr_version_argv() { return {"ctr", "version"}; }

std::vector<std::string> ctr_pull_argv(const std::string& image, const std::string& username,
                                       const Secret& password) {
  return {"ctr", "--namespace", kCtrNamespace, "images", "pull", "--user",
          username + ":" + password.reveal(), image};
}

std::vector<std::string> ctr_tag_argv(const ImageTag& tag) {
  return {"ctr", "--namespace", kCtrNamespace, "images", "tag", "--force", tag.source, tag.target};
}

std::vector<std::string> redacted_argv(std::vector<std::string> argv) {
  auto redact = [](std::string& value, size_t from) {
    const auto colon = value.find(':', from);
    if (colon != std::string::npos) value = value.substr(0, colon + 1) + std::string(Secret::kRedacted);
  };
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string& a = argv[i];
    if ((a == "--user" || a == "-user" || a == "-u") && i + 1 < argv.size()) {
      redact(argv[++i], 0);
    } else if (a.starts_with("--user=")) {
      redact(a, 7);
    } else if (a.starts_with("-user=")) {
      redact(a, 6);
    } else if (a.starts_with("-u=")) {
      redact(a, 3);
    }
  }
  return argv;
}

}  // namespace agent::compute
