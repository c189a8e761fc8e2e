#include "agent/compute/containerd_config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <sstream>

#include "agent/model/embedded.h"

namespace agent::compute {
namespace {

constexpr std::string_view kNvidia = "nvidia";
constexpr std::string_view kRunc = "runc";
constexpr std::string_view kRuncShim = "io.containerd.runc.v2";

// A value that is spliced into a TOML basic string must not be able to end it.
Status check_basic_string(std::string_view what, std::string_view value, std::string_view kind) {
  for (char c : value) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return make_error(Errc::Invalid, "{} '{}' contains a character not allowed in {}", what,
                        value, kind);
    }
  }
  return {};
}

// The CRI plugin that owns the `containerd` runtime table, for a config `version`.
std::string_view cri_runtime_plugin(int version) {
  if (version >= 3) return "io.containerd.cri.v1.runtime";
  if (version == 2) return "io.containerd.grpc.v1.cri";
  return "cri";
}

// The runtime table header prefix as each built-in template spells it.
std::string_view template_runtime_table(ContainerdSchema schema) {
  return schema == ContainerdSchema::V3 ? "plugins.'io.containerd.cri.v1.runtime'.containerd"
                                        : "plugins.\"io.containerd.grpc.v1.cri\".containerd";
}

// The tables that declare the nvidia runtime, in the templates' style; inserted after runc's.
std::string nvidia_runtime_tables(ContainerdSchema schema, std::string_view binary) {
  return fmt::format(
      "\n[{0}.runtimes.nvidia]\n"
      "runtime_type = \"{1}\"\n"
      "\n[{0}.runtimes.nvidia.options]\n"
      "BinaryName = \"{2}\"\n"
      "SystemdCgroup = true\n",
      template_runtime_table(schema), kRuncShim, binary);
}

Result<toml::table> parse_toml(const std::string& text, const std::string& source) {
  // Debian's toml++ is built with exceptions, so parse errors arrive as toml::parse_error; they
  // are translated here, at the edge, into the project's error model.
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& err) {
    return make_error(Errc::Parse, "{}: line {}, column {}: {}; fix the TOML", source,
                      err.source().begin.line, err.source().begin.column, err.description());
  }
}

int version_of(const toml::table& doc) {
  return static_cast<int>(doc["version"].value<int64_t>().value_or(1));
}

toml::node_view<const toml::node> containerd_table(const toml::table& doc, int version) {
  return doc["plugins"][cri_runtime_plugin(version)]["containerd"];
}

std::string default_runtime_of(const toml::table& doc, int version) {
  return containerd_table(doc, version)["default_runtime_name"].value<std::string>().value_or(
      std::string(kRunc));
}

bool has_nvidia_default(const toml::table& doc, int version, std::string_view binary) {
  auto ctr = containerd_table(doc, version);
  auto rt = ctr["runtimes"][kNvidia];
  return ctr["default_runtime_name"].value<std::string>() == std::string(kNvidia) &&
         rt["runtime_type"].value<std::string>() == std::string(kRuncShim) &&
         rt["options"]["BinaryName"].value<std::string>() == std::string(binary);
}

// The sub-table `key` of `parent`, created when absent; nullptr when `key` holds a non-table.
toml::table* sub_table(toml::table& parent, std::string_view key) {
  auto [it, inserted] = parent.emplace<toml::table>(key);
  (void)inserted;
  return it->second.as_table();
}

// Makes an nvidia runtime the default in a parsed user config of version 2 or 3, keeping every
// other key of the user's runtime tables.
Status add_nvidia_default(toml::table& doc, int version, std::string_view binary,
                          const std::string& source) {
  toml::table* t = &doc;
  for (std::string_view key :
       {std::string_view("plugins"), cri_runtime_plugin(version), std::string_view("containerd")}) {
    t = sub_table(*t, key);
    if (t == nullptr) {
      return make_error(Errc::Invalid,
                        "{}: '{}' is not a table, so the nvidia runtime cannot be added", source,
                        key);
    }
  }
  toml::table* ctr = t;
  toml::table* runtimes = sub_table(*ctr, "runtimes");
  toml::table* nvidia = runtimes ? sub_table(*runtimes, kNvidia) : nullptr;
  toml::table* options = nvidia ? sub_table(*nvidia, "options") : nullptr;
  if (options == nullptr) {
    return make_error(
        Errc::Invalid,
        "{}: the containerd runtimes entry is not a table, so the nvidia runtime cannot be "
        "added",
        source);
  }
  ctr->insert_or_assign("default_runtime_name", std::string(kNvidia));
  nvidia->insert_or_assign("runtime_type", std::string(kRuncShim));
  options->insert_or_assign("BinaryName", std::string(binary));
  options->insert_or_assign("SystemdCgroup", true);
  return {};
}

std::string serialize(const toml::table& doc) {
  std::ostringstream out;
  out << toml::toml_formatter(
      doc, toml::toml_formatter::default_flags & ~toml::format_flags::indentation);
  return out.str() + "\n";
}

}  // namespace

Result<ContainerdConfig> containerd_config_for(const ContainerdConfigInput& in) {
  AGENT_TRY_STATUS(check_basic_string("pause image", in.sandbox_image, "an image name"));
  const std::optional<std::string>& nvidia = in.nvidia_runtime_binary;
  if (nvidia) AGENT_TRY_STATUS(check_basic_string("nvidia runtime path", *nvidia, "a path"));

  std::string text;
  std::string source;
  if (in.user_config) {
    source = std::string(in.user_source);
    text = *in.user_config;
    constexpr std::string_view kPlaceholder = "SANDBOX_IMAGE";
    for (size_t pos = text.find(kPlaceholder); pos != std::string::npos;
         pos = text.find(kPlaceholder, pos + in.sandbox_image.size())) {
      text.replace(pos, kPlaceholder.size(), in.sandbox_image);
    }
  } else {
    source = "built-in containerd config";
    const std::string_view tmpl = in.schema == ContainerdSchema::V3
                                      ? embedded::file("config/containerd-config-v3.toml")
                                      : embedded::file("config/containerd-config.toml");
    text = fmt::format(
        fmt::runtime(tmpl), fmt::arg("sandbox_image", in.sandbox_image),
        fmt::arg("default_runtime_name", nvidia ? kNvidia : kRunc),
        fmt::arg("extra_runtimes", nvidia ? nvidia_runtime_tables(in.schema, *nvidia) : ""));
  }
  AGENT_TRY(toml::table doc, parse_toml(text, source));

  ContainerdConfig out;
  out.version = version_of(doc);
  if (in.user_config && nvidia && (out.version == 2 || out.version == 3) &&
      !has_nvidia_default(doc, out.version, *nvidia)) {
    AGENT_TRY_STATUS(add_nvidia_default(doc, out.version, *nvidia, source));
    text = serialize(doc);
    out.user_rewritten = true;
  }
  out.toml = std::move(text);
  out.default_runtime = default_runtime_of(doc, out.version);
  out.nvidia_default = nvidia && has_nvidia_default(doc, out.version, *nvidia);
  return out;
}

Result<std::string> containerd_config_for(std::string_view sandbox_image,
                                          const std::optional<std::string>& user_config,
                                          std::string_view user_source) {
  AGENT_TRY(ContainerdConfig config, containerd_config_for(ContainerdConfigInput{
                                         .sandbox_image = sandbox_image,
                                         .user_config = user_config,
                                         .user_source = user_source,
                                     }));
  return std::move(config.toml);
}

}  // namespace agent::compute
