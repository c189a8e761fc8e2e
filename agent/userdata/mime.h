// MIME multipart messages (RFC 2045/2046) as EC2 user data carries them: the shape cloud-init,
// Karpenter, eksctl and EKS managed node groups write. Pure: a string in, parts or an error out.
//
// Lenient where cloud-init (Python's email package) is lenient: CRLF or LF line ends, quoted or
// unquoted boundary, no MIME-Version, a part without the blank line after its headers, preamble
// and epilogue, a missing closing delimiter. Precise where it must not guess: a multipart
// Content-Type without a boundary, bad base64 in a part, too many parts or levels are errors.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/model/result.h"
#include "agent/userdata/decode.h"

namespace agent::userdata {

struct MimePart {
  std::string index;         // 1-based position, dotted for nested parts: "2", "3.1"
  std::string content_type;  // media type, lower-cased, parameters dropped; "" when absent
  std::string body;          // after Content-Transfer-Encoding (base64, quoted-printable)
  bool operator==(const MimePart&) const = default;
};

struct MimeMessage {
  std::vector<MimePart> parts;        // leaves only: a nested multipart is replaced by its parts
  std::vector<std::string> warnings;  // leniencies applied ("part 2: no blank line after headers")
};

// A media type and its parameters: `multipart/mixed; boundary="//"` -> {"multipart/mixed",
// {"boundary": "//"}}. Type and parameter names are lower-cased; values keep their case.
struct ContentType {
  std::string media_type;
  std::map<std::string, std::string> params;
};
ContentType parse_content_type(std::string_view value);

// nullopt when `message` is not a multipart MIME message (no header block, or no Content-Type of
// type multipart/*): the caller then treats the bytes as one document. Errors (Parse): a
// multipart Content-Type without a boundary; a part whose base64 or quoted-printable body is
// malformed; more than limits.max_parts parts or limits.max_mime_depth levels. A part that is
// gzip data stays gzip data here (the caller inflates what it uses).
Result<std::optional<MimeMessage>> parse_multipart(std::string_view message, const Limits& limits);

}  // namespace agent::userdata
