// Whole-payload decoding of user data: base64 and gzip layers, detected from the bytes themselves
// (never from a header that claims them), with every size bounded. Pure: bytes in, bytes out.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/model/result.h"

namespace agent::userdata {

// Bounds on everything a source can make the agent allocate. The defaults are far above what EC2
// allows (16 KiB of user data before base64) and what a drop-in directory holds.
struct Limits {
  size_t max_input = 1 << 20;          // bytes of one source as read (user data, one file)
  size_t max_decompressed = 4 << 20;   // bytes one gzip stream may inflate to
  int max_layers = 4;                  // base64/gzip layers peeled off one payload
  int max_mime_depth = 4;              // nesting of multipart inside multipart
  size_t max_parts = 256;              // parts in one MIME message, nested ones included
  size_t max_documents = 64;           // NodeConfig documents from one source
};

// True when the bytes start with the gzip magic and the deflate method byte (1f 8b 08).
bool is_gzip(std::string_view bytes);

// The decoded bytes when `text` is entirely standard base64 (CR/LF and trailing whitespace
// ignored, padding optional) and decodes to something user data can be: gzip, or UTF-8 text
// without control characters other than tab, CR and LF. nullopt otherwise (the caller keeps the
// original bytes). A YAML or JSON document or a shell script can never pass: ':', '{', '#', ' '
// are outside the alphabet.
std::optional<std::string> decode_if_base64(std::string_view text);

// Inflates a gzip stream (several concatenated members are one stream, as gzip(1) writes them;
// trailing NUL padding is ignored). Errors: Parse for corrupt or truncated data or trailing
// garbage; Invalid when the output would exceed `max_out` bytes (a gzip bomb is stopped there,
// after at most max_out bytes were produced).
Result<std::string> gunzip(std::string_view bytes, size_t max_out);

struct Unwrapped {
  std::string bytes;
  std::vector<std::string> layers;  // what was peeled off, outermost first: "base64", "gzip"
};

// Peels base64 and gzip layers in any order until neither applies, at most limits.max_layers.
// Errors: Invalid when the input exceeds limits.max_input or a layer limit is hit; gunzip's errors.
Result<Unwrapped> unwrap(std::string_view payload, const Limits& limits);

}  // namespace agent::userdata
