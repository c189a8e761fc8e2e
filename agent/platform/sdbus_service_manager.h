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
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "agent/ports/cancel.h"
#include "agent/ports/service_manager.h"

struct sd_bus;
struct sd_journal;

namespace agent::platform {

class SdBusServiceManager final : public ServiceManager {
 public:
  // Opens the system bus and subscribes to Manager signals. Errors: Unavailable if the bus
  // cannot be reached (no dbus-daemon, no socket), Denied, Service if Subscribe is refused.
  // `cancel` (may be null; must outlive this object) interrupts run_job's wait.
  static Result<std::unique_ptr<SdBusServiceManager>> connect(const CancelToken* cancel = nullptr);
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
  // The wait looks at the cancel token every kCancelPoll; when it is set, run_job returns
  // Interrupted and, as on Timeout, the job is left to systemd.
  // Errors: Invalid for a verb other than start/restart, NotFound, Timeout, Unavailable, Service,
  // Interrupted.
  Result<std::string> run_job(const std::string& unit, const std::string& verb,
                              Deadline deadline) override;
  // Manager.LoadUnit, then Unit.{LoadState,ActiveState,SubState,ActiveEnterTimestamp} and, for
  // loaded .service units, Service.Result. An unknown unit loads as "not-found" (not an error).
  Result<UnitState> state(const std::string& unit) override;
  // The last `lines` MESSAGE fields of the local system journal for _SYSTEMD_UNIT=unit (the
  // unit's own output) or UNIT=unit (systemd's messages about it), oldest first, back to systemd's
  // last message about an earlier invocation (so only the last start's lines). Lines reach the
  // journal asynchronously (a service's output through journald's stream reader, systemd's own
  // messages as datagrams), possibly after the job result, so this first waits until no new line
  // has arrived for kJournalQuiet (at most kJournalCatchUp, or until cancelled). Empty on failure.
  std::vector<std::string> recent_logs(const std::string& unit, int lines) override;

  static constexpr std::chrono::milliseconds kJournalQuiet{150};
  static constexpr std::chrono::milliseconds kJournalCatchUp{1000};

 private:
  struct BusCloser {
    void operator()(sd_bus* bus) const;  // sd_bus_flush_close_unref
  };
  SdBusServiceManager(sd_bus* bus, const CancelToken* cancel) : bus_(bus), cancel_(cancel) {}
  // The unit's last InvocationID, 32 hex digits ("" if it never ran or cannot be read).
  std::string invocation_id(const std::string& unit);
  // Returns once `journal` has shown no new entry for kJournalQuiet (or kJournalCatchUp passed).
  void wait_for_quiet_journal(sd_journal* journal);
  std::unique_ptr<sd_bus, BusCloser> bus_;
  const CancelToken* cancel_;
};

}  // namespace agent::platform
