// Mounter: mount(2), for the one file system the agent mounts itself when systemd will not
// (bpffs at /sys/fs/bpf: systemd >= 233 treats it as an API file system and refuses a mount unit
// for it where it is not already mounted, e.g. in containers).
#pragma once
#include <string>

#include "agent/model/result.h"

namespace agent {

// What a [Mount] section says: What=, Where=, Type=, Options= (comma-separated, as mount(8)).
struct MountSpec {
  std::string what;
  std::string where;  // node-absolute
  std::string type;
  std::string options;
  bool operator==(const MountSpec&) const = default;
};

class Mounter {
 public:
  virtual ~Mounter() = default;
  // Mounts spec.what (of spec.type) at spec.where with spec.options. Not idempotent: the caller
  // checks that nothing is mounted there first (gather's bpf_mounted). Errors: NotFound when the
  // mount point does not exist, Denied without the privilege, Invalid for options the kernel
  // rejects, Io otherwise; each message names the mount point and the errno text.
  virtual Status mount(const MountSpec& spec) = 0;
};

}  // namespace agent
