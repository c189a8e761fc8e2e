#include "agent/platform/sdbus_service_manager.h"

#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace agent::platform {
namespace {

constexpr const char* kDestination = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr const char* kUnit = "org.freedesktop.systemd1.Unit";
constexpr const char* kService = "org.freedesktop.systemd1.Service";

struct MessageUnref {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;

struct SlotUnref {
  void operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }
};
using SlotPtr = std::unique_ptr<sd_bus_slot, SlotUnref>;

struct JournalCloser {
  void operator()(sd_journal* j) const { sd_journal_close(j); }
};
using JournalPtr = std::unique_ptr<sd_journal, JournalCloser>;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using CString = std::unique_ptr<char, FreeDeleter>;

// Owns an sd_bus_error.
class BusError {
 public:
  BusError() = default;
  ~BusError() { sd_bus_error_free(&e_); }
  BusError(const BusError&) = delete;
  BusError& operator=(const BusError&) = delete;
  sd_bus_error* get() { return &e_; }
  bool is_set() const { return sd_bus_error_is_set(&e_) != 0; }
  bool has_name(const char* name) const { return sd_bus_error_has_name(&e_, name) != 0; }
  std::string_view name() const { return e_.name != nullptr ? e_.name : ""; }
  std::string_view message() const { return e_.message != nullptr ? e_.message : ""; }

 private:
  sd_bus_error e_ = SD_BUS_ERROR_NULL;
};

Errc errc_for_errno(int err) {
  switch (err) {
    case ENOENT: return Errc::NotFound;
    case EACCES:
    case EPERM: return Errc::Denied;
    case ETIMEDOUT: return Errc::Timeout;
    case ECONNREFUSED:
    case ECONNRESET:
    case ENOTCONN:
    case ENXIO:
    case ESHUTDOWN:
    case EPIPE: return Errc::Unavailable;
    default: return Errc::Service;
  }
}

// Translates a failed sd-bus call (r < 0) into the project's error, once, here.
Error bus_error(int r, const BusError& e, std::string_view what, std::string_view unit) {
  Errc code;
  if (e.has_name("org.freedesktop.systemd1.NoSuchUnit") || e.has_name(SD_BUS_ERROR_FILE_NOT_FOUND)) {
    code = Errc::NotFound;
  } else if (e.has_name(SD_BUS_ERROR_ACCESS_DENIED) ||
             e.has_name(SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED)) {
    code = Errc::Denied;
  } else if (e.has_name(SD_BUS_ERROR_NO_REPLY) || e.has_name(SD_BUS_ERROR_TIMEOUT)) {
    code = Errc::Timeout;
  } else if (e.has_name(SD_BUS_ERROR_SERVICE_UNKNOWN) || e.has_name(SD_BUS_ERROR_NO_SERVER) ||
             e.has_name(SD_BUS_ERROR_DISCONNECTED)) {
    code = Errc::Unavailable;
  } else if (e.has_name(SD_BUS_ERROR_INVALID_ARGS)) {
    code = Errc::Invalid;
  } else {
    code = errc_for_errno(-r);
  }
  std::string sep = unit.empty() ? "" : " ";
  if (e.is_set() && !e.message().empty())
    return make_error(code, "{}{}{}: {} ({})", what, sep, unit, e.message(), e.name());
  return make_error(code, "{}{}{}: {}", what, sep, unit, std::strerror(-r));
}

uint64_t usec_until(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() <= 0 ? 0 : static_cast<uint64_t>(left.count());
}

struct JobWait {
  std::string job;  // the job path we wait for
  std::string result;
  bool done = false;
};

int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* wait = static_cast<JobWait*>(userdata);
  uint32_t id = 0;
  const char* path = nullptr;
  const char* unit = nullptr;
  const char* result = nullptr;
  if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0) return 0;
  if (!wait->job.empty() && wait->job == path) {
    wait->result = result;
    wait->done = true;
  }
  return 0;
}

