// OfflineServiceManager: the ServiceManager for a root that is not running (image build, scratch
// roots). Nothing is started; enabling a unit writes the symlinks `systemctl --root=R enable`
// would write, through the RootFs (so they land under the image root).
#pragma once
#include <set>
#include <string>
#include <vector>

#include "agent/ports/root_fs.h"
#include "agent/ports/service_manager.h"

namespace agent::platform {

class OfflineServiceManager final : public ServiceManager {
 public:
  // Unit files are looked up in this order, as systemd does for the system manager (minus
  // /run, which an offline root does not have).
  static constexpr const char* kUnitDirs[] = {"/etc/systemd/system", "/usr/lib/systemd/system",
                                              "/lib/systemd/system"};

  // `fs` must outlive this object.
  explicit OfflineServiceManager(RootFs& fs) : fs_(fs) {}

  // No-op success: there is no manager to reload; it reads the units when the image boots.
  Status reload() override;
  // Reads the unit file from the first of kUnitDirs that has it, parses its [Install] section
  // and creates, under /etc/systemd/system:
  //   WantedBy=T   -> T.wants/<unit>    -> <unit file path>
  //   RequiredBy=T -> T.requires/<unit> -> <unit file path>
  //   Alias=A      -> A                 -> <unit file path>
  // and enables the units named in Also= the same way. Idempotent (existing links are left
  // Unchanged). A unit without [Install] succeeds and creates nothing, like systemctl (which
  // warns). Errors: NotFound if no unit file exists, Parse for an invalid [Install] value,
  // Unsupported for template instances (name@x.service) and specifiers (%), the RootFs's errors.
  Status enable(const std::string& unit) override;
  // Always Errc::Unsupported: an offline root cannot run jobs.
  Result<std::string> run_job(const std::string& unit, const std::string& verb,
                              Deadline deadline) override;
  // load_state "loaded" if a unit file exists in kUnitDirs, else "not-found"; always
  // inactive/dead. Never fails.
  Result<UnitState> state(const std::string& unit) override;
  // Always empty: there is no journal for an offline root.
  std::vector<std::string> recent_logs(const std::string& unit, int lines) override;

 private:
  Status enable_one(const std::string& unit, std::set<std::string>& seen);
  RootFs& fs_;
};

// The [Install] section of a unit file, as systemd parses it: values are space-separated, keys
// may repeat and accumulate, an empty assignment resets the list. Exposed for tests.
struct InstallSection {
  std::vector<std::string> wanted_by;
  std::vector<std::string> required_by;
  std::vector<std::string> alias;
  std::vector<std::string> also;
  bool present = false;  // the file has an [Install] section at all
  bool operator==(const InstallSection&) const = default;
};
InstallSection parse_install_section(std::string_view unit_file);

}  // namespace agent::platform
