#include "agent/compute/al2023_layout.h"

namespace agent::compute {

Status add_al2023_layout(const NodeSettings&, const Facts&, Plan&) {
  return make_error(Errc::Unsupported, "the AL2023 layout is not built yet; use --platform al2");
}

}  // namespace agent::compute
