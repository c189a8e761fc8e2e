#include "agent/compute/reserved.h"

#include <doctest/doctest.h>

using agent::compute::cpu_reserved_millicores;
using agent::compute::memory_reserved_mebibytes;

TEST_CASE("reserved CPU matches bootstrap.sh's listed values") {
  CHECK(cpu_reserved_millicores(1) == 60);
  CHECK(cpu_reserved_millicores(2) == 70);
  CHECK(cpu_reserved_millicores(3) == 75);
  CHECK(cpu_reserved_millicores(4) == 80);
  CHECK(cpu_reserved_millicores(5) == 82);
  CHECK(cpu_reserved_millicores(8) == 90);
  CHECK(cpu_reserved_millicores(16) == 110);
  CHECK(cpu_reserved_millicores(32) == 150);
  CHECK(cpu_reserved_millicores(64) == 230);
  CHECK(cpu_reserved_millicores(96) == 310);
  CHECK(cpu_reserved_millicores(128) == 390);
}

TEST_CASE("reserved CPU from 4 vCPUs on is 80 + floor((n - 4) * 2.5) for every n up to 128") {
  for (int n = 4; n <= 128; ++n) {
    CAPTURE(n);
    // Computed independently in integer arithmetic: (n - 4) * 2.5 == (n - 4) * 5 / 2.
    CHECK(cpu_reserved_millicores(n) == 80 + (n - 4) * 5 / 2);
  }
}

TEST_CASE("reserved CPU grows monotonically from 1 to 128 vCPUs") {
  for (int n = 2; n <= 128; ++n) {
    CAPTURE(n);
    CHECK(cpu_reserved_millicores(n) >= cpu_reserved_millicores(n - 1));
  }
}

TEST_CASE("a node without CPUs reserves none") { CHECK(cpu_reserved_millicores(0) == 0); }

TEST_CASE("reserved memory is 11 MiB per pod plus 255 MiB") {
  CHECK(memory_reserved_mebibytes(29) == 574);
  CHECK(memory_reserved_mebibytes(58) == 893);
  CHECK(memory_reserved_mebibytes(110) == 1465);
  CHECK(memory_reserved_mebibytes(737) == 8362);
}
