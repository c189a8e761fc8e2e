// --config-source URIs, and how a merged NodeConfig combines with bootstrap.sh-style flags:
// the documents fill in what the flags (and their environment variables) did not set.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "agent/cli/options.h"
#include "agent/model/result.h"
#include "agent/userdata/node_config_doc.h"

namespace agent::cli {

inline constexpr const char* kUserDataSource = "imds://user-data";
// The drop-in directory the boot unit reads after user data (drop-ins win).
inline constexpr const char* kDropInDir = "/etc/eks/eks-node-agent.d/";

// What the boot unit passes: imds://user-data, then file:///etc/eks/eks-node-agent.d/.
std::vector<std::string> boot_config_sources();

struct ConfigSource {
  enum class Kind { UserData, File };
  Kind kind = Kind::UserData;
  std::string uri;   // as given
  std::string path;  // File: node-absolute path
  bool directory = false;  // File: the path ends with '/' (a directory is also detected on read)
};

// "imds://user-data" (any host/path: nodeadm ignores them), "file:///abs/path" or "file:///dir/".
// Errors: Usage for another scheme, or a relative file path.
Result<ConfigSource> parse_config_source(std::string_view uri);

// Sources that may hold no NodeConfig without that being an error: user data (an AL2 shell
// script) and directories (an empty drop-in dir). A named file must hold one.
bool tolerates_no_node_config(const ConfigSource& source);

// Applies the merged NodeConfig to `options.node` under the flags: a field is taken only when the
// flag it maps to (README table) was not given on the command line or by its environment
// variable. Records "spec.cluster.name (imds://user-data, MIME part 2 (...))" in options.sources
// for each field taken; appends a warning for each document field a flag overrode.
// Errors: Invalid when the document's cidr family contradicts --ip-family.
Status apply_node_config(Options& options, const userdata::NodeConfigDoc& merged,
                         std::vector<std::string>& warnings);

// The whole configuration's checks after apply_node_config: what NodeConfig requires (name,
// apiServerEndpoint, certificateAuthority, cidr unless a DNS address or service CIDR flag is
// given, id with enableOutpost), each naming where the document's cluster section is, then
// check_node_config. Errors: Invalid.
Status check_with_node_config(Options& options, const userdata::NodeConfigDoc& merged);

}  // namespace agent::cli
