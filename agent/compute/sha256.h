// SHA-256 (FIPS 180-4), for build mode's checksum of downloaded binaries. Pure.
//
// Why not OpenSSL's: the agent is one binary whose boot path must start fast; linking libcrypto
// costs every bootstrap a shared library load for a digest only build mode computes. This is the
// textbook algorithm, checked against the NIST test vectors (tests/unit/sha256_test.cc).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace agent::compute {

// Incremental: update() with the data in pieces of any size, then hex_digest() once.
class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  std::string hex_digest();  // lower-case, 64 characters; the object is spent afterwards

 private:
  std::uint32_t h_[8];
  unsigned char block_[64];
  std::size_t used_ = 0;         // bytes waiting in block_
  std::uint64_t length_ = 0;     // bytes seen
};

// Lower-case hex digest of `data` (64 characters).
std::string sha256_hex(std::string_view data);

// The digest in a `sha256sum` line ("<64 hex>  name" or "<64 hex> *name") or a bare digest,
// lower-cased; "" when the text holds no well-formed digest.
std::string parse_sha256_file(std::string_view text);

}  // namespace agent::compute
