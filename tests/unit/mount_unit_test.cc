#include "agent/compute/mount_unit.h"

#include <doctest/doctest.h>

#include "agent/model/embedded.h"

using agent::Errc;
using agent::MountSpec;
using agent::compute::mount_spec_from_unit;

TEST_CASE("the shipped sys-fs-bpf.mount reads as a bpffs mount at /sys/fs/bpf") {
  auto spec = mount_spec_from_unit(agent::embedded::file("config/sys-fs-bpf.mount"));
  REQUIRE(spec.has_value());
  CHECK(*spec == MountSpec{"bpffs", "/sys/fs/bpf", "bpf", "rw,nosuid,nodev,noexec,relatime,mode=700"});
}

TEST_CASE("only the [Mount] section counts, and the last assignment wins") {
  auto spec = mount_spec_from_unit(
      "[Unit]\nWhat=not-this\n# What=comment\n[Mount]\nWhat = none\nWhere=/mnt/x\nWhat=tmpfs\r\n"
      "Type=tmpfs\n[Install]\nWhere=/elsewhere\n");
  REQUIRE(spec.has_value());
  CHECK(*spec == MountSpec{"tmpfs", "/mnt/x", "tmpfs", ""});
}

TEST_CASE("a mount unit without What= or with a relative Where= is invalid") {
  CHECK(mount_spec_from_unit("[Mount]\nWhere=/x\n").error().code == Errc::Invalid);
  CHECK(mount_spec_from_unit("[Mount]\nWhat=a\nWhere=rel/x\n").error().code == Errc::Invalid);
  CHECK(mount_spec_from_unit("").error().code == Errc::Invalid);
}
