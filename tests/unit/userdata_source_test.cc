// parse_source end to end, on the shapes real tools write into EC2 user data.
#include "agent/userdata/user_data.h"

#include <doctest/doctest.h>

#include <string>

#include "agent/userdata/merge.h"
#include "tests/unit/userdata_test_util.h"

using agent::Errc;
using agent::testing::base64;
using agent::testing::gzip;
using agent::testing::kMinimalNodeConfig;
using nlohmann::json;
using namespace agent::userdata;

namespace {

constexpr const char* kSource = "imds://user-data";

SourceConfigs parsed(const std::string& bytes) {
  auto r = parse_source(bytes, kSource);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  return std::move(r).value();
}

std::string error(const std::string& bytes) {
  auto r = parse_source(bytes, kSource);
  REQUIRE_MESSAGE(!r.has_value(), "expected an error");
  return r.error().message;
}

NodeConfigSpec merged_spec(const SourceConfigs& s) {
  auto m = merge_all(s.docs);
  REQUIRE(m.has_value());
  return m->spec;
}

std::string mime(const std::vector<std::pair<std::string, std::string>>& parts, const std::string& boundary = "//") {
  std::string out = "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"" + boundary + "\"\n\n";
  for (const auto& [type, body] : parts) out += "--" + boundary + "\nContent-Type: " + type + "\n\n" + body + "\n";
  return out + "--" + boundary + "--\n";
}

// nodeadm configprovider/userdata_test.go: two NodeConfig parts that merge.
const std::string kPart1 =
    "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: autofill\n"
    "    apiServerEndpoint: autofill\n    certificateAuthority: Y2VydGlmaWNhdGVBdXRob3JpdHk=\n    cidr: 10.100.0.0/16\n"
    "  kubelet:\n    config:\n      port: 1010\n      maxPods: 120\n    flags:\n      - --v=2\n"
    "      - --node-labels=foo=bar,nodegroup=test\n";
const std::string kPart2 =
    "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  kubelet:\n    config:\n      maxPods: 150\n"
    "      podsPerCore: 20\n      systemReserved:\n        cpu: 150m\n    flags:\n      - --v=5\n"
    "      - --node-labels=foo=baz\n";

void check_two_part_merge(const SourceConfigs& s) {
  REQUIRE(s.docs.size() == 2);
  NodeConfigSpec m = merged_spec(s);
  CHECK(m.name == "autofill");
  CHECK(m.certificate_authority == "Y2VydGlmaWNhdGVBdXRob3JpdHk=");
  CHECK(m.kubelet_config == json{{"maxPods", 150}, {"podsPerCore", 20}, {"port", 1010}, {"systemReserved", {{"cpu", "150m"}}}});
  CHECK(m.kubelet_flags == std::vector<std::string>{"--v=2", "--node-labels=foo=bar,nodegroup=test", "--v=5",
                                                    "--node-labels=foo=baz"});
}

const std::string kCa = base64("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");

// Karpenter, AL2 AMI family: a MIME message whose only part calls bootstrap.sh.
const std::string kKarpenterAl2 =
    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"//\"\n\n--//\n"
    "Content-Type: text/x-shellscript; charset=\"us-ascii\"\n\n#!/bin/bash -xe\n"
    "exec > >(tee /var/log/user-data.log|logger -t user-data -s 2>/dev/console) 2>&1\n"
    "/etc/eks/bootstrap.sh 'test-cluster' --apiserver-endpoint 'https://test-cluster' --b64-cluster-ca 'ca-bundle' \\\n"
    "--dns-cluster-ip '10.0.100.10' \\\n--use-max-pods false \\\n"
    "--kubelet-extra-args '--node-labels=\"karpenter.sh/capacity-type=on-demand,karpenter.sh/nodepool=default\" "
    "--max-pods=110'\n--//--\n";

// Karpenter, AL2023 AMI family: the user's own parts first, Karpenter's NodeConfig last.
const std::string kKarpenterAl2023 =
    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"//\"\n\n"
    "--//\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\n\n#!/bin/bash\necho \"Hello from the user\"\n\n"
    "--//\nContent-Type: application/node.eks.aws\n\n"
    "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  kubelet:\n    config:\n      shutdownGracePeriod: 30s\n\n"
    "--//\nContent-Type: application/node.eks.aws\n\n"
    "# Karpenter Generated NodeConfig\napiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nmetadata: {}\nspec:\n"
    "  cluster:\n    apiServerEndpoint: https://test-cluster\n    certificateAuthority: " + kCa + "\n"
    "    cidr: 10.100.0.0/16\n    name: test-cluster\n"
    "  kubelet:\n    config:\n      clusterDNS:\n      - 10.0.100.10\n      maxPods: 110\n"
    "    flags:\n    - --node-labels=\"karpenter.sh/capacity-type=on-demand,karpenter.sh/nodepool=default\"\n\n"
    "--//--\n";

// eksctl, AL2023: preBootstrapCommands as a shell part, then eksctl's NodeConfig (CRLF, unquoted
// boundary).
const std::string kEksctlAl2023 =
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=//\r\n\r\n"
    "--//\r\nContent-Type: text/x-shellscript\r\nContent-Type: charset=\"us-ascii\"\r\n\r\n#!/bin/bash\r\nyum install -y htop\r\n"
    "--//\r\nContent-Type: application/node.eks.aws\r\n\r\n"
    "apiVersion: node.eks.aws/v1alpha1\r\nkind: NodeConfig\r\nspec:\r\n  cluster:\r\n"
    "    apiServerEndpoint: https://ABCDEF.gr7.us-west-2.eks.amazonaws.com\r\n    certificateAuthority: " + kCa + "\r\n"
    "    cidr: 10.100.0.0/16\r\n    name: demo\r\n"
    "  kubelet:\r\n    config:\r\n      maxPods: 58\r\n      clusterDNS:\r\n      - 10.100.0.10\r\n"
    "    flags:\r\n    - --node-labels=alpha.eksctl.io/cluster-name=demo,alpha.eksctl.io/nodegroup-name=ng-1\r\n\r\n"
    "--//--\r\n";

}  // namespace

