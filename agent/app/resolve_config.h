// Config resolution, the phase before gather: reads every --config-source (IMDS user data, files
// and drop-in directories under the root), parses each (agent/userdata) and merges the NodeConfig
// documents in order, later sources winning.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "agent/model/result.h"
#include "agent/ports/imds.h"
#include "agent/ports/root_fs.h"
#include "agent/userdata/decode.h"
#include "agent/userdata/node_config_doc.h"

namespace agent::app {

struct ResolvedConfig {
  std::optional<userdata::NodeConfigDoc> merged;  // nullopt: no source held a NodeConfig
  std::vector<std::string> warnings;              // unknown fields, MIME leniencies
  std::vector<std::string> notes;                 // what each source held
  bool all_tolerant = true;  // every source may be without a NodeConfig (user data, directories)
};

// Reads the sources in order. User data: IMDS latest/user-data (a 404 means no user data, which
// is not an error, unlike in nodeadm). A directory (a file:// source ending in '/', or a path
// that lists as one): its *.yaml, *.yml and *.json files in lexical order; a missing directory
// holds nothing. A file source must exist and hold a NodeConfig.
// Errors: Usage for a bad URI; Unavailable/Timeout/Denied from IMDS (wrapped with the path);
// NotFound for a missing file; Io; Invalid/Parse from the documents (naming source, MIME part,
// line and column); Invalid when a named file holds no NodeConfig.
Result<ResolvedConfig> resolve_config(const std::vector<std::string>& sources, Imds& imds, const RootFsReader& fs,
                                      const userdata::Limits& limits = {});

// True for a directory entry name nodeadm reads: *.yaml, *.yml, *.json (case-insensitive).
bool is_config_file_name(std::string_view name);

}  // namespace agent::app
