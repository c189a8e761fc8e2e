// kubelet's kubeconfig (AL2 layout: aws-iam-authenticator exec plugin). Pure.
#pragma once
#include <string>

namespace agent::compute {

// A kubeconfig for kubelet that talks to `endpoint`, trusts /etc/kubernetes/pki/ca.crt, and gets
// its token from aws-iam-authenticator for `cluster` (the cluster name, or the cluster id on a
// local Outpost cluster) in `region`. Values are emitted as quoted YAML scalars, so no value can
// break the document.
std::string kubeconfig_for(const std::string& endpoint, const std::string& cluster,
                           const std::string& region);

}  // namespace agent::compute
