#include "agent/aws/protocol.h"
#include "agent/model/text.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/aws/xml.h"
#include "agent/compute/base64.h"

namespace agent::aws {
namespace {

constexpr const char* kFormType = "Content-Type: application/x-www-form-urlencoded; charset=utf-8";

bool valid_cluster_name(std::string_view n) {
  if (n.empty() || n.size() > 100 || !std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

bool valid_instance_type(std::string_view t) {
  return !t.empty() && t.size() <= 64 && std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
}

bool valid_instance_id(std::string_view id) {
  return id.size() > 2 && id.size() <= 32 && id.starts_with("i-") &&
         std::all_of(id.begin() + 2, id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

HttpRequest ec2_request(const std::string& endpoint, const char* operation, std::string body,
                        std::string subject) {
  return HttpRequest{
      .method = "POST",
      .url = endpoint + "/",
      .headers = {kFormType},
      .body = fmt::format("Action={}&Version={}{}", operation, kEc2ApiVersion, body),
      .service = Service::Ec2,
      .operation = operation,
      .iam_action = fmt::format("ec2:{}", operation),
      .subject = std::move(subject),
  };
}

bool valid_addon_name(std::string_view n) {
  return !n.empty() && n.size() <= 100 && std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// "1.30": digits, one dot, digits.
bool valid_minor(std::string_view v) {
  auto dot = v.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == v.size() || v.size() > 16) return false;
  auto digits = [](std::string_view d) {
    return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  return digits(v.substr(0, dot)) && digits(v.substr(dot + 1));
}

int int_of(const std::string& s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() ? v : 0;
}

// A JSON string at `path` ("kubernetesNetworkConfig/serviceIpv4Cidr"); nullopt when missing,
// null or not a string (the CLI's "None").
std::optional<std::string> json_string(const nlohmann::json& j, std::string_view path) {
  const nlohmann::json* at = &j;
  while (!path.empty()) {
    auto slash = path.find('/');
    std::string key(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
    if (!at->is_object()) return std::nullopt;
    auto it = at->find(key);
    if (it == at->end()) return std::nullopt;
    at = &*it;
  }
  if (!at->is_string()) return std::nullopt;
  return at->get<std::string>();
}

std::string excerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 200)) out += (c == '\n' || c == '\r') ? ' ' : c;
  return out;
}

}  // namespace

std::string form_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

Result<HttpRequest> describe_cluster_request(const std::string& endpoint, const std::string& name) {
  if (!valid_cluster_name(name)) {
    return make_error(Errc::Invalid,
                      "'{}' is not an EKS cluster name (1-100 letters, digits, '-' and '_', starting "
                      "with a letter or digit)",
                      name);
  }
  return HttpRequest{
      .method = "GET",
      .url = fmt::format("{}/clusters/{}", endpoint, name),
      .headers = {"Accept: application/json"},
      .body = "",
      .service = Service::Eks,
      .operation = "DescribeCluster",
      .iam_action = "eks:DescribeCluster",
      .subject = fmt::format("EKS cluster '{}'", name),
  };
}

Result<HttpRequest> describe_instance_types_request(const std::string& endpoint,
                                                    const std::vector<std::string>& types,
                                                    const std::string& next_token, int max_results) {
  std::string params;
  for (size_t i = 0; i < types.size(); ++i) {
    if (!valid_instance_type(types[i])) {
      return make_error(Errc::Invalid, "'{}' is not an EC2 instance type", types[i]);
    }
    params += fmt::format("&InstanceType.{}={}", i + 1, types[i]);
  }
  if (types.empty()) {
    if (max_results < 5 || max_results > 1000) {
      return make_error(Errc::Invalid, "MaxResults must be 5..1000, got {}", max_results);
    }
    params += fmt::format("&MaxResults={}", max_results);
  }
  if (!next_token.empty()) params += "&NextToken=" + form_encode(next_token);
  std::string subject = types.size() == 1 ? fmt::format("instance type '{}'", types[0])
                                          : fmt::format("instance types ({})", types.size());
  return ec2_request(endpoint, "DescribeInstanceTypes", params, subject);
}

Result<HttpRequest> describe_instances_request(const std::string& endpoint, const std::string& instance_id) {
  if (!valid_instance_id(instance_id)) {
    return make_error(Errc::Invalid, "'{}' is not an EC2 instance id", instance_id);
  }
  return ec2_request(endpoint, "DescribeInstances", "&InstanceId.1=" + instance_id,
                     fmt::format("instance {}", instance_id));
}

Result<HttpRequest> describe_addon_versions_request(const std::string& endpoint, const std::string& addon,
                                                    const std::string& kubernetes_minor,
                                                    const std::string& next_token) {
  if (!valid_addon_name(addon)) {
    return make_error(Errc::Invalid, "'{}' is not an EKS add-on name", addon);
  }
  if (!valid_minor(kubernetes_minor)) {
    return make_error(Errc::Invalid, "'{}' is not a Kubernetes minor version (like 1.30)", kubernetes_minor);
  }
  // Already in canonical order: addonName < kubernetesVersion < maxResults < nextToken.
  std::string query = fmt::format("addonName={}&kubernetesVersion={}&maxResults=100", form_encode(addon),
                                  form_encode(kubernetes_minor));
  if (!next_token.empty()) query += "&nextToken=" + form_encode(next_token);
  return HttpRequest{
      .method = "GET",
      .url = fmt::format("{}/addons/supported-versions?{}", endpoint, query),
      .headers = {"Accept: application/json"},
      .body = "",
      .service = Service::Eks,
      .operation = "DescribeAddonVersions",
      .iam_action = "eks:DescribeAddonVersions",
      .subject = fmt::format("add-on '{}' for Kubernetes {}", addon, kubernetes_minor),
  };
}

HttpRequest ecr_authorization_request(const std::string& endpoint) {
  return HttpRequest{
      .method = "POST",
      .url = endpoint + "/",
      .headers = {"Content-Type: application/x-amz-json-1.1",
                  "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
                  "Accept: application/json"},
      .body = "{}",
      .service = Service::Ecr,
      .operation = "GetAuthorizationToken",
      .iam_action = "ecr:GetAuthorizationToken",
      .subject = "the ECR registry login",
  };
}

HttpRequest describe_regions_request(const std::string& endpoint) {
  return ec2_request(endpoint, "DescribeRegions", "&AllRegions=true", "the partition's regions");
}

Result<ClusterInfo> parse_describe_cluster(std::string_view json) {
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("cluster") || !doc["cluster"].is_object()) {
    return make_error(Errc::Parse, "DescribeCluster answer has no \"cluster\" object");
  }
  const auto& c = doc["cluster"];
  ClusterInfo out;
  out.name = json_string(c, "name").value_or("");
  out.status = json_string(c, "status").value_or("");
  out.endpoint = json_string(c, "endpoint").value_or("");
  out.certificate_authority = json_string(c, "certificateAuthority/data").value_or("");
  out.id = json_string(c, "id").value_or("");
  out.service_ipv4_cidr = json_string(c, "kubernetesNetworkConfig/serviceIpv4Cidr");
  out.service_ipv6_cidr = json_string(c, "kubernetesNetworkConfig/serviceIpv6Cidr");
  out.ip_family = json_string(c, "kubernetesNetworkConfig/ipFamily");
  if (auto it = c.find("outpostConfig"); it != c.end() && it->is_object()) {
    if (auto arns = it->find("outpostArns"); arns != it->end() && arns->is_array() &&
                                             !arns->empty() && (*arns)[0].is_string()) {
      out.outpost_arn = (*arns)[0].get<std::string>();
    }
  }
  // "None" is what the CLI printed for null; treat a literal one the same way.
  for (auto* f : {&out.service_ipv4_cidr, &out.service_ipv6_cidr, &out.ip_family, &out.outpost_arn}) {
    if (*f && (f->value().empty() || *f == "None")) f->reset();
  }
  if (out.id == "None") out.id.clear();
  return out;
}

Result<InstanceTypesPage> parse_describe_instance_types(std::string_view xml) {
  AGENT_TRY(XmlElement root, parse_xml(xml));
  if (root.name != "DescribeInstanceTypesResponse") {
    return make_error(Errc::Parse, "expected DescribeInstanceTypesResponse, got <{}>", root.name);
  }
  InstanceTypesPage page;
  page.next_token = root.child_text("nextToken");
  const XmlElement* set = root.child("instanceTypeSet");
  if (set == nullptr) return page;  // an empty page may omit the set
  for (const auto& item : set->children) {
    if (item.name != "item") continue;
    InstanceTypeInfo t;
    t.instance_type = item.child_text("instanceType");
    if (t.instance_type.empty()) return make_error(Errc::Parse, "an instanceTypeSet item has no instanceType");
    t.hypervisor = item.child_text("hypervisor");
    t.bare_metal = item.child_text("bareMetal") == "true";
    if (const auto* v = item.child("vCpuInfo")) t.default_vcpus = int_of(v->child_text("defaultVCpus"));
    const XmlElement* net = item.child("networkInfo");
    if (net == nullptr) return make_error(Errc::Parse, "{} has no networkInfo", t.instance_type);
    t.max_enis = int_of(net->child_text("maximumNetworkInterfaces"));
    t.ipv4_per_eni = int_of(net->child_text("ipv4AddressesPerInterface"));
    t.ipv6_per_eni = int_of(net->child_text("ipv6AddressesPerInterface"));
    t.network_cards = int_of(net->child_text("maximumNetworkCards"));
    t.default_network_card_index = int_of(net->child_text("defaultNetworkCardIndex"));
    // The default card's ENIs: on multi-card types the instance-wide figure overstates what the
    // VPC CNI uses (max-pods-calculator.sh fix 6e587606).
    t.default_card_max_enis = t.max_enis;
    if (const auto* cards = net->child("networkCards")) {
      for (const auto& card : cards->children) {
        if (card.name == "item" &&
            int_of(card.child_text("networkCardIndex")) == t.default_network_card_index) {
          t.default_card_max_enis = int_of(card.child_text("maximumNetworkInterfaces"));
          break;
        }
      }
    }
    page.types.push_back(std::move(t));
  }
  return page;
}

Result<InstanceDescription> parse_describe_instances(std::string_view xml, const std::string& instance_id) {
  AGENT_TRY(XmlElement root, parse_xml(xml));
  if (root.name != "DescribeInstancesResponse") {
    return make_error(Errc::Parse, "expected DescribeInstancesResponse, got <{}>", root.name);
  }
  if (const XmlElement* reservations = root.child("reservationSet")) {
    for (const auto& r : reservations->children) {
      const XmlElement* instances = r.child("instancesSet");
      if (instances == nullptr) continue;
      for (const auto& i : instances->children) {
        if (i.child_text("instanceId") != instance_id) continue;
        InstanceDescription d;
        d.instance_id = instance_id;
        d.private_dns_name = i.child_text("privateDnsName");
        if (const auto* state = i.child("instanceState")) d.state = state->child_text("name");
        return d;
      }
    }
  }
  return make_error(Errc::Parse, "DescribeInstances answer does not describe {}", instance_id);
}

Result<AddonVersionsPage> parse_describe_addon_versions(std::string_view json) {
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("addons") || !doc["addons"].is_array()) {
    return make_error(Errc::Parse, "DescribeAddonVersions answer has no \"addons\" list");
  }
  AddonVersionsPage page;
  page.next_token = json_string(doc, "nextToken").value_or("");
  for (const auto& addon : doc["addons"]) {
    if (!addon.is_object()) return make_error(Errc::Parse, "an \"addons\" entry is not an object");
    const std::string name = json_string(addon, "addonName").value_or("");
    auto versions = addon.find("addonVersions");
    if (versions == addon.end() || versions->is_null()) continue;
    if (!versions->is_array()) return make_error(Errc::Parse, "addonVersions of '{}' is not a list", name);
    for (const auto& v : *versions) {
      AddonVersionInfo info{.addon_name = name, .addon_version = json_string(v, "addonVersion").value_or("")};
      if (info.addon_version.empty()) {
        return make_error(Errc::Parse, "an addonVersions entry of '{}' has no addonVersion", name);
      }
      if (auto compat = v.find("compatibilities"); compat != v.end() && compat->is_array()) {
        for (const auto& c : *compat) {
          if (!c.is_object()) continue;
          auto def = c.find("defaultVersion");
          info.compatibilities.push_back(AddonCompatibility{
              .cluster_version = json_string(c, "clusterVersion").value_or(""),
              .default_version = def != c.end() && def->is_boolean() && def->get<bool>(),
          });
        }
      }
      page.versions.push_back(std::move(info));
    }
  }
  return page;
}

Result<EcrAuthorization> parse_ecr_authorization(std::string_view json) {
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("authorizationData") || !doc["authorizationData"].is_array() ||
      doc["authorizationData"].empty() || !doc["authorizationData"][0].is_object()) {
    return make_error(Errc::Parse, "GetAuthorizationToken answer has no authorizationData");
  }
  const auto& data = doc["authorizationData"][0];
  auto token = json_string(data, "authorizationToken");
  if (!token || token->empty()) {
    return make_error(Errc::Parse, "GetAuthorizationToken answer has no authorizationToken");
  }
  // Never quote the token or what it decodes to: both are the password.
  auto decoded = compute::base64_decode(*token);
  if (!decoded) return make_error(Errc::Parse, "the authorizationToken is not base64");
  const auto colon = decoded->find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == decoded->size()) {
    return make_error(Errc::Parse, "the authorizationToken does not decode to user:password");
  }
  EcrAuthorization out;
  out.username = decoded->substr(0, colon);
  out.password = Secret(decoded->substr(colon + 1));
  out.proxy_endpoint = json_string(data, "proxyEndpoint").value_or("");
  // JSON 1.1 timestamps are epoch seconds, possibly with a fraction.
  if (auto at = data.find("expiresAt"); at != data.end() && at->is_number()) {
    out.expires_at = std::chrono::sys_seconds(std::chrono::seconds(static_cast<long long>(at->get<double>())));
  }
  return out;
}

