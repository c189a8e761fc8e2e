#include "agent/userdata/documents.h"

#include <doctest/doctest.h>

#include <string>

using agent::Errc;
using nlohmann::json;
using namespace agent::userdata;

namespace {

std::vector<Document> docs(const std::string& text, const DocumentLimits& limits = {}) {
  auto r = parse_documents(text, limits);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  return std::move(r).value();
}

json value(const std::string& text) {
  auto d = docs(text);
  REQUIRE(d.size() == 1);
  return d[0].value;
}

std::string error(const std::string& text, const DocumentLimits& limits = {}) {
  auto r = parse_documents(text, limits);
  REQUIRE_MESSAGE(!r.has_value(), "expected an error");
  CHECK(r.error().code == Errc::Parse);
  return r.error().message;
}

}  // namespace

namespace doctest {
template <>
struct StringMaker<Mark> {
  static String convert(const Mark& m) { return fmt::format("{{{}, {}}}", m.line, m.column).c_str(); }
};
}  // namespace doctest

TEST_CASE("YAML plain scalars resolve as the YAML 1.2 core schema says") {
  json v = value(
      "s: text\nq: \"123\"\nsq: 'true'\nn: ~\nn2: null\nempty:\nt: true\nT: True\nf: FALSE\n"
      "i: 42\nneg: -7\nplus: +3\nhex: 0x1F\noct: 0o17\nfl: 1.5\nexp: 1e3\ndot: .5\n"
      "yes: yes\noff: off\ninf: .inf\nver: 1.2.3\nbig: 18446744073709551615\n");
  CHECK(v["s"] == "text");
  CHECK(v["q"] == "123");
  CHECK(v["sq"] == "true");
  CHECK(v["n"].is_null());
  CHECK(v["n2"].is_null());
  CHECK(v["empty"].is_null());
  CHECK(v["t"] == true);
  CHECK(v["T"] == true);
  CHECK(v["f"] == false);
  CHECK(v["i"] == 42);
  CHECK(v["neg"] == -7);
  CHECK(v["plus"] == 3);
  CHECK(v["hex"] == 31);
  CHECK(v["oct"] == 15);
  CHECK(v["fl"] == 1.5);
  CHECK(v["exp"] == 1000.0);
  CHECK(v["dot"] == 0.5);
  CHECK(v["yes"] == "yes");  // YAML 1.1 booleans are strings in 1.2
  CHECK(v["off"] == "off");
  CHECK(v["inf"] == ".inf");
  CHECK(v["ver"] == "1.2.3");
  CHECK(v["big"] == 18446744073709551615ULL);
}

TEST_CASE("explicit tags and block scalars") {
  json v = value("a: !!str 42\nb: !!int \"7\"\nc: |\n  line1\n  line2\nd: >-\n  folded\n  text\n");
  CHECK(v["a"] == "42");
  CHECK(v["b"] == 7);
  CHECK(v["c"] == "line1\nline2\n");
  CHECK(v["d"] == "folded text");
}

TEST_CASE("every value has the line and column of its key or item") {
  auto d = docs("apiVersion: node.eks.aws/v1alpha1\nspec:\n  cluster:\n    name: x\n  kubelet:\n    flags:\n      - --v=2\n      - --a=b\n");
  REQUIRE(d.size() == 1);
  CHECK(d[0].marks.at("/apiVersion") == Mark{1, 1});
  CHECK(d[0].marks.at("/spec/cluster") == Mark{3, 3});
  CHECK(d[0].marks.at("/spec/cluster/name") == Mark{4, 5});
  CHECK(d[0].marks.at("/spec/kubelet/flags/1") == Mark{8, 9});
  CHECK(d[0].at("/spec/cluster/cidr") == Mark{3, 3});  // absent: its parent
  CHECK(display_path("/spec/kubelet/flags/1") == "spec.kubelet.flags[1]");
  CHECK(display_path(pointer_append("/spec/kubelet/config/nodeLabels", "a/b~c")) == "spec.kubelet.config.nodeLabels.a/b~c");
}

