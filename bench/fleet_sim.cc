// fleet_sim: N nodes boot at the same instant and each needs one EKS DescribeCluster answer;
// the API throttles with a token bucket. Compares the agent's retry policy (agent/model/
// retry_policy.h, the code the AWS adapter runs) with bootstrap.sh's describe-cluster loop.
//
// Simulated time, pure computation, no network: an event queue ordered by time, one token bucket,
// a fixed round-trip time per request. Deterministic for a given --seed.
//
//   fleet_sim [--nodes 1000] [--rate 10] [--burst 50] [--rtt-ms 50] [--seeds 20] [--deadline-s 240]
//
// Models:
//   agent            next_retry(aws_retry_policy(3)): full-jitter backoff, base 1 s, cap 20 s;
//                    failures limited to 4 attempts, throttling limited by the deadline (--timeout,
//                    240 s by default).
//   agent-4-attempts the same backoff, but throttled answers also count against the 4 attempts
//                    (what a plain attempt-count policy would do).
//   bootstrap.sh     bootstrap-sh.md section 2.3: up to 4 attempts; each attempt is `aws eks wait
//                    cluster-active` (one DescribeCluster) then `aws eks describe-cluster` (another),
//                    and fails on the first throttled call; between attempts it sleeps
//                    5*2^(a+1) + U[1,10] s.
//   bootstrap.sh+cli the same, but every aws CLI call first retries throttling itself (botocore's
//                    legacy mode: 5 tries, sleeping U[0,1)*2^(n-1) s), as the real CLI did.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "agent/model/retry_policy.h"

namespace {

using agent::AttemptOutcome;
using agent::RetryPolicy;
using agent::RetryState;
using agent::SplitMix;

struct Config {
  int nodes = 1000;
  double rate = 10;      // tokens per second
  double burst = 50;     // bucket size
  double rtt = 0.05;     // seconds from sending a request to reading its answer
  int seeds = 20;
  double deadline = 240; // the agent's run budget (--timeout), seconds
};

// The API side: a token bucket refilled continuously. A request that finds a token is answered
// (and takes it); otherwise it is throttled and takes nothing.
class TokenBucket {
 public:
  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}
  bool take(double now) {
    tokens_ = std::min(burst_, tokens_ + (now - last_) * rate_);
    last_ = now;
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return true;
    }
    return false;
  }

 private:
  double rate_, burst_, tokens_;
  double last_ = 0;
};

// One node's client: asked what to do after each answer. `on_answer(ok, now)` returns the delay
// (seconds) before the next request, or a negative number when the node is done (success or
// given up); `done_ok()` tells which.
struct Client {
  virtual ~Client() = default;
  virtual double on_answer(bool ok, double now) = 0;
  virtual bool done_ok() const = 0;
};

// The agent: one DescribeCluster call retried by next_retry() within the deadline.
class AgentClient final : public Client {
 public:
  AgentClient(RetryPolicy policy, bool throttle_counts, double deadline, SplitMix& rng)
      : policy_(policy), throttle_counts_(throttle_counts), deadline_(deadline), rng_(rng) {}
  double on_answer(bool ok, double now) override {
    if (ok) {
      ok_ = true;
      return -1;
    }
    // A throttled answer; the "4 attempts" variant treats it like any failure.
    auto outcome = throttle_counts_ ? AttemptOutcome::Failure : AttemptOutcome::Throttled;
    auto delay = agent::next_retry(policy_, state_, outcome, rng_.next());
    if (!delay) return -1;
    double d = static_cast<double>(delay->count()) / 1000.0;
    // The adapter never starts a wait that ends after its deadline.
    if (now + d >= deadline_) return -1;
    return d;
  }
  bool done_ok() const override { return ok_; }

 private:
  RetryPolicy policy_;
  bool throttle_counts_;
  double deadline_;
  SplitMix& rng_;
  RetryState state_;
  bool ok_ = false;
};

// bootstrap.sh: attempts of two calls each; optionally the CLI's own throttling retries per call.
class BootstrapShClient final : public Client {
 public:
  BootstrapShClient(bool cli_retries, SplitMix& rng) : cli_retries_(cli_retries), rng_(rng) {}
  double on_answer(bool ok, double) override {
    if (ok) {
      cli_try_ = 0;
      if (++calls_ok_in_attempt_ == 2) {  // waiter, then describe-cluster
        ok_ = true;
        return -1;
      }
      return 0;  // the next CLI process starts right away
    }
    if (cli_retries_ && ++cli_try_ < 5) {
      return rng_.next() * std::pow(2.0, cli_try_ - 1);  // botocore legacy: rand * 2^(n-1)
    }
    cli_try_ = 0;
    calls_ok_in_attempt_ = 0;
    if (attempt_ == 3) return -1;  // "Exhausted retries while describing cluster!"
    double sleep = 5.0 * std::pow(2.0, attempt_ + 1) + static_cast<double>(1 + static_cast<int>(rng_.next() * 10));
    ++attempt_;
    return sleep;
  }
  bool done_ok() const override { return ok_; }

 private:
  bool cli_retries_;
  SplitMix& rng_;
  int attempt_ = 0;
  int calls_ok_in_attempt_ = 0;
  int cli_try_ = 0;
  bool ok_ = false;
};

