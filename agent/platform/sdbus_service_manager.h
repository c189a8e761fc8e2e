// SdBusServiceManager: the real ServiceManager, talking to systemd's org.freedesktop.systemd1
// Manager over the system bus with sd-bus, and reading unit logs with sd-journal.
//
// The bus comes from sd_bus_open_system(), so DBUS_SYSTEM_BUS_ADDRESS redirects it (a container's
// bus socket, a dbusmock bus). Manager.Subscribe is called once at connect so JobRemoved signals
// are delivered. D-Bus errors are mapped once, here:
//   org.freedesktop.systemd1.NoSuchUnit, ...DBus.Error.FileNotFound, ENOENT  -> NotFound
//   ...DBus.Error.AccessDenied, InteractiveAuthorizationRequired, EPERM/EACCES -> Denied
//   ...DBus.Error.NoReply, ...DBus.Error.Timeout                               -> Timeout
//   ...DBus.Error.ServiceUnknown, NoServer, Disconnected, bus I/O failures      -> Unavailable
//   anything else the manager refuses (masked unit, bad unit file, ...)         -> Service
// and the message carries the unit, the D-Bus error name and its message.
//
// Not thread-safe: one caller at a time (the agent is a oneshot with one thread doing apply).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "agent/ports/service_manager.h"

struct sd_bus;

namespace agent::platform {

class SdBusServiceManager final : public ServiceManager {
 public:
  // Opens the system bus and subscribes to Manager signals. Errors: Unavailable if the bus
  // cannot be reached (no dbus-daemon, no socket), Denied, Service if Subscribe is refused.
  static Result<std::unique_ptr<SdBusServiceManager>> connect();
  ~SdBusServiceManager() override;
  SdBusServiceManager(const SdBusServiceManager&) = delete;
  SdBusServiceManager& operator=(const SdBusServiceManager&) = delete;

  // Manager.Reload; systemd replies once the reload is complete.
  Status reload() override;
  // Manager.EnableUnitFiles([unit], runtime=false, force=false): creates the [Install] symlinks
  // under /etc/systemd/system. Idempotent. Does not reload; call reload() afterwards so the
  // manager sees the new dependencies. Errors: NotFound if no unit file exists.
  Status enable(const std::string& unit) override;
  // StartUnit/RestartUnit(unit, "replace"), then waits for the JobRemoved signal of exactly the
  // returned job path. The match is installed before the call, so a job finishing before the
  // reply is read is not missed. On Timeout the job is left running (not cancelled). Note that
  // for Type=simple services "done" means "forked"; check state() to see if it stayed up.
  // Errors: Invalid for a verb other than start/restart, NotFound, Timeout, Unavailable, Service.
  Result<std::string> run_job(const std::string& unit, const std::string& verb,
                              Deadline deadline) override;
  // Manager.LoadUnit, then Unit.{LoadState,ActiveState,SubState,ActiveEnterTimestamp} and, for
  // loaded .service units, Service.Result. An unknown unit loads as "not-found" (not an error).
  Result<UnitState> state(const std::string& unit) override;
  // The last `lines` MESSAGE fields of the local system journal for _SYSTEMD_UNIT=unit (the
  // unit's own output) or UNIT=unit (systemd's messages about it), oldest first. Messages reach
  // the journal asynchronously, so a line printed just before a job failed may need a moment to
  // appear. Empty on any failure.
  std::vector<std::string> recent_logs(const std::string& unit, int lines) override;

 private:
  struct BusCloser {
    void operator()(sd_bus* bus) const;  // sd_bus_flush_close_unref
  };
  explicit SdBusServiceManager(sd_bus* bus) : bus_(bus) {}
  std::unique_ptr<sd_bus, BusCloser> bus_;
};

}  // namespace agent::platform
