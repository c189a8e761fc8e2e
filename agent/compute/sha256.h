// SHA-256 (FIPS 180-4), for build mode's checksum of downloaded binaries. Pure.
//
// Why not OpenSSL's: the agent is one binary whose boot path must start fast; linking libcrypto
// costs every bootstrap a shared library load for a digest only build mode computes. This is the
// textbook algorithm, checked against the NIST test vectors (tests/unit/sha256_test.cc).
#pragma once
#include <string>
#include <string_view>

namespace agent::compute {

// Lower-case hex digest of `data` (64 characters).
std::string sha256_hex(std::string_view data);

// The digest in a `sha256sum` line ("<64 hex>  name" or "<64 hex> *name") or a bare digest,
// lower-cased; "" when the text holds no well-formed digest.
std::string parse_sha256_file(std::string_view text);

}  // namespace agent::compute
