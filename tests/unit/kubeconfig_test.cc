#include "agent/compute/kubeconfig.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using agent::compute::kubeconfig_for;

namespace {

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// The AL2 kubeconfig layout (bootstrap-sh.md 8.3) with the three values in place.
std::string expected(const std::string& server, const std::string& cluster, const std::string& region) {
  return "apiVersion: v1\n"
         "kind: Config\n"
         "clusters:\n"
         "- cluster:\n"
         "    certificate-authority: /etc/kubernetes/pki/ca.crt\n"
         "    server: " + server + "\n"
         "  name: kubernetes\n"
         "contexts:\n"
         "- context:\n"
         "    cluster: kubernetes\n"
         "    user: kubelet\n"
         "  name: kubelet\n"
         "current-context: kubelet\n"
         "users:\n"
         "- name: kubelet\n"
         "  user:\n"
         "    exec:\n"
         "      apiVersion: client.authentication.k8s.io/v1beta1\n"
         "      command: /usr/bin/aws-iam-authenticator\n"
         "      args:\n"
         "        - \"token\"\n"
         "        - \"-i\"\n"
         "        - " + cluster + "\n"
         "        - --region\n"
         "        - " + region + "\n";
}

}  // namespace

TEST_CASE("the kubeconfig has the AL2 layout with quoted endpoint, cluster and region") {
  CHECK(kubeconfig_for("https://ABCDEF.gr7.us-east-1.eks.amazonaws.com", "my-cluster", "us-east-1") ==
        expected("\"https://ABCDEF.gr7.us-east-1.eks.amazonaws.com\"", "\"my-cluster\"", "\"us-east-1\""));
}

TEST_CASE("odd characters in the values are escaped and never break the document") {
  struct Row {
    std::string what;
    std::string endpoint, cluster, region;
    std::string server_line, cluster_line;
  };
  const std::vector<Row> rows = {
      {"sed metacharacters", "https://h/p?a=1&b=2,c", "a,b&c", "us-east-1",
       R"("https://h/p?a=1&b=2,c")", R"("a,b&c")"},
      {"double quote and backslash", "https://h", "we\"ird\\name", "us-east-1", R"("https://h")",
       R"("we\"ird\\name")"},
      {"YAML indicators", "https://h: # not a comment", "- [x]: {y}", "us-east-1",
       R"("https://h: # not a comment")", R"("- [x]: {y}")"},
      {"a newline", "https://h", "line1\nline2", "us-east-1", R"("https://h")", R"("line1\nline2")"},
      {"a local cluster id", "https://10.0.0.1:6443", "0123abcd-4567-89ef-0123-456789abcdef",
       "us-west-2", R"("https://10.0.0.1:6443")", R"("0123abcd-4567-89ef-0123-456789abcdef")"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    const std::string out = kubeconfig_for(row.endpoint, row.cluster, row.region);
    const auto got = lines_of(out);
    const auto want = lines_of(expected(row.server_line, row.cluster_line, "\"" + row.region + "\""));
    REQUIRE(got.size() == want.size());
    CHECK(got == want);
    CHECK(got[5] == "    server: " + row.server_line);
    CHECK(got[22] == "        - " + row.cluster_line);
  }
}
