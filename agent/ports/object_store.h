// ObjectStore: read-only access to the binary bucket that build mode installs Kubernetes binaries
// from (`<version>/<build_date>/bin/linux/<arch>/<name>` and `<name>.sha256`).
//
// The real adapter is platform::CurlS3 (libcurl, SigV4 through CURLOPT_AWS_SIGV4 with the
// environment's or the instance profile's credentials, anonymous when there are none); tests use
// the loopback S3 emulator (tests/support/s3_emulator.py) through the same adapter.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "agent/model/result.h"

namespace agent {

// Told about a download as bytes arrive: bytes so far and the total (0 while unknown).
using FetchProgress = std::function<void(std::uint64_t received, std::uint64_t total)>;

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // The whole object at `key` (no leading '/'). Retries throttling, 5xx and connection errors
  // within the adapter's policy. Errors:
  //   Errc::NotFound   the object does not exist (404 NoSuchKey); message names the s3:// URL
  //   Errc::AwsApi     access denied (names s3:GetObject and the object), other 4xx, retries
  //                    exhausted; the message names the object and the cause
  //   Errc::Interrupted  cancelled
  // `progress` may be empty.
  virtual Result<std::string> get(const std::string& key, const FetchProgress& progress) = 0;
  // The same object streamed into `sink` piece by piece (for objects too big to hold: build mode
  // writes them straight into staged temp files). `restart` is called before the first piece of
  // every attempt, so a retried download starts again from byte 0; an error from `write` or
  // `restart` ends the call with that error, not retried. The default holds the whole object.
  struct Sink {
    std::function<Status(std::string_view)> write;
    std::function<Status()> restart;
  };
  virtual Status get_to(const std::string& key, const Sink& sink, const FetchProgress& progress) {
    AGENT_TRY(std::string all, get(key, progress));
    AGENT_TRY_STATUS(sink.restart());
    return sink.write(all);
  }
  // How to name `key` in messages and the plan: "s3://bucket/key".
  virtual std::string url_of(const std::string& key) const = 0;
};

}  // namespace agent
