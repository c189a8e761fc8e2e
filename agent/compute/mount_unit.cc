#include "agent/compute/mount_unit.h"
#include "agent/model/text.h"

namespace agent::compute {
namespace {

}  // namespace

Result<MountSpec> mount_spec_from_unit(std::string_view text) {
  MountSpec spec;
  bool in_mount = false;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      in_mount = line == "[Mount]";
      continue;
    }
    if (!in_mount) continue;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = trim(line.substr(0, eq));
    const std::string value(trim(line.substr(eq + 1)));
    if (key == "What") spec.what = value;
    else if (key == "Where") spec.where = value;
    else if (key == "Type") spec.type = value;
    else if (key == "Options") spec.options = value;
  }
  if (spec.what.empty() || spec.where.empty()) {
    return make_error(Errc::Invalid, "the mount unit has no What= or Where= in its [Mount] section");
  }
  if (spec.where.front() != '/') {
    return make_error(Errc::Invalid, "the mount unit's Where={} is not an absolute path", spec.where);
  }
  return spec;
}

}  // namespace agent::compute
