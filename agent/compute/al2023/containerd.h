// The containerd files of the AL2023 (nodeadm) layout, rendered from plain values, byte for byte as
// nodeadm writes them (reference nodeadm.md 3.9-3.11) except where a comment names a deliberate
// difference. Pure: no I/O; the caller passes versions and facts in.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "agent/model/result.h"
#include "agent/model/version.h"

namespace agent::compute::al2023 {

inline constexpr const char* kContainerdConfigPath = "/etc/containerd/config.toml";
inline constexpr const char* kBaseRuntimeSpecPath = "/etc/containerd/base-runtime-spec.json";
inline constexpr const char* kSociConfigPath = "/etc/soci-snapshotter-grpc/config.toml";
inline constexpr const char* kSociContainerdDropinPath =
    "/etc/systemd/system/containerd.service.d/10-soci-snapshotter.conf";
inline constexpr const char* kNodeadmSandboxImage = "localhost/kubernetes/pause:latest";

enum class ContainerdTemplate { V2 = 2, V3 = 3 };

struct ContainerdInput {
  Version containerd;                                // 1.7.x or 2.x
  Version kubelet;                                   // enable_cdi from 1.32
  std::string sandbox_image = kNodeadmSandboxImage;  // put in a "..." string unescaped, as nodeadm
  std::string runtime_name = "runc";  // "nvidia" when /usr/bin/nvidia-container-runtime exists
  std::string runtime_binary = "/usr/sbin/runc";
  bool soci = false;
  std::optional<std::string> user_toml;  // spec.containerd.config; nullopt or "": none
};

struct ContainerdOutput {
  std::string toml;
  ContainerdTemplate template_used = ContainerdTemplate::V2;
  // containerd 2.x rendered from the V2 template (a user TOML without V3 names). nodeadm then
  // replaces the file with `containerd config migrate`; we deliberately do not (README).
  bool v2_on_containerd2 = false;
  bool operator==(const ContainerdOutput&) const = default;
};

// The template choice (3.9.2). Errors: Invalid for V3 plugin names on containerd 1.x.
Result<ContainerdTemplate> containerd_template_for(const Version& containerd,
                                                   std::string_view user_toml);

// /etc/containerd/config.toml: the template rendered; with a user TOML, both parsed, merged
// (tables deep-merged, arrays and values replaced) and re-serialized as go-toml v2 does.
// Errors: Invalid (template choice), Parse (user TOML, naming the line).
Result<ContainerdOutput> containerd_config(const ContainerdInput& in);

// TOML text re-serialized in go-toml v2's Marshal layout (sorted keys, values before sub-tables,
// every intermediate table header, literal strings). Errors: Parse naming `source` and the line.
// Known difference: a local time's fractional seconds lose trailing zeros ("07:32:00.500" is
// written "07:32:00.5"; go-toml keeps the digits it read), as toml++ keeps no precision.
Result<std::string> go_toml_format(std::string_view toml_text, std::string_view source);
// `patch` merged over `base` (3.9.4) then go_toml_format'ed. Errors: Parse naming the side.
Result<std::string> go_toml_merge(std::string_view base, std::string_view patch);

// /etc/containerd/base-runtime-spec.json: nodeadm's embedded default verbatim (2-space, trailing
// newline) without a user spec (nullopt, null or {}); with one, merged (objects key by key; arrays,
// scalars and nulls replaced) and written as Go's
// json.MarshalIndent with 4 spaces: sorted keys, HTML escaping, float64 numbers, no trailing
// newline.
std::string base_runtime_spec(const std::optional<nlohmann::json>& user_spec);

// /etc/soci-snapshotter-grpc/config.toml (static) and the containerd unit drop-in (3.11).
std::string soci_snapshotter_config();
std::string soci_containerd_dropin();

// SOCI (FastImagePull) is on iff the gate is on, the node has >= 4000 millicores and >= 7 GiB of
// online memory.
bool soci_enabled(bool fast_image_pull_gate, long long millicores,
                  unsigned long long online_memory_bytes);

}  // namespace agent::compute::al2023
