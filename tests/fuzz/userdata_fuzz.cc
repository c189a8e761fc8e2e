// libFuzzer target: arbitrary bytes as EC2 user data, through everything the agent does with
// them (base64/gzip detection and inflation, MIME multipart, YAML/JSON, NodeConfig fields,
// merging). Any crash, sanitizer report, leak, or time/memory blow-up is a bug; errors are fine.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/userdata/decode.h"
#include "agent/userdata/merge.h"
#include "agent/userdata/mime.h"
#include "agent/userdata/user_data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace agent::userdata;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Limits limits;
  limits.max_decompressed = 1 << 20;  // keep runs fast; the bound itself is what is tested
  // The layers alone, then MIME alone on the raw bytes (the fuzzer reaches MIME edge cases
  // faster without a decode step in front), then the whole pipeline.
  if (auto u = unwrap(bytes, limits)) (void)u->layers.size();
  if (auto m = parse_multipart(bytes, limits); m && m->has_value()) {
    for (const auto& part : (*m)->parts) (void)is_gzip(part.body);
  }
  auto source = parse_source(bytes, "imds://user-data", limits);
  if (source) {
    if (auto merged = merge_all(source->docs)) (void)to_document(merged->spec).dump();
  }
  return 0;
}
