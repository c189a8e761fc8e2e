#include "agent/compute/al2023/kubelet_files.h"

#include <fmt/format.h>

#include "agent/compute/al2023/go_json.h"
#include "agent/userdata/merge.h"

namespace agent::compute::al2023 {
namespace {

using ojson = nlohmann::ordered_json;

// A Go map: sorted keys (ordered_json keeps insertion order, so insert sorted).
ojson sorted(const std::map<std::string, ojson>& m) {
  ojson o = ojson::object();
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

ojson feature_gates(const Version& kubelet) {
  std::map<std::string, ojson> gates = {{"RotateKubeletServerCertificate", true}};
  if (kubelet >= Version{1, 33, 0}) gates["DynamicResourceAllocation"] = true;
  if (kubelet >= Version{1, 34, 0}) gates["MutableCSINodeAllocatableCount"] = true;
  return sorted(gates);
}

const std::vector<std::string>& tls_cipher_suites() {
  static const std::vector<std::string> suites = {
      "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",  "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
      "TLS_RSA_WITH_AES_128_GCM_SHA256",         "TLS_RSA_WITH_AES_256_GCM_SHA384",
  };
  return suites;
}

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

}  // namespace

std::string kubelet_base_config(const KubeletBaseInput& in) {
  ojson c = ojson::object();
  c["address"] = "0.0.0.0";
  c["authentication"] = {{"x509", {{"clientCAFile", "/etc/kubernetes/pki/ca.crt"}}},
                         {"webhook", {{"enabled", true}, {"cacheTTL", "2m0s"}}},
                         {"anonymous", {{"enabled", false}}}};
  c["authorization"] = {{"mode", "Webhook"},
                        {"webhook", {{"cacheAuthorizedTTL", "5m0s"}, {"cacheUnauthorizedTTL", "30s"}}}};
  c["cgroupDriver"] = "systemd";
  c["cgroupRoot"] = "/";
  c["clusterDNS"] = in.cluster_dns;
  c["clusterDomain"] = "cluster.local";
  c["containerRuntimeEndpoint"] = "unix:///run/containerd/containerd.sock";
  c["evictionHard"] = sorted({{"memory.available", "100Mi"}, {"nodefs.available", "10%"}, {"nodefs.inodesFree", "5%"}});
  c["featureGates"] = feature_gates(in.kubelet);
  c["hairpinMode"] = "hairpin-veth";
  if (in.soci) c["imageServiceEndpoint"] = kSociImageEndpoint;
  if (in.kube_reserved_cpu && in.kube_reserved_memory) {
    c["kubeReserved"] = sorted({{"cpu", *in.kube_reserved_cpu}, {"ephemeral-storage", "1Gi"},
                                {"memory", *in.kube_reserved_memory}});
  }
  if (in.reserved_cgroups) c["kubeReservedCgroup"] = "/runtime";
  c["logging"] = {{"verbosity", 2}};
  if (in.max_pods) c["maxPods"] = *in.max_pods;
  c["protectKernelDefaults"] = true;
  if (!in.provider_id.empty()) c["providerID"] = in.provider_id;
  c["readOnlyPort"] = 0;
  c["serializeImagePulls"] = false;
  c["serverTLSBootstrap"] = true;
  if (in.kubelet >= Version{1, 34, 0}) {
    c["shutdownGracePeriod"] = "2m30s";
    c["shutdownGracePeriodCriticalPods"] = "30s";
  }
  if (in.reserved_cgroups) c["systemReservedCgroup"] = "/system";
  c["tlsCipherSuites"] = tls_cipher_suites();
  c["kind"] = "KubeletConfiguration";
  c["apiVersion"] = "kubelet.config.k8s.io/v1beta1";
  return go_json_struct_indent(c, 4);
}

bool kubelet_reads_config_dir(const Version& kubelet) { return kubelet >= Version{1, 28, 0}; }

std::string kubelet_base_config_with_user(const KubeletBaseInput& in, const nlohmann::json& user_config) {
  auto merged = ojson::parse(kubelet_base_config(in));
  userdata::merge_json(merged, ojson(user_config));
  return go_json_struct_indent(merged, 4);
}

std::string kubelet_config_dropin(const nlohmann::json& user_config) {
  nlohmann::json base = {{"kind", "KubeletConfiguration"}, {"apiVersion", "kubelet.config.k8s.io/v1beta1"}};
  userdata::merge_json(base, user_config);
  return go_json_marshal_indent(base, 4);
}

std::vector<std::pair<std::string, std::string>> kubelet_flags(const KubeletFlagsInput& in) {
  std::vector<std::pair<std::string, std::string>> f;
  f.emplace_back("node-ip", in.node_ip);
  f.emplace_back("cloud-provider", "external");
  if (in.hostname_override) f.emplace_back("hostname-override", *in.hostname_override);
  f.emplace_back("runtime-cgroups", "/runtime.slice/containerd.service");
  if (in.nvidia_gpu && in.kubelet >= Version{1, 35, 0}) f.emplace_back("node-labels", "nvidia.com/gpu.present=true");
  // Older kubelets than nodeadm supports: the runtime endpoint is a config field from 1.27 only,
  // and before 1.24 kubelet defaults to the removed dockershim.
  if (in.kubelet < Version{1, 24, 0}) f.emplace_back("container-runtime", "remote");
  if (in.kubelet < Version{1, 27, 0}) f.emplace_back("container-runtime-endpoint", "unix:///run/containerd/containerd.sock");
  f.emplace_back("config", kKubeletConfigPath);
  if (in.user_config && kubelet_reads_config_dir(in.kubelet)) f.emplace_back("config-dir", kKubeletConfigDir);
  f.emplace_back("kubeconfig", "/var/lib/kubelet/kubeconfig");
  if (in.outpost) f.emplace_back("bootstrap-kubeconfig", "/var/lib/kubelet/bootstrap-kubeconfig");
  const std::string& bin = in.credential_provider_bin;
  f.emplace_back("image-credential-provider-bin-dir", bin.substr(0, bin.rfind('/')));
  f.emplace_back("image-credential-provider-config", kCredentialProviderConfig);
  return f;
}

Result<std::string> kubelet_environment(const std::vector<std::pair<std::string, std::string>>& flags,
                                        const std::vector<std::string>& user_flags, const Version& kubelet,
                                        bool user_config) {
  std::string args;
  for (const auto& [k, v] : flags) args += fmt::format("{}--{}={}", args.empty() ? "" : " ", k, v);
  for (const auto& u : user_flags) {
    if (has_line_break(u)) {
      return make_error(Errc::Invalid, "kubelet flag '{}' contains a line break, which {} cannot hold",
                        u.substr(0, u.find_first_of("\r\n")), kKubeletEnvironmentPath);
    }
    if (!u.empty()) args += " " + u;
  }
  std::string out = "NODEADM_KUBELET_ARGS=" + args;
  if (user_config && kubelet_reads_config_dir(kubelet) && kubelet < Version{1, 30, 0}) out += "\nKUBELET_CONFIG_DROPIN_DIR_ALPHA=on";
  return out;
}

Result<std::string> kubeconfig(std::string_view server, std::string_view cluster, std::string_view region) {
  for (auto [name, v] : {std::pair{"the API server endpoint", server}, {"the cluster name", cluster}, {"the region", region}}) {
    if (has_line_break(v) || v.find('"') != std::string_view::npos) {
      return make_error(Errc::Invalid, "{} '{}' contains a line break or a double quote", name, v);
    }
  }
  return fmt::format(
      "---\n"
      "apiVersion: v1\n"
      "kind: Config\n"
      "clusters:\n"
      "  - name: kubernetes\n"
      "    cluster:\n"
      "      certificate-authority: /etc/kubernetes/pki/ca.crt\n"
      "      server: {}\n"
      "current-context: kubelet\n"
      "contexts:\n"
      "  - name: kubelet\n"
      "    context:\n"
      "      cluster: kubernetes\n"
      "      user: kubelet\n"
      "users:\n"
      "  - name: kubelet\n"
      "    user:\n"
      "      exec:\n"
      "        apiVersion: client.authentication.k8s.io/v1beta1\n"
      "        command: aws\n"
      "        args:\n"
      "          - \"eks\"\n"
      "          - \"get-token\"\n"
      "          - \"--cluster-name\"\n"
      "          - \"{}\"\n"
      "          - \"--region\"\n"
      "          - \"{}\"\n",
      server, cluster, region);
}

std::string credential_provider_config(std::string_view provider_binary, const Version& kubelet) {
  std::vector<std::string> match = {
      "*.dkr.ecr.*.amazonaws.com",      "*.dkr-ecr.*.on.aws",      "*.dkr.ecr.*.amazonaws.com.cn",
      "*.dkr-ecr.*.on.amazonwebservices.com.cn", "*.dkr.ecr-fips.*.amazonaws.com", "*.dkr-ecr-fips.*.on.aws",
      "*.dkr.ecr.*.c2s.ic.gov",         "*.dkr.ecr.*.sc2s.sgov.gov", "*.dkr.ecr.*.cloud.adc-e.uk",
      "*.dkr.ecr.*.csp.hci.ic.gov",     "*.dkr.ecr.*.amazonaws.eu", "public.ecr.aws",
  };
  if (kubelet >= Version{1, 32, 0}) match.emplace_back("ecr-public.aws.com");
  const bool v1 = kubelet >= Version{1, 27, 0};
  const std::string name(provider_binary.substr(provider_binary.rfind('/') + 1));
  ojson provider = {{"name", name},
                    {"matchImages", match},
                    {"defaultCacheDuration", "12h0m0s"},
                    {"apiVersion", v1 ? "credentialprovider.kubelet.k8s.io/v1" : "credentialprovider.kubelet.k8s.io/v1alpha1"}};
  ojson config = {{"apiVersion", v1 ? "kubelet.config.k8s.io/v1" : "kubelet.config.k8s.io/v1alpha1"},
                  {"kind", "CredentialProviderConfig"},
                  {"providers", ojson::array({provider})}};
  return go_json_struct_indent(config, 2);
}

std::string systemd_escape(std::string_view value) {
  std::string q;
  for (unsigned char c : value) {
    switch (c) {
      case '"': q += "\\\""; break;
      case '\\': q += "\\\\"; break;
      case '\a': q += "\\a"; break;
      case '\b': q += "\\b"; break;
      case '\f': q += "\\f"; break;
      case '\n': q += "\\n"; break;
      case '\r': q += "\\r"; break;
      case '\t': q += "\\t"; break;
      case '\v': q += "\\v"; break;
      case '%': q += "%%"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          q += fmt::format("\\x{:02x}", c);
        } else {
          q += static_cast<char>(c);
        }
    }
  }
  return q;
}

std::vector<DropinFile> environment_dropins(const std::map<std::string, std::map<std::string, std::string>>& env) {
  std::vector<DropinFile> out;
  for (const auto& [unit, vars] : env) {
    if (vars.empty()) continue;
    const bool manager = unit == "default";
    std::string text = manager ? "[Manager]\n" : "[Service]\n";
    for (const auto& [k, v] : vars) {
      text += fmt::format("{}=\"{}={}\"\n", manager ? "DefaultEnvironment" : "Environment", k, systemd_escape(v));
    }
    const std::string service = manager ? "" : (unit.ends_with(".service") ? unit : unit + ".service");
    out.push_back({.path = manager ? kDefaultEnvironmentPath : fmt::format("/etc/systemd/system/{}.d/environment.conf", service),
                   .bytes = std::move(text),
                   .service = service});
  }
  return out;
}

}  // namespace agent::compute::al2023
