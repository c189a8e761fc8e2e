// libFuzzer target: arbitrary bytes as one YAML/JSON document stream (a drop-in file), through the
// document parser, the NodeConfig reader and the merge of everything that reads.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/userdata/documents.h"
#include "agent/userdata/merge.h"
#include "agent/userdata/node_config_doc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace agent::userdata;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto docs = parse_documents(text);
  if (!docs) return 0;
  std::vector<NodeConfigDoc> read;
  for (const auto& d : *docs) {
    (void)d.value.dump();  // every tree must serialize: no NaN/inf or invalid UTF-8 surprises
    for (const auto& [pointer, mark] : d.marks) (void)display_path(pointer);
    if (auto nc = node_config_from(d, Origin{.source = "file:///fuzz.yaml"})) read.push_back(nc->doc);
  }
  if (auto merged = merge_all(read)) (void)to_document(merged->spec).dump();
  return 0;
}
