// Merging NodeConfig documents: parts of one MIME message, files of a drop-in directory, and
// config sources, folded left to right, the later one winning. Pure.
//
// Rules (nodeadm's, reference section 1.5, with its surprises fixed where noted):
//   - scalars (name, cidr, strategy, ...): a field present in the later document wins, even an
//     empty string or `false` (nodeadm ignores empty strings, and cannot turn enableOutpost off);
//   - lists (disabledMounts, nameservers, domains): a present list replaces the earlier one;
//   - kubelet.flags: appended (kubelet takes the last of a repeated flag);
//   - kubelet.config, containerd.baseRuntimeSpec: deep-merged (merge_json);
//   - containerd.config: TOML tables deep-merged (merge_toml);
//   - featureGates, instance.environment: merged key by key, the later value winning.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/model/result.h"
#include "agent/userdata/node_config_doc.h"

namespace agent::userdata {

// Deep merge of `src` into `dst`: objects merge recursively, arrays and scalars are replaced,
// a type mismatch is won by `src`, and a null in `src` removes the key (RFC 7386; nodeadm writes
// a literal null instead, which kubelet then rejects or reads as zero).
void merge_json(nlohmann::json& dst, const nlohmann::json& src);
void merge_json(nlohmann::ordered_json& dst, const nlohmann::ordered_json& src);  // keeps key order

// `patch` merged over `base`, both TOML text: tables merge recursively, arrays and values are
// replaced. The result is re-serialized (keys sorted within a table; comments are not kept).
// Errors: Parse naming `base_name` or `patch_name` with the TOML line and column.
Result<std::string> merge_toml(std::string_view base, std::string_view patch, std::string_view base_name,
                               std::string_view patch_name);

// `later` folded into `base` with the rules above; `fields` keeps the origin of each winner.
// Errors: only a TOML merge failure (both sides were validated when parsed, so in practice none).
Result<NodeConfigDoc> merge(NodeConfigDoc base, const NodeConfigDoc& later);

// All documents folded in order; an empty list gives an empty NodeConfigDoc.
Result<NodeConfigDoc> merge_all(const std::vector<NodeConfigDoc>& docs);

}  // namespace agent::userdata