Result<std::vector<std::string>> parse_describe_regions(std::string_view xml) {
  AGENT_TRY(XmlElement root, parse_xml(xml));
  if (root.name != "DescribeRegionsResponse") {
    return make_error(Errc::Parse, "expected DescribeRegionsResponse, got <{}>", root.name);
  }
  std::vector<std::string> regions;
  const XmlElement* info = root.child("regionInfo");
  if (info == nullptr) return regions;
  for (const auto& item : info->children) {
    if (item.name != "item") continue;
    std::string name = item.child_text("regionName");
    if (name.empty()) return make_error(Errc::Parse, "a regionInfo item has no regionName");
    regions.push_back(std::move(name));
  }
  return regions;
}

ApiError parse_api_error(Service service, int http_status, std::string_view error_type_header,
                         std::string_view body) {
  ApiError e{.http_status = http_status};
  if (service == Service::Ec2) {
    if (auto root = parse_xml(body)) {
      if (const XmlElement* err = root->find("Errors/Error")) {
        e.code = err->child_text("Code");
        e.message = err->child_text("Message");
      } else if (root->name == "Error") {  // some front ends answer <Error><Code>...
        e.code = root->child_text("Code");
        e.message = root->child_text("Message");
      }
    }
  } else {
    auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) {
      e.message = json_string(j, "message").value_or(json_string(j, "Message").value_or(""));
      e.code = json_string(j, "__type").value_or(json_string(j, "code").value_or(""));
    }
    if (!error_type_header.empty()) e.code = std::string(error_type_header);
  }
  // "ResourceNotFoundException:http://internal.amazon.com/..." and "aws.protocol#Code" forms.
  if (auto colon = e.code.find(':'); colon != std::string::npos) e.code.resize(colon);
  if (auto hash = e.code.rfind('#'); hash != std::string::npos) e.code.erase(0, hash + 1);
  if (e.code.empty() && e.message.empty()) e.message = excerpt(body);
  return e;
}

