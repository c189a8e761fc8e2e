#include "agent/userdata/decode.h"

#include <doctest/doctest.h>

#include <string>

#include "tests/unit/userdata_test_util.h"

using agent::Errc;
using agent::testing::base64;
using agent::testing::gzip;
using namespace agent::userdata;

TEST_CASE("gzip is detected by its magic bytes and inflated") {
  const std::string text = "apiVersion: node.eks.aws/v1alpha1\n";
  const std::string gz = gzip(text);
  CHECK(is_gzip(gz));
  CHECK_FALSE(is_gzip(text));
  CHECK_FALSE(is_gzip("\x1f\x8b"));  // too short to be a header
  auto out = gunzip(gz, 1 << 20);
  REQUIRE(out.has_value());
  CHECK(*out == text);
}

TEST_CASE("concatenated gzip members inflate to the concatenation, and NUL padding is ignored") {
  auto out = gunzip(gzip("one\n") + gzip("two\n") + std::string(8, '\0'), 1 << 20);
  REQUIRE(out.has_value());
  CHECK(*out == "one\ntwo\n");
}

TEST_CASE("broken gzip data is a parse error, never a crash") {
  const std::string gz = gzip(std::string(1000, 'x') + "tail");
  SUBCASE("truncated") {
    auto out = gunzip(gz.substr(0, gz.size() / 2), 1 << 20);
    REQUIRE_FALSE(out.has_value());
    CHECK(out.error().code == Errc::Parse);
    CHECK(out.error().message.find("truncated") != std::string::npos);
  }
  SUBCASE("corrupt") {
    std::string bad = gz;
    bad[12] = static_cast<char>(bad[12] ^ 0x55);
    bad[13] = static_cast<char>(bad[13] ^ 0x55);
    auto out = gunzip(bad, 1 << 20);
    REQUIRE_FALSE(out.has_value());
    CHECK(out.error().code == Errc::Parse);
  }
  SUBCASE("trailing garbage") {
    auto out = gunzip(gz + "garbage", 1 << 20);
    REQUIRE_FALSE(out.has_value());
    CHECK(out.error().message.find("trailing data") != std::string::npos);
  }
}

TEST_CASE("a gzip bomb stops at the decompressed size limit") {
  const std::string bomb = gzip(std::string(8 << 20, '\0'));  // 8 MiB of zeros, ~8 KiB compressed
  CHECK(bomb.size() < 20000);
  auto out = gunzip(bomb, 1 << 20);
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().code == Errc::Invalid);
  CHECK(out.error().message.find("1048576") != std::string::npos);
  Limits limits;
  limits.max_decompressed = 1 << 20;
  auto unwrapped = unwrap(bomb, limits);
  REQUIRE_FALSE(unwrapped.has_value());
  CHECK(unwrapped.error().code == Errc::Invalid);
}

TEST_CASE("whole-payload base64 is recognised only when all of it is base64 of something usable") {
  SUBCASE("text, padded and line-wrapped") {
    CHECK(decode_if_base64(base64("hello: world\n")) == "hello: world\n");
    CHECK(decode_if_base64(base64(std::string(200, 'a'), 76)) == std::string(200, 'a'));
    CHECK(decode_if_base64(base64("hello: world\n") + "\r\n\r\n") == "hello: world\n");
  }
  SUBCASE("gzip inside") {
    const std::string gz = gzip("x: 1\n");
    CHECK(decode_if_base64(base64(gz)) == gz);
  }
  SUBCASE("never a document or a script") {
    CHECK_FALSE(decode_if_base64("apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\n"));
    CHECK_FALSE(decode_if_base64("{\"apiVersion\":\"node.eks.aws/v1alpha1\"}"));
    CHECK_FALSE(decode_if_base64("#!/bin/bash\n/etc/eks/bootstrap.sh my-cluster\n"));
    CHECK_FALSE(decode_if_base64(""));
    CHECK_FALSE(decode_if_base64("abc"));  // decodes, but to two bytes that are not text
  }
  SUBCASE("decoded bytes that are neither gzip nor text are not taken as base64") {
    CHECK_FALSE(decode_if_base64("true"));  // b6 bb 9e: not UTF-8
    CHECK_FALSE(decode_if_base64(base64(std::string("\x01\x02\x03", 3))));
  }
  SUBCASE("misplaced padding") {
    CHECK_FALSE(decode_if_base64("Zg==Zg=="));
    CHECK_FALSE(decode_if_base64("Z==="));
  }
}

TEST_CASE("unwrap peels base64 and gzip in the order they were applied") {
  const std::string mime = "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=//\n\n--//\n\n--//--\n";
  SUBCASE("plain stays plain") {
    auto u = unwrap(mime, {});
    REQUIRE(u.has_value());
    CHECK(u->bytes == mime);
    CHECK(u->layers.empty());
  }
  SUBCASE("gzip") {
    auto u = unwrap(gzip(mime), {});
    REQUIRE(u.has_value());
    CHECK(u->bytes == mime);
    CHECK(u->layers == std::vector<std::string>{"gzip"});
  }
  SUBCASE("base64 of gzip (what `gzip | base64` and the EC2 console produce)") {
    auto u = unwrap(base64(gzip(mime), 76), {});
    REQUIRE(u.has_value());
    CHECK(u->bytes == mime);
    CHECK(u->layers == std::vector<std::string>{"base64", "gzip"});
  }
  SUBCASE("gzip of base64") {
    auto u = unwrap(gzip(base64(mime)), {});
    REQUIRE(u.has_value());
    CHECK(u->bytes == mime);
    CHECK(u->layers == std::vector<std::string>{"gzip", "base64"});
  }
  SUBCASE("layers are bounded") {
    std::string s = mime;
    for (int i = 0; i < 6; ++i) s = base64(s);
    Limits limits;
    limits.max_layers = 4;
    auto u = unwrap(s, limits);
    REQUIRE_FALSE(u.has_value());
    CHECK(u.error().message.find("layers") != std::string::npos);
  }
  SUBCASE("input size is bounded") {
    Limits limits;
    limits.max_input = 10;
    auto u = unwrap(mime, limits);
    REQUIRE_FALSE(u.has_value());
    CHECK(u.error().code == Errc::Invalid);
  }
}
