// Strict base64 decoding (RFC 4648 alphabet; whitespace ignored, padding optional). Pure.
#pragma once
#include <string>
#include <string_view>

#include "agent/model/result.h"

namespace agent::compute {

// Errors: Invalid naming the first bad character's offset (never echoing the input, which may be
// a certificate or a secret).
Result<std::string> base64_decode(std::string_view in);

}  // namespace agent::compute