struct Outcome {
  std::vector<double> done_at;  // per successful node: seconds until its config was in hand
  long requests = 0;
  long throttled = 0;
  int nodes = 0;
};

using ClientFactory = std::function<std::unique_ptr<Client>(SplitMix&)>;

Outcome simulate(const Config& cfg, const ClientFactory& make, std::uint64_t seed) {
  SplitMix rng(seed);
  TokenBucket bucket(cfg.rate, cfg.burst);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < cfg.nodes; ++i) clients.push_back(make(rng));
  // (arrival time at the API, node); all nodes send their first request at t = 0 (+ half an RTT).
  using Event = std::pair<double, int>;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> q;
  for (int i = 0; i < cfg.nodes; ++i) q.push({cfg.rtt / 2, i});
  Outcome out;
  out.nodes = cfg.nodes;
  while (!q.empty()) {
    auto [t, node] = q.top();
    q.pop();
    ++out.requests;
    bool ok = bucket.take(t);
    if (!ok) ++out.throttled;
    double answered = t + cfg.rtt / 2;
    double delay = clients[node]->on_answer(ok, answered);
    if (delay < 0) {
      if (clients[node]->done_ok()) out.done_at.push_back(answered);
      continue;
    }
    q.push({answered + delay + cfg.rtt / 2, node});
  }
  return out;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

void report(const char* name, const Config& cfg, const ClientFactory& make) {
  std::vector<double> all;
  long requests = 0, throttled = 0, nodes = 0;
  double worst_share = 1.0;
  for (int s = 1; s <= cfg.seeds; ++s) {
    Outcome o = simulate(cfg, make, static_cast<std::uint64_t>(s) * 7919);
    all.insert(all.end(), o.done_at.begin(), o.done_at.end());
    requests += o.requests;
    throttled += o.throttled;
    nodes += o.nodes;
    worst_share = std::min(worst_share, static_cast<double>(o.done_at.size()) / o.nodes);
  }
  const double share = static_cast<double>(all.size()) / static_cast<double>(nodes);
  const long within5 = std::count_if(all.begin(), all.end(), [](double t) { return t <= 300; });
  std::printf("| %-16s | %6.1f%% | %6.1f%% | %7.1f%% | %7.1f | %7.1f | %7.1f | %8.1f | %6.1f%% |\n",
              name, 100.0 * share, 100.0 * worst_share,
              100.0 * static_cast<double>(within5) / static_cast<double>(nodes),
              percentile(all, 0.50), percentile(all, 0.99), percentile(all, 1.0),
              static_cast<double>(requests) / static_cast<double>(nodes),
              100.0 * static_cast<double>(throttled) / static_cast<double>(requests));
}

bool arg(int& i, int argc, char** argv, const char* name, double& out) {
  if (std::strcmp(argv[i], name) != 0 || i + 1 >= argc) return false;
  out = std::atof(argv[++i]);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    double v = 0;
    if (arg(i, argc, argv, "--nodes", v)) {
      cfg.nodes = static_cast<int>(v);
    } else if (arg(i, argc, argv, "--rate", v)) {
      cfg.rate = v;
    } else if (arg(i, argc, argv, "--burst", v)) {
      cfg.burst = v;
    } else if (arg(i, argc, argv, "--rtt-ms", v)) {
      cfg.rtt = v / 1000.0;
    } else if (arg(i, argc, argv, "--seeds", v)) {
      cfg.seeds = static_cast<int>(v);
    } else if (arg(i, argc, argv, "--deadline-s", v)) {
      cfg.deadline = v;
    } else {
      std::fprintf(stderr,
                   "usage: fleet_sim [--nodes N] [--rate R] [--burst B] [--rtt-ms MS] [--seeds S] "
                   "[--deadline-s D]\n");
      return 2;
    }
  }
  if (cfg.nodes < 1 || cfg.rate <= 0 || cfg.burst < 1 || cfg.seeds < 1) {
    std::fprintf(stderr, "fleet_sim: --nodes, --rate, --burst and --seeds must be positive\n");
    return 2;
  }
  std::printf("%d nodes call DescribeCluster at t=0; token bucket %.0f req/s, burst %.0f; RTT %.0f ms; "
              "%d seeds pooled; agent deadline %.0f s\n\n",
              cfg.nodes, cfg.rate, cfg.burst, cfg.rtt * 1000, cfg.seeds, cfg.deadline);
  std::printf("| policy           | got cfg | worst   | <= 5 min | p50 (s) | p99 (s) | max (s) | req/node | throttled |\n");
  std::printf("|------------------|---------|---------|----------|---------|---------|---------|----------|-----------|\n");
  const RetryPolicy ours = agent::aws_retry_policy(3);
  report("agent", cfg, [&](SplitMix& rng) {
    return std::make_unique<AgentClient>(ours, false, cfg.deadline, rng);
  });
  report("agent-4-attempts", cfg, [&](SplitMix& rng) {
    return std::make_unique<AgentClient>(ours, true, cfg.deadline, rng);
  });
  report("bootstrap.sh", cfg, [](SplitMix& rng) { return std::make_unique<BootstrapShClient>(false, rng); });
  report("bootstrap.sh+cli", cfg, [](SplitMix& rng) { return std::make_unique<BootstrapShClient>(true, rng); });
  return 0;
}
