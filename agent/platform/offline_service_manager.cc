#include "agent/platform/offline_service_manager.h"
#include "agent/model/text.h"

#include <optional>

namespace agent::platform {
namespace {

constexpr std::string_view kWhitespace = " \t\r";

void assign(std::vector<std::string>& list, std::string_view value) {
  if (value.empty()) {
    list.clear();  // "WantedBy=" resets, as in systemd
    return;
  }
  size_t i = 0;
  while (i < value.size()) {
    size_t b = value.find_first_not_of(kWhitespace, i);
    if (b == std::string_view::npos) break;
    size_t e = value.find_first_of(kWhitespace, b);
    if (e == std::string_view::npos) e = value.size();
    list.emplace_back(value.substr(b, e - b));
    i = e;
  }
}

std::string_view suffix_of(std::string_view unit) {
  size_t dot = unit.rfind('.');
  return dot == std::string_view::npos ? std::string_view{} : unit.substr(dot);
}

// A plain unit name: "name.type", no path, no template, no specifier.
Status check_unit_name(const std::string& name, std::string_view what, const std::string& unit) {
  if (name.find('%') != std::string::npos)
    return make_error(Errc::Unsupported, "{}: {} '{}' uses a specifier, which is not supported offline", unit, what, name);
  if (name.find('@') != std::string::npos)
    return make_error(Errc::Unsupported, "{}: {} '{}' is a template unit, which is not supported offline", unit, what, name);
  if (name.empty() || name.find('/') != std::string::npos || suffix_of(name).size() < 2 ||
      name.front() == '.' || name.size() > 255)
    return make_error(Errc::Parse, "{}: {} '{}' is not a valid unit name", unit, what, name);
  return {};
}

}  // namespace

InstallSection parse_install_section(std::string_view text) {
  InstallSection out;
  bool in_install = false;
  std::string logical;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    // Comments are whole lines only, and are not continued.
    std::string_view t = trim(line);
    if (logical.empty() && (t.empty() || t.front() == '#' || t.front() == ';')) continue;
    if (!t.empty() && t.back() == '\\') {
      logical.append(t.substr(0, t.size() - 1));
      logical += ' ';
      if (pos <= text.size()) continue;
    } else {
      logical.append(t);
    }
    std::string_view l = trim(logical);
    if (!l.empty() && l.front() == '[' && l.back() == ']') {
      in_install = l == "[Install]";
      out.present = out.present || in_install;
    } else if (in_install) {
      size_t eq = l.find('=');
      if (eq != std::string_view::npos) {
        std::string_view key = trim(l.substr(0, eq));
        std::string_view value = trim(l.substr(eq + 1));
        if (key == "WantedBy") assign(out.wanted_by, value);
        else if (key == "RequiredBy") assign(out.required_by, value);
        else if (key == "Alias") assign(out.alias, value);
        else if (key == "Also") assign(out.also, value);
      }
    }
    logical.clear();
  }
  return out;
}

Status OfflineServiceManager::reload() { return {}; }

Status OfflineServiceManager::enable(const std::string& unit) {
  std::set<std::string> seen;
  return enable_one(unit, seen);
}

Status OfflineServiceManager::enable_one(const std::string& unit, std::set<std::string>& seen) {
  if (!seen.insert(unit).second) return {};
  AGENT_TRY_STATUS(check_unit_name(unit, "unit", unit));
  std::optional<std::string> file_path;
  std::string text;
  for (const char* dir : kUnitDirs) {
    std::string candidate = std::string(dir) + "/" + unit;
    auto content = fs_.read(candidate);
    if (content) {
      file_path = candidate;
      text = std::move(*content);
      break;
    }
    if (content.error().code != Errc::NotFound) return content.error().wrap("enabling {}", unit);
  }
  if (!file_path)
    return make_error(Errc::NotFound, "enabling {}: unit file {} does not exist in {}, {} or {}",
                      unit, unit, kUnitDirs[0], kUnitDirs[1], kUnitDirs[2]);

  const InstallSection install = parse_install_section(text);
  const std::string etc = kUnitDirs[0];
  std::vector<std::string> links;
  for (const auto& t : install.wanted_by) {
    AGENT_TRY_STATUS(check_unit_name(t, "WantedBy=", unit));
    links.push_back(etc + "/" + t + ".wants/" + unit);
  }
  for (const auto& t : install.required_by) {
    AGENT_TRY_STATUS(check_unit_name(t, "RequiredBy=", unit));
    links.push_back(etc + "/" + t + ".requires/" + unit);
  }
  for (const auto& a : install.alias) {
    AGENT_TRY_STATUS(check_unit_name(a, "Alias=", unit));
    if (suffix_of(a) != suffix_of(unit))
      return make_error(Errc::Parse, "{}: Alias= '{}' must have the unit's type suffix", unit, a);
    if (a != unit) links.push_back(etc + "/" + a);
  }
  for (const auto& link : links) {
    auto r = fs_.symlink(*file_path, link);
    if (!r) return r.error().wrap("enabling {}", unit);
  }
  for (const auto& also : install.also) AGENT_TRY_STATUS(enable_one(also, seen));
  return {};
}

Result<std::string> OfflineServiceManager::run_job(const std::string& unit, const std::string&,
                                                   Deadline) {
  return make_error(Errc::Unsupported,
                    "unit {} cannot be started in an offline root; boot the image to start it", unit);
}

Result<UnitState> OfflineServiceManager::state(const std::string& unit) {
  UnitState st{"not-found", "inactive", "dead", "", 0};
  if (unit.find('/') == std::string::npos && !unit.empty()) {
    for (const char* dir : kUnitDirs) {
      if (fs_.exists(std::string(dir) + "/" + unit)) {
        st.load_state = "loaded";
        break;
      }
    }
  }
  return st;
}

std::vector<std::string> OfflineServiceManager::recent_logs(const std::string&, int) { return {}; }

}  // namespace agent::platform
