#include "agent/compute/kubelet_args.h"

#include <charconv>

#include <fmt/format.h>

namespace agent::compute {

std::vector<std::string> split_args(std::string_view args) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < args.size()) {
    while (i < args.size() && std::isspace(static_cast<unsigned char>(args[i]))) ++i;
    size_t start = i;
    while (i < args.size() && !std::isspace(static_cast<unsigned char>(args[i]))) ++i;
    if (i > start) out.emplace_back(args.substr(start, i - start));
  }
  return out;
}

namespace {
// Matches "--name=value" or "--name" followed by a separate value token.
std::optional<std::string> flag_value(const std::vector<std::string>& tokens, size_t& i,
                                      std::string_view name) {
  const std::string& t = tokens[i];
  if (t.size() > name.size() && t.compare(0, name.size(), name) == 0 && t[name.size()] == '=') {
    return t.substr(name.size() + 1);
  }
  if (t == name && i + 1 < tokens.size()) return tokens[++i];
  return std::nullopt;
}

bool is_flag(const std::string& t, std::string_view name) {
  return t == name || (t.size() > name.size() && t.compare(0, name.size(), name) == 0 &&
                       t[name.size()] == '=');
}
}  // namespace

Result<ExtraArgsInfo> inspect_extra_args(std::string_view args) {
  ExtraArgsInfo info;
  std::vector<std::string> tokens = split_args(args);
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (is_flag(t, "--reserved-cpus")) info.reserved_cpus = true;
    if (is_flag(t, "--kube-reserved")) info.kube_reserved = true;
    if (is_flag(t, "--hostname-override")) info.hostname_override = true;
    if (auto v = flag_value(tokens, i, "--max-pods")) {
      int n = 0;
      auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
      if (ec != std::errc() || p != v->data() + v->size() || n <= 0) {
        return make_error(Errc::Invalid,
                          "--kubelet-extra-args: --max-pods must be a positive whole number, got '{}'",
                          *v);
      }
      info.max_pods = n;
    }
  }
  return info;
}

Result<std::string> environment_dropin(std::string_view key, std::string_view value) {
  std::string quoted;
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return make_error(Errc::Invalid,
                        "value for {} contains a control character (newline?); kubelet arguments "
                        "must be on one line",
                        key);
    }
    if (c == '\\' || c == '\'') quoted += '\\';
    if (c == '%') quoted += '%';
    quoted += c;
  }
  return fmt::format("[Service]\nEnvironment='{}={}'\n", key, quoted);
}

}  // namespace agent::compute
