#include "agent/compute/build_vars.h"

#include <algorithm>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace agent::compute {
namespace {

// Levenshtein distance, for "did you mean".
size_t distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string known_names(const std::vector<BuildVariable>& vars) {
  std::string out;
  for (const auto& v : vars) out += (out.empty() ? "" : ", ") + v.name;
  return out;
}

Error unknown_variable(const std::string& name, const std::string& origin,
                       const std::vector<BuildVariable>& vars) {
  std::string best;
  size_t best_d = 4;  // suggest only close names
  for (const auto& v : vars) {
    size_t d = distance(name, v.name);
    if (d < best_d) best_d = d, best = v.name;
  }
  return Error{Errc::Invalid,
               fmt::format("unknown build variable '{}' ({}){}; known variables: {}", name, origin,
                           best.empty() ? "" : fmt::format(": did you mean '{}'?", best), known_names(vars))};
}

size_t line_of(std::string_view text, size_t byte) {
  return static_cast<size_t>(std::count(text.begin(), text.begin() + std::min(byte, text.size()), '\n')) + 1;
}

// A JSON object of scalars -> (name, value) pairs in file order. Errors name the file.
Result<std::vector<std::pair<std::string, std::string>>> read_object(std::string_view text,
                                                                     const std::string& origin) {
  nlohmann::ordered_json doc;
  try {
    doc = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return make_error(Errc::Invalid, "variables file {}: line {}: not valid JSON ({}); expected an object "
                      "such as {{\"kubernetes_version\": \"1.30.4\"}}",
                      origin, line_of(text, e.byte > 0 ? e.byte - 1 : 0), e.what());
  }
  if (!doc.is_object()) {
    return make_error(Errc::Invalid, "variables file {}: expected a JSON object of name: value, got {}", origin,
                      doc.type_name());
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : doc.items()) {
    if (name == "_comment") continue;
    if (value.is_string()) {
      out.emplace_back(name, value.get<std::string>());
    } else if (value.is_boolean() || value.is_number()) {
      out.emplace_back(name, value.dump());
    } else {
      return make_error(Errc::Invalid, "variables file {}: '{}' must be a string, number or boolean, not {}",
                        origin, name, value.type_name());
    }
  }
  return out;
}

bool matches(const std::string& value, const char* pattern) {
  return std::regex_match(value, std::regex(pattern));
}

Error invalid(const BuildVariable& v, std::string_view expected) {
  return Error{Errc::Invalid,
               fmt::format("build variable {}='{}' ({}): {}", v.name, v.value, v.origin, expected)};
}

Result<bool> boolean(const BuildVariable& v) {
  if (v.value == "true") return true;
  if (v.value == "false") return false;
  return invalid(v, "expected true or false");
}

}  // namespace

