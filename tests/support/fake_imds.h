// FakeImds: an in-memory Imds for gather and scenario tests.
//
// Paths are the ones the agent asks for ("latest/meta-data/mac"). A path holds either a value
// (set()) or a scripted error (fail(), which wins over a value); any other path answers
// Errc::NotFound, as IMDS answers 404. Nothing is ever retried or delayed.
//
// Every request is logged: calls() holds the paths in order, batches() one entry per get() or
// get_many() call (a get() is a batch of one), so tests can check which paths were asked for and
// in how many round trips. stats() counts, like AsioImds, one token fetch on the first request (a
// request and a round trip of its own), one request per path and one round trip per batch.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "agent/ports/imds.h"

namespace agent::testing {

class FakeImds final : public Imds {
 public:
  FakeImds() = default;
  explicit FakeImds(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  // --- scripting ---
  void set(const std::string& path, std::string value) { values_[path] = std::move(value); }
  void erase(const std::string& path) { values_.erase(path); }
  // Makes every request for `path` fail with `error` (e.g. Errc::Unavailable, Errc::Denied).
  void fail(const std::string& path, Error error) { failures_.insert_or_assign(path, std::move(error)); }

  // --- inspection ---
  const std::vector<std::string>& calls() const { return calls_; }
  const std::vector<std::vector<std::string>>& batches() const { return batches_; }
  void clear_calls() {
    calls_.clear();
    batches_.clear();
  }

  // --- Imds ---
  Result<std::string> get(const std::string& path) override;
  std::vector<Result<std::string>> get_many(const std::vector<std::string>& paths) override;
  ImdsStats stats() const override { return stats_; }

 private:
  Result<std::string> answer(const std::string& path);

  std::map<std::string, std::string> values_;
  std::map<std::string, Error> failures_;
  std::vector<std::string> calls_;
  std::vector<std::vector<std::string>> batches_;
  ImdsStats stats_;
};

}  // namespace agent::testing
