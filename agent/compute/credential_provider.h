// The kubelet image credential provider config, /etc/eks/image-credential-provider/config.json.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "agent/model/version.h"

namespace agent::compute {

// ECR registry patterns for every partition (bootstrap-sh.md section 3.8); public.ecr.aws is
// added from kubelet 1.27 (the provider only serves it from then on).
std::vector<std::string> ecr_match_images(const Version& kubelet);

// The config for this kubelet version: API versions v1 from 1.27 (v1alpha1 before, as the AL2
// bootstrap wrote for older kubelets), the ecr-credential-provider entry with the full match list
// and a 12h cache. Providers other than ecr-credential-provider found in `current` are kept after
// ours, in their order. `current_unparsable` is set when `current` existed but was not usable.
std::string credential_provider_config_for(const Version& kubelet,
                                           const std::optional<std::string>& current,
                                           bool* current_unparsable = nullptr);

}  // namespace agent::compute
