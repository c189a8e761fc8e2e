#include "agent/userdata/decode.h"

#include <zlib.h>

#include <cstdint>
#include <memory>

#include <fmt/ranges.h>

namespace agent::userdata {
namespace {

int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Valid UTF-8 (no overlongs, no surrogates) without control characters other than \t \r \n.
bool is_text(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) return false;
      ++i;
      continue;
    }
    int extra = 0;
    unsigned cp = 0;
    if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

struct InflateEnd {
  void operator()(z_stream* s) const {
    inflateEnd(s);
    delete s;
  }
};

}  // namespace

bool is_gzip(std::string_view b) {
  return b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0x1f &&
         static_cast<unsigned char>(b[1]) == 0x8b && static_cast<unsigned char>(b[2]) == 0x08;
}

std::optional<std::string> decode_if_base64(std::string_view text) {
  // Trailing whitespace (a final newline from `base64`, an editor's blank line) is not data.
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned buf = 0;
  int bits = 0;
  size_t digits = 0, pad = 0;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n' || c == '\r') continue;  // line-wrapped base64 (base64 -w76, Go ignores CR/LF)
    if (c == '=') {
      ++pad;
      continue;
    }
    const int v = base64_value(c);
    if (v < 0 || pad > 0) return std::nullopt;
    ++digits;
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  if (digits == 0 || digits % 4 == 1 || pad > 2 || (pad > 0 && (digits + pad) % 4 != 0)) {
    return std::nullopt;
  }
  if (!is_gzip(out) && !is_text(out)) return std::nullopt;
  return out;
}

Result<std::string> gunzip(std::string_view bytes, size_t max_out) {
  if (bytes.size() > UINT32_MAX) return make_error(Errc::Invalid, "gzip data too large");
  std::unique_ptr<z_stream, InflateEnd> zs(new z_stream{});
  if (inflateInit2(zs.get(), 16 + MAX_WBITS) != Z_OK) {
    delete zs.release();
    return make_error(Errc::Internal, "zlib: inflateInit2 failed");
  }
  zs->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs->avail_in = static_cast<uInt>(bytes.size());
  std::string out;
  char chunk[16384];
  while (true) {
    zs->next_out = reinterpret_cast<Bytef*>(chunk);
    zs->avail_out = sizeof(chunk);
    const int rc = inflate(zs.get(), Z_NO_FLUSH);
    const size_t produced = sizeof(chunk) - zs->avail_out;
    const size_t consumed = bytes.size() - zs->avail_in;
    if (out.size() + produced > max_out) {
      return make_error(Errc::Invalid, "gzip data inflates to more than {} bytes, the limit", max_out);
    }
    out.append(chunk, produced);
    if (rc == Z_STREAM_END) {
      const std::string_view rest = bytes.substr(consumed);
      if (is_gzip(rest)) {  // another member: gzip(1) output of concatenated files
        inflateReset(zs.get());
        continue;
      }
      if (rest.find_first_not_of('\0') != std::string_view::npos) {
        return make_error(Errc::Parse, "{} bytes of trailing data after the gzip stream", rest.size());
      }
      return out;
    }
    if (rc == Z_BUF_ERROR || (rc == Z_OK && zs->avail_in == 0 && produced < sizeof(chunk))) {
      if (zs->avail_in == 0) {
        return make_error(Errc::Parse, "gzip data is truncated: the stream does not end within {} bytes",
                          bytes.size());
      }
      return make_error(Errc::Parse, "gzip data is corrupt at byte {}", consumed);
    }
    if (rc != Z_OK) {
      return make_error(Errc::Parse, "gzip data is corrupt at byte {}: {}", consumed,
                        zs->msg != nullptr ? zs->msg : "inflate failed");
    }
  }
}

Result<Unwrapped> unwrap(std::string_view payload, const Limits& limits) {
  if (payload.size() > limits.max_input) {
    return make_error(Errc::Invalid, "{} bytes is more than the {} bytes accepted", payload.size(),
                      limits.max_input);
  }
  Unwrapped u;
  u.bytes = std::string(payload);
  for (int layer = 0;; ++layer) {
    const bool gz = is_gzip(u.bytes);
    std::optional<std::string> b64;
    if (!gz) b64 = decode_if_base64(u.bytes);
    if (!gz && !b64) return u;
    if (layer >= limits.max_layers) {
      return make_error(Errc::Invalid, "more than {} base64/gzip layers ({})", limits.max_layers,
                        fmt::join(u.layers, ", "));
    }
    if (gz) {
      auto inflated = gunzip(u.bytes, limits.max_decompressed);
      if (!inflated) return inflated.error().wrap("gzip layer {}", layer + 1);
      u.bytes = std::move(inflated).value();
      u.layers.push_back("gzip");
    } else {
      u.bytes = std::move(*b64);
      u.layers.push_back("base64");
    }
  }
}

}  // namespace agent::userdata