Result<std::string> get_string_property(sd_bus* bus, const std::string& path, const char* iface,
                                        const char* name, const std::string& unit) {
  BusError err;
  char* raw = nullptr;
  int r = sd_bus_get_property_string(bus, kDestination, path.c_str(), iface, name, err.get(), &raw);
  CString value(raw);
  if (r < 0) return bus_error(r, err, std::string("reading ") + name + " of", unit);
  return std::string(value.get());
}

// Opens the local system journal filtered to entries matching any of `matches` ("FIELD=value").
JournalPtr open_journal(const std::vector<std::string>& matches) {
  sd_journal* raw = nullptr;
  if (sd_journal_open(&raw, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM) < 0) return nullptr;
  JournalPtr journal(raw);
  for (size_t i = 0; i < matches.size(); ++i) {
    if (i > 0 && sd_journal_add_disjunction(raw) < 0) return nullptr;
    if (sd_journal_add_match(raw, matches[i].data(), matches[i].size()) < 0) return nullptr;
  }
  return journal;
}

std::optional<std::string> message_of(sd_journal* j) {
  const void* data = nullptr;
  size_t len = 0;
  if (sd_journal_get_data(j, "MESSAGE", &data, &len) < 0) return std::nullopt;
  constexpr std::string_view kPrefix = "MESSAGE=";
  std::string_view field(static_cast<const char*>(data), len);
  if (field.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  return std::string(field.substr(kPrefix.size()));
}

// The value of `field` in the current entry ("" when absent).
std::string field_of(sd_journal* j, std::string_view field) {
  const void* data = nullptr;
  size_t len = 0;
  if (sd_journal_get_data(j, std::string(field).c_str(), &data, &len) < 0) return "";
  std::string_view all(static_cast<const char*>(data), len);
  return all.size() > field.size() ? std::string(all.substr(field.size() + 1)) : "";
}

// The cursor of the newest entry the journal shows ("" when none).
std::string newest_cursor(sd_journal* j) {
  if (sd_journal_seek_tail(j) < 0 || sd_journal_previous(j) <= 0) return "";
  char* raw = nullptr;
  if (sd_journal_get_cursor(j, &raw) < 0) return "";
  CString cursor(raw);
  return cursor.get();
}

}  // namespace

void SdBusServiceManager::BusCloser::operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }

SdBusServiceManager::~SdBusServiceManager() = default;

Result<std::unique_ptr<SdBusServiceManager>> SdBusServiceManager::connect(const CancelToken* cancel) {
  sd_bus* raw = nullptr;
  int r = sd_bus_open_system(&raw);
  if (r < 0) {
    return make_error(r == -EACCES || r == -EPERM ? Errc::Denied : Errc::Unavailable,
                      "connecting to the system bus: {}", std::strerror(-r));
  }
  std::unique_ptr<SdBusServiceManager> self(new SdBusServiceManager(raw, cancel));
  // The connection is made lazily; this first call is where a missing socket shows up.
  BusError err;
  r = sd_bus_call_method(raw, kDestination, kManagerPath, kManager, "Subscribe", err.get(), nullptr, "");
  if (r < 0) {
    Error e = bus_error(r, err, "subscribing to systemd's signals", "");
    if (!err.is_set() || err.name().rfind("System.Error.", 0) == 0) {
      // A local errno (ENOENT: no socket, ECONNREFUSED: no daemon) means no bus, not no unit.
      e.code = (r == -EACCES || r == -EPERM) ? Errc::Denied : Errc::Unavailable;
    }
    return e;
  }
  return self;
}

Status SdBusServiceManager::reload() {
  BusError err;
  int r = sd_bus_call_method(bus_.get(), kDestination, kManagerPath, kManager, "Reload", err.get(),
                             nullptr, "");
  if (r < 0) return bus_error(r, err, "reloading systemd", "");
  return {};
}

Status SdBusServiceManager::enable(const std::string& unit) {
  BusError err;
  sd_bus_message* raw = nullptr;
  int r = sd_bus_call_method(bus_.get(), kDestination, kManagerPath, kManager, "EnableUnitFiles",
                             err.get(), &raw, "asbb", 1, unit.c_str(), 0, 0);
  MessagePtr reply(raw);
  if (r < 0) return bus_error(r, err, "enabling", unit);
  // The reply (carries_install_info, changes) is informational; systemctl only prints it.
  return {};
}

