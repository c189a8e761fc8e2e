#include "agent/aws/xml.h"
#include "agent/model/text.h"

#include <charconv>

namespace agent::aws {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Result<XmlElement> document() {
    AGENT_TRY_STATUS(skip_misc());
    if (pos_ >= s_.size() || s_[pos_] != '<') return fail("expected the root element");
    XmlElement root;
    AGENT_TRY_STATUS(element(root, 1));
    AGENT_TRY_STATUS(skip_misc());
    if (pos_ != s_.size()) return fail("content after the root element");
    return root;
  }

 private:
  Error fail(std::string_view what) const {
    return make_error(Errc::Parse, "XML: {} at byte {}", what, pos_);
  }

  bool starts(std::string_view p) const { return s_.substr(pos_, p.size()) == p; }

  // Skips "<!--...-->", "<?...?>" and "<!DOCTYPE ...>" and whitespace between them.
  Status skip_misc() {
    for (;;) {
      while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
      if (starts("<!--")) {
        auto end = s_.find("-->", pos_ + 4);
        if (end == std::string_view::npos) return fail("unterminated comment");
        pos_ = end + 3;
      } else if (starts("<?")) {
        auto end = s_.find("?>", pos_ + 2);
        if (end == std::string_view::npos) return fail("unterminated processing instruction");
        pos_ = end + 2;
      } else if (starts("<!DOCTYPE")) {
        auto end = s_.find('>', pos_);
        if (end == std::string_view::npos) return fail("unterminated DOCTYPE");
        pos_ = end + 1;
      } else {
        return {};
      }
    }
  }

  Result<std::string> name() {
    size_t start = pos_;
    while (pos_ < s_.size() && !is_space(s_[pos_]) && s_[pos_] != '>' && s_[pos_] != '/' &&
           s_[pos_] != '=') {
      ++pos_;
    }
    if (pos_ == start) return fail("expected a name");
    std::string_view n = s_.substr(start, pos_ - start);
    if (auto colon = n.rfind(':'); colon != std::string_view::npos) n.remove_prefix(colon + 1);
    return std::string(n);
  }

  Status entity(std::string& out) {
    auto end = s_.find(';', pos_);
    if (end == std::string_view::npos || end - pos_ > 12) return fail("bad entity");
    std::string_view e = s_.substr(pos_ + 1, end - pos_ - 1);
    if (e == "amp") {
      out += '&';
    } else if (e == "lt") {
      out += '<';
    } else if (e == "gt") {
      out += '>';
    } else if (e == "quot") {
      out += '"';
    } else if (e == "apos") {
      out += '\'';
    } else if (e.size() > 1 && e[0] == '#') {
      unsigned cp = 0;
      const bool hex = e[1] == 'x' || e[1] == 'X';
      std::string_view digits = e.substr(hex ? 2 : 1);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || cp == 0 ||
          cp > 0x10FFFF) {
        return fail("bad character reference");
      }
      append_utf8(out, cp);
    } else {
      return fail("unknown entity");
    }
    pos_ = end + 1;
    return {};
  }

  // At '<' of a start tag: parses the element and everything inside it.
  Status element(XmlElement& el, int depth) {
    if (depth > kMaxXmlDepth) return fail("nesting too deep");
    ++pos_;  // '<'
    AGENT_TRY(el.name, name());
    // Attributes: skipped, but quoted values may hold '>' and '/'.
    for (;;) {
      while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
      if (pos_ >= s_.size()) return fail("unterminated start tag");
      if (s_[pos_] == '>') {
        ++pos_;
        break;
      }
      if (starts("/>")) {
        pos_ += 2;
        return {};
      }
      AGENT_TRY(std::string attr, name());
      (void)attr;
      while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
      if (pos_ >= s_.size() || s_[pos_] != '=') return fail("expected '=' in an attribute");
      ++pos_;
      while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
      if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\'')) return fail("expected a quoted value");
      auto close = s_.find(s_[pos_], pos_ + 1);
      if (close == std::string_view::npos) return fail("unterminated attribute value");
      pos_ = close + 1;
    }
    // Content.
    for (;;) {
      if (pos_ >= s_.size()) return fail("unterminated element <" + el.name + ">");
      char c = s_[pos_];
      if (c == '&') {
        AGENT_TRY_STATUS(entity(el.text));
      } else if (c != '<') {
        el.text += c;
        ++pos_;
      } else if (starts("</")) {
        pos_ += 2;
        AGENT_TRY(std::string closing, name());
        while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
        if (pos_ >= s_.size() || s_[pos_] != '>') return fail("bad end tag");
        ++pos_;
        if (closing != el.name) return fail("</" + closing + "> closes <" + el.name + ">");
        return {};
      } else if (starts("<![CDATA[")) {
        auto end = s_.find("]]>", pos_ + 9);
        if (end == std::string_view::npos) return fail("unterminated CDATA");
        el.text.append(s_.substr(pos_ + 9, end - pos_ - 9));
        pos_ = end + 3;
      } else if (starts("<!--") || starts("<?")) {
        AGENT_TRY_STATUS(skip_misc());
      } else {
        el.children.emplace_back();
        AGENT_TRY_STATUS(element(el.children.back(), depth + 1));
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

const XmlElement* XmlElement::child(std::string_view n) const {
  for (const auto& c : children) {
    if (c.name == n) return &c;
  }
  return nullptr;
}

std::string XmlElement::child_text(std::string_view n) const {
  const XmlElement* c = child(n);
  return c == nullptr ? std::string() : std::string(trim(c->text));
}

const XmlElement* XmlElement::find(std::string_view path) const {
  const XmlElement* at = this;
  while (!path.empty() && at != nullptr) {
    auto slash = path.find('/');
    at = at->child(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
  }
  return at;
}

Result<XmlElement> parse_xml(std::string_view text) {
  if (text.size() > kMaxXmlBytes) {
    return make_error(Errc::Parse, "XML: document of {} bytes is over the {} byte limit", text.size(),
                      kMaxXmlBytes);
  }
  return Parser(text).document();
}

}  // namespace agent::aws
