#include "agent/userdata/user_data.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "agent/userdata/documents.h"
#include "agent/userdata/mime.h"

namespace agent::userdata {
namespace {

// The NodeConfigs of one YAML/JSON stream. With `required`, every non-empty document must be a
// NodeConfig (a part labelled application/node.eks.aws); without, other documents are skipped.
Status read_stream(std::string_view text, const Origin& where, bool required, const Limits& limits,
                   SourceConfigs& out) {
  auto docs = parse_documents(text);
  if (!docs) return make_error(docs.error().code, "{}: {}", where.str(), docs.error().message);
  size_t non_empty = 0;
  for (const auto& d : *docs) non_empty += d.value.is_null() ? 0 : 1;
  if (non_empty > limits.max_documents) {
    return make_error(Errc::Invalid, "{}: more than {} documents", where.str(), limits.max_documents);
  }
  int n = 0;
  for (const auto& d : *docs) {
    ++n;
    if (d.value.is_null()) continue;
    Origin o = where;
    if (docs->size() > 1) o.document = n;
    if (!looks_like_node_config(d.value)) {
      if (required) {
        return make_error(Errc::Invalid, "{}: a {} part must hold NodeConfig documents (apiVersion: {}, kind: {})",
                          o.at(d.start).str(), kNodeConfigMediaType, kApiVersion, kKind);
      }
      out.notes.push_back(fmt::format("{}: a document that is not a NodeConfig was skipped", o.at(d.start).str()));
      continue;
    }
    AGENT_TRY(ParsedNodeConfig parsed, node_config_from(d, o));
    out.docs.push_back(std::move(parsed.doc));
    for (auto& w : parsed.warnings) out.warnings.push_back(std::move(w));
  }
  return {};
}

}  // namespace

Result<SourceConfigs> parse_source(std::string_view bytes, const std::string& source, const Limits& limits) {
  SourceConfigs out;
  auto unwrapped = unwrap(bytes, limits);
  if (!unwrapped) return unwrapped.error().wrap("{}", source);
  if (!unwrapped->layers.empty()) {
    out.notes.push_back(fmt::format("{}: decoded {}", source, fmt::join(unwrapped->layers, " then ")));
  }
  const std::string& payload = unwrapped->bytes;

  auto mime = parse_multipart(payload, limits);
  if (!mime) return mime.error().wrap("{}", source);
  if (mime->has_value()) {
    MimeMessage& msg = **mime;
    for (auto& w : msg.warnings) out.warnings.push_back(fmt::format("{}: MIME {}", source, w));
    for (const auto& part : msg.parts) {
      const std::string label = fmt::format("MIME part {} ({})", part.index,
                                            part.content_type.empty() ? "no Content-Type" : part.content_type);
      if (part.content_type != kNodeConfigMediaType) {
        out.notes.push_back(fmt::format("{}, {}: skipped (not {})", source, label, kNodeConfigMediaType));
        continue;
      }
      Origin where{.source = source, .part = label};
      auto body = unwrap(part.body, limits);
      if (!body) return body.error().wrap("{}", where.str());
      AGENT_TRY_STATUS(read_stream(body->bytes, where, /*required=*/true, limits, out));
    }
    if (out.docs.empty()) {
      out.notes.push_back(fmt::format("{}: MIME message with {} part(s), none of type {}", source, msg.parts.size(),
                                      kNodeConfigMediaType));
    }
    return out;
  }

  // One YAML/JSON stream, or something else entirely (a shell script, cloud-config).
  Origin where{.source = source};
  const bool script = payload.starts_with("#!");
  if (script) {
    out.notes.push_back(fmt::format("{}: a script, not a NodeConfig", source));
    return out;
  }
  Status read = read_stream(payload, where, /*required=*/false, limits, out);
  if (!read) {
    // Text that does not parse is only an error when it was meant as a NodeConfig.
    if (payload.find("node.eks.aws") != std::string::npos || payload.find(kKind) != std::string::npos) {
      return read.error();
    }
    out.notes.push_back(fmt::format("{}: not YAML or JSON, so not a NodeConfig ({})", source, read.error().message));
    out.docs.clear();
    return out;
  }
  if (out.docs.empty()) out.notes.push_back(fmt::format("{}: no NodeConfig document", source));
  return out;
}

}  // namespace agent::userdata
