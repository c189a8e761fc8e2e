// A small XML reader for the EC2 Query API's answers: elements, text, the five named entities and
// numeric character references. Attributes are skipped (EC2 puts only xmlns on the root), and so
// are the XML declaration, comments, processing instructions and CDATA markers (CDATA text is
// kept). Namespace prefixes are stripped from element names.
//
// Pure and bounded: input over kMaxXmlBytes or nesting deeper than kMaxXmlDepth is an error, so a
// hostile or broken proxy cannot make it recurse or allocate without limit.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "agent/model/result.h"

namespace agent::aws {

inline constexpr size_t kMaxXmlBytes = 16u << 20;
inline constexpr int kMaxXmlDepth = 64;

struct XmlElement {
  std::string name;   // local name, without a namespace prefix
  std::string text;   // the element's own character data, entities decoded, not trimmed
  std::vector<XmlElement> children;

  // The first child with this name, or nullptr.
  const XmlElement* child(std::string_view n) const;
  // The trimmed text of the first child with this name, or "" when there is none.
  std::string child_text(std::string_view n) const;
  // Follows a path of child names ("networkInfo/networkCards"); nullptr when any step is missing.
  const XmlElement* find(std::string_view path) const;
};

// Parses one document and returns its root element. Errors: Parse with the byte offset of the
// problem (unbalanced tags, a bad entity, truncated input, limits exceeded).
Result<XmlElement> parse_xml(std::string_view text);

}  // namespace agent::aws
