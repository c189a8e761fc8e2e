// YAML and JSON documents -> nlohmann::json, with the line and column of every value. Pure.
// YAML is converted to JSON here, at the edge, so the rest of the agent sees one tree type.
//
// YAML (libyaml events): scalars resolve as the YAML 1.2 core schema says: plain null/~/empty ->
// null, true/false (any case variant the spec lists) -> boolean, decimal/0x/0o integers, decimal
// floats; everything quoted, and plain "yes"/"no"/"on"/"off", stays a string. Anchors and aliases
// work (aliases are copied, and count against the size limit: no billion laughs), as do "<<"
// merge keys. Mapping keys must be scalars and unique. Every document of a stream is returned.
// JSON (text starting with '{' or '['): parsed as JSON; duplicate keys: the last one wins.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/model/result.h"

namespace agent::userdata {

struct Mark {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
  bool operator==(const Mark&) const = default;
};

struct Document {
  nlohmann::json value;               // null for an empty document
  std::map<std::string, Mark> marks;  // JSON pointer ("/spec/cluster/name") -> where it is written
                                      // (a mapping member: its key; a sequence item: its value)
  Mark start;                         // where the document's content starts
  Mark at(const std::string& pointer) const;  // the closest mark at or above `pointer`
};

struct DocumentLimits {
  int max_depth = 64;         // nesting of mappings and sequences
  size_t max_nodes = 100000;  // values in one source, aliases expanded
};

// Errors: Parse, "line L, column C: <what>" for a syntax error, a duplicate or non-scalar key, an
// undefined alias, or a limit exceeded.
Result<std::vector<Document>> parse_documents(std::string_view text, const DocumentLimits& limits = {});

// "/spec/kubelet/flags/2" -> "spec.kubelet.flags[2]" (for messages).
std::string display_path(std::string_view pointer);

// Appends one reference token to a JSON pointer, escaping '~' and '/'.
std::string pointer_append(std::string_view pointer, std::string_view token);

}  // namespace agent::userdata
