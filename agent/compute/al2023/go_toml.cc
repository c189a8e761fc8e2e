// go-toml v2's Marshal layout for a TOML document decoded into plain maps (nodeadm decodes the
// user's containerd TOML into map[string]interface{} and writes it back with toml.Marshal):
//   - within a table, keys sorted bytewise; plain key/values first, then sub-tables;
//   - a value that is a table, or a non-empty array whose elements are all tables, is written as
//     a [table] / [[array of tables]] section; every other value (inline arrays, tables nested in
//     inline arrays) is written on its key's line;
//   - every table gets a header, also one holding only sub-tables ([plugins]);
//   - one blank line between sibling sections, and between a table's key/values and its first
//     sub-table; none after a header without key/values; no blank line at the start.
// Comments and the original layout are not kept: go-toml does not keep them either.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "agent/compute/al2023/containerd.h"
#include "agent/userdata/toml_merge.h"

namespace agent::compute::al2023 {
namespace {

// The characters go-toml cannot put in a literal ('...') string: the quote itself, CR, LF and the
// control characters TOML forbids unescaped (tab is allowed).
bool needs_basic_string(std::string_view s) {
  for (const unsigned char c : s) {
    if (c == '\'' || c == '\r' || c == '\n' || c == 0x7F || (c < 0x20 && c != '\t')) return true;
  }
  return false;
}

void put_basic_string(std::string& out, std::string_view s) {
  out += '"';
  for (const unsigned char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += fmt::format("\\u{:04X}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void put_string(std::string& out, std::string_view s) {
  if (needs_basic_string(s)) {
    put_basic_string(out, s);
  } else {
    out += '\'';
    out += s;
    out += '\'';
  }
}

void put_key(std::string& out, std::string_view k) {
  if (k.empty()) {
    out += "''";
    return;
  }
  const bool bare = std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
  if (bare) {
    out += k;
  } else {
    put_string(out, k);
  }
}

// Go float64 as go-toml writes it: whole numbers with one decimal ("2.0"), others in the shortest
// fixed form that reads back the same; nan/inf spelled as TOML spells them.
void put_float(std::string& out, double f) {
  if (std::isnan(f)) {
    out += "nan";
    return;
  }
  if (std::isinf(f)) {
    out += f > 0 ? "inf" : "-inf";
    return;
  }
  char buf[400];
  const auto r = std::trunc(f) == f
                     ? std::to_chars(buf, buf + sizeof buf, f, std::chars_format::fixed, 1)
                     : std::to_chars(buf, buf + sizeof buf, f, std::chars_format::fixed);
  out.append(buf, r.ptr);
}

// Fractional seconds as Go prints them: trailing zeros dropped, nothing for a whole second.
std::string fraction(uint32_t nanoseconds) {
  if (nanoseconds == 0) return "";
  std::string s = fmt::format(".{:09d}", nanoseconds);
  while (s.back() == '0') s.pop_back();
  return s;
}

std::string date_text(const toml::date& d) {
  return fmt::format("{:04d}-{:02d}-{:02d}", d.year, d.month, d.day);
}

std::string time_text(const toml::time& t) {
  return fmt::format("{:02d}:{:02d}:{:02d}", t.hour, t.minute, t.second) + fraction(t.nanosecond);
}

// Offset date-times as Go's time.RFC3339Nano ("Z" for UTC); local ones as go-toml's LocalDateTime.
std::string date_time_text(const toml::date_time& dt) {
  std::string s = date_text(dt.date) + "T" + time_text(dt.time);
  if (!dt.offset) return s;
  const int minutes = dt.offset->minutes;
  if (minutes == 0) return s + "Z";
  const int a = std::abs(minutes);
  return s + fmt::format("{}{:02d}:{:02d}", minutes < 0 ? '-' : '+', a / 60, a % 60);
}

std::vector<std::string_view> sorted_keys(const toml::table& t) {
  std::vector<std::string_view> keys;
  for (const auto& [k, v] : t) keys.push_back(k.str());
  std::sort(keys.begin(), keys.end());
  return keys;
}

void put_inline(std::string& out, const toml::node& v);

void put_inline_table(std::string& out, const toml::table& t) {
  out += '{';
  bool first = true;
  for (const std::string_view k : sorted_keys(t)) {
    if (!first) out += ", ";
    first = false;
    put_key(out, k);
    out += " = ";
    put_inline(out, *t.get(k));
  }
  out += '}';
}

void put_inline(std::string& out, const toml::node& v) {
  if (const auto* s = v.as_string()) {
    put_string(out, s->get());
  } else if (const auto* i = v.as_integer()) {
    out += std::to_string(i->get());
  } else if (const auto* f = v.as_floating_point()) {
    put_float(out, f->get());
  } else if (const auto* b = v.as_boolean()) {
    out += b->get() ? "true" : "false";
  } else if (const auto* d = v.as_date()) {
    out += date_text(d->get());
  } else if (const auto* t = v.as_time()) {
    out += time_text(t->get());
  } else if (const auto* dt = v.as_date_time()) {
    out += date_time_text(dt->get());
  } else if (const auto* a = v.as_array()) {
    out += '[';
    for (size_t n = 0; n < a->size(); ++n) {
      if (n != 0) out += ", ";
      put_inline(out, *a->get(n));
    }
    out += ']';
  } else if (const auto* tbl = v.as_table()) {
    put_inline_table(out, *tbl);
  }
}

bool is_array_of_tables(const toml::node& v) {
  const auto* a = v.as_array();
  return a != nullptr && !a->empty() && a->is_homogeneous(toml::node_type::table);
}

bool is_section(const toml::node& v) { return v.is_table() || is_array_of_tables(v); }

std::string header_path(const std::vector<std::string_view>& path) {
  std::string s;
  for (size_t i = 0; i < path.size(); ++i) {
    if (i != 0) s += '.';
    put_key(s, path[i]);
  }
  return s;
}

void put_section(std::string& out, const toml::node& v, std::vector<std::string_view>& path);

// A table's body: its key/values, then its sections. The header (if any) is already written.
void put_table_body(std::string& out, const toml::table& t, std::vector<std::string_view>& path) {
  const std::vector<std::string_view> keys = sorted_keys(t);
  bool has_values = false;
  for (const std::string_view k : keys) {
    const toml::node& v = *t.get(k);
    if (is_section(v)) continue;
    has_values = true;
    put_key(out, k);
    out += " = ";
    put_inline(out, v);
    out += '\n';
  }
  bool first = true;
  for (const std::string_view k : keys) {
    const toml::node& v = *t.get(k);
    if (!is_section(v)) continue;
    if (!first || has_values) out += '\n';
    first = false;
    path.push_back(k);
    put_section(out, v, path);
    path.pop_back();
  }
}

void put_section(std::string& out, const toml::node& v, std::vector<std::string_view>& path) {
  if (const auto* t = v.as_table()) {
    out += "[" + header_path(path) + "]\n";
    put_table_body(out, *t, path);
    return;
  }
  const auto& a = *v.as_array();
  for (size_t n = 0; n < a.size(); ++n) {
    if (n != 0) out += '\n';
    out += "[[" + header_path(path) + "]]\n";
    put_table_body(out, *a.get(n)->as_table(), path);
  }
}

std::string serialize(const toml::table& doc) {
  std::string out;
  std::vector<std::string_view> path;
  put_table_body(out, doc, path);
  return out;
}

Result<toml::table> parse(std::string_view text, std::string_view source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return make_error(Errc::Parse, "{} line {}, column {}: {}; correct the TOML there", source,
                      e.source().begin.line, e.source().begin.column, e.description());
  }
}

}  // namespace

Result<std::string> go_toml_format(std::string_view toml_text, std::string_view source) {
  AGENT_TRY(toml::table doc, parse(toml_text, source));
  return serialize(doc);
}

Result<std::string> go_toml_merge(std::string_view base, std::string_view patch) {
  AGENT_TRY(toml::table b, parse(base, "containerd config template"));
  AGENT_TRY(toml::table p, parse(patch, "NodeConfig spec.containerd.config"));
  userdata::merge_toml_tables(b, p);
  return serialize(b);
}

}  // namespace agent::compute::al2023
