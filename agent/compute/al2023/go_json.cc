// Go encoding/json output, so that files nodeadm writes with json.MarshalIndent come out byte for
// byte: "key": value, one member per line, {} and [] for empty containers, HTML-safe escaping and
// float64 numbers (nodeadm decodes user documents into interface{}, so every number is a float64).
#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "agent/compute/al2023/go_json.h"

namespace agent::compute::al2023 {
namespace {

// strconv.AppendFloat(f, 'f' or 'e', -1, 64) as encoding/json's floatEncoder chooses it.
std::string go_float(double f) {
  char buf[64];
  const double a = std::fabs(f);
  const bool sci = a != 0 && (a < 1e-6 || a >= 1e21);
  auto r = std::to_chars(buf, buf + sizeof buf, f, sci ? std::chars_format::scientific : std::chars_format::fixed);
  std::string s(buf, r.ptr);
  // Go writes e-7 where C++ writes e-07 (and e+21 the same in both).
  if (sci && s.size() >= 4 && s[s.size() - 4] == 'e' && s[s.size() - 3] == '-' && s[s.size() - 2] == '0') {
    s.erase(s.size() - 2, 1);
  }
  return s;
}

void put_string(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      out += fmt::format("\\u{:04x}", c);
    } else if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[i + 2]) == 0xA8 || static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";  // JSONP-safe, as Go
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

template <typename Json>
void put(std::string& out, const Json& v, int indent, int depth, bool sort) {
  const std::string pad(static_cast<size_t>(indent * (depth + 1)), ' ');
  const std::string close(static_cast<size_t>(indent * depth), ' ');
  if (v.is_object()) {
    if (v.empty()) {
      out += "{}";
      return;
    }
    std::vector<std::string> keys;
    for (auto it = v.begin(); it != v.end(); ++it) keys.push_back(it.key());
    if (sort) std::sort(keys.begin(), keys.end());
    out += "{\n";
    for (size_t i = 0; i < keys.size(); ++i) {
      out += pad;
      put_string(out, keys[i]);
      out += ": ";
      put(out, v.at(keys[i]), indent, depth + 1, sort);
      out += i + 1 < keys.size() ? ",\n" : "\n";
    }
    out += close + "}";
  } else if (v.is_array()) {
    if (v.empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    for (size_t i = 0; i < v.size(); ++i) {
      out += pad;
      put(out, v[i], indent, depth + 1, sort);
      out += i + 1 < v.size() ? ",\n" : "\n";
    }
    out += close + "]";
  } else if (v.is_string()) {
    put_string(out, v.template get_ref<const std::string&>());
  } else if (v.is_number()) {
    out += go_float(v.template get<double>());
  } else if (v.is_boolean()) {
    out += v.template get<bool>() ? "true" : "false";
  } else {
    out += "null";
  }
}

}  // namespace

std::string go_json_marshal_indent(const nlohmann::json& value, int indent) {
  std::string out;
  put(out, value, indent, 0, true);
  return out;
}

std::string go_json_struct_indent(const nlohmann::ordered_json& value, int indent) {
  std::string out;
  put(out, value, indent, 0, false);
  return out;
}

}  // namespace agent::compute::al2023
