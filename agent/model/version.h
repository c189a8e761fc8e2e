// A Kubernetes-style version "1.29.3" (leading "v" and any "-eks-..." suffix ignored).
#pragma once
#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace agent {

struct Version {
  int major = 0, minor = 0, patch = 0;
  auto operator<=>(const Version&) const = default;
  std::string str() const;
};

// Parses "1.29.3", "v1.29.3", "1.29" or "Kubernetes v1.23.9-eks-ba74326" (the first X.Y[.Z] found);
// nullopt when no version is present.
std::optional<Version> parse_version(std::string_view text);

}  // namespace agent
