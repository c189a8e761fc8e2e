#include "agent/platform/posix_mounter.h"

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

namespace agent::platform {
namespace {

struct FlagName {
  std::string_view name;
  unsigned long flag;
};
constexpr FlagName kFlags[] = {
    {"ro", MS_RDONLY},       {"nosuid", MS_NOSUID},   {"nodev", MS_NODEV},
    {"noexec", MS_NOEXEC},   {"relatime", MS_RELATIME}, {"noatime", MS_NOATIME},
    {"nodiratime", MS_NODIRATIME}, {"sync", MS_SYNCHRONOUS},
};

// (flags, data) from a mount(8)-style option list.
std::pair<unsigned long, std::string> split_options(std::string_view options) {
  unsigned long flags = 0;
  std::string data;
  while (!options.empty()) {
    const size_t comma = options.find(',');
    const std::string_view opt = options.substr(0, comma);
    options = comma == std::string_view::npos ? std::string_view() : options.substr(comma + 1);
    if (opt.empty() || opt == "rw" || opt == "defaults") continue;
    bool known = false;
    for (const auto& f : kFlags) {
      if (opt == f.name) {
        flags |= f.flag;
        known = true;
      }
    }
    if (known) continue;
    if (!data.empty()) data += ',';
    data += opt;
  }
  return {flags, data};
}

}  // namespace

Status PosixMounter::mount(const MountSpec& spec) {
  auto [flags, data] = split_options(spec.options);
  if (::mount(spec.what.c_str(), spec.where.c_str(), spec.type.c_str(), flags,
              data.empty() ? nullptr : data.c_str()) == 0) {
    return {};
  }
  const int err = errno;
  Errc code = Errc::Io;
  std::string why = std::strerror(err);
  switch (err) {
    case ENOENT:
      code = Errc::NotFound;
      why = "the mount point does not exist";
      break;
    case EPERM:
    case EACCES: code = Errc::Denied; break;
    case EINVAL:
    case ENODEV: code = Errc::Invalid; break;
    default: break;
  }
  return make_error(code, "mount -t {} {} {} -o {}: {}", spec.type, spec.what, spec.where,
                    spec.options.empty() ? "defaults" : spec.options, why);
}

}  // namespace agent::platform
