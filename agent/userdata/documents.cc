#include "agent/userdata/documents.h"

#include <yaml.h>

#include <charconv>
#include <cstdlib>
#include <memory>
#include <optional>

#include <fmt/format.h>

namespace agent::userdata {
namespace {

using json = nlohmann::json;

Error parse_error(Mark m, std::string what) {
  return make_error(Errc::Parse, "line {}, column {}: {}", m.line, m.column, what);
}

// ---------------------------------------------------------------------------------------------
// YAML scalars (YAML 1.2 core schema, https://yaml.org/spec/1.2.2/#1023-core-schema)

bool all_of(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}
bool is_dec(char c) { return c >= '0' && c <= '9'; }
bool is_oct(char c) { return c >= '0' && c <= '7'; }
bool is_hex(char c) { return is_dec(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::optional<json> integer(std::string_view digits, int base, bool negative) {
  uint64_t u = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), u, base);
  if (ec == std::errc() && p == digits.data() + digits.size()) {
    if (!negative) {
      if (u <= static_cast<uint64_t>(INT64_MAX)) return json(static_cast<int64_t>(u));
      return json(u);
    }
    if (u <= static_cast<uint64_t>(INT64_MAX)) return json(-static_cast<int64_t>(u));
    if (u == static_cast<uint64_t>(INT64_MAX) + 1) return json(INT64_MIN);
  }
  // Too large for 64 bits: a float, as JSON decoders (Go's included) read it.
  double d = 0;
  auto [p2, ec2] = std::from_chars(digits.data(), digits.data() + digits.size(), d);
  if (base == 10 && ec2 == std::errc() && p2 == digits.data() + digits.size()) return json(negative ? -d : d);
  return std::nullopt;
}

bool is_float_syntax(std::string_view s) {
  // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && is_dec(s[i])) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_dec(s[i])) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && is_dec(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

json resolve_plain(std::string_view s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  bool negative = false;
  std::string_view body = s;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (all_of(body, is_dec)) {
    if (auto v = integer(body, 10, negative)) return *v;
  }
  if (s.size() > 2 && s[0] == '0' && s[1] == 'o' && all_of(s.substr(2), is_oct)) {
    if (auto v = integer(s.substr(2), 8, false)) return *v;
  }
  if (s.size() > 2 && s[0] == '0' && s[1] == 'x' && all_of(s.substr(2), is_hex)) {
    if (auto v = integer(s.substr(2), 16, false)) return *v;
  }
  if (is_float_syntax(s)) {
    std::string_view f = s[0] == '+' ? s.substr(1) : s;
    double d = 0;
    auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), d);
    if (ec == std::errc() && p == f.data() + f.size()) return d;
  }
  // .inf and .nan have no JSON form; they stay strings, like every other plain scalar.
  return std::string(s);
}

json resolve_scalar(const yaml_event_t& e) {
  std::string_view text(reinterpret_cast<const char*>(e.data.scalar.value), e.data.scalar.length);
  const char* tag = reinterpret_cast<const char*>(e.data.scalar.tag);
  if (tag != nullptr) {
    std::string_view t(tag);
    if (t == "tag:yaml.org,2002:str" || t == "!") return std::string(text);
    if (t == "tag:yaml.org,2002:null" || t == "tag:yaml.org,2002:bool" || t == "tag:yaml.org,2002:int" ||
        t == "tag:yaml.org,2002:float") {
      return resolve_plain(text);
    }
  }
  if (e.data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return std::string(text);
  return resolve_plain(text);
}

Mark mark_of(const yaml_mark_t& m) {
  return Mark{static_cast<int>(m.line) + 1, static_cast<int>(m.column) + 1};
}

struct EventDeleter {
  void operator()(yaml_event_t* e) const { yaml_event_delete(e); }
};
struct ParserDeleter {
  void operator()(yaml_parser_t* p) const {
    yaml_parser_delete(p);
    delete p;
  }
};

// Builds json documents from libyaml's event stream without recursion.
class YamlBuilder {
 public:
  explicit YamlBuilder(const DocumentLimits& limits) : limits_(limits) {}

  Result<std::vector<Document>> run(std::string_view text) {
    std::unique_ptr<yaml_parser_t, ParserDeleter> parser(new yaml_parser_t{});
    if (yaml_parser_initialize(parser.get()) == 0) {
      delete parser.release();
      return make_error(Errc::Internal, "libyaml: cannot initialize a parser");
    }
    yaml_parser_set_input_string(parser.get(), reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
    while (true) {
      yaml_event_t event;
      if (yaml_parser_parse(parser.get(), &event) == 0) return syntax_error(*parser);
      std::unique_ptr<yaml_event_t, EventDeleter> guard(&event);
      if (event.type == YAML_STREAM_END_EVENT) break;
      AGENT_TRY_STATUS(handle(event));
    }
    return std::move(docs_);
  }

 private:
  struct Frame {
    json value;
    std::string pointer;
    bool is_map = false;
    bool have_key = false;
    bool key_is_merge = false;
    std::string key;
    Mark key_mark;
    std::map<std::string, Mark> keys;  // explicit keys, to find duplicates
    std::vector<json> merges;          // values of "<<" keys, applied under the explicit keys
    std::string anchor;
    size_t nodes_at_start = 0;
  };

  static Error syntax_error(const yaml_parser_t& p) {
    Mark m = mark_of(p.problem_mark);
    std::string what = p.problem != nullptr ? p.problem : "invalid YAML";
    if (p.context != nullptr) {
      Mark c = mark_of(p.context_mark);
      what += fmt::format(" ({} at line {}, column {})", p.context, c.line, c.column);
    }
    if (p.error == YAML_READER_ERROR) {
      return make_error(Errc::Parse, "byte {}: {}", p.problem_offset + 1, what);
    }
    return parse_error(m, what);
  }

  Status count(size_t n, Mark at) {
    nodes_ += n;
    if (nodes_ > limits_.max_nodes) {
      return parse_error(at, fmt::format("more than {} values (aliases expanded)", limits_.max_nodes));
    }
    return {};
  }

  // The pointer and mark a new value gets from where it is placed.
  std::pair<std::string, Mark> place(Mark value_mark) const {
    if (stack_.empty()) return {"", value_mark};
    const Frame& top = stack_.back();
    if (top.is_map) return {pointer_append(top.pointer, top.key), top.key_mark};
    return {pointer_append(top.pointer, std::to_string(top.value.size())), value_mark};
  }

  Status add(json value, Mark at) {
    if (stack_.empty()) {
      doc_.value = std::move(value);
      return {};
    }
    Frame& top = stack_.back();
    if (!top.is_map) {
      top.value.push_back(std::move(value));
      return {};
    }
    if (!top.have_key) return parse_error(at, "a mapping key must be a scalar");
    top.have_key = false;
    if (top.key_is_merge) {
      if (value.is_object()) {
        top.merges.push_back(std::move(value));
      } else if (value.is_array()) {
        for (auto& v : value) {
          if (!v.is_object()) return parse_error(top.key_mark, "'<<' merges mappings only");
          top.merges.push_back(std::move(v));
        }
      } else {
        return parse_error(top.key_mark, "'<<' merges mappings only");
      }
      return {};
    }
    top.value[top.key] = std::move(value);
    return {};
  }

  Status handle(const yaml_event_t& e) {
    const Mark at = mark_of(e.start_mark);
    switch (e.type) {
      case YAML_DOCUMENT_START_EVENT:
        doc_ = Document{};
        doc_.start = mark_of(e.end_mark);
        return {};
      case YAML_DOCUMENT_END_EVENT:
        anchors_.clear();
        docs_.push_back(std::move(doc_));
        doc_ = Document{};
        return {};
      case YAML_SCALAR_EVENT: {
        std::string_view text(reinterpret_cast<const char*>(e.data.scalar.value), e.data.scalar.length);
        if (!stack_.empty() && stack_.back().is_map && !stack_.back().have_key) {
          Frame& top = stack_.back();
          top.have_key = true;
          top.key_is_merge = text == "<<" && e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
          top.key = std::string(text);
          top.key_mark = at;
          if (!top.key_is_merge) {
            auto [it, inserted] = top.keys.emplace(top.key, at);
            if (!inserted) {
              return parse_error(at, fmt::format("duplicate key '{}' (first at line {})", top.key,
                                                 it->second.line));
            }
          }
          return {};
        }
        AGENT_TRY_STATUS(count(1, at));
        json v = resolve_scalar(e);
        auto [ptr, mark] = place(at);
        doc_.marks[ptr] = mark;
        if (e.data.scalar.anchor != nullptr) {
          anchors_[reinterpret_cast<const char*>(e.data.scalar.anchor)] = {v, 1};
        }
        return add(std::move(v), at);
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        if (!stack_.empty() && stack_.back().is_map && !stack_.back().have_key) {
          return parse_error(at, "a mapping key must be a scalar, not a mapping or sequence");
        }
        if (static_cast<int>(stack_.size()) >= limits_.max_depth) {
          return parse_error(at, fmt::format("nested more than {} levels deep", limits_.max_depth));
        }
        AGENT_TRY_STATUS(count(1, at));
        const bool is_map = e.type == YAML_MAPPING_START_EVENT;
        auto [ptr, mark] = place(at);
        doc_.marks[ptr] = mark;
        Frame f;
        f.value = is_map ? json::object() : json::array();
        f.pointer = ptr;
        f.is_map = is_map;
        const yaml_char_t* anchor = is_map ? e.data.mapping_start.anchor : e.data.sequence_start.anchor;
        if (anchor != nullptr) f.anchor = reinterpret_cast<const char*>(anchor);
        f.nodes_at_start = nodes_;
        stack_.push_back(std::move(f));
        return {};
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: {
        Frame f = std::move(stack_.back());
        stack_.pop_back();
        if (f.is_map) {
          // "<<": keys of the merged mappings, earlier ones first, never over explicit keys.
          for (const auto& m : f.merges) {
            for (auto it = m.begin(); it != m.end(); ++it) {
              if (!f.value.contains(it.key())) f.value[it.key()] = it.value();
            }
          }
        }
        if (!f.anchor.empty()) {
          // The stored copy counts too, so that anchors nested in anchors stay bounded.
          const size_t size = nodes_ - f.nodes_at_start + 1;
          AGENT_TRY_STATUS(count(size, at));
          anchors_[f.anchor] = {f.value, size};
        }
        return add(std::move(f.value), at);
      }
      case YAML_ALIAS_EVENT: {
        const std::string name = reinterpret_cast<const char*>(e.data.alias.anchor);
        auto it = anchors_.find(name);
        if (it == anchors_.end()) return parse_error(at, fmt::format("alias *{} names no anchor", name));
        if (!stack_.empty() && stack_.back().is_map && !stack_.back().have_key) {
          if (!it->second.first.is_string()) return parse_error(at, "a mapping key must be a scalar");
          // An aliased key: treat as the key's text.
          Frame& top = stack_.back();
          top.have_key = true;
          top.key_is_merge = false;
          top.key = it->second.first.get<std::string>();
          top.key_mark = at;
          if (!top.keys.emplace(top.key, at).second) {
            return parse_error(at, fmt::format("duplicate key '{}'", top.key));
          }
          return {};
        }
        AGENT_TRY_STATUS(count(it->second.second, at));
        auto [ptr, mark] = place(at);
        doc_.marks[ptr] = mark;
        return add(it->second.first, at);
      }
      default:
        return {};
    }
  }

  const DocumentLimits& limits_;
  std::vector<Document> docs_;
  Document doc_;
  std::vector<Frame> stack_;
  std::map<std::string, std::pair<json, size_t>> anchors_;  // value and its node count
  size_t nodes_ = 0;
};

// ---------------------------------------------------------------------------------------------
// JSON: nlohmann parses; a structural pre-scan records marks and enforces the limits first.

class JsonScanner {
 public:
  JsonScanner(std::string_view text, const DocumentLimits& limits) : t_(text), limits_(limits) {}

  // True once scan() met an unquoted mapping key: YAML flow style, not JSON.
  bool unquoted_key() const { return unquoted_key_; }

  // Fills `marks`; stops quietly at the first malformed spot (nlohmann reports it).
  Status scan(std::map<std::string, Mark>& marks) {
    enum class St { Value, KeyOrEnd, Key, ItemOrEnd, AfterValue };
    struct Ctx {
      bool is_obj;
      std::string ptr;
      size_t index;
    };
    std::vector<Ctx> stack;
    St st = St::Value;
    std::string ptr;
    Mark mark = here();
    size_t nodes = 0;
    while (true) {
      skip_ws();
      if (pos_ >= t_.size()) return {};
      const char c = t_[pos_];
      switch (st) {
        case St::Value:
          marks[ptr] = mark;
          if (++nodes > limits_.max_nodes) {
            return parse_error(here(), fmt::format("more than {} values", limits_.max_nodes));
          }
          if (c == '{' || c == '[') {
            if (static_cast<int>(stack.size()) >= limits_.max_depth) {
              return parse_error(here(), fmt::format("nested more than {} levels deep", limits_.max_depth));
            }
            stack.push_back({c == '{', ptr, 0});
            ++pos_;
            st = c == '{' ? St::KeyOrEnd : St::ItemOrEnd;
          } else {
            skip_scalar();
            st = St::AfterValue;
          }
          break;
        case St::KeyOrEnd:
          if (c == '}') {
            ++pos_;
            stack.pop_back();
            st = St::AfterValue;
          } else {
            st = St::Key;
          }
          break;
        case St::Key: {
          if (c != '"') {
            unquoted_key_ = true;  // a YAML flow mapping ({a: b}), not JSON
            return {};
          }
          mark = here();
          const size_t start = pos_;
          skip_scalar();
          json key = json::parse(t_.substr(start, pos_ - start), nullptr, false);
          if (!key.is_string()) return {};
          ptr = pointer_append(stack.back().ptr, key.get<std::string>());
          skip_ws();
          if (pos_ >= t_.size() || t_[pos_] != ':') return {};
          ++pos_;
          st = St::Value;
          break;
        }
        case St::ItemOrEnd:
          if (c == ']') {
            ++pos_;
            stack.pop_back();
            st = St::AfterValue;
          } else {
            ptr = pointer_append(stack.back().ptr, std::to_string(stack.back().index++));
            mark = here();
            st = St::Value;
          }
          break;
        case St::AfterValue:
          if (stack.empty()) return {};
          if (c == ',') {
            ++pos_;
            if (stack.back().is_obj) {
              st = St::Key;
            } else {
              skip_ws();
              ptr = pointer_append(stack.back().ptr, std::to_string(stack.back().index++));
              mark = here();
              st = St::Value;
            }
          } else if ((c == '}' && stack.back().is_obj) || (c == ']' && !stack.back().is_obj)) {
            ++pos_;
            stack.pop_back();
          } else {
            return {};
          }
          break;
      }
    }
  }

 private:
  void skip_ws() {
    while (pos_ < t_.size() && (t_[pos_] == ' ' || t_[pos_] == '\t' || t_[pos_] == '\n' || t_[pos_] == '\r')) {
      ++pos_;
    }
  }
  void skip_scalar() {
    if (pos_ < t_.size() && t_[pos_] == '"') {
      ++pos_;
      while (pos_ < t_.size()) {
        if (t_[pos_] == '\\') {
          pos_ += 2;
        } else if (t_[pos_++] == '"') {
          break;
        }
      }
      pos_ = std::min(pos_, t_.size());
      return;
    }
    while (pos_ < t_.size() && t_[pos_] != ',' && t_[pos_] != ']' && t_[pos_] != '}' && t_[pos_] != ' ' &&
           t_[pos_] != '\t' && t_[pos_] != '\n' && t_[pos_] != '\r') {
      ++pos_;
    }
  }
  // Line and column of pos_, advancing a cursor (pos_ never moves back).
  Mark here() {
    for (; seen_ < pos_ && seen_ < t_.size(); ++seen_) {
      if (t_[seen_] == '\n') {
        ++line_;
        line_start_ = seen_ + 1;
      }
    }
    return Mark{line_, static_cast<int>(pos_ - line_start_) + 1};
  }

  std::string_view t_;
  const DocumentLimits& limits_;
  bool unquoted_key_ = false;
  size_t pos_ = 0;
  size_t seen_ = 0;
  int line_ = 1;
  size_t line_start_ = 0;
};

Mark mark_at_offset(std::string_view text, size_t offset) {
  Mark m{1, 1};
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++m.line;
      m.column = 1;
    } else {
      ++m.column;
    }
  }
  return m;
}

// `yaml_like` is set when the text has an unquoted mapping key: YAML flow style, not JSON.
Result<std::vector<Document>> parse_json(std::string_view text, const DocumentLimits& limits, bool& yaml_like) {
  Document doc;
  JsonScanner scanner(text, limits);
  AGENT_TRY_STATUS(scanner.scan(doc.marks));
  yaml_like = scanner.unquoted_key();
  try {
    doc.value = json::parse(text);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
    if (auto col = what.find("column "); col != std::string::npos) {
      if (auto colon = what.find(": ", col); colon != std::string::npos) what = what.substr(colon + 2);
    }
    return parse_error(mark_at_offset(text, e.byte > 0 ? e.byte - 1 : 0), "invalid JSON: " + what);
  }
  catch (const json::exception& e) {
    // out_of_range 406: a number beyond double ("1e999999"). No position comes with it.
    std::string what = e.what();
    if (auto b = what.find("] "); b != std::string::npos) what = what.substr(b + 2);
    return make_error(Errc::Parse, "invalid JSON: {}", what);
  }
  doc.start = doc.marks.count("") ? doc.marks[""] : Mark{1, 1};
  std::vector<Document> out;
  out.push_back(std::move(doc));
  return out;
}

}  // namespace

Mark Document::at(const std::string& pointer) const {
  std::string p = pointer;
  while (true) {
    if (auto it = marks.find(p); it != marks.end()) return it->second;
    if (p.empty()) return start;
    p = p.substr(0, p.rfind('/'));
  }
}

std::string pointer_append(std::string_view pointer, std::string_view token) {
  std::string out(pointer);
  out += '/';
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string display_path(std::string_view pointer) {
  std::string out;
  size_t i = 0;
  while (i < pointer.size()) {
    size_t next = pointer.find('/', i + 1);
    std::string_view raw = pointer.substr(i + 1, next == std::string_view::npos ? std::string_view::npos : next - i - 1);
    std::string token;
    for (size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] == '~' && k + 1 < raw.size()) {
        token += raw[k + 1] == '1' ? '/' : '~';
        ++k;
      } else {
        token += raw[k];
      }
    }
    if (all_of(token, is_dec)) {
      out += "[" + token + "]";
    } else {
      if (!out.empty()) out += '.';
      out += token;
    }
    if (next == std::string_view::npos) break;
    i = next;
  }
  return out;
}

Result<std::vector<Document>> parse_documents(std::string_view text, const DocumentLimits& limits) {
  std::string_view body = text;
  if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
  size_t first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (body[first] == '{' || body[first] == '[')) {
    bool yaml_like = false;
    auto as_json = parse_json(body, limits, yaml_like);
    if (as_json || !yaml_like) return as_json;
    // Not JSON: a YAML flow mapping ({apiVersion: ...}) starts the same way.
    YamlBuilder builder(limits);
    return builder.run(text);
  }
  YamlBuilder builder(limits);
  return builder.run(text);
}

}  // namespace agent::userdata
