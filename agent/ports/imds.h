// Imds: the EC2 instance metadata service, IMDSv2 only.
#pragma once
#include <string>
#include <vector>

#include "agent/model/result.h"

namespace agent {

struct ImdsStats {
  int requests = 0;     // HTTP requests sent, token PUTs and retries included
  int round_trips = 0;  // sequential waits: a concurrent batch counts once
  int token_fetches = 0;
};

class Imds {
 public:
  virtual ~Imds() = default;

  // GETs one path relative to the endpoint ("latest/meta-data/mac"). Fetches (and caches) a token
  // first; refreshes it once on 401. Retries connection errors, 429 and 5xx within the deadline.
  // Errors: NotFound on 404 (an absent optional path), Unavailable when IMDS cannot be reached,
  // Timeout when the overall deadline passes, Denied on a 403 (IMDS disabled for the instance).
  virtual Result<std::string> get(const std::string& path) = 0;

  // The same for several paths at once, fetched concurrently; results in the order of `paths`.
  virtual std::vector<Result<std::string>> get_many(const std::vector<std::string>& paths) = 0;

  virtual ImdsStats stats() const = 0;
};

}  // namespace agent
