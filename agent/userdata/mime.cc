#include "agent/userdata/mime.h"
#include "agent/model/text.h"

#include <fmt/format.h>

namespace agent::userdata {
namespace {

struct Line {
  std::string_view text;  // without the line break
  size_t start = 0;       // offset of the line in the buffer
  size_t next = 0;        // offset after its line break
};

Line line_at(std::string_view buf, size_t pos) {
  size_t nl = buf.find('\n', pos);
  size_t end = nl == std::string_view::npos ? buf.size() : nl;
  size_t next = nl == std::string_view::npos ? buf.size() : nl + 1;
  std::string_view text = buf.substr(pos, end - pos);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return {text, pos, next};
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// RFC 5322 field name: printable ASCII except ':', then ':'.
bool is_header_line(std::string_view line) {
  size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  for (size_t i = 0; i < colon; ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c < 33 || c > 126) return false;
  }
  return true;
}

struct Headers {
  std::vector<std::pair<std::string, std::string>> fields;  // name lower-cased
  bool blank_line = false;  // the header block ended with an empty line (as RFC 5322 wants)
  size_t body_start = 0;

  std::optional<std::string> get(std::string_view name) const {
    for (const auto& [n, v] : fields) {
      if (n == name) return v;
    }
    return std::nullopt;
  }
};

// Header names a part of user data carries. A part whose blank line after the headers is missing
// usually starts its body with "apiVersion: ..." or "#!/bin/bash", and the first of those is a
// well-formed header line; only these names keep a part's header block going.
bool is_part_header_name(std::string_view name) {
  const std::string n = lower(name);
  return n.starts_with("content-") || n.starts_with("mime-") || n.starts_with("x-") ||
         n == "merge-type" || n == "number-attachments";
}

// Reads header lines from `pos`: "Name: value" lines and their folded continuations, until an
// empty line (consumed) or the first line that is not a header (the body starts there, as
// Python's email parser does). With `part_names`, only is_part_header_name() names count.
Headers read_headers(std::string_view buf, size_t pos, bool part_names) {
  Headers h;
  while (pos < buf.size()) {
    Line l = line_at(buf, pos);
    if (l.text.empty()) {
      h.blank_line = true;
      pos = l.next;
      break;
    }
    if ((l.text[0] == ' ' || l.text[0] == '\t') && !h.fields.empty()) {
      h.fields.back().second += " ";
      h.fields.back().second += trim(l.text);
      pos = l.next;
      continue;
    }
    if (!is_header_line(l.text)) break;
    size_t colon = l.text.find(':');
    if (part_names && !is_part_header_name(trim(l.text.substr(0, colon)))) break;
    h.fields.emplace_back(lower(trim(l.text.substr(0, colon))), std::string(trim(l.text.substr(colon + 1))));
    pos = l.next;
  }
  h.body_start = pos;
  return h;
}

int b64(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

Result<std::string> decode_base64_body(std::string_view body) {
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  bool padded = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const auto c = static_cast<unsigned char>(body[i]);
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (c == '=') {
      padded = true;
      continue;
    }
    const int v = b64(c);
    if (v < 0 || padded) {
      return make_error(Errc::Parse, "Content-Transfer-Encoding is base64 but byte {} of the body is not base64",
                        i + 1);
    }
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  return out;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Quoted-printable (RFC 2045 6.7): "=XX" is a byte, "=" at a line end is a soft break; a "="
// that is neither is kept as it is (Python's quopri does the same).
std::string decode_quoted_printable(std::string_view body) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '=') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < body.size() && body[i + 1] == '\n') {
      i += 1;
    } else if (i + 2 < body.size() && body[i + 1] == '\r' && body[i + 2] == '\n') {
      i += 2;
    } else if (i + 2 < body.size() && hex(body[i + 1]) >= 0 && hex(body[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(body[i + 1]) * 16 + hex(body[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

class Parser {
 public:
  Parser(const Limits& limits, MimeMessage& out) : limits_(limits), out_(out) {}

  // The body of a multipart entity: preamble, parts between delimiter lines, epilogue.
  Status parse_body(std::string_view body, const std::string& boundary, const std::string& prefix,
                    int depth) {
    const std::string delim = "--" + boundary;
    size_t part_start = std::string_view::npos;
    int n = 0;
    bool closed = false;
    size_t pos = 0;
    while (pos < body.size()) {
      Line l = line_at(body, pos);
      pos = l.next;
      if (l.text.substr(0, delim.size()) != delim) continue;
      std::string_view rest = l.text.substr(delim.size());
      const bool closing = rest.substr(0, 2) == "--";
      if (closing) rest.remove_prefix(2);
      if (!trim(rest).empty()) continue;  // a longer boundary, or text that merely starts like one
      if (part_start != std::string_view::npos) {
        // The line break before a delimiter belongs to the delimiter (RFC 2046 5.1.1).
        size_t end = l.start;
        if (end > part_start && body[end - 1] == '\n') --end;
        if (end > part_start && body[end - 1] == '\r') --end;
        AGENT_TRY_STATUS(part(body.substr(part_start, end - part_start), prefix, ++n, depth));
      }
      if (closing) {
        closed = true;
        break;
      }
      part_start = l.next;
    }
    const std::string where = prefix.empty() ? "the message" : "part " + prefix;
    if (!closed) {
      if (part_start == std::string_view::npos) {
        out_.warnings.push_back(
            fmt::format("{} has no part: no line is the delimiter '{}'", where, delim));
      } else {
        out_.warnings.push_back(fmt::format("{} has no closing delimiter '{}--'; the last part runs to the end",
                                            where, delim));
        AGENT_TRY_STATUS(part(body.substr(part_start), prefix, ++n, depth));
      }
    }
    return {};
  }

 private:
  Status part(std::string_view text, const std::string& prefix, int n, int depth) {
    const std::string index = prefix.empty() ? std::to_string(n) : fmt::format("{}.{}", prefix, n);
    if (++count_ > limits_.max_parts) {
      return make_error(Errc::Parse, "more than {} MIME parts", limits_.max_parts);
    }
    Headers h = read_headers(text, 0, /*part_names=*/true);
    if (!h.blank_line && h.body_start < text.size()) {
      out_.warnings.push_back(fmt::format("part {}: no blank line after its headers; the body starts at the "
                                          "first line that is not a header",
                                          index));
    }
    ContentType ct = parse_content_type(h.get("content-type").value_or(""));
    std::string_view raw = text.substr(std::min(h.body_start, text.size()));
    const std::string cte = lower(trim(h.get("content-transfer-encoding").value_or("")));
    std::string body;
    if (cte == "base64") {
      auto decoded = decode_base64_body(raw);
      if (!decoded) return decoded.error().wrap("MIME part {} ({})", index, describe(ct));
      body = std::move(decoded).value();
    } else if (cte == "quoted-printable") {
      body = decode_quoted_printable(raw);
    } else {
      if (!cte.empty() && cte != "7bit" && cte != "8bit" && cte != "binary") {
        out_.warnings.push_back(fmt::format(
            "part {}: unknown Content-Transfer-Encoding '{}'; the body is used as it is", index, cte));
      }
      body = std::string(raw);
    }
    if (ct.media_type.starts_with("multipart/")) {
      if (depth + 1 > limits_.max_mime_depth) {
        return make_error(Errc::Parse, "MIME part {} nests multipart more than {} levels deep", index,
                          limits_.max_mime_depth);
      }
      auto b = ct.params.find("boundary");
      if (b == ct.params.end() || b->second.empty()) {
        return make_error(Errc::Parse, "MIME part {} is {} but has no boundary parameter", index,
                          ct.media_type);
      }
      return parse_body(body, b->second, index, depth + 1);
    }
    out_.parts.push_back({index, ct.media_type, std::move(body)});
    return {};
  }

  static std::string describe(const ContentType& ct) {
    return ct.media_type.empty() ? "no Content-Type" : ct.media_type;
  }

  const Limits& limits_;
  MimeMessage& out_;
  size_t count_ = 0;
};

}  // namespace

ContentType parse_content_type(std::string_view value) {
  ContentType ct;
  size_t i = value.find(';');
  ct.media_type = lower(trim(value.substr(0, i)));
  while (i != std::string_view::npos && i < value.size()) {
    ++i;  // past ';'
    size_t eq = value.find('=', i);
    size_t semi = value.find(';', i);
    if (eq == std::string_view::npos || (semi != std::string_view::npos && semi < eq)) {
      i = semi;
      continue;
    }
    std::string name = lower(trim(value.substr(i, eq - i)));
    size_t v = eq + 1;
    while (v < value.size() && (value[v] == ' ' || value[v] == '\t')) ++v;
    std::string val;
    if (v < value.size() && value[v] == '"') {
      ++v;
      while (v < value.size() && value[v] != '"') {
        if (value[v] == '\\' && v + 1 < value.size()) ++v;
        val.push_back(value[v++]);
      }
      i = value.find(';', v);
    } else {
      size_t end = value.find(';', v);
      val = std::string(trim(value.substr(v, end == std::string_view::npos ? std::string_view::npos : end - v)));
      i = end;
    }
    if (!name.empty()) ct.params.emplace(std::move(name), std::move(val));
  }
  return ct;
}

Result<std::optional<MimeMessage>> parse_multipart(std::string_view message, const Limits& limits) {
  Headers h = read_headers(message, 0, /*part_names=*/false);
  auto type = h.get("content-type");
  if (!type) return std::optional<MimeMessage>();
  ContentType ct = parse_content_type(*type);
  if (!ct.media_type.starts_with("multipart/")) return std::optional<MimeMessage>();
  auto b = ct.params.find("boundary");
  if (b == ct.params.end() || b->second.empty()) {
    return make_error(Errc::Parse, "the user data is MIME ({}) but its Content-Type has no boundary parameter",
                      ct.media_type);
  }
  MimeMessage out;
  if (!h.blank_line && h.body_start < message.size()) {
    out.warnings.push_back("no blank line after the message headers; the body starts at the first line "
                           "that is not a header");
  }
  Parser p(limits, out);
  AGENT_TRY_STATUS(p.parse_body(message.substr(h.body_start), b->second, "", 1));
  return std::optional<MimeMessage>(std::move(out));
}

}  // namespace agent::userdata
