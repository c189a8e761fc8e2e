#include "agent/compute/base64.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using agent::Errc;
using agent::compute::base64_decode;

namespace {

std::string decoded(std::string_view in) {
  auto r = base64_decode(in);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
  return *r;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("base64 decodes the RFC 4648 test vectors") {
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"", ""},           {"Zg==", "f"},         {"Zm8=", "fo"},       {"Zm9v", "foo"},
      {"Zm9vYg==", "foob"}, {"Zm9vYmE=", "fooba"}, {"Zm9vYmFy", "foobar"},
  };
  for (const auto& row : rows) {
    const std::string& in = row.first;  // not a structured binding: CAPTURE's lambda takes it (clang 14)
    CAPTURE(in);
    CHECK(decoded(in) == row.second);
  }
}

TEST_CASE("base64 padding is optional") {
  CHECK(decoded("Zg") == "f");
  CHECK(decoded("Zm8") == "fo");
  CHECK(decoded("Zm9vYg") == "foob");
}

TEST_CASE("base64 ignores whitespace anywhere, as a wrapped PEM bundle has it") {
  CHECK(decoded("Zm9v\nYmFy\n") == "foobar");
  CHECK(decoded("Zm9v\r\nYmFy\r\n") == "foobar");
  CHECK(decoded(" Zm 9v\tYm Fy ") == "foobar");
  CHECK(decoded("Zg=\n=") == "f");
  CHECK(decoded("dGVzdA==") == "test");
}

TEST_CASE("base64 decodes every byte value") {
  CHECK(decoded("AAECAwQFBgcICQoLDA0ODw==") ==
        std::string("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f", 16));
  CHECK(decoded("+/+/") == "\xfb\xff\xbf");
  CHECK(decoded("/w==") == "\xff");
}

TEST_CASE("a bad base64 character is reported by offset without echoing the input") {
  struct Row {
    std::string in;
    size_t offset;
  };
  const std::vector<Row> rows = {
      {"c2VjcmV0*XNzd29yZA==", 8},
      {"!c2VjcmV0", 0},
      {"c2VjcmV0-_", 8},        // the URL-safe alphabet is not accepted
      {"c2Vj\ncmV0.", 9},       // whitespace counts toward the offset
      {"Zg==Zm9v", 4},          // data after padding
      {"c2VjcmV0\xc3\xa9", 8},  // non-ASCII
  };
  for (const auto& row : rows) {
    CAPTURE(row.in);
    auto r = base64_decode(row.in);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Invalid);
    CHECK_MESSAGE(contains(r.error().message, "offset " + std::to_string(row.offset)), r.error().message);
    CHECK_FALSE(contains(r.error().message, "c2Vj"));
    CHECK_FALSE(contains(r.error().message, "Zm9v"));
  }
}

TEST_CASE("truncated base64 is invalid") {
  for (const std::string in : {"Z", "Zm9vY", "Zg===", "Z==="}) {
    CAPTURE(in);
    auto r = base64_decode(in);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Invalid);
    CHECK_FALSE(contains(r.error().message, in));
  }
}
