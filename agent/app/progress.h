// DownloadProgress: how build mode shows a download (one per object), fed by the ObjectStore's
// FetchProgress. Writes only to the stream it is given; time comes from the Clock port, so tests
// drive it with a ManualClock.
//
// On a terminal: one line redrawn in place with '\r', at most every kRedraw (the first and the last
// state always), ended with a newline by finish() or abandon():
//     kubelet  [#########-----------]  45%  50.1/111.2 MiB
//     kubelet  [####################] 100%  111.2/111.2 MiB  3.4 s          (finish)
//     kubelet  50.1 MiB                                                    (total unknown)
// Elsewhere (a log, the journal): a line at each quarter (25%, 50%, 75%) or after kQuietPeriod
// without one, whichever comes first, and a final line from finish():
//     kubelet: 25% (27.8 of 111.2 MiB)
//     kubelet: 31.0 MiB                                                    (total unknown)
//     kubelet: done, 111.2 MiB in 3.4 s
// A count that goes backwards (the store retried the object from its start) simply continues from
// the new value.
//
// Not thread-safe; the stream and clock must outlive the object.
#pragma once
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

#include "agent/ports/clock.h"
#include "agent/ports/object_store.h"

namespace agent::app {

class DownloadProgress {
 public:
  static constexpr std::chrono::milliseconds kRedraw{100};
  static constexpr std::chrono::seconds kQuietPeriod{10};
  static constexpr int kBarWidth = 20;

  // The elapsed time in finish() counts from here.
  DownloadProgress(std::ostream& out, bool terminal, Clock& clock, std::string label);
  // Ends an unfinished terminal line (as abandon()).
  ~DownloadProgress();
  DownloadProgress(const DownloadProgress&) = delete;
  DownloadProgress& operator=(const DownloadProgress&) = delete;

  // Bytes so far and the total (0: unknown), as FetchProgress reports them.
  void update(std::uint64_t received, std::uint64_t total);
  // The download completed with `size` bytes: the final line (see above). Idempotent.
  void finish(std::uint64_t size);
  // The download failed: ends a terminal line that was drawn, so the error starts on a line of its
  // own; prints nothing else. Idempotent; a no-op after finish().
  void abandon();

  // update() as a FetchProgress; valid while this object lives.
  FetchProgress callback();

 private:
  void draw(bool final_line);
  void log_line();

  std::ostream& out_;
  bool terminal_;
  Clock& clock_;
  std::string label_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_output_;
  std::uint64_t received_ = 0;
  std::uint64_t total_ = 0;
  int quarter_ = 0;             // the last quarter logged (0: none yet)
  bool drawn_ = false;          // a terminal line is open
  std::size_t line_width_ = 0;  // of the last terminal draw, to blank a shorter redraw
  bool done_ = false;
};

}  // namespace agent::app
