// The containerd files of the AL2023 layout (reference nodeadm.md 3.9-3.11).
#include "agent/compute/al2023/containerd.h"

#include <fmt/format.h>

#include "agent/compute/al2023/go_json.h"
#include "agent/model/embedded.h"

namespace agent::compute::al2023 {
namespace {

// The V2 template (containerd 1.7, and containerd 2 under a V2-style user TOML), as nodeadm
// renders it: double-quoted strings, the CRI super-table after its containerd sub-table, and a
// blank line at the end. Placeholders are fmt named arguments.
constexpr const char* kTemplateV2 = R"(version = 2
root = "/var/lib/containerd"
state = "/run/containerd"

[grpc]
address = "/run/containerd/containerd.sock"

[plugins."io.containerd.grpc.v1.cri".containerd]
default_runtime_name = "{runtime_name}"
discard_unpacked_layers = true
{soci_snapshotter}
[plugins."io.containerd.grpc.v1.cri"]
sandbox_image = "{sandbox_image}"
enable_cdi = {enable_cdi}

[plugins."io.containerd.grpc.v1.cri".registry]
config_path = "/etc/containerd/certs.d:/etc/docker/certs.d"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{runtime_name}]
runtime_type = "io.containerd.runc.v2"
base_runtime_spec = "/etc/containerd/base-runtime-spec.json"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{runtime_name}.options]
BinaryName = "{runtime_binary}"
SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".cni]
bin_dir = "/opt/cni/bin"
conf_dir = "/etc/cni/net.d"

{soci_proxy})";

// The V3 template (containerd 2). Its mix of '...' and "..." plugin keys is nodeadm's.
constexpr const char* kTemplateV3 = R"(version = 3
root = "/var/lib/containerd"
state = "/run/containerd"

[grpc]
address = "/run/containerd/containerd.sock"

[plugins.'io.containerd.cri.v1.images']
discard_unpacked_layers = true
{soci_snapshotter}
[plugins.'io.containerd.cri.v1.images'.pinned_images]
sandbox = "{sandbox_image}"

[plugins."io.containerd.cri.v1.images".registry]
config_path = "/etc/containerd/certs.d:/etc/docker/certs.d"

[plugins.'io.containerd.cri.v1.runtime']
enable_cdi = {enable_cdi}

[plugins.'io.containerd.cri.v1.runtime'.containerd]
default_runtime_name = "{runtime_name}"

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.{runtime_name}]
runtime_type = "io.containerd.runc.v2"
base_runtime_spec = "/etc/containerd/base-runtime-spec.json"

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.{runtime_name}.options]
BinaryName = "{runtime_binary}"
SystemdCgroup = true

[plugins.'io.containerd.cri.v1.runtime'.cni]
bin_dir = "/opt/cni/bin"
conf_dir = "/etc/cni/net.d"

{soci_proxy})";

// With SOCI: two snapshotter lines right after discard_unpacked_layers ...
constexpr const char* kSociSnapshotterLines =
    "snapshotter = \"soci\"\n"
    "disable_snapshot_annotations = false\n";
// ... and the proxy plugin closes the file after one more blank line and without a final newline:
// nodeadm's template ends the block with a whitespace-trimming {{- end}}.
constexpr const char* kSociProxyBlock =
    "\n"
    "[proxy_plugins.soci]\n"
    "type = \"snapshot\"\n"
    "address = \"/run/soci-snapshotter-grpc/soci-snapshotter-grpc.sock\"\n"
    "\n"
    "[proxy_plugins.soci.exports]\n"
    "root = \"/var/lib/soci-snapshotter-grpc\"";

constexpr Version kFirstCdiKubelet{1, 32, 0};

bool has_v3_marker(std::string_view toml) {
  return toml.find("io.containerd.cri.v1.images") != std::string_view::npos ||
         toml.find("io.containerd.cri.v1.runtime") != std::string_view::npos;
}

