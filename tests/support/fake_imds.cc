#include "tests/support/fake_imds.h"

namespace agent::testing {

Result<std::string> FakeImds::answer(const std::string& path) {
  if (stats_.token_fetches == 0) {
    stats_.token_fetches = 1;  // the token PUT: its own request and round trip
    ++stats_.requests;
    ++stats_.round_trips;
  }
  ++stats_.requests;
  calls_.push_back(path);
  if (auto it = failures_.find(path); it != failures_.end()) return it->second;
  if (auto it = values_.find(path); it != values_.end()) return it->second;
  return make_error(Errc::NotFound, "GET {}: HTTP 404 Not Found", path);
}

Result<std::string> FakeImds::get(const std::string& path) {
  batches_.push_back({path});
  ++stats_.round_trips;
  return answer(path);
}

std::vector<Result<std::string>> FakeImds::get_many(const std::vector<std::string>& paths) {
  batches_.push_back(paths);
  ++stats_.round_trips;
  std::vector<Result<std::string>> out;
  out.reserve(paths.size());
  for (const auto& p : paths) out.push_back(answer(p));
  return out;
}

}  // namespace agent::testing
