#include "agent/app/image_cache.h"

#include <fmt/format.h>

namespace agent::app {
namespace {

namespace c = agent::compute;
using std::chrono::steady_clock;

constexpr const char* kNeedsContainerd = "cache_container_images=true needs a running containerd in the image";
constexpr const char* kInstallOrDisable =
    "install containerd (containerd_version) or set cache_container_images=false";

void tell(const ImageCacheProgress& progress, const std::string& line) {
  if (progress) progress(line);
}

std::string seconds_text(steady_clock::duration d) {
  return fmt::format("{:.1f} s", std::chrono::duration<double>(d).count());
}

// Step 1: ctr is there and the daemon answers.
Status check_containerd(const ImageCacheRequest& request, const RunInImage& run) {
  if (!request.ctr_installed) {
    return make_error(Errc::Unavailable, "{}, and ctr is not installed there; {}", kNeedsContainerd,
                      kInstallOrDisable);
  }
  auto version = run(c::ctr_version_argv());
  if (version) return {};
  const Error& e = version.error();
  if (e.code == Errc::Interrupted) return e;
  if (e.code == Errc::NotFound) {
    return make_error(Errc::Unavailable, "{}, and ctr is not installed there ({}); {}", kNeedsContainerd,
                      e.message, kInstallOrDisable);
  }
  return make_error(Errc::Unavailable,
                    "{}, and `ctr version` failed ({}): start containerd in the image before this step, "
                    "or {}",
                    kNeedsContainerd, e.message, kInstallOrDisable);
}

Error in_step(const Error& e) {
  return e.code == Errc::Interrupted ? e : e.wrap("caching container images");
}

}  // namespace

Result<ImageCacheSummary> cache_container_images(const ImageCacheRequest& request, AwsApi& aws,
                                                 const AwsWhere& where, const RunInImage& run,
                                                 Clock& clock, const CancelToken* cancel,
                                                 const ImageCacheProgress& progress) {
  if (is_cancelled(cancel)) return cancel->interrupted("before caching container images");
  AGENT_TRY_STATUS(check_containerd(request, run));

  // Gather: add-on versions for the minor, and the partition's regions.
  AGENT_TRY(std::string minor, c::kubernetes_minor(request.kubernetes_version));
  c::ImageCacheInputs in{
      .kubernetes_version = request.kubernetes_version,
      .pause_container_version = request.pause_container_version,
      .region = where.region,
      .domain = where.domain,
      .account = request.ecr_account,
  };
  auto kube_proxy = aws.describe_addon_versions(where, c::kKubeProxyAddon, minor);
  if (!kube_proxy) return in_step(kube_proxy.error());
  in.kube_proxy_versions = std::move(*kube_proxy);
  auto vpc_cni = aws.describe_addon_versions(where, c::kVpcCniAddon, minor);
  if (!vpc_cni) return in_step(vpc_cni.error());
  in.vpc_cni_versions = std::move(*vpc_cni);
  auto regions = aws.describe_regions(where);
  if (!regions) return in_step(regions.error());
  in.partition_regions = std::move(*regions);

  // Compute.
  auto planned = c::image_cache_plan(in);
  if (!planned) return in_step(planned.error());
  const c::ImageCachePlan& plan = *planned;

  ImageCacheSummary summary;
  summary.registry = plan.registry.host;
  summary.regions = static_cast<int>(plan.regions.size());
  summary.diagnostics = plan.diagnostics;

  // The registry login, in the registry's own region: a token is valid for one region only.
  AwsWhere registry_where = where;
  registry_where.region = plan.registry.region;
  auto login = aws.ecr_authorization(registry_where);
  if (!login) return in_step(login.error());
  const EcrAuthorization& auth = *login;

  // Apply: pulls with bounded retries, then tags.
  SplitMix jitter(request.jitter_seed);
  const size_t total = plan.pulls.size();
  for (const std::string& image : plan.pulls) {
    RetryState state;
    std::string last;
    for (;;) {
      if (is_cancelled(cancel)) return cancel->interrupted(fmt::format("before pulling {}", image));
      if (clock.now() >= where.deadline) {
        return make_error(Errc::Timeout, "caching container images: the deadline passed before pulling {} "
                          "({} of {} pulled){}",
                          image, summary.pulled.size(), total, last.empty() ? "" : "; last error: " + last);
      }
      const auto started = clock.now();
      auto pulled = run(c::ctr_pull_argv(image, auth.username, auth.password));
      if (pulled) {
        summary.pulled.push_back(image);
        tell(progress, fmt::format("pulled {} ({} of {}) in {}", image, summary.pulled.size(), total,
                                   seconds_text(clock.now() - started)));
        break;
      }
      if (pulled.error().code == Errc::Interrupted) return pulled.error();
      // The command's output might echo its arguments; never let the password through.
      last = scrub(pulled.error().message, auth.password);
      auto delay = next_retry(request.pull_retry, state, AttemptOutcome::Failure, jitter.next());
      if (!delay) {
        return make_error(Errc::Unavailable,
                          "caching container images: pulling {} failed {} time(s): {} (check that the "
                          "build instance reaches {} and may pull from it: ecr:BatchGetImage, "
                          "ecr:GetDownloadUrlForLayer)",
                          image, state.failures, last, plan.registry.host);
      }
      const auto wake = clock.now() + *delay;
      if (wake >= where.deadline) {
        return make_error(Errc::Timeout,
                          "caching container images: pulling {} failed {} time(s) and the next retry would "
                          "pass the deadline: {}",
                          image, state.failures, last);
      }
      ++summary.pull_retries;
      tell(progress, fmt::format("pulling {} failed (attempt {} of {}), retrying in {}: {}", image,
                                 state.attempts, request.pull_retry.max_attempts, seconds_text(*delay), last));
      if (!sleep_until(clock, cancel, wake)) {
        return cancel->interrupted(fmt::format("while waiting to pull {} again", image));
      }
    }
  }

  for (const c::ImageTag& tag : plan.tags) {
    if (is_cancelled(cancel)) return cancel->interrupted(fmt::format("before tagging {}", tag.target));
    if (clock.now() >= where.deadline) {
      return make_error(Errc::Timeout, "caching container images: the deadline passed before tagging {} "
                        "({} of {} tags made)",
                        tag.target, summary.tagged, plan.tags.size());
    }
    auto tagged = run(c::ctr_tag_argv(tag));
    if (!tagged) {
      if (tagged.error().code == Errc::Interrupted) return tagged.error();
      return make_error(Errc::Unavailable, "caching container images: tagging {} as {} failed: {}", tag.source,
                        tag.target, scrub(tagged.error().message, auth.password));
    }
    ++summary.tagged;
  }
  tell(progress, fmt::format("tagged {} image(s) {} time(s) for {} region(s)", summary.pulled.size(),
                             summary.tagged, summary.regions));
  return summary;
}

}  // namespace agent::app