Result<std::string> SdBusServiceManager::run_job(const std::string& unit, const std::string& verb,
                                                 Deadline deadline) {
  const char* method = verb == "start"     ? "StartUnit"
                       : verb == "restart" ? "RestartUnit"
                       : verb == "stop"    ? "StopUnit"
                                           : nullptr;
  if (method == nullptr) return make_error(Errc::Invalid, "unsupported job verb '{}' for {}", verb, unit);
  const std::string what = verb == "start" ? "starting" : verb == "stop" ? "stopping" : "restarting";

  // The match goes in before the call so that a job which finishes before we read the reply is
  // still seen: its JobRemoved is queued and dispatched by the sd_bus_process loop below.
  JobWait wait;
  sd_bus_slot* raw_slot = nullptr;
  int r = sd_bus_match_signal(bus_.get(), &raw_slot, kDestination, kManagerPath, kManager,
                              "JobRemoved", on_job_removed, &wait);
  SlotPtr slot(raw_slot);
  if (r < 0) return bus_error(r, BusError{}, "watching JobRemoved for", unit);

  uint64_t left = usec_until(deadline);
  if (left == 0) return make_error(Errc::Timeout, "{} {}: the deadline passed before the job was queued", what, unit);
  sd_bus_message* raw = nullptr;
  r = sd_bus_message_new_method_call(bus_.get(), &raw, kDestination, kManagerPath, kManager, method);
  MessagePtr call(raw);
  if (r < 0) return bus_error(r, BusError{}, what, unit);
  r = sd_bus_message_append(call.get(), "ss", unit.c_str(), "replace");
  if (r < 0) return bus_error(r, BusError{}, what, unit);
  BusError err;
  raw = nullptr;
  r = sd_bus_call(bus_.get(), call.get(), left, err.get(), &raw);
  MessagePtr reply(raw);
  if (r < 0) return bus_error(r, err, what, unit);
  const char* job = nullptr;
  r = sd_bus_message_read(reply.get(), "o", &job);
  if (r < 0) return bus_error(r, BusError{}, "reading the job path for", unit);
  wait.job = job;

  while (!wait.done) {
    r = sd_bus_process(bus_.get(), nullptr);
    if (r < 0) return bus_error(r, BusError{}, "waiting for the job of", unit);
    if (r > 0) continue;  // more may be queued; drain before sleeping
    if (is_cancelled(cancel_)) {
      return cancel_->interrupted(
          fmt::format("while waiting for the {} job of {} (systemd finishes it on its own)", verb, unit));
    }
    left = usec_until(deadline);
    if (left == 0)
      return make_error(Errc::Timeout, "{} {}: job {} did not finish before the deadline", what, unit, wait.job);
    // Wake at least every kCancelPoll to look at the cancel token.
    const uint64_t poll = std::chrono::duration_cast<std::chrono::microseconds>(kCancelPoll).count();
    r = sd_bus_wait(bus_.get(), cancel_ != nullptr ? std::min(left, poll) : left);
    if (r < 0 && r != -EINTR) return bus_error(r, BusError{}, "waiting for the job of", unit);
  }
  return wait.result;
}