TEST_CASE("nodeadm's user data cases: plain YAML, gzip YAML, gzip MIME, a gzip part, base64+gzip+MIME") {
  const std::string two = mime({{"application/node.eks.aws", kPart1}, {"application/node.eks.aws", kPart2}});
  SUBCASE("plain YAML") {
    SourceConfigs s = parsed(std::string(kMinimalNodeConfig));
    REQUIRE(s.docs.size() == 1);
    CHECK(s.docs[0].spec.name == "my-cluster");
  }
  SUBCASE("gzip YAML") {
    SourceConfigs s = parsed(gzip(kMinimalNodeConfig));
    REQUIRE(s.docs.size() == 1);
    CHECK(s.docs[0].spec.cidr == "10.100.0.0/16");
  }
  SUBCASE("MIME with two parts") { check_two_part_merge(parsed(two)); }
  SUBCASE("gzip MIME") { check_two_part_merge(parsed(gzip(two))); }
  SUBCASE("MIME with a gzip (binary) part") {
    check_two_part_merge(parsed(mime({{"application/node.eks.aws", gzip(kPart1)}, {"application/node.eks.aws", kPart2}})));
  }
  SUBCASE("MIME with a base64 gzip part, no transfer-encoding header (nodeadm decodes it heuristically)") {
    check_two_part_merge(
        parsed(mime({{"application/node.eks.aws", base64(gzip(kPart1), 76)}, {"application/node.eks.aws", kPart2}})));
  }
  SUBCASE("base64 of gzip of MIME") {
    SourceConfigs s = parsed(base64(gzip(two), 76));
    check_two_part_merge(s);
    REQUIRE_FALSE(s.notes.empty());
    CHECK(s.notes[0] == "imds://user-data: decoded base64 then gzip");
  }
}

TEST_CASE("Karpenter AL2 user data has no NodeConfig, which is not an error") {
  SourceConfigs s = parsed(kKarpenterAl2);
  CHECK(s.docs.empty());
  REQUIRE(s.notes.size() == 2);
  CHECK(s.notes[0] == "imds://user-data, MIME part 1 (text/x-shellscript): skipped (not application/node.eks.aws)");
  CHECK(s.notes[1].find("none of type application/node.eks.aws") != std::string::npos);
}

TEST_CASE("Karpenter AL2023 user data: the user's NodeConfig part, then Karpenter's") {
  SourceConfigs s = parsed(kKarpenterAl2023);
  REQUIRE(s.docs.size() == 2);
  CHECK(s.docs[0].origin.part == "MIME part 2 (application/node.eks.aws)");
  CHECK(s.docs[1].origin.part == "MIME part 3 (application/node.eks.aws)");
  NodeConfigSpec m = merged_spec(s);
  CHECK(m.name == "test-cluster");
  CHECK(m.kubelet_config == json{{"clusterDNS", {"10.0.100.10"}}, {"maxPods", 110}, {"shutdownGracePeriod", "30s"}});
  CHECK(m.kubelet_flags.size() == 1);
  CHECK(s.warnings.empty());
  SUBCASE("gzip'd") { CHECK(parsed(gzip(kKarpenterAl2023)).docs.size() == 2); }
  SUBCASE("base64+gzip") { CHECK(parsed(base64(gzip(kKarpenterAl2023))).docs.size() == 2); }
}

