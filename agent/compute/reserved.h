// kubeReserved and evictionHard (bootstrap-sh.md section 3.3). Pure.
#pragma once

namespace agent::compute {

// CPU to reserve, in millicores, for a node with `vcpus` logical CPUs: 6% of the first core, 1% of
// the second, 0.5% of cores 3-4 and 0.25% of the rest, integer-truncated per range
// (1 -> 60, 2 -> 70, 4 -> 80, 16 -> 110, 128 -> 390).
int cpu_reserved_millicores(int vcpus);

// Memory to reserve, in MiB: 11 * max_pods + 255 (29 -> 574, 58 -> 893, 110 -> 1465).
int memory_reserved_mebibytes(int max_pods);

}  // namespace agent::compute
