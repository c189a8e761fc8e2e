// DownloadProgress on a manual clock: the terminal bar (redraw rate, final line, shrinking lines)
// and the log lines (quarters, quiet periods, the done line).
#include "agent/app/progress.h"

#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "tests/support/manual_clock.h"

using agent::app::DownloadProgress;
using agent::testing::ManualClock;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// What a terminal shows: each '\r' returns to the start of the line, later text overwrites.
std::string screen_of(const std::string& text) {
  std::string screen, line;
  size_t col = 0;
  for (char c : text) {
    if (c == '\r') {
      col = 0;
    } else if (c == '\n') {
      screen += line + "\n";
      line.clear();
      col = 0;
    } else {
      if (col < line.size()) {
        line[col] = c;
      } else {
        line += c;
      }
      ++col;
    }
  }
  return screen + line;
}

size_t count(const std::string& s, char c) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), c));
}

}  // namespace

TEST_CASE("on a terminal the bar is redrawn in place and finished with a newline") {
  ManualClock clock;
  std::ostringstream out;
  {
    DownloadProgress p(out, /*terminal=*/true, clock, "kubelet");
    p.update(0, 100 * kMiB);
    CHECK(screen_of(out.str()) == "kubelet  [--------------------]   0%  0.0/100.0 MiB");
    clock.advance(150ms);
    p.update(45 * kMiB, 100 * kMiB);
    CHECK(screen_of(out.str()) == "kubelet  [#########-----------]  45%  45.0/100.0 MiB");
    CHECK(count(out.str(), '\n') == 0);
    clock.advance(3250ms);
    p.finish(100 * kMiB);
  }
  CHECK(screen_of(out.str()) == "kubelet  [####################] 100%  100.0/100.0 MiB  3.4 s\n");
  CHECK(count(out.str(), '\n') == 1);  // the destructor adds nothing after finish()
}

TEST_CASE("on a terminal the bar is redrawn at most every 100 ms") {
  ManualClock clock;
  std::ostringstream out;
  DownloadProgress p(out, true, clock, "kubectl");
  for (int i = 1; i <= 50; ++i) {
    clock.advance(10ms);
    p.update(static_cast<std::uint64_t>(i) * kMiB, 50 * kMiB);
  }
  // 500 ms of updates every 10 ms: the first draw and then one per 100 ms.
  CHECK(count(out.str(), '\r') == 5);
  p.finish(50 * kMiB);
  CHECK(count(out.str(), '\r') == 6);  // the final state is always drawn
}

TEST_CASE("a shorter redraw blanks the rest of the previous line") {
  ManualClock clock;
  std::ostringstream out;
  DownloadProgress p(out, true, clock, "kubelet");
  p.update(100 * kMiB, 200 * kMiB);  // "100.0/200.0 MiB"
  clock.advance(1s);
  p.update(1 * kMiB, 2 * kMiB);  // a retry with another length: "1.0/2.0 MiB"
  CHECK(screen_of(out.str()) == "kubelet  [##########----------]  50%  1.0/2.0 MiB    ");
}

TEST_CASE("without a total the terminal line shows bytes only") {
  ManualClock clock;
  std::ostringstream out;
  DownloadProgress p(out, true, clock, "aws-iam-authenticator");
  p.update(5 * kMiB + kMiB / 10, 0);
  CHECK(screen_of(out.str()) == "aws-iam-authenticator  5.1 MiB");
  clock.advance(2s);
  p.finish(7 * kMiB);
  CHECK(screen_of(out.str()) == "aws-iam-authenticator  7.0 MiB  2.0 s\n");
}

TEST_CASE("a failed download ends the terminal line so the error starts on its own") {
  ManualClock clock;
  std::ostringstream out;
  {
    DownloadProgress p(out, true, clock, "kubelet");
    p.update(10, 100);
    p.abandon();
    CHECK(out.str().back() == '\n');
    p.abandon();
    p.update(20, 100);  // nothing after the end
  }
  CHECK(count(out.str(), '\n') == 1);
  CHECK(count(out.str(), '\r') == 1);

  std::ostringstream quiet;
  { DownloadProgress p(quiet, true, clock, "kubelet"); }  // never drawn: nothing to end
  CHECK(quiet.str().empty());
}

TEST_CASE("in a log there is a line per quarter and a done line") {
  ManualClock clock;
  std::ostringstream out;
  DownloadProgress p(out, /*terminal=*/false, clock, "kubelet");
  for (std::uint64_t mb = 0; mb <= 100; ++mb) {
    clock.advance(20ms);
    p.update(mb * kMiB, 100 * kMiB);
  }
  p.finish(100 * kMiB);
  CHECK(lines_of(out.str()) == std::vector<std::string>{
                                   "kubelet: 25% (25.0 of 100.0 MiB)",
                                   "kubelet: 50% (50.0 of 100.0 MiB)",
                                   "kubelet: 75% (75.0 of 100.0 MiB)",
                                   "kubelet: done, 100.0 MiB in 2.0 s",
                               });
  CHECK(out.str().find('\r') == std::string::npos);
}

TEST_CASE("in a log a slow download still gets a line every 10 s") {
  ManualClock clock;
  std::ostringstream out;
  DownloadProgress p(out, false, clock, "kubelet");
  for (int s = 1; s <= 25; ++s) {
    clock.advance(1s);
    p.update(static_cast<std::uint64_t>(s) * kMiB, 200 * kMiB);  // 12.5% after 25 s
  }
  CHECK(lines_of(out.str()) == std::vector<std::string>{
                                   "kubelet: 5% (10.0 of 200.0 MiB)",
                                   "kubelet: 10% (20.0 of 200.0 MiB)",
                               });
}

TEST_CASE("in a log an unknown total gives byte counts every 10 s") {
  ManualClock clock;
  std::ostringstream out;
  DownloadProgress p(out, false, clock, "ecr-credential-provider");
  for (int s = 1; s <= 12; ++s) {
    clock.advance(1s);
    p.update(static_cast<std::uint64_t>(s) * kMiB, 0);
  }
  p.finish(12 * kMiB + kMiB / 2);
  CHECK(lines_of(out.str()) == std::vector<std::string>{
                                   "ecr-credential-provider: 10.0 MiB",
                                   "ecr-credential-provider: done, 12.5 MiB in 12.0 s",
                               });
}

TEST_CASE("in a log a retry that starts again from 0 logs its quarters again") {
  ManualClock clock;
  std::ostringstream out;
  DownloadProgress p(out, false, clock, "kubelet");
  auto cb = p.callback();
  cb(30, 100);
  cb(60, 100);
  cb(0, 100);  // retried from the start
  cb(30, 100);
  p.finish(100);
  CHECK(lines_of(out.str()) == std::vector<std::string>{
                                   "kubelet: 30% (0.0 of 0.0 MiB)",
                                   "kubelet: 60% (0.0 of 0.0 MiB)",
                                   "kubelet: 30% (0.0 of 0.0 MiB)",
                                   "kubelet: done, 0.0 MiB in 0.0 s",
                               });
}
