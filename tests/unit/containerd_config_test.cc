#include "agent/compute/containerd_config.h"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

using agent::Errc;
using agent::compute::containerd_config_for;

namespace {

constexpr const char* kPause = "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/pause:3.5";

// bootstrap-sh.md 8.5 with the sandbox image in place.
std::string golden(const std::string& image) {
  return "version = 2\n"
         "root = \"/var/lib/containerd\"\n"
         "state = \"/run/containerd\"\n"
         "imports = [\"/etc/containerd/config.d/*.toml\"]\n"
         "\n"
         "[grpc]\n"
         "address = \"/run/containerd/containerd.sock\"\n"
         "\n"
         "[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
         "default_runtime_name = \"runc\"\n"
         "discard_unpacked_layers = true\n"
         "\n"
         "[plugins.\"io.containerd.grpc.v1.cri\"]\n"
         "sandbox_image = \"" + image + "\"\n"
         "\n"
         "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n"
         "config_path = \"/etc/containerd/certs.d:/etc/docker/certs.d\"\n"
         "\n"
         "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
         "runtime_type = \"io.containerd.runc.v2\"\n"
         "\n"
         "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
         "SystemdCgroup = true\n"
         "\n"
         "[plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
         "bin_dir = \"/opt/cni/bin\"\n"
         "conf_dir = \"/etc/cni/net.d\"\n";
}

std::string render(std::string_view image, const std::optional<std::string>& user = std::nullopt,
                   std::string_view source = "") {
  auto r = containerd_config_for(image, user, source);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
  return *r;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("the built-in containerd config is the AL2 config with the sandbox image filled in") {
  for (const std::string image : {kPause, "918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn/eks/pause:3.10",
                            "registry.example.com:5000/team/pause@sha256:0123abcd"}) {
    CAPTURE(image);
    const std::string out = render(image);
    CHECK(out == golden(image));
    CHECK(contains(out, std::string("\nsandbox_image = \"") + image + "\"\n"));
  }
}

TEST_CASE("a user config gets every SANDBOX_IMAGE placeholder replaced") {
  const std::string user =
      "version = 2\n"
      "[plugins.\"io.containerd.grpc.v1.cri\"]\n"
      "sandbox_image = \"SANDBOX_IMAGE\"\n"
      "# pulled by sandbox-image.service: SANDBOX_IMAGE\n";
  const std::string out = render(kPause, user, "/etc/eks/my.toml");
  CHECK(out == "version = 2\n"
               "[plugins.\"io.containerd.grpc.v1.cri\"]\n"
               "sandbox_image = \"" + std::string(kPause) + "\"\n"
               "# pulled by sandbox-image.service: " + kPause + "\n");
  SUBCASE("a config without the placeholder is used as given") {
    const std::string plain = "version = 2\n[grpc]\naddress = \"/run/containerd/containerd.sock\"\n";
    CHECK(render(kPause, plain, "/etc/eks/my.toml") == plain);
  }
  SUBCASE("an image whose name contains the placeholder does not loop") {
    CHECK(render("r/SANDBOX_IMAGE:1", std::string("a = \"SANDBOX_IMAGE\"\n"), "/x.toml") ==
          "a = \"r/SANDBOX_IMAGE:1\"\n");
  }
  SUBCASE("placeholders next to each other are both replaced") {
    CHECK(render("p", std::string("a = \"SANDBOX_IMAGESANDBOX_IMAGE\"\n"), "/x.toml") == "a = \"pp\"\n");
  }
}

TEST_CASE("malformed TOML is a parse error naming the source and line") {
  struct Row {
    std::string what;
    std::string text;
    std::string line;
  };
  const std::vector<Row> rows = {
      {"unterminated string", "version = 2\nroot = \"/var/lib/containerd\n", "line 2"},
      {"bad table header", "version = 2\n\n[plugins\nx = 1\n", "line 3"},
      {"duplicate key", "version = 2\nversion = 3\n", "line 2"},
      {"bare word value", "a = 1\nb = 2\nc = nope\n", "line 3"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    auto r = containerd_config_for(kPause, row.text, "/etc/eks/custom-containerd.toml");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Parse);
    CHECK_MESSAGE(contains(r.error().message, "/etc/eks/custom-containerd.toml"), r.error().message);
    CHECK_MESSAGE(contains(r.error().message, row.line), r.error().message);
    CHECK(contains(r.error().message, "column"));
  }
}

TEST_CASE("a sandbox image that cannot be a TOML basic string is invalid") {
  for (const std::string image : {"bad\"image", "bad\\image", "bad\nimage", "bad\timage"}) {
    CAPTURE(image);
    auto r = containerd_config_for(image, std::nullopt, "");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Invalid);
    auto user = containerd_config_for(image, std::string("a = 1\n"), "/x.toml");
    REQUIRE_FALSE(user.has_value());
    CHECK(user.error().code == Errc::Invalid);
  }
}
