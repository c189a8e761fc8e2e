#include "agent/cli/build_cli.h"

#include <fmt/format.h>

namespace agent::cli {

// By hand rather than CLI11: name=value words are positional and may hold anything after the
// '=', and each --var-file takes exactly one file.
Result<BuildArgs> parse_build_args(const std::vector<std::string>& args) {
  BuildArgs a;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& w = args[i];
    // Options with a value, as "--name VALUE" or "--name=VALUE".
    std::string name = w, value;
    bool inline_value = false;
    if (w.rfind("--", 0) == 0) {
      if (auto eq = w.find('='); eq != std::string::npos) {
        name = w.substr(0, eq);
        value = w.substr(eq + 1);
        inline_value = true;
      }
    }
    auto take = [&]() -> Result<std::string> {
      if (inline_value) return value;
      if (i + 1 >= args.size()) return make_error(Errc::Usage, "build-mode: {} needs a value", name);
      return args[++i];
    };
    if (w == "-h" || w == "--help") {
      a.help = true;
      return a;
    } else if (w == "--dry-run") {
      a.dry_run = true;
    } else if (w == "--print-iam-policy") {
      a.print_iam_policy = true;
    } else if (name == "--var-file") {
      AGENT_TRY(std::string v, take());
      a.var_files.push_back(v);
    } else if (name == "--root") {
      AGENT_TRY(a.root, take());
    } else if (name == "--imds-endpoint") {
      AGENT_TRY(std::string v, take());
      a.imds_endpoint = v;
    } else if (w.rfind("-", 0) == 0) {
      return make_error(Errc::Usage, "build-mode: unknown option '{}'", w);
    } else {
      a.assignments.push_back(w);
    }
  }
  if (a.root.empty()) return make_error(Errc::Usage, "build-mode: --root needs a directory");
  return a;
}

std::string build_help(const std::string& program) {
  return fmt::format(
      R"(usage: {0} build-mode [--var-file FILE]... [NAME=VALUE]... [--root DIR] [--dry-run]
                           [--print-iam-policy] [--imds-endpoint URL]

Turns an image root into an EKS node image (what the AMI's install-worker.sh did): fetches
kubelet, kubectl, ecr-credential-provider and aws-iam-authenticator from the binary bucket and
verifies each against its published .sha256 before anything is installed; installs containerd,
runc and the kernel series with the image's package manager (dnf, yum or apt) and locks their
versions; writes the files boot mode relies on (this agent at /usr/bin/eks-node-agent, linked
from /etc/eks/eks-node-agent; /etc/eks/bootstrap.sh and max-pods-calculator.sh, links to scripts
in /usr/libexec/eks-node-agent that run it; eni-max-pods.txt, kubelet-config.json,
kubeconfig, the credential provider config, kubelet.service, containerd's config, sysctl and
module settings, /etc/eks/kubelet-version.txt and containerd-version.txt); enables
kubelet.service (held back until boot mode has written the CA) and eks-node-agent.service
offline. A re-run skips what is installed and verified.

Options:
  --var-file FILE       JSON object of variables; repeatable, later files win
  NAME=VALUE            a variable; wins over every --var-file
  --root DIR            the image root (default /); commands run in it with chroot
  --dry-run             print the ordered plan, change nothing; a step that cannot run here
                        is marked WOULD FAIL and the exit status is the real run's (8)
  --print-iam-policy    print the IAM policy JSON the variables need, then exit
  --imds-endpoint URL   IMDS for instance-profile credentials (env AWS_EC2_METADATA_SERVICE_ENDPOINT)
  -h, --help            this help

Variables (built-in defaults < --var-file < NAME=VALUE):
  kubernetes_version        required, e.g. 1.30.4 (the bucket's <version>/ prefix)
  kubernetes_build_date     required, e.g. 2024-07-10
  arch                      x86_64|amd64 or aarch64|arm64 (default: the build host's)
  binary_bucket_name        default amazon-eks
  binary_bucket_region      default us-west-2 (also the region of the cached images' registry)
  pause_container_version   default 3.10
  kernel_version            default 5.4 up to Kubernetes 1.23, 5.10 from 1.24
  containerd_version        default 1.7.* (package version or glob)
  runc_version              default 1.*
  cache_container_images    true|false (default false): pull pause, kube-proxy, VPC CNI images
  install_packages          true|false (default true): containerd, runc, kernel via the package manager
  refresh_instance_types    true|false (default false): regenerate /etc/eks/eni-max-pods.txt from
                            EC2 DescribeInstanceTypes

Binaries come from s3://BUCKET/<version>/<build_date>/bin/linux/<arch>/<name>, signed with SigV4
when credentials exist (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, else the
instance profile; AWS_EC2_METADATA_DISABLED=true skips IMDS), anonymous otherwise.
AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) overrides the S3 endpoint (path-style requests).
Exit status as for a bootstrap (see --help): 2 usage; 3 invalid variable, checksum mismatch,
missing object or failed package step; 4 no running containerd for the image cache; 5 AWS/S3
error (access denied, retries exhausted); 6 file system; 8 no package manager in the image
(also for --dry-run, after the whole plan); 130 interrupted.
)",
      program);
}

}  // namespace agent::cli
