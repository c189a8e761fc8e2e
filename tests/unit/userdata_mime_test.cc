#include "agent/userdata/mime.h"

#include <doctest/doctest.h>

#include <string>

#include "tests/unit/userdata_test_util.h"

using agent::Errc;
using agent::testing::base64;
using agent::testing::gzip;
using namespace agent::userdata;

namespace {

MimeMessage parsed(const std::string& text) {
  auto r = parse_multipart(text, {});
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  REQUIRE_MESSAGE(r->has_value(), "not recognised as multipart");
  return std::move(**r);
}

std::string crlf(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

bool has_warning(const MimeMessage& m, const std::string& part) {
  for (const auto& w : m.warnings) {
    if (w.find(part) != std::string::npos) return true;
  }
  return false;
}

const std::string kTwoParts =
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\n"
    "\n"
    "--BOUNDARY\n"
    "Content-Type: text/x-shellscript; charset=\"us-ascii\"\n"
    "\n"
    "#!/bin/bash\n"
    "echo hi\n"
    "\n"
    "--BOUNDARY\n"
    "Content-Type: application/node.eks.aws\n"
    "\n"
    "kind: NodeConfig\n"
    "--BOUNDARY--\n";

}  // namespace

TEST_CASE("content types parse into a lower-cased media type and parameters") {
  ContentType ct = parse_content_type("Multipart/Mixed; Boundary=\"//\"; charset=us-ascii");
  CHECK(ct.media_type == "multipart/mixed");
  CHECK(ct.params["boundary"] == "//");
  CHECK(ct.params["charset"] == "us-ascii");
  CHECK(parse_content_type("multipart/mixed; boundary=//").params["boundary"] == "//");
  CHECK(parse_content_type("multipart/mixed;boundary=\"a\\\"b\"").params["boundary"] == "a\"b");
  CHECK(parse_content_type("application/node.eks.aws").params.empty());
  CHECK(parse_content_type("").media_type.empty());
}

TEST_CASE("a two-part message splits into its parts, the delimiter's line break not in the body") {
  MimeMessage m = parsed(kTwoParts);
  REQUIRE(m.parts.size() == 2);
  CHECK(m.parts[0].index == "1");
  CHECK(m.parts[0].content_type == "text/x-shellscript");
  CHECK(m.parts[0].body == "#!/bin/bash\necho hi\n");
  CHECK(m.parts[1].index == "2");
  CHECK(m.parts[1].content_type == "application/node.eks.aws");
  CHECK(m.parts[1].body == "kind: NodeConfig");
  CHECK(m.warnings.empty());
}

TEST_CASE("CRLF line ends give the same parts") {
  MimeMessage m = parsed(crlf(kTwoParts));
  REQUIRE(m.parts.size() == 2);
  CHECK(m.parts[0].body == "#!/bin/bash\r\necho hi\r\n");
  CHECK(m.parts[1].body == "kind: NodeConfig");
}

TEST_CASE("the boundary may be unquoted and contain characters RFC 2045 wants quoted") {
  // EKS managed node groups and Karpenter write boundary="//"; some tools drop the quotes.
  MimeMessage m = parsed(
      "Content-Type: multipart/mixed; boundary=//\n\n--//\nContent-Type: application/node.eks.aws\n\nx: 1\n--//--\n");
  REQUIRE(m.parts.size() == 1);
  CHECK(m.parts[0].body == "x: 1");
}

TEST_CASE("preamble and epilogue are ignored") {
  MimeMessage m = parsed(
      "Content-Type: multipart/mixed; boundary=b\n\nThis is a multi-part message in MIME format.\n"
      "--b\nContent-Type: text/plain\n\nbody\n--b--\nepilogue text\n--b\nnot a part\n");
  REQUIRE(m.parts.size() == 1);
  CHECK(m.parts[0].body == "body");
}

TEST_CASE("a line that only starts like the delimiter is body text") {
  MimeMessage m = parsed("Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--bx is text\n--b --\n--b--\n");
  REQUIRE(m.parts.size() == 1);
  CHECK(m.parts[0].body == "--bx is text\n--b --");
}

TEST_CASE("a part without the blank line after its headers still has its headers and body") {
  MimeMessage m = parsed(
      "Content-Type: multipart/mixed; boundary=\"==B==\"\n\n"
      "--==B==\n"
      "Content-Type: application/node.eks.aws\n"
      "apiVersion: node.eks.aws/v1alpha1\n"
      "kind: NodeConfig\n"
      "--==B==\n"
      "Content-Type: text/x-shellscript\n"
      "#!/bin/bash\n"
      "--==B==--\n");
  REQUIRE(m.parts.size() == 2);
  CHECK(m.parts[0].content_type == "application/node.eks.aws");
  CHECK(m.parts[0].body == "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig");
  CHECK(m.parts[1].body == "#!/bin/bash");
  CHECK(has_warning(m, "part 1: no blank line"));
}

TEST_CASE("folded header lines are joined") {
  MimeMessage m = parsed(
      "Content-Type: multipart/mixed;\n boundary=\"b\"\n\n--b\nContent-Type:\n\tapplication/node.eks.aws\n\nx\n--b--\n");
  REQUIRE(m.parts.size() == 1);
  CHECK(m.parts[0].content_type == "application/node.eks.aws");
}

TEST_CASE("a part without Content-Type has an empty content type") {
  MimeMessage m = parsed("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nplain\n--b--\n");
  REQUIRE(m.parts.size() == 1);
  CHECK(m.parts[0].content_type.empty());
  CHECK(m.parts[0].body == "plain");
}

TEST_CASE("a missing closing delimiter is tolerated with a warning") {
  MimeMessage m = parsed("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nlast\n");
  REQUIRE(m.parts.size() == 1);
  CHECK(m.parts[0].body == "last\n");
  CHECK(has_warning(m, "no closing delimiter"));
}

TEST_CASE("a message with no delimiter at all has no parts and a warning") {
  MimeMessage m = parsed("Content-Type: multipart/mixed; boundary=b\n\nnothing here\n");
  CHECK(m.parts.empty());
  CHECK(has_warning(m, "no part"));
}

TEST_CASE("nested multipart parts are flattened with dotted indexes") {
  MimeMessage m = parsed(
      "Content-Type: multipart/mixed; boundary=outer\n\n"
      "--outer\nContent-Type: text/x-shellscript\n\n#!/bin/sh\n"
      "--outer\nContent-Type: multipart/alternative; boundary=inner\n\n"
      "--inner\nContent-Type: text/cloud-config\n\n#cloud-config\n"
      "--inner\nContent-Type: application/node.eks.aws\n\nkind: NodeConfig\n"
      "--inner--\n"
      "--outer--\n");
  REQUIRE(m.parts.size() == 3);
  CHECK(m.parts[0].index == "1");
  CHECK(m.parts[1].index == "2.1");
  CHECK(m.parts[1].content_type == "text/cloud-config");
  CHECK(m.parts[2].index == "2.2");
  CHECK(m.parts[2].body == "kind: NodeConfig");
}

TEST_CASE("transfer encodings are decoded per part") {
  const std::string doc = "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\n";
  SUBCASE("base64, line-wrapped") {
    MimeMessage m = parsed("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/node.eks.aws\n"
                           "Content-Transfer-Encoding: base64\n\n" +
                           base64(doc, 20) + "--b--\n");
    REQUIRE(m.parts.size() == 1);
    CHECK(m.parts[0].body == doc);
  }
  SUBCASE("quoted-printable") {
    MimeMessage m = parsed(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/node.eks.aws\n"
        "Content-Transfer-Encoding: quoted-printable\n\nname: caf=C3=A9 =3D x=\nyz\n--b--\n");
    REQUIRE(m.parts.size() == 1);
    CHECK(m.parts[0].body == "name: caf\xC3\xA9 = xyz");
  }
  SUBCASE("bad base64 is an error naming the part") {
    auto r = parse_multipart("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/node.eks.aws\n"
                             "Content-Transfer-Encoding: base64\n\nnot base64!\n--b--\n",
                             {});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Parse);
    CHECK(r.error().message.find("MIME part 1 (application/node.eks.aws)") != std::string::npos);
  }
  SUBCASE("gzip bodies are left to the caller") {
    const std::string gz = gzip(doc);
    MimeMessage m = parsed("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/node.eks.aws\n"
                           "Content-Transfer-Encoding: base64\n\n" +
                           base64(gz) + "\n--b--\n");
    REQUIRE(m.parts.size() == 1);
    CHECK(m.parts[0].body == gz);
  }
}