const BuildVariable* BuildVars::find(std::string_view name) const {
  for (const auto& v : all) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

std::string default_kernel_for(const Version& kubernetes) {
  return kubernetes < Version{1, 24, 0} ? "5.4" : "5.10";
}

Result<BuildVars> resolve_build_vars(std::string_view defaults_json, const std::vector<VarFile>& files,
                                     const std::vector<std::string>& assignments,
                                     std::string_view host_machine) {
  BuildVars out;
  AGENT_TRY(auto defaults, read_object(defaults_json, "built-in defaults"));
  for (auto& [name, value] : defaults) out.all.push_back({name, value, "defaults"});

  auto set = [&](const std::string& name, const std::string& value, const std::string& origin) -> Status {
    for (auto& v : out.all) {
      if (v.name == name) {
        v.value = value;
        v.origin = origin;
        return {};
      }
    }
    return unknown_variable(name, origin, out.all);
  };
  for (const auto& file : files) {
    AGENT_TRY(auto pairs, read_object(file.content, file.name));
    for (auto& [name, value] : pairs) AGENT_TRY_STATUS(set(name, value, file.name));
  }
  for (const auto& a : assignments) {
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      return make_error(Errc::Usage, "build-mode: '{}' is not a variable assignment; write name=value, "
                        "e.g. kubernetes_version=1.30.4", a);
    }
    AGENT_TRY_STATUS(set(a.substr(0, eq), a.substr(eq + 1), "command line"));
  }

  auto get = [&](const char* name) -> const BuildVariable& { return *out.find(name); };
  for (const char* required : {"kubernetes_version", "kubernetes_build_date"}) {
    if (!out.find(required)) {
      return make_error(Errc::Internal, "the built-in defaults lack the variable {}", required);
    }
  }

  // kubernetes_version / kubernetes_build_date: the bucket's <version>/<date>/ prefixes.
  const BuildVariable& kv = get("kubernetes_version");
  if (kv.value.empty()) {
    return make_error(Errc::Invalid, "build variable kubernetes_version is not set: pass "
                      "kubernetes_version=1.30.4 (the bucket's <version>/ prefix) or put it in a --var-file");
  }
  if (!matches(kv.value, R"(\d{1,3}\.\d{1,3}\.\d{1,3})")) {
    return invalid(kv, "expected MAJOR.MINOR.PATCH as in the bucket layout, e.g. 1.30.4");
  }
  out.kubernetes_version_text = kv.value;
  out.kubernetes_version = *parse_version(kv.value);
  const BuildVariable& date = get("kubernetes_build_date");
  if (date.value.empty()) {
    return make_error(Errc::Invalid, "build variable kubernetes_build_date is not set: pass "
                      "kubernetes_build_date=2024-07-10 (the bucket's <version>/<date>/ prefix)");
  }
  if (!matches(date.value, R"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]))")) {
    return invalid(date, "expected a date YYYY-MM-DD as in the bucket layout, e.g. 2024-07-10");
  }
  out.kubernetes_build_date = date.value;

  // arch: either naming; empty = the build host's.
  if (const BuildVariable* arch = out.find("arch")) {
    std::string a = arch->value.empty() ? std::string(host_machine) : arch->value;
    if (a == "x86_64" || a == "amd64") {
      out.arch = "amd64", out.machine = "x86_64";
    } else if (a == "aarch64" || a == "arm64") {
      out.arch = "arm64", out.machine = "aarch64";
    } else if (arch->value.empty()) {
      return make_error(Errc::Invalid, "build variable arch is not set and the build host's architecture '{}' "
                        "is not one EKS ships binaries for; pass arch=x86_64 or arch=aarch64", a);
    } else {
      return invalid(*arch, "expected x86_64 (amd64) or aarch64 (arm64)");
    }
  }

  const BuildVariable& bucket = get("binary_bucket_name");
  // S3 bucket naming rules: 3-63 of [a-z0-9.-], starting and ending with a letter or digit.
  if (!matches(bucket.value, R"([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])") || bucket.value.find("..") != std::string::npos) {
    return invalid(bucket, "expected an S3 bucket name (3-63 characters: lower-case letters, digits, '.' and '-')");
  }
  out.binary_bucket_name = bucket.value;
  const BuildVariable& region = get("binary_bucket_region");
  if (!matches(region.value, R"([a-z]{2}(-[a-z]+)+-\d{1,2})")) {
    return invalid(region, "expected an AWS region such as us-west-2");
  }
  out.binary_bucket_region = region.value;

  const BuildVariable& pause = get("pause_container_version");
  if (!matches(pause.value, R"([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})")) {
    return invalid(pause, "expected an image tag such as 3.10");
  }
  out.pause_container_version = pause.value;

  const BuildVariable& kernel = get("kernel_version");
  if (kernel.value.empty()) {
    out.kernel_version = default_kernel_for(out.kubernetes_version);
    out.kernel_version_derived = true;
  } else if (!matches(kernel.value, R"(\d{1,2}\.\d{1,3})")) {
    return invalid(kernel, "expected a kernel series MAJOR.MINOR such as 5.10 (Amazon Linux 2: 4.14, 5.4, 5.10)");
  } else {
    out.kernel_version = kernel.value;
  }

  // Package versions may be globs ("1.7.*"); nothing that a package manager or a shell could read
  // as an option or a second word.
  for (const char* name : {"containerd_version", "runc_version"}) {
    const BuildVariable& v = get(name);
    if (!matches(v.value, R"([0-9][0-9A-Za-z.*+~:_-]{0,63})")) {
      return invalid(v, "expected a package version or glob such as 1.7.* (digits, letters, . * + ~ : _ -)");
    }
  }
  out.containerd_version = get("containerd_version").value;
  out.runc_version = get("runc_version").value;

  AGENT_TRY(out.cache_container_images, boolean(get("cache_container_images")));
  AGENT_TRY(out.install_packages, boolean(get("install_packages")));
  AGENT_TRY(out.refresh_instance_types, boolean(get("refresh_instance_types")));
  return out;
}

}  // namespace agent::compute
