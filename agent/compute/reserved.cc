#include "agent/compute/reserved.h"

#include <algorithm>

namespace agent::compute {

int cpu_reserved_millicores(int vcpus) {
  // GKE's published scheme, as bootstrap.sh implements it: each range of millicores contributes
  // its share in hundredths of a percent, truncated per range (bash integer arithmetic), so
  // 5 vCPUs give 82 and not 82.5.
  struct Range {
    long start, end, hundredths_of_percent;
  };
  const long total = static_cast<long>(std::max(vcpus, 0)) * 1000;
  const Range ranges[] = {{0, 1000, 600}, {1000, 2000, 100}, {2000, 4000, 50}, {4000, total, 25}};
  long reserved = 0;
  for (const auto& r : ranges) {
    // Strictly greater: a range that starts exactly at the total contributes nothing.
    if (total > r.start) {
      reserved += (std::min(total, r.end) - r.start) * r.hundredths_of_percent / 100 / 100;
    }
  }
  return static_cast<int>(reserved);
}

int memory_reserved_mebibytes(int max_pods) { return 11 * max_pods + 255; }

}  // namespace agent::compute
