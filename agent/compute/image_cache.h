// Which container images build mode caches in the image, and the ctr commands that pull and tag
// them (install-worker.sh step 17, bootstrap-sh.md section 4.2; the user guide's "Container Image
// Caching"). Pure: the add-on versions and the partition's regions come in as values
// (agent/app/image_cache gathers them); no I/O, no clock, no logging.
//
// Images, pulled from the build region's EKS registry (ecr_registry_for):
//   <ECR>/eks/pause:<pause_container_version>
//   <ECR>/eks/kube-proxy:<v>-minimal-<eksbuild>        for the default and the latest kube-proxy
//   <ECR>/eks/kube-proxy:<v>-<eksbuild>                 the same two, only below Kubernetes 1.24
//   <ECR>/amazon-k8s-cni:<addon version>, <ECR>/amazon-k8s-cni-init:<addon version>
//                                                       for the default and the latest VPC CNI
// where an add-on version "v1.30.0-eksbuild.3" is <v> "v1.30.0" and <eksbuild> "eksbuild.3", the
// default is the version whose compatibility with the Kubernetes minor says defaultVersion, and
// the latest the highest in version order (sort -V). A default that is also the latest is pulled
// once.
//
// Tags: every pulled image is tagged, under the same repository and tag, with the registry host of
// every region of the partition (each region's own EKS account: ecr_registry_for(region)), and with
// that registry's ecr-fips host in the regions that have one (kEcrFipsRegions). VPC CNI images
// whose tag ends in "-eksbuild.1" are also tagged without that suffix on the same hosts (the
// non-add-on manifests name them so). install-worker.sh meant to do this and did not: it iterated
// over one newline-joined string of regions, so the loop ran once (bootstrap-sh.md section 7 item
// 9); here each region is its own value, and a tag equal to the pulled name is never made.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/compute/ecr.h"
#include "agent/model/aws_types.h"
#include "agent/model/plan.h"
#include "agent/model/result.h"
#include "agent/model/secret.h"

namespace agent::compute {

inline constexpr const char* kKubeProxyAddon = "kube-proxy";
inline constexpr const char* kVpcCniAddon = "vpc-cni";
// containerd's namespace for images the kubelet (CRI) uses.
inline constexpr const char* kCtrNamespace = "k8s.io";

struct ImageCacheInputs {
  std::string kubernetes_version;       // "1.30", "1.30.2", "v1.23.17": the minor selects versions
  std::string pause_container_version;  // "3.5"
  std::string region;                   // the build region
  std::string domain;                   // its partition's domain: amazonaws.com, amazonaws.com.cn, ...
  std::optional<std::string> account;   // the EKS image account, when not the region's own
  std::vector<AddonVersionInfo> kube_proxy_versions;  // DescribeAddonVersions kube-proxy <minor>
  std::vector<AddonVersionInfo> vpc_cni_versions;     // DescribeAddonVersions vpc-cni <minor>
  std::vector<std::string> partition_regions;         // DescribeRegions --all-regions
};

struct ImageTag {
  std::string source;  // a pulled image
  std::string target;  // another name for it
  bool operator==(const ImageTag&) const = default;
};

struct ImageCachePlan {
  EcrRegistry registry;              // pulls come from here; its region is the token's region
  std::string kubernetes_minor;      // "1.30"
  std::vector<std::string> pulls;    // in pull order, no duplicates
  std::vector<ImageTag> tags;        // grouped by source in pull order; no duplicates, no self-tags
  std::vector<std::string> regions;  // the regions tagged for, sorted, without duplicates
  std::vector<Diagnostic> diagnostics;  // warnings: an add-on without versions or default, a bad name
  bool operator==(const ImageCachePlan&) const = default;
};

// The plan. An add-on EKS lists no version of is skipped with a warning (install-worker.sh skipped
// it silently); an add-on without a default uses its latest, with a warning; versions and region
// names that are not valid in an image reference are skipped with a warning. Errors: Invalid for a
// Kubernetes version without a major.minor, a pause version that is not an image tag, or an empty
// region or domain.
Result<ImageCachePlan> image_cache_plan(const ImageCacheInputs& in);

// "1.30" from "1.30.2", "v1.30" or "1.30". Errors: Invalid when there is no major.minor.
Result<std::string> kubernetes_minor(std::string_view kubernetes_version);

// The default and the latest version of `addon` for Kubernetes `minor` among `versions` (other
// add-ons' entries and versions without a compatibility for `minor` are ignored; an entry without
// any compatibilities counts as compatible). Unset when there is none.
struct AddonChoice {
  std::optional<std::string> default_version;
  std::optional<std::string> latest_version;
  bool operator==(const AddonChoice&) const = default;
};
AddonChoice addon_choice(const std::vector<AddonVersionInfo>& versions, std::string_view addon,
                         std::string_view minor);

// sort -V order of two version strings: runs of digits compare as numbers, everything else byte by
// byte. <0, 0, >0.
int compare_versions(std::string_view a, std::string_view b);

// Whether ECR has a FIPS endpoint (ecr-fips) in `region`: us-east-1, us-east-2, us-west-1,
// us-west-2, us-gov-east-1, us-gov-west-1.
bool has_ecr_fips(std::string_view region);

// An OCI tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
bool valid_image_tag(std::string_view tag);

// ctr commands, as argv (no shell). `ctr version` talks to the daemon, so it fails when containerd
// is not running.
std::vector<std::string> ctr_version_argv();
// `ctr --namespace k8s.io images pull --user USER:PASSWORD IMAGE`. The argv holds the password:
// log redacted_argv() of it, never the argv itself.
std::vector<std::string> ctr_pull_argv(const std::string& image, const std::string& username,
                                       const Secret& password);
// `ctr --namespace k8s.io images tag --force SOURCE TARGET` (--force: a re-run re-points a tag
// that exists instead of failing on it).
std::vector<std::string> ctr_tag_argv(const ImageTag& tag);
// `argv` with the password of every --user/-u value ("--user X", "--user=X", "-u X") replaced by
// "<redacted>" (the user name is kept): what a log or a dry run may show.
std::vector<std::string> redacted_argv(std::vector<std::string> argv);

}  // namespace agent::compute
