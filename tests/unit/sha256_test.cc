#include "agent/compute/sha256.h"

#include <doctest/doctest.h>

#include <string>

namespace c = agent::compute;

TEST_CASE("sha256: NIST FIPS 180-4 example vectors") {
  CHECK(c::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(c::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(c::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(c::sha256_hex(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: padding boundaries (55, 56, 63, 64, 65 bytes) differ and are stable") {
  // 55 bytes fits the length in the same block; 56 needs a second one.
  CHECK(c::sha256_hex(std::string(55, 'a')) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(c::sha256_hex(std::string(56, 'a')) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(c::sha256_hex(std::string(64, 'a')) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST_CASE("sha256: sha256sum files") {
  const std::string d = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  CHECK(c::parse_sha256_file(d + "  kubelet\n") == d);
  CHECK(c::parse_sha256_file(d + " *kubelet\n") == d);
  CHECK(c::parse_sha256_file(d + "\n") == d);
  CHECK(c::parse_sha256_file("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD  x") == d);
  CHECK(c::parse_sha256_file("") == "");
  CHECK(c::parse_sha256_file(d.substr(0, 63) + "  kubelet") == "");
  CHECK(c::parse_sha256_file(d + "0  kubelet") == "");
  CHECK(c::parse_sha256_file("<html>Access Denied</html>") == "");
}

TEST_CASE("sha256: fed in pieces of any size, the same digest") {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  const std::string whole = c::sha256_hex(data);
  for (size_t piece : {1u, 3u, 63u, 64u, 65u, 127u, 500u}) {
    CAPTURE(piece);
    c::Sha256 s;
    for (size_t i = 0; i < data.size(); i += piece) s.update(std::string_view(data).substr(i, piece));
    CHECK(s.hex_digest() == whole);
  }
  c::Sha256 empty;
  empty.update("");
  CHECK(empty.hex_digest() == c::sha256_hex(""));
}
