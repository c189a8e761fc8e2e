// PosixCommandRunner with real processes (/bin/sh): stdout captured, a failure's stderr tail in the
// message, a missing program, the timeout killing the command, output past 1 MiB read and dropped.
#include "agent/platform/posix_command_runner.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using agent::Errc;
using agent::platform::PosixCommandRunner;
using namespace std::chrono_literals;

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("a command's stdout is the result; its stderr is not") {
  PosixCommandRunner r;
  auto out = r.run({"sh", "-c", "echo Kubernetes v1.35.0-eks-1; echo noise >&2"});
  REQUIRE_MESSAGE(out, (out ? "" : out.error().message));
  CHECK(*out == "Kubernetes v1.35.0-eks-1\n");
}

TEST_CASE("a failing command: its status and the end of its stderr, on one line") {
  PosixCommandRunner r;
  auto out = r.run({"sh", "-c", "echo first >&2; echo 'mkfs: no such device' >&2; exit 3"});
  REQUIRE_FALSE(out);
  CHECK(out.error().code == Errc::Invalid);
  CHECK(out.error().message == "sh failed (status 3): first mkfs: no such device");
  auto killed = r.run({"sh", "-c", "kill -9 $$"});
  REQUIRE_FALSE(killed);
  CHECK(contains(killed.error().message, "status 137"));  // 128 + SIGKILL
  auto quiet = r.run({"false"});
  REQUIRE_FALSE(quiet);
  CHECK(quiet.error().message == "false failed (status 1)");
}

TEST_CASE("a program that is not on PATH is NotFound") {
  PosixCommandRunner r;
  auto out = r.run({"eks-node-agent-no-such-program"});
  REQUIRE_FALSE(out);
  CHECK(out.error().code == Errc::NotFound);
  CHECK(contains(out.error().message, "eks-node-agent-no-such-program"));
  CHECK(r.run({}).error().code == Errc::Internal);
}

TEST_CASE("a command past its timeout is killed and reported") {
  PosixCommandRunner r(200ms);
  const auto start = std::chrono::steady_clock::now();
  auto out = r.run({"sleep", "30"});
  REQUIRE_FALSE(out);
  CHECK(out.error().code == Errc::Timeout);
  CHECK(out.error().message == "sleep did not finish in 200 ms");
  CHECK(std::chrono::steady_clock::now() - start < 10s);  // killed, not waited for
}

TEST_CASE("output beyond 1 MiB is read and dropped: the command neither blocks nor dies of SIGPIPE") {
  PosixCommandRunner r(20s);
  // 4 MiB on stdout and on stderr; a full pipe would block it, a closed one would kill it.
  auto out = r.run({"sh", "-c", "head -c 4194304 /dev/zero; head -c 4194304 /dev/zero >&2; echo done >&2"});
  REQUIRE_MESSAGE(out, (out ? "" : out.error().message));
  CHECK(out->size() >= (1u << 20));
  CHECK(out->size() < (1u << 20) + 8192);
}
