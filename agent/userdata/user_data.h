// One config source's bytes (EC2 user data, or a file) -> the NodeConfig documents in it. Pure.
//
//   1. base64 and gzip layers are peeled off the whole payload (decode.h);
//   2. a MIME multipart message is split (mime.h): parts of type application/node.eks.aws are
//      NodeConfig documents (each may itself be base64 or gzip); every other part (shell scripts,
//      cloud-config, ...) is someone else's and is skipped;
//   3. otherwise the payload is one YAML/JSON stream; its documents that are NodeConfigs are used.
//      A payload that is neither (an AL2 shell script calling bootstrap.sh) has no NodeConfig,
//      which is not an error.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "agent/model/result.h"
#include "agent/userdata/decode.h"
#include "agent/userdata/node_config_doc.h"

namespace agent::userdata {

struct SourceConfigs {
  std::vector<NodeConfigDoc> docs;    // in document order (MIME parts, then YAML stream order)
  std::vector<std::string> warnings;  // unknown fields, MIME leniencies, ...
  std::vector<std::string> notes;     // what was found: layers, parts skipped, why no NodeConfig
};

// Errors carry `source` and, inside MIME, the part index and content type, and the line and
// column in the document: Parse (MIME structure, YAML/JSON syntax, gzip), Invalid (a NodeConfig
// with a wrong field, a NodeConfig part that holds something else, a size limit).
Result<SourceConfigs> parse_source(std::string_view bytes, const std::string& source, const Limits& limits = {});

}  // namespace agent::userdata