TEST_CASE("what is not a multipart message is left to the caller") {
  for (const char* text : {
           "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: x\n",
           "{\"apiVersion\": \"node.eks.aws/v1alpha1\"}",
           "#!/bin/bash\n/etc/eks/bootstrap.sh x\n",
           "Content-Type: text/x-shellscript\n\n#!/bin/bash\n",
           "",
       }) {
    CAPTURE(text);
    auto r = parse_multipart(text, {});
    REQUIRE(r.has_value());
    CHECK_FALSE(r->has_value());
  }
}

TEST_CASE("structural errors are precise") {
  SUBCASE("no boundary") {
    auto r = parse_multipart("Content-Type: multipart/mixed\n\n--b\n\nx\n--b--\n", {});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("no boundary") != std::string::npos);
  }
  SUBCASE("nested part without boundary") {
    auto r = parse_multipart("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed\n\nx\n--b--\n", {});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("MIME part 1 is multipart/mixed but has no boundary") != std::string::npos);
  }
  SUBCASE("too many parts") {
    std::string text = "Content-Type: multipart/mixed; boundary=b\n\n";
    for (int i = 0; i < 20; ++i) text += "--b\n\nx\n";
    Limits limits;
    limits.max_parts = 10;
    auto r = parse_multipart(text, limits);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("more than 10 MIME parts") != std::string::npos);
  }
  SUBCASE("nesting too deep") {
    std::string text = "Content-Type: multipart/mixed; boundary=b0\n\n";
    for (int i = 1; i <= 10; ++i) text += fmt::format("--b{}\nContent-Type: multipart/mixed; boundary=b{}\n\n", i - 1, i);
    auto r = parse_multipart(text, {});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("levels deep") != std::string::npos);
  }
}