Result<UnitState> SdBusServiceManager::state(const std::string& unit) {
  BusError err;
  sd_bus_message* raw = nullptr;
  int r = sd_bus_call_method(bus_.get(), kDestination, kManagerPath, kManager, "LoadUnit", err.get(),
                             &raw, "s", unit.c_str());
  MessagePtr reply(raw);
  if (r < 0) return bus_error(r, err, "loading", unit);
  const char* raw_path = nullptr;
  r = sd_bus_message_read(reply.get(), "o", &raw_path);
  if (r < 0) return bus_error(r, BusError{}, "reading the object path of", unit);
  const std::string path = raw_path;

  UnitState st;
  AGENT_TRY(st.load_state, get_string_property(bus_.get(), path, kUnit, "LoadState", unit));
  AGENT_TRY(st.active_state, get_string_property(bus_.get(), path, kUnit, "ActiveState", unit));
  AGENT_TRY(st.sub_state, get_string_property(bus_.get(), path, kUnit, "SubState", unit));
  BusError terr;
  r = sd_bus_get_property_trivial(bus_.get(), kDestination, path.c_str(), kUnit,
                                  "ActiveEnterTimestamp", terr.get(), 't', &st.active_enter_usec);
  if (r < 0) return bus_error(r, terr, "reading ActiveEnterTimestamp of", unit);
  const bool is_service = unit.size() > 8 && unit.compare(unit.size() - 8, 8, ".service") == 0;
  if (is_service && st.load_state == "loaded") {
    AGENT_TRY(st.result, get_string_property(bus_.get(), path, kService, "Result", unit));
  }
  return st;
}

std::string SdBusServiceManager::invocation_id(const std::string& unit) {
  BusError err;
  sd_bus_message* raw = nullptr;
  int r = sd_bus_call_method(bus_.get(), kDestination, kManagerPath, kManager, "LoadUnit", err.get(), &raw, "s",
                             unit.c_str());
  MessagePtr reply(raw);
  const char* path = nullptr;
  if (r < 0 || sd_bus_message_read(reply.get(), "o", &path) < 0) return "";
  BusError perr;
  raw = nullptr;
  r = sd_bus_get_property(bus_.get(), kDestination, path, kUnit, "InvocationID", perr.get(), &raw, "ay");
  MessagePtr prop(raw);
  const void* bytes = nullptr;
  size_t n = 0;
  if (r < 0 || sd_bus_message_read_array(prop.get(), 'y', &bytes, &n) < 0 || n != 16) return "";
  std::string hex;
  for (size_t i = 0; i < n; ++i) hex += fmt::format("{:02x}", static_cast<const unsigned char*>(bytes)[i]);
  return hex == std::string(32, '0') ? "" : hex;
}

void SdBusServiceManager::wait_for_quiet_journal(sd_journal* journal) {
  const auto start = std::chrono::steady_clock::now();
  auto changed_at = start;
  std::string last = newest_cursor(journal);
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now - changed_at >= kJournalQuiet || now - start >= kJournalCatchUp || is_cancelled(cancel_)) return;
    const auto step = std::min<std::chrono::steady_clock::duration>(
        {changed_at + kJournalQuiet - now, start + kJournalCatchUp - now, kCancelPoll});
    if (sd_journal_wait(journal, std::chrono::duration_cast<std::chrono::microseconds>(step).count()) < 0) return;
    if (std::string c = newest_cursor(journal); c != last) {
      last = std::move(c);
      changed_at = std::chrono::steady_clock::now();
    }
  }
}

std::vector<std::string> SdBusServiceManager::recent_logs(const std::string& unit, int lines) {
  if (lines <= 0) return {};
  JournalPtr journal = open_journal({"_SYSTEMD_UNIT=" + unit, "UNIT=" + unit});
  if (!journal) return {};
  wait_for_quiet_journal(journal.get());
  // Back from the newest line to systemd's last message about an earlier invocation: the lines of
  // the last start only. Earlier runs would crowd out, and mislead a diagnosis about, the one that
  // failed. The unit's own output is not matched by invocation: journald cannot tag the output of
  // a process that exited before its stream was read, which is exactly a kubelet failing at once.
  const std::string id = invocation_id(unit);  // "" if it never ran (or systemd < 232)
  if (sd_journal_seek_tail(journal.get()) < 0) return {};
  std::vector<std::string> out;
  while (out.size() < static_cast<size_t>(lines) && sd_journal_previous(journal.get()) > 0) {
    if (!id.empty()) {
      const std::string inv = field_of(journal.get(), "INVOCATION_ID");
      if (!inv.empty() && inv != id) break;
    }
    if (auto m = message_of(journal.get())) out.push_back(std::move(*m));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace agent::platform
