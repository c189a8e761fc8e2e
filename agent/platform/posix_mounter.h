// PosixMounter: the Mounter port with mount(2) on the running system (never used for --root).
#pragma once
#include "agent/ports/mounter.h"

namespace agent::platform {

class PosixMounter final : public Mounter {
 public:
  // Options the kernel takes as flags (ro, nosuid, nodev, noexec, relatime, noatime, ...) become
  // MS_* flags; "rw" and "defaults" are dropped; the rest (mode=700) is passed as mount data.
  Status mount(const MountSpec& spec) override;
};

}  // namespace agent::platform