AttemptOutcome classify(const ApiError& e) {
  if (e.http_status == 429 ||
      one_of(e.code, {"Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
                      "RequestLimitExceeded", "RequestThrottled", "RequestThrottledException",
                      "EC2ThrottledException", "SlowDown", "BandwidthLimitExceeded",
                      "PriorRequestNotComplete", "ProvisionedThroughputExceededException"})) {
    return AttemptOutcome::Throttled;
  }
  if (e.http_status >= 500 ||
      one_of(e.code, {"InternalError", "InternalFailure", "ServiceUnavailable", "ServerException",
                      "RequestTimeout", "RequestTimeoutException", "Unavailable"})) {
    return AttemptOutcome::Failure;
  }
  return AttemptOutcome::Permanent;
}

bool credentials_expired(const ApiError& e) {
  return one_of(e.code, {"ExpiredToken", "ExpiredTokenException"});
}

bool resource_not_found(const ApiError& e) {
  return one_of(e.code, {"ResourceNotFoundException", "InvalidInstanceID.NotFound",
                         "InvalidInstanceID.Malformed", "InvalidInstanceType", "NotFoundException"}) ||
         (e.code.empty() && e.http_status == 404);
}

Error final_error(const HttpRequest& r, const ApiError& e, const std::string& region,
                  const std::string& credential_source) {
  const std::string cause =
      e.code.empty() ? fmt::format("HTTP {}: {}", e.http_status, e.message)
                     : fmt::format("HTTP {} {}: {}", e.http_status, e.code, e.message);
  if (resource_not_found(e)) {
    std::string hint = r.operation == "DescribeCluster"
                           ? "; check the cluster name and the region (AWS_REGION overrides the instance's)"
                           : "";
    return make_error(Errc::AwsApi, "{}{} does not exist in {} ({}: {}){}", kAwsNotFoundPrefix,
                      r.subject, region, r.operation, cause, hint);
  }
  if (one_of(e.code, {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}) ||
      (e.code.empty() && e.http_status == 403)) {
    std::string hint = r.operation == "DescribeCluster"
                           ? " (or pass --apiserver-endpoint and --b64-cluster-ca, and no call is made)"
                           : "";
    return make_error(Errc::AwsApi, "{} was denied for the credentials from {}: allow {} in their IAM "
                      "policy{} ({})",
                      r.iam_action, credential_source, r.iam_action, hint, cause);
  }
  if (one_of(e.code, {"UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure",
                      "InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignature",
                      "MissingAuthenticationToken", "ExpiredToken", "ExpiredTokenException"})) {
    return make_error(Errc::AwsApi, "{} rejected the credentials from {} ({})", r.operation,
                      credential_source, cause);
  }
  return make_error(Errc::AwsApi, "{} for {} failed ({})", r.operation, r.subject, cause);
}

}  // namespace agent::aws
