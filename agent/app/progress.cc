#include "agent/app/progress.h"

#include <fmt/format.h>

#include <algorithm>

namespace agent::app {
namespace {

double mib(std::uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

int quarter_of(std::uint64_t received, std::uint64_t total) {
  if (total == 0) return 0;
  return static_cast<int>(std::min<std::uint64_t>(3, received * 4 / total));
}

}  // namespace

DownloadProgress::DownloadProgress(std::ostream& out, bool terminal, Clock& clock,
                                   std::string label)
    : out_(out),
      terminal_(terminal),
      clock_(clock),
      label_(std::move(label)),
      started_(clock.now()),
      last_output_(started_) {}

DownloadProgress::~DownloadProgress() { abandon(); }

FetchProgress DownloadProgress::callback() {
  return [this](std::uint64_t received, std::uint64_t total) { update(received, total); };
}

void DownloadProgress::update(std::uint64_t received, std::uint64_t total) {
  if (done_) return;
  if (received < received_) quarter_ = quarter_of(received, total);  // started again after a retry
  received_ = received;
  total_ = total;
  const auto now = clock_.now();
  if (terminal_) {
    if (!drawn_ || now - last_output_ >= kRedraw) draw(/*final_line=*/false);
    return;
  }
  const int q = quarter_of(received, total);
  if (q > quarter_) {
    quarter_ = q;
    log_line();
  } else if (now - last_output_ >= kQuietPeriod) {
    log_line();
  }
}

void DownloadProgress::finish(std::uint64_t size) {
  if (done_) return;
  received_ = size;
  if (total_ != 0) total_ = std::max(total_, size);
  if (terminal_) {
    draw(/*final_line=*/true);
  } else {
    const double seconds = std::chrono::duration<double>(clock_.now() - started_).count();
    out_ << fmt::format("{}: done, {:.1f} MiB in {:.1f} s\n", label_, mib(size), seconds);
    out_.flush();
  }
  done_ = true;
}

void DownloadProgress::abandon() {
  if (done_) return;
  done_ = true;
  if (terminal_ && drawn_) {
    out_ << '\n';
    out_.flush();
    drawn_ = false;
  }
}

void DownloadProgress::draw(bool final_line) {
  std::string line = label_ + "  ";
  if (total_ != 0) {
    const std::uint64_t total = std::max(total_, received_);
    const auto filled = static_cast<int>(received_ * kBarWidth / total);
    line += "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '-') + "]";
    line += fmt::format(" {:3d}%  {:.1f}/{:.1f} MiB", static_cast<int>(received_ * 100 / total),
                        mib(received_), mib(total));
  } else {
    line += fmt::format("{:.1f} MiB", mib(received_));
  }
  const auto now = clock_.now();
  if (final_line)
    line += fmt::format("  {:.1f} s", std::chrono::duration<double>(now - started_).count());
  out_ << '\r' << line;
  // A shorter line than the last one would leave its tail on the screen.
  if (line.size() < line_width_) out_ << std::string(line_width_ - line.size(), ' ');
  line_width_ = line.size();
  if (final_line) {
    out_ << '\n';
    drawn_ = false;
  } else {
    drawn_ = true;
  }
  out_.flush();
  last_output_ = now;
}

void DownloadProgress::log_line() {
  if (total_ != 0) {
    const std::uint64_t total = std::max(total_, received_);
    out_ << fmt::format("{}: {}% ({:.1f} of {:.1f} MiB)\n", label_, received_ * 100 / total,
                        mib(received_), mib(total));
  } else {
    out_ << fmt::format("{}: {:.1f} MiB\n", label_, mib(received_));
  }
  out_.flush();
  last_output_ = clock_.now();
}

}  // namespace agent::app