std::string render(ContainerdTemplate which, const ContainerdInput& in) {
  const char* text = which == ContainerdTemplate::V3 ? kTemplateV3 : kTemplateV2;
  return fmt::format(fmt::runtime(text), fmt::arg("runtime_name", in.runtime_name),
                     fmt::arg("runtime_binary", in.runtime_binary),
                     fmt::arg("sandbox_image", in.sandbox_image),
                     fmt::arg("enable_cdi", in.kubelet >= kFirstCdiKubelet ? "true" : "false"),
                     fmt::arg("soci_snapshotter", in.soci ? kSociSnapshotterLines : ""),
                     fmt::arg("soci_proxy", in.soci ? kSociProxyBlock : ""));
}

// nodeadm's map merge for the runtime spec (1.5): objects merge recursively; arrays, scalars and
// nulls from the user replace what the default had.
void merge_spec(nlohmann::json& dst, const nlohmann::json& src) {
  if (!dst.is_object() || !src.is_object()) {
    dst = src;
    return;
  }
  for (auto it = src.begin(); it != src.end(); ++it) {
    auto existing = dst.find(it.key());
    if (existing != dst.end() && existing->is_object() && it->is_object()) {
      merge_spec(*existing, *it);
    } else {
      dst[it.key()] = *it;
    }
  }
}

}  // namespace

Result<ContainerdTemplate> containerd_template_for(const Version& containerd,
                                                   std::string_view user_toml) {
  const bool v3_names = has_v3_marker(user_toml);
  if (containerd.major >= 2) {
    return !user_toml.empty() && !v3_names ? ContainerdTemplate::V2 : ContainerdTemplate::V3;
  }
  if (v3_names) {
    return make_error(
        Errc::Invalid,
        "NodeConfig spec.containerd.config uses containerd configuration V3 plugin names "
        "(io.containerd.cri.v1.images / io.containerd.cri.v1.runtime), which containerd {} "
        "does not support; use the V2 names (plugins.\"io.containerd.grpc.v1.cri\") or an AMI "
        "with containerd 2",
        containerd.str());
  }
  return ContainerdTemplate::V2;
}

Result<ContainerdOutput> containerd_config(const ContainerdInput& in) {
  const std::string_view user = in.user_toml ? std::string_view(*in.user_toml) : std::string_view();
  AGENT_TRY(ContainerdTemplate which, containerd_template_for(in.containerd, user));
  ContainerdOutput out;
  out.template_used = which;
  out.v2_on_containerd2 = which == ContainerdTemplate::V2 && in.containerd.major >= 2;
  out.toml = render(which, in);
  if (!user.empty()) {
    AGENT_TRY(std::string merged, go_toml_merge(out.toml, user));
    out.toml = std::move(merged);
  }
  return out;
}

std::string base_runtime_spec(const std::optional<nlohmann::json>& user_spec) {
  const std::string_view embedded = embedded::file("config/al2023/base-runtime-spec.json");
  // nodeadm treats an absent and an empty document alike: the default is written as embedded.
  if (!user_spec || user_spec->is_null() || (user_spec->is_object() && user_spec->empty())) {
    return std::string(embedded);
  }
  nlohmann::json spec = nlohmann::json::parse(embedded);
  merge_spec(spec, *user_spec);
  return go_json_marshal_indent(spec, 4);
}

std::string soci_snapshotter_config() {
  return std::string(embedded::file("config/al2023/soci-snapshotter.toml"));
}

std::string soci_containerd_dropin() {
  return "[Unit]\nRequires=soci-snapshotter.service\nAfter=soci-snapshotter.service\n";
}

bool soci_enabled(bool fast_image_pull_gate, long long millicores,
                  unsigned long long online_memory_bytes) {
  constexpr unsigned long long kGiB = 1024ULL * 1024 * 1024;
  return fast_image_pull_gate && millicores >= 4000 && online_memory_bytes >= 7 * kGiB;
}

}  // namespace agent::compute::al2023
