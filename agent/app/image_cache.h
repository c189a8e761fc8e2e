// Build mode's image cache step (cache_container_images=true; install-worker.sh step 17): pull the
// pause, kube-proxy and VPC CNI images into the image's containerd and tag them for every region
// of the partition. What to pull and tag is agent/compute/image_cache's plan; this gathers its
// inputs (EKS add-on versions, the partition's regions) and applies it with ctr.
//
// Order, and what fails how (every error names what to do about it):
//   1. containerd: `ctr` must be in the image and `ctr version` must succeed (a running daemon).
//      Otherwise Errc::Unavailable, before any AWS call: "cache_container_images=true needs a
//      running containerd in the image ...; install containerd (containerd_version) or set
//      cache_container_images=false".
//   2. EKS DescribeAddonVersions for kube-proxy and vpc-cni, EC2 DescribeRegions: their AwsApi
//      errors, wrapped with "caching container images" (an access denial names the IAM action).
//   3. the plan (image_cache_plan): Invalid for a bad Kubernetes or pause version.
//   4. ECR GetAuthorizationToken in the registry's region (not always the build region: a region
//      without its own EKS registry pulls from another one); a denial names
//      ecr:GetAuthorizationToken.
//   5. each pull (`ctr images pull --user AWS:<password> IMAGE`), up to pull_retry.max_attempts
//      attempts with capped exponential backoff and jitter; then Errc::Unavailable naming the image
//      and the last error.
//   6. each tag (`ctr images tag --force SRC DST`): Errc::Unavailable naming both names on the
//      first failure (a missing tag is exactly install-worker.sh's bug; it is not ignored).
// Errc::Interrupted when `cancel` fires (checked before each command and during backoff);
// Errc::Timeout when where.deadline passes before a command (it bounds the whole step: give it
// the build's budget, not a boot's).
//
// The registry password never appears in a message, a progress line or the summary: the pull argv
// carries it (ctr has no other way to take it), so `run_in_image` must not log its argv as given:
// log compute::redacted_argv(argv). Errors that quote the command's output are scrubbed of it.
// Idempotent: a re-run pulls again (containerd skips content it has) and re-points the tags.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/compute/image_cache.h"
#include "agent/model/result.h"
#include "agent/model/retry_policy.h"
#include "agent/ports/aws_api.h"
#include "agent/ports/cancel.h"
#include "agent/ports/clock.h"

namespace agent::app {

// Runs argv inside the image (chroot into the target root when it is not "/") and returns its
// stdout. Errors as CommandRunner's: NotFound when argv[0] is not there, Invalid when it exits
// non-zero (the message includes its stderr), Timeout.
using RunInImage = std::function<Result<std::string>(const std::vector<std::string>& argv)>;

// Progress for the log, one human-readable line per event (pulled, retrying, tagged ...). Never
// holds the password.
using ImageCacheProgress = std::function<void(const std::string& line)>;

struct ImageCacheRequest {
  std::string kubernetes_version;               // "1.30.2" (the minor selects add-on versions)
  std::string pause_container_version = "3.5";  // the pause image's tag
  std::optional<std::string> ecr_account;       // the EKS image account, when not the region's own
  // Whether `ctr` exists in the image (the caller looked, e.g. <root>/usr/bin/ctr). false fails at
  // once; true still runs `ctr version`, which also proves the daemon answers.
  bool ctr_installed = true;
  // Attempts per pull, first included, and the backoff between them (full jitter).
  RetryPolicy pull_retry{.max_attempts = 4, .base = std::chrono::milliseconds(2000),
                         .cap = std::chrono::milliseconds(30000)};
  std::uint64_t jitter_seed = 1;
};

struct ImageCacheSummary {
  std::string registry;              // "602401143452.dkr.ecr.us-west-2.amazonaws.com"
  std::vector<std::string> pulled;   // the images pulled, in order
  int tagged = 0;                    // tags made
  int regions = 0;                   // regions tagged for
  int pull_retries = 0;              // failed pull attempts that were retried
  std::vector<Diagnostic> diagnostics;  // the plan's warnings (an add-on without versions, ...)
  bool operator==(const ImageCacheSummary&) const = default;
};

// The step (contract above). `where` is the build instance's region and domain with the step's
// deadline; the AWS calls use it (GetAuthorizationToken with the registry's region instead).
Result<ImageCacheSummary> cache_container_images(const ImageCacheRequest& request, AwsApi& aws,
                                                 const AwsWhere& where, const RunInImage& run_in_image,
                                                 Clock& clock, const CancelToken* cancel = nullptr,
                                                 const ImageCacheProgress& progress = nullptr);

}  // namespace agent::app
