// RecordingMounter: a Mounter fake that records every mount request, failed ones included.
// Each call succeeds unless fail_with() set an error, which every later call then returns.
#pragma once
#include <optional>
#include <vector>

#include "agent/ports/mounter.h"

namespace agent::testing {

class RecordingMounter final : public Mounter {
 public:
  void fail_with(Error e) { failure_ = std::move(e); }
  Status mount(const MountSpec& spec) override {
    calls_.push_back(spec);
    if (failure_) return *failure_;
    return {};
  }
  const std::vector<MountSpec>& calls() const { return calls_; }

 private:
  std::optional<Error> failure_;
  std::vector<MountSpec> calls_;
};

}  // namespace agent::testing