TEST_CASE("JSON documents parse as JSON, with marks") {
  auto d = docs("{\n  \"apiVersion\": \"node.eks.aws/v1alpha1\",\n  \"spec\": {\"kubelet\": {\"flags\": [\"--v=2\", \"--x\"]}}\n}\n");
  REQUIRE(d.size() == 1);
  CHECK(d[0].value["spec"]["kubelet"]["flags"][1] == "--x");
  CHECK(d[0].marks.at("/apiVersion") == Mark{2, 3});
  CHECK(d[0].marks.at("/spec/kubelet/flags/1") == Mark{3, 43});
  SUBCASE("a YAML flow mapping that is not JSON still parses") {
    CHECK(value("{apiVersion: node.eks.aws/v1alpha1, kind: NodeConfig}")["kind"] == "NodeConfig");
  }
  SUBCASE("invalid JSON names line and column") {
    std::string e = error("{\n  \"a\": 1,\n  \"b\": tru\n}\n");
    CHECK(e.find("line 3") != std::string::npos);
  }
}

TEST_CASE("a YAML stream yields every document; empty ones are null") {
  auto d = docs("---\na: 1\n---\n---\nb: 2\n...\n");
  REQUIRE(d.size() == 3);
  CHECK(d[0].value["a"] == 1);
  CHECK(d[1].value.is_null());
  CHECK(d[2].value["b"] == 2);
  CHECK(d[2].marks.at("/b") == Mark{5, 1});
}

TEST_CASE("anchors, aliases and merge keys") {
  json v = value("base: &b {cpu: 100m, memory: 1Gi}\ncopy: *b\nmerged:\n  <<: *b\n  cpu: 200m\n");
  CHECK(v["copy"] == json{{"cpu", "100m"}, {"memory", "1Gi"}});
  CHECK(v["merged"] == json{{"cpu", "200m"}, {"memory", "1Gi"}});
}

TEST_CASE("syntax errors carry line and column") {
  // nodeadm issue #1701: a NodeConfig and a bootstrap.sh line mixed up in one part.
  std::string e = error("apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: x\n"
                        "/etc/eks/bootstrap.sh x --b64-cluster-ca y\n  bad: [\n");
  CHECK(e.starts_with("line "));
  CHECK(e.find("column") != std::string::npos);
  CHECK(error("a: b\n  c: d\n").find("line 2") != std::string::npos);
  CHECK(error("a: [1, 2\n").find("line") != std::string::npos);
  CHECK(error("a: *nope\n").find("alias *nope names no anchor") != std::string::npos);
}

TEST_CASE("duplicate and complex keys are errors") {
  CHECK(error("a: 1\nb: 2\na: 3\n") == "line 3, column 1: duplicate key 'a' (first at line 1)");
  CHECK(error("? [a, b]\n: c\n").find("mapping key must be a scalar") != std::string::npos);
}

TEST_CASE("limits stop deep nesting and alias bombs") {
  SUBCASE("YAML depth") {
    std::string deep(100, '[');
    CHECK(error("a: " + deep).find("nested more than 64 levels") != std::string::npos);
  }
  SUBCASE("JSON depth") {
    CHECK(error(std::string(100000, '[') + std::string(100000, ']')).find("nested more than 64 levels") !=
          std::string::npos);
  }
  SUBCASE("billion laughs") {
    std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 10; ++i) {
      text += fmt::format("a{0}: &a{0} [*a{1}, *a{1}, *a{1}, *a{1}, *a{1}, *a{1}, *a{1}, *a{1}, *a{1}, *a{1}]\n", i, i - 1);
    }
    CHECK(error(text).find("more than 100000 values") != std::string::npos);
  }
  SUBCASE("JSON values") {
    DocumentLimits limits;
    limits.max_nodes = 5;
    CHECK(error("[1,2,3,4,5,6]", limits).find("more than 5 values") != std::string::npos);
  }
}

TEST_CASE("numbers beyond double: a JSON error, a YAML string (fuzzer find)") {
  CHECK(error("{\"a\": [1, 3.3E333333331]}") == "invalid JSON: number overflow parsing '3.3E333333331'");
  CHECK(value("a: 1e999999\n")["a"] == "1e999999");
  CHECK(value("a: 123456789012345678901234567890\n")["a"].is_number_float());
}

TEST_CASE("bytes that are not text are a parse error") {
  CHECK_FALSE(parse_documents(std::string("a: \x01\x02\n", 7)).has_value());
  CHECK_FALSE(parse_documents(std::string("a: b\xff\xfe\n", 8)).has_value());
}