TEST_CASE("eksctl AL2023 user data with CRLF line ends") {
  SourceConfigs s = parsed(kEksctlAl2023);
  REQUIRE(s.docs.size() == 1);
  NodeConfigSpec m = s.docs[0].spec;
  CHECK(m.name == "demo");
  CHECK(m.api_server_endpoint == "https://ABCDEF.gr7.us-west-2.eks.amazonaws.com");
  CHECK(m.kubelet_config["maxPods"] == 58);
  CHECK(m.kubelet_flags == std::vector<std::string>{
                               "--node-labels=alpha.eksctl.io/cluster-name=demo,alpha.eksctl.io/nodegroup-name=ng-1"});
}

TEST_CASE("bare documents: YAML, JSON, a stream of several") {
  SUBCASE("JSON") {
    SourceConfigs s = parsed(R"({"apiVersion":"node.eks.aws/v1alpha1","kind":"NodeConfig","spec":{"cluster":{"name":"j"}}})");
    REQUIRE(s.docs.size() == 1);
    CHECK(s.docs[0].spec.name == "j");
  }
  SUBCASE("a stream: every NodeConfig is used, in order; other documents are skipped") {
    SourceConfigs s = parsed(std::string(kMinimalNodeConfig) +
                             "---\nsomething: else\n---\napiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\n"
                             "spec:\n  cluster:\n    name: second\n");
    REQUIRE(s.docs.size() == 2);
    CHECK(s.docs[1].origin.document == 3);
    CHECK(merged_spec(s).name == "second");
  }
  SUBCASE("a leading comment is fine") {
    CHECK(parsed("# my node\n" + std::string(kMinimalNodeConfig)).docs.size() == 1);
  }
}

TEST_CASE("user data without a NodeConfig: shell scripts, cloud-config, empty") {
  for (const std::string& text : {std::string("#!/bin/bash\nset -e\n/etc/eks/bootstrap.sh my-cluster --foo: [\n"),
                                  std::string("#cloud-config\npackages:\n  - htop\n"), std::string(""),
                                  std::string("just some text\n"), std::string("a: [unclosed\n"),
                                  mime({{"text/x-shellscript", ""}})}) {
    CAPTURE(text);
    SourceConfigs s = parsed(text);
    CHECK(s.docs.empty());
    CHECK_FALSE(s.notes.empty());
  }
}

TEST_CASE("errors name the source, the MIME part and its content type, and the line and column") {
  SUBCASE("YAML syntax error in a NodeConfig part") {
    CHECK(error(mime({{"text/x-shellscript", "#!/bin/bash"},
                      {"application/node.eks.aws", "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n"
                                                   "  cluster:\n    name: x\n   bad: indent\n"}})) ==
          "imds://user-data, MIME part 2 (application/node.eks.aws): line 6, column 4: did not find expected key (while "
          "parsing a block mapping at line 4, column 3)");
  }
  SUBCASE("a field error in a NodeConfig part") {
    CHECK(error(mime({{"application/node.eks.aws", "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n"
                                                   "  cluster:\n    enableOutpost: sure\n"}})) ==
          "imds://user-data, MIME part 1 (application/node.eks.aws), line 5, column 5: spec.cluster.enableOutpost must be "
          "true or false, not 'sure'");
  }
  SUBCASE("a NodeConfig part holding something else") {
    CHECK(error(mime({{"application/node.eks.aws", "#!/bin/bash\necho hi\n"}}))
              .find("MIME part 1 (application/node.eks.aws), line 2, column 1: a application/node.eks.aws part must "
                    "hold NodeConfig documents") != std::string::npos);
  }
  SUBCASE("a bare document meant as a NodeConfig that does not parse") {
    CHECK(error("apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec: [\n").starts_with("imds://user-data: line "));
  }
  SUBCASE("nodeadm issue #1701: a bootstrap.sh line inside the NodeConfig part") {
    std::string e = error(mime({{"application/node.eks.aws",
                                 "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n"
                                 "    name: x\n/etc/eks/bootstrap.sh x\n"}}));
    CHECK(e.starts_with("imds://user-data, MIME part 1 (application/node.eks.aws): line "));
  }
  SUBCASE("a gzip bomb in a part") {
    std::string e = error(mime({{"application/node.eks.aws", gzip(std::string(10 << 20, ' '))}}));
    CHECK(e.find("MIME part 1 (application/node.eks.aws)") != std::string::npos);
    CHECK(e.find("inflates to more than") != std::string::npos);
  }
}

TEST_CASE("nodeadm chain cases: an empty part and no NodeConfig, empty user data") {
  CHECK(parsed(mime({{"text/plain", ""}})).docs.empty());
  CHECK(parsed("").docs.empty());
}
