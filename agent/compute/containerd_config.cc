#include "agent/compute/containerd_config.h"

#include <fmt/format.h>

#include <toml++/toml.h>

#include "agent/model/embedded.h"

namespace agent::compute {

Result<std::string> containerd_config_for(std::string_view sandbox_image,
                                          const std::optional<std::string>& user_config,
                                          std::string_view user_source) {
  for (char c : sandbox_image) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return make_error(Errc::Invalid, "pause image '{}' contains a character not allowed in an image name",
                        sandbox_image);
    }
  }
  std::string out;
  std::string source;
  if (user_config) {
    source = std::string(user_source);
    out = *user_config;
    constexpr std::string_view kPlaceholder = "SANDBOX_IMAGE";
    for (size_t pos = out.find(kPlaceholder); pos != std::string::npos;
         pos = out.find(kPlaceholder, pos + sandbox_image.size())) {
      out.replace(pos, kPlaceholder.size(), sandbox_image);
    }
  } else {
    source = "built-in containerd config";
    out = fmt::format(fmt::runtime(embedded::file("config/containerd-config.toml")),
                      fmt::arg("sandbox_image", sandbox_image));
  }
  // Debian's toml++ is built with exceptions, so parse errors arrive as toml::parse_error; they
  // are translated here, at the edge, into the project's error model.
  try {
    (void)toml::parse(out, source);
  } catch (const toml::parse_error& err) {
    return make_error(Errc::Parse, "{}: line {}, column {}: {}; fix the TOML", source,
                      err.source().begin.line, err.source().begin.column, err.description());
  }
  return out;
}

}  // namespace agent::compute
