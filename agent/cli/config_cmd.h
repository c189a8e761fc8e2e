// `eks-node-agent config check|dump`: the NodeConfig the boot unit would use, validated or
// printed, without gathering facts or writing anything.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

#include "agent/cli/options.h"
#include "agent/model/result.h"
#include "agent/ports/imds.h"
#include "agent/ports/root_fs.h"

namespace agent::cli {

struct ConfigCommand {
  enum class Verb { Check, Dump };
  Verb verb = Verb::Check;
  bool help = false;
  Options options;  // every bootstrap flag is accepted, so that check sees what the run would
};

// `args` starts after "config". Without --config-source the boot unit's sources are used
// (imds://user-data, then file:///etc/eks/eks-node-agent.d/). Errors: Usage (no or unknown verb,
// the bootstrap flags' usage errors), Invalid.
Result<ConfigCommand> parse_config_args(const std::vector<std::string>& args, const Getenv& getenv);

std::string config_help(const std::string& program);

// check: reads and merges the sources, applies the flags, runs every check that needs no facts;
// prints "NodeConfig ... is valid" (or "no NodeConfig in user data; nothing to do") to `out` and
// each warning to `err`. dump: prints the effective NodeConfig as JSON, each field's source in
// metadata.annotations ("node-agent.eks.aws/source.spec.cluster.name": "imds://user-data, MIME
// part 2 (application/node.eks.aws), line 6, column 5"; a flag's name when a flag won).
// Errors: as resolve_config and check_with_node_config (source, MIME part, line and column).
Status run_config_command(const ConfigCommand& command, Imds& imds, const RootFsReader& fs, std::ostream& out,
                          std::ostream& err);

}  // namespace agent::cli
