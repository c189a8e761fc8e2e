// eks-node-agent entry point: argv -> Options, the real adapters, Result -> exit status.
// The only file that constructs platform adapters.
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "agent/app/build.h"
#include "agent/app/image_cache.h"
#include "agent/app/log.h"
#include "agent/app/progress.h"
#include "agent/app/run.h"
#include "agent/cli/build_cli.h"
#include "agent/cli/config_cmd.h"
#include "agent/cli/max_pods_cli.h"
#include "agent/cli/config_sources.h"
#include "agent/cli/nodeadm_cli.h"
#include "agent/app/nodeadm_config.h"
#include "agent/cli/options.h"
#include "agent/app/aws_lookups.h"
#include "agent/aws/endpoints.h"
#include "agent/platform/asio_imds.h"
#include "agent/compute/build_vars.h"
#include "agent/compute/instance_types.h"
#include "agent/model/embedded.h"
#include "agent/nodeadm_internal_main.h"
#include "agent/platform/curl_aws_api.h"
#include "agent/platform/curl_s3.h"
#include "agent/platform/offline_service_manager.h"
#include "agent/platform/posix_command_runner.h"
#include "agent/platform/posix_mounter.h"
#include "agent/platform/posix_root_fs.h"
#include "agent/platform/sdbus_service_manager.h"
#include "agent/platform/signal_watcher.h"
#include "agent/platform/steady_clock.h"

#ifndef AGENT_VERSION
#define AGENT_VERSION "0.0.0"
#endif

namespace {

using namespace agent;

// The documented exit status of each error kind (README "Exit codes", --help).
int exit_code_for(Errc code) {
  switch (code) {
    case Errc::Usage: return 2;
    case Errc::Invalid:
    case Errc::Parse:
    case Errc::NotFound: return 3;
    case Errc::Unavailable: return 4;
    case Errc::AwsApi: return 5;
    case Errc::Io:
    case Errc::Denied: return 6;
    case Errc::Service: return 7;
    case Errc::Unsupported: return 8;
    case Errc::Timeout: return 124;
    case Errc::Interrupted: return 130;
    case Errc::Internal: return 70;
  }
  return 70;
}

int fail(const Error& e) {
  log::error(fmt::format("E_{}", errc_name(e.code)), "{}", e.message);
  return exit_code_for(e.code);
}

const char* env(const char* name) { return std::getenv(name); }

int host_vcpus() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

platform::AsioImds::Options imds_options(const std::optional<std::string>& flag,
                                         std::chrono::seconds budget) {
  platform::AsioImds::Options o;
  o.endpoint = platform::resolve_imds_endpoint(flag, env("AWS_EC2_METADATA_SERVICE_ENDPOINT"),
                                               env("IMDS_ENDPOINT"));
  o.overall = std::min<std::chrono::milliseconds>(budget, std::chrono::seconds(120));
  return o;
}

// The AWS API adapter's settings: the environment (region, endpoints, proxy, keys), the
// --aws-api-retry-attempts policy, retries logged. libcurl is not loaded until a call is made.
platform::CurlAwsApi::Options aws_options(int retry_attempts) {
  platform::CurlAwsApi::Options o;
  o.env = aws::aws_env_from(env);
  o.retry = aws_retry_policy(retry_attempts);
  o.user_agent = "eks-node-agent/" AGENT_VERSION;
  o.on_retry = [](const std::string& op, int attempt, std::chrono::milliseconds delay, const std::string& why) {
    log::info("AWS_RETRY", "{} attempt {} failed ({}); retrying in {} ms", op, attempt, why, delay.count());
  };
  return o;
}

std::chrono::system_clock::time_point wall_now() { return std::chrono::system_clock::now(); }

// The instance's region (identity document) and partition domain, from IMDS.
Status region_from_imds(Imds& imds, std::string& region, std::string& domain) {
  AGENT_TRY(std::string doc, imds.get("latest/dynamic/instance-identity/document"));
  auto j = nlohmann::json::parse(doc, nullptr, false);
  if (!j.is_object() || !j.contains("region") || !j["region"].is_string()) {
    return make_error(Errc::Invalid, "IMDS instance identity document has no region; set AWS_REGION");
  }
  region = j["region"].get<std::string>();
  domain = imds.get("latest/meta-data/services/domain").value_or("");
  return {};
}

// `max-pods`: the calculator, with EC2 DescribeInstanceTypes for what it cannot know offline. EC2
// is asked only with credentials to hand: the environment's keys, or (for a type read from IMDS,
// i.e. on the instance) the instance profile; the region is AWS_REGION, else the instance's.
int run_max_pods(const std::vector<std::string>& args) {
  platform::SteadyClock clock;
  platform::AsioImds imds(imds_options(std::nullopt, std::chrono::seconds(30)), clock);
  auto imds_type = [&]() -> Result<std::string> { return imds.get("latest/meta-data/instance-type"); };
  auto describe = [&](const std::string& type, bool on_instance) -> Result<InstanceTypeInfo> {
    auto options = aws_options(3);
    if (!options.env.access_key_id && !on_instance) {
      return make_error(Errc::Unavailable,
                        "no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), "
                        "and the instance profile is used only with --instance-type-from-imds");
    }
    std::string region = options.env.region.value_or("");
    std::string domain;
    if (region.empty()) {
      if (!on_instance) return make_error(Errc::Unavailable, "no AWS region (set AWS_REGION)");
      AGENT_TRY_STATUS(region_from_imds(imds, region, domain));
    }
    platform::CurlAwsApi api(std::move(options), imds, clock, wall_now);
    app::AwsContext ctx{.api = api, .clock = clock};
    const AwsWhere where{.region = region, .domain = domain, .deadline = clock.now() + std::chrono::seconds(60)};
    return app::describe_instance_type(ctx, where, type);
  };
  return cli::max_pods_main(args, std::cout, std::cerr, imds_type, host_vcpus(), describe);
}

// `max-pods --generate-table`: region from AWS_REGION, else IMDS; every page of
// DescribeInstanceTypes within ten minutes.
int run_generate_table(const std::vector<std::string>& args) {
  platform::SteadyClock clock;
  platform::AsioImds imds(imds_options(std::nullopt, std::chrono::seconds(30)), clock);
  cli::TypeLister lister;
  lister.list_types = [&](int page_size, std::string& source, const std::function<void(int, size_t)>& on_page)
      -> Result<std::vector<InstanceTypeInfo>> {
    auto options = aws_options(3);
    std::string region = options.env.region.value_or("");
    std::string domain;
    if (region.empty()) AGENT_TRY_STATUS(region_from_imds(imds, region, domain));
    platform::CurlAwsApi api(std::move(options), imds, clock, wall_now);
    app::AwsContext ctx{.api = api, .clock = clock};
    const AwsWhere where{.region = region, .domain = domain, .deadline = clock.now() + std::chrono::minutes(10)};
    source = "EC2 DescribeInstanceTypes in " + region;
    return app::list_instance_types(ctx, where, page_size, on_page);
  };
  lister.write_file = [](const std::string& path, const std::string& bytes) -> Status {
    const std::string absolute = std::filesystem::absolute(path).lexically_normal().string();
    AGENT_TRY(auto fs, platform::PosixRootFs::open("/"));
    AGENT_TRY(WriteOutcome written, fs->write_atomic(absolute, bytes, 0644));
    (void)written;
    return {};
  };
  return cli::generate_table_main(args, std::cout, std::cerr, lister);
}

int run_status(const std::vector<std::string>& args) {
  std::string root = "/";
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--root" && i + 1 < args.size()) {
      root = args[++i];
    } else if (args[i].rfind("--root=", 0) == 0) {
      root = args[i].substr(7);
    } else if (args[i] == "-h" || args[i] == "--help") {
      std::cout << "usage: eks-node-agent status [--root DIR]\n"
                   "Prints the last run's status (" << app::kStatusPath << ") for humans.\n";
      return 0;
    } else {
      return fail(make_error(Errc::Usage, "status: unknown argument '{}'", args[i]));
    }
  }
  auto fs = platform::PosixRootFs::open(root);
  if (!fs) return fail(fs.error());
  auto text = (*fs)->read(app::kStatusPath);
  if (!text) {
    return fail(make_error(Errc::NotFound, "no status yet ({}): the agent has not run since boot",
                           app::kStatusPath));
  }
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  if (!doc.is_object()) return fail(make_error(Errc::Parse, "{} is not JSON", app::kStatusPath));
  std::cout << fmt::format("result:   {}\n", doc.value("result", "?"));
  if (doc.contains("error")) {
    std::cout << fmt::format("error:    {}\n", doc["error"].value("message", ""));
  }
  std::cout << fmt::format("elapsed:  {} ms\n", doc.value("elapsedMs", 0));
  if (doc.contains("phasesMs")) {
    for (auto& [k, v] : doc["phasesMs"].items()) std::cout << fmt::format("  {:<9} {} ms\n", k, v.dump());
  }
  if (doc.contains("values")) {
    std::cout << "values:\n";
    for (auto& [k, v] : doc["values"].items()) {
      std::cout << fmt::format("  {:<20} {}\n", k, v.is_string() ? v.get<std::string>() : v.dump());
    }
  }
  if (doc.contains("files")) {
    std::cout << "files:\n";
    for (auto& f : doc["files"]) {
      std::cout << fmt::format("  {:<10} {}\n", f.value("outcome", ""), f.value("path", ""));
    }
  }
  if (doc.contains("unitActions")) {
    std::cout << "units:\n";
    for (auto& a : doc["unitActions"]) {
      std::cout << fmt::format("  {} {} -> {}\n", a.value("verb", ""), a.value("unit", ""),
                               a.value("result", ""));
    }
  }
  return doc.value("result", "") == "failed" ? 1 : 0;
}

int run_config(const std::string& program, const std::vector<std::string>& args) {
  auto parsed = cli::parse_config_args(args, env);
  if (parsed && parsed->help) {
    std::cout << cli::config_help(program);
    return 0;
  }
  if (!parsed) {
    int rc = fail(parsed.error());
    if (parsed.error().code == Errc::Usage) std::cerr << "run '" << program << " config --help' for usage\n";
    return rc;
  }
  const cli::Options& o = parsed->options;
  platform::SteadyClock clock;
  auto fs = platform::PosixRootFs::open(o.root);
  if (!fs) return fail(fs.error().wrap("--root {}", o.root));
  platform::AsioImds imds(imds_options(o.imds_endpoint, o.timeout), clock);
  Status result = cli::run_config_command(*parsed, imds, **fs, std::cout, std::cerr);
  return result ? 0 : fail(result.error());
}

// How a run's failure becomes an exit status: the agent's table, or nodeadm's (1 for any failure).
using ExitCodeFor = int (*)(Errc);

int fail_with(const Error& e, ExitCodeFor code_for) {
  log::error(fmt::format("E_{}", errc_name(e.code)), "{}", e.message);
  return code_for(e.code);
}

// Builds the real adapters and runs app::run_bootstrap (the bootstrap command and nodeadm init).
int execute_run(const cli::Options& o, const platform::AsioImds::Options& imds_opts,
                platform::CurlAwsApi::Options aws_opts, ExitCodeFor code_for) {
  // From here on SIGTERM/SIGINT cancel the run instead of killing the process (exit 130).
  platform::SignalWatcher signals([](int, bool first) {
    if (first) {
      log::emit(log::Level::Notice, "SIGNAL",
                "stopping at the next safe point (within a second); no file will be left half-written");
    }
  });
  const CancelToken* cancel = &signals.token();
  platform::SteadyClock clock;
  auto fs = platform::PosixRootFs::open(o.root);
  if (!fs) return fail_with(fs.error().wrap("--root {}", o.root), code_for);
  platform::AsioImds imds(imds_opts, clock, cancel);
  platform::PosixCommandRunner commands;
  platform::PosixCommandRunner disk_commands(std::chrono::minutes(10));  // --local-disks: mkfs, state copy

  const bool offline = o.service_mode == cli::ServiceMode::Offline ||
                       (o.service_mode == cli::ServiceMode::Auto && o.root != "/");
  std::unique_ptr<ServiceManager> services;
  if (offline) {
    services = std::make_unique<platform::OfflineServiceManager>(**fs);
  } else {
    auto bus = platform::SdBusServiceManager::connect(cancel);
    if (!bus) {
      return fail_with(bus.error().wrap(
          "connecting to systemd on the system bus (use --service-manager offline for a root "
          "that is not running)"), code_for);
    }
    services = std::move(bus).value();
  }

  platform::CurlAwsApi aws_api(std::move(aws_opts), imds, clock, wall_now, cancel);
  platform::PosixMounter mounter;
  app::RunPorts ports{imds, **fs, *services, commands, clock, platform::resolve_host, host_vcpus(),
                      cancel, &aws_api, offline ? nullptr : &mounter, offline};
  ports.disk_commands = &disk_commands;
  ports.set_own_environment = [&aws_api](const std::map<std::string, std::string>& vars) {
    for (const auto& [name, value] : vars) {
      if (setenv(name.c_str(), value.c_str(), 1) != 0) {
        log::warn("OWN_ENVIRONMENT", "cannot set {} in the agent's environment: {}", name, std::strerror(errno));
      }
    }
    aws_api.set_environment(aws::aws_env_from(env));
  };
  app::RunOutcome outcome;
  Status result = app::run_bootstrap(o, ports, outcome);
  if (result && !outcome.nothing_to_do.empty()) {
    std::cout << outcome.nothing_to_do << "\n";
    return 0;
  }
  if (o.dry_run && !outcome.dry_run.empty()) {
    // The whole plan, then (when a step is marked WOULD FAIL) the real run's error and exit status.
    std::cout << outcome.dry_run << std::flush;
    return result ? 0 : fail_with(result.error(), code_for);
  }
  const ImdsStats st = imds.stats();
  log::info("IMDS_STATS", "{} IMDS requests in {} round trips", st.requests, st.round_trips);
  if (const AwsApiStats a = aws_api.stats(); a.calls > 0) {
    log::info("AWS_STATS", "{} AWS API calls in {} requests ({} throttled), {} credential fetches", a.calls,
              a.requests, a.throttled, a.credential_fetches);
  }
  if (!result) {
    int rc = fail_with(result.error(), code_for);
    log::emit(log::Level::Notice, "SUMMARY", "FAILED " + app::summary_line(outcome));
    return rc;
  }
  if (outcome.report.offline) {
    log::emit(log::Level::Notice, "OFFLINE",
              "units were enabled but not started: the root is not running (offline service manager)");
  }
  log::emit(log::Level::Notice, "SUMMARY", app::summary_line(outcome));
  return 0;
}

int run_bootstrap_command(const std::string& program, const std::vector<std::string>& args) {
  auto parsed = cli::parse_bootstrap_args(args, env);
  if (!parsed) {
    int rc = fail(parsed.error());
    if (parsed.error().code == Errc::Usage) std::cerr << "run '" << program << " --help' for usage\n";
    return rc;
  }
  const cli::Options& o = *parsed;
  if (o.help) {
    std::cout << cli::bootstrap_help(program);
    return 0;
  }
  if (o.version) {
    std::cout << "eks-node-agent " << AGENT_VERSION << "\n";
    return 0;
  }
  if (o.quiet) log::set_threshold(log::Level::Notice);
  for (const auto& w : o.warnings) log::warn("IGNORED_FLAG", "{}", w);
  return execute_run(o, imds_options(o.imds_endpoint, o.timeout), aws_options(o.node.aws_api_retry_attempts),
                     exit_code_for);
}

// --- nodeadm -------------------------------------------------------------------------------------

// nodeadm's exit statuses: 2 for usage, 1 for any failed command.
int nodeadm_exit_code(Errc code) { return code == Errc::Usage ? 2 : 1; }

// IMDS as nodeadm's client asks it: about 60 attempts at most 1 s apart, so that an IMDS that
// comes up late (the instance's network is still being configured) is waited for.
platform::AsioImds::Options nodeadm_imds_options(const std::optional<std::string>& flag) {
  platform::AsioImds::Options o = imds_options(flag, cli::kNodeadmImdsBudget);
  o.overall = cli::kNodeadmImdsBudget;
  o.max_attempts = cli::kNodeadmImdsAttempts;
  o.backoff_cap = std::chrono::milliseconds(1000);
  // nodeadm looks the region up with a client that also retries 404 (IMDS answers 404 for the
  // identity document while the instance is still coming up); the document gives us the region.
  o.retry_not_found = {"latest/dynamic/instance-identity/document"};
  return o;
}

// EC2 as nodeadm's SDK client calls it: AWS_MAX_ATTEMPTS attempts (else 30), 30 s to connect.
platform::CurlAwsApi::Options nodeadm_aws_options(int attempts) {
  platform::CurlAwsApi::Options o = aws_options(attempts - 1);
  o.connect_timeout = cli::kNodeadmAwsConnectTimeout;
  o.request_timeout = 2 * cli::kNodeadmAwsConnectTimeout;
  o.user_agent = "eks-node-agent/" AGENT_VERSION " (nodeadm)";
  o.retry_limit_text = fmt::format("AWS_MAX_ATTEMPTS allows {} attempt(s)", attempts);
  return o;
}

int nodeadm_usage(const std::string& program, const Error& e, std::string_view topic) {
  log::error("E_USAGE", "{}", e.message);
  std::cerr << cli::nodeadm_help(program, topic);
  return 2;
}

// Writes `bytes` to a host path (config dump -o), atomically.
Status write_host_file(const std::string& path, const std::string& bytes) {
  const std::string absolute = std::filesystem::absolute(path).lexically_normal().string();
  AGENT_TRY(auto fs, platform::PosixRootFs::open("/"));
  AGENT_TRY(WriteOutcome written, fs->write_atomic(absolute, bytes, 0644));
  (void)written;
  return {};
}

// nodeadm config check | dump: resolution (and the cache, for dump) only; nothing is written but
// dump's --config-output.
int run_nodeadm_config(const cli::NodeadmCommand& c) {
  using Verb = cli::NodeadmCommand::Verb;
  const std::vector<std::string> sources =
      c.config_sources.empty() ? std::vector<std::string>{cli::kUserDataSource} : c.config_sources;
  platform::SteadyClock clock;
  auto fs = platform::PosixRootFs::open(c.root);
  if (!fs) return fail_with(fs.error().wrap("--root {}", c.root), nodeadm_exit_code);
  platform::AsioImds imds(nodeadm_imds_options(c.imds_endpoint), clock);
  if (c.verb == Verb::ConfigCheck) {
    log::info("CONFIG_CHECK", "Checking configuration");
    Status st = app::nodeadm_config_check(sources, imds, **fs);
    if (!st) return fail_with(st.error(), nodeadm_exit_code);
    log::info("CONFIG_CHECK", "Configuration is valid");
    return 0;
  }
  auto nc = app::resolve_nodeadm_config(sources, c.config_cache, imds, **fs);
  if (!nc) return fail_with(nc.error(), nodeadm_exit_code);
  for (const auto& w : nc->warnings) log::warn("NODECONFIG_WARNING", "{}", w);
  const std::string doc = app::dump_document(nc->doc.spec);
  if (c.config_output.empty()) {
    std::cout << doc;
    return 0;
  }
  log::info("CONFIG_DUMP", "Dumping configuration");
  if (Status st = write_host_file(c.config_output, doc); !st) return fail_with(st.error(), nodeadm_exit_code);
  log::info("CONFIG_DUMP", "Configuration dumped to {}", c.config_output);
  return 0;
}

// The nodeadm command line (README "nodeadm command line"): help, version, init, config.
int run_nodeadm(const std::string& program, const std::vector<std::string>& args) {
  auto parsed = cli::parse_nodeadm_args(args);
  if (!parsed) {
    // The help of the subcommand the error is in.
    const bool init = std::find(args.begin(), args.end(), "init") != args.end();
    const bool config = std::find(args.begin(), args.end(), "config") != args.end();
    return nodeadm_usage(program, parsed.error(), init ? "init" : config ? "config" : "");
  }
  cli::NodeadmCommand c = std::move(parsed).value();
  using Verb = cli::NodeadmCommand::Verb;
  if (c.verb == Verb::Help) {
    const bool asked = std::any_of(args.begin(), args.end(),
                                   [](const std::string& a) { return a == "-h" || a == "--help" || a == "help"; });
    (asked ? std::cout : std::cerr) << cli::nodeadm_help(program, c.help_topic);
    return asked ? 0 : 2;  // no subcommand: usage, as nodeadm
  }
  if (c.verb == Verb::Version) {
    std::cout << "eks-node-agent " << AGENT_VERSION << " (nodeadm command line)\n";
    return 0;
  }
  if (c.development) log::set_threshold(log::Level::Debug);
  // file://config.yaml is relative to the working directory (under --root: to its place there).
  std::error_code ec;
  const std::string cwd = std::filesystem::current_path(ec).string();
  for (auto& s : c.config_sources) {
    auto abs = cli::absolute_config_source(s, cwd, c.root);
    // A source nodeadm cannot build a provider for fails the command (1); a file outside --root is
    // a misuse of our own option (2, with the usage).
    if (!abs && abs.error().code != Errc::Usage) return fail_with(abs.error(), nodeadm_exit_code);
    if (!abs) return nodeadm_usage(program, abs.error(), c.verb == Verb::Init ? "init" : "config");
    s = *abs;
  }
  if (c.verb == Verb::Init) {
    if (::geteuid() != 0) return fail_with(make_error(Errc::Denied, "must run as root"), nodeadm_exit_code);
    const int attempts = cli::nodeadm_aws_attempts(env("AWS_MAX_ATTEMPTS"));
    cli::Options o = cli::nodeadm_init_options(c, attempts);
    log::info("NODEADM_INIT", "sources {}, cache {}, phases {}{}, deadline {} s (EC2 attempts {})",
              fmt::join(o.config_sources, " "), c.config_cache.empty() ? "none" : c.config_cache,
              o.nodeadm->config ? "config " : "", o.nodeadm->run ? "run" : "", o.timeout.count(), attempts);
    return execute_run(o, nodeadm_imds_options(c.imds_endpoint), nodeadm_aws_options(attempts), nodeadm_exit_code);
  }
  return run_nodeadm_config(c);
}

// --- build-mode ----------------------------------------------------------------------------------

std::string host_machine() {
  struct utsname u {};
  return ::uname(&u) == 0 ? u.machine : "";
}

// A host file (not under --root) in 1 MiB pieces: this binary is tens of MiB with debug info.
Status read_host_chunks(const std::string& path, const char* what,
                        const std::function<Status(std::string_view)>& sink) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::NotFound, "{} {}: cannot be read ({})", what, path, std::strerror(errno));
  std::string buf(1 << 20, '\0');
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
    AGENT_TRY_STATUS(sink(std::string_view(buf.data(), static_cast<size_t>(in.gcount()))));
  }
  if (in.bad()) return make_error(Errc::Io, "{} {}: read failed", what, path);
  return {};
}

Result<std::string> read_host_file(const std::string& path, const char* what) {
  std::string out;
  AGENT_TRY_STATUS(read_host_chunks(path, what, [&](std::string_view piece) -> Status {
    out.append(piece);
    return {};
  }));
  return out;
}

// IMDS switched off (AWS_EC2_METADATA_DISABLED=true): every request fails as unreachable, so
// credentials come from the environment or requests go anonymously.
class NoImds final : public Imds {
 public:
  Result<std::string> get(const std::string& path) override {
    return make_error(Errc::Unavailable, "IMDS is disabled (AWS_EC2_METADATA_DISABLED): not reading {}", path);
  }
  std::vector<Result<std::string>> get_many(const std::vector<std::string>& paths) override {
    std::vector<Result<std::string>> out;
    for (const auto& p : paths) out.push_back(get(p));
    return out;
  }
  ImdsStats stats() const override { return {}; }
};

bool env_true(const char* name) {
  const char* v = env(name);
  return v && (std::string_view(v) == "true" || std::string_view(v) == "1");
}

// The build variables: the embedded defaults, then each --var-file, then name=value.
Result<compute::BuildVars> build_vars(const cli::BuildArgs& a) {
  std::vector<compute::VarFile> files;
  for (const auto& path : a.var_files) {
    AGENT_TRY(std::string text, read_host_file(path, "--var-file"));
    files.push_back({path, std::move(text)});
  }
  return compute::resolve_build_vars(embedded::file("config/build-variables.json"), files, a.assignments,
                                     host_machine());
}

platform::CurlS3::Options s3_options(const compute::BuildVars& vars, const std::string& domain) {
  platform::CurlS3::Options s3;
  s3.bucket = vars.binary_bucket_name;
  s3.region = vars.binary_bucket_region;
  s3.domain = domain;
  s3.env = aws::aws_env_from(env);
  if (const char* e = env("AWS_ENDPOINT_URL_S3"); e && *e) s3.endpoint_url_s3 = e;
  s3.anonymous = false;
  s3.user_agent = "eks-node-agent/" AGENT_VERSION;
  s3.on_notice = [](const std::string& why) { log::info("S3_ANONYMOUS", "{}", why); };
  s3.on_retry = [](const std::string& op, int attempt, std::chrono::milliseconds delay, const std::string& why) {
    log::info("S3_RETRY", "{} attempt {} failed ({}); retrying in {} ms", op, attempt, why, delay.count());
  };
  return s3;
}

// The build's two AWS API steps (the instance-type table, the image cache), each with its own 30
// minutes from when it starts (downloads and package steps before it may take long). `vars`,
// `aws_api`, `fs` and `clock` must outlive `ports`.
void add_aws_steps(app::BuildPorts& ports, const compute::BuildVars& vars, const std::string& domain,
                   AwsApi& aws_api, const RootFsReader& fs, Clock& clock) {
  auto where = [&vars, &clock, domain] {
    return AwsWhere{.region = vars.binary_bucket_region, .domain = domain,
                    .deadline = clock.now() + std::chrono::minutes(30)};
  };
  const CancelToken* cancel = ports.cancel;
  ports.instance_table = [&aws_api, &clock, cancel, where]() -> Result<std::string> {
    app::AwsContext ctx{.api = aws_api, .clock = clock, .cancel = cancel};
    const AwsWhere at = where();
    AGENT_TRY(auto types, app::list_instance_types(ctx, at, 100, nullptr));
    const size_t listed = types.size();
    auto tables = compute::generate_tables(std::move(types), "EC2 DescribeInstanceTypes in " + at.region);
    log::info("BUILD_INSTANCE_TYPES", "{} instance types from EC2 DescribeInstanceTypes ({} without usable "
              "networking facts)", listed, tables.skipped.size());
    return tables.eni_max_pods;
  };
  auto run_in_image = ports.run_in_image;
  ports.cache_images = [&vars, &aws_api, &fs, &clock, cancel, where, run_in_image](const compute::BuildPlan&) -> Status {
    app::ImageCacheRequest req;
    req.kubernetes_version = vars.kubernetes_version_text;
    req.pause_container_version = vars.pause_container_version;
    req.ctr_installed = fs.exists("/usr/bin/ctr") || fs.exists("/usr/local/bin/ctr");
    AGENT_TRY(auto summary, app::cache_container_images(req, aws_api, where(), run_in_image, clock, cancel,
                                                        [](const std::string& line) {
                                                          log::info("BUILD_IMAGES", "{}", line);
                                                        }));
    for (const auto& d : summary.diagnostics) log::warn(d.id, "{}", d.message);
    log::info("BUILD_IMAGES", "{} images pulled from {}, {} tags for {} regions", summary.pulled.size(),
              summary.registry, summary.tagged, summary.regions);
    return {};
  };
}

// Runs `plan` into the image at a.root: S3 and the AWS API signed with the environment's or the
// instance profile's credentials, commands inside the image, units enabled offline.
int apply_build(const cli::BuildArgs& a, const compute::BuildVars& vars, const compute::BuildPlan& plan, RootFs& fs,
                const CancelToken* cancel) {
  platform::SteadyClock clock;
  platform::AsioImds imds(imds_options(a.imds_endpoint, std::chrono::seconds(10)), clock, cancel);
  const std::string domain = aws::partition_domain(vars.binary_bucket_region, "", "");
  // Without IMDS (a chroot build on a workstation), AWS_EC2_METADATA_DISABLED=true goes straight to
  // environment credentials or anonymous requests.
  NoImds no_imds;
  Imds& creds_imds = env_true("AWS_EC2_METADATA_DISABLED") ? static_cast<Imds&>(no_imds) : imds;
  platform::CurlS3 store(s3_options(vars, domain), creds_imds, clock, wall_now, cancel);
  platform::CurlAwsApi aws_api(aws_options(3), creds_imds, clock, wall_now, cancel);
  platform::PosixCommandRunner runner(std::chrono::minutes(30));
  platform::PosixCommandRunner visible_runner(std::chrono::minutes(30), /*show_output=*/true);
  platform::OfflineServiceManager services(fs);

  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  std::unique_ptr<app::DownloadProgress> current;
  app::BuildPorts ports{.fs = fs, .store = store, .services = services};
  // Commands run inside the image: chroot ROOT unless the image is this system. Errors name the
  // command, not chroot (and never its other arguments: a ctr pull carries a registry password).
  auto in_image = [&](CommandRunner& r, const std::vector<std::string>& argv) -> Result<std::string> {
    std::vector<std::string> full;
    if (a.root != "/") full = {"chroot", std::filesystem::absolute(a.root).string()};
    full.insert(full.end(), argv.begin(), argv.end());
    auto out = r.run(full);
    if (!out && a.root != "/") return out.error().wrap("{} in the image {}", argv[0], a.root);
    return out;
  };
  ports.run_in_image = [&](const std::vector<std::string>& argv) { return in_image(runner, argv); };
  ports.run_package_step = [&](const std::vector<std::string>& argv) { return in_image(visible_runner, argv); };
  ports.read_self = [](const std::function<Status(std::string_view)>& sink) {
    return read_host_chunks("/proc/self/exe", "this program", sink);
  };
  ports.progress = [&](const compute::Download& d) -> FetchProgress {
    current = std::make_unique<app::DownloadProgress>(std::cerr, terminal, clock, d.name);
    return current->callback();
  };
  ports.downloaded = [&](const compute::Download&, std::uint64_t bytes) {
    if (current) current->finish(bytes);
  };
  ports.cancel = cancel;
  ports.agent_version = AGENT_VERSION;
  add_aws_steps(ports, vars, domain, aws_api, fs, clock);

  app::BuildReport report;
  Status result = app::run_build(vars, plan, ports, report);
  if (current) current->abandon();
  if (!result) {
    int rc = fail(result.error());
    log::emit(log::Level::Notice, "SUMMARY", "FAILED build: " + app::build_summary(vars, report));
    return rc;
  }
  log::emit(log::Level::Notice, "SUMMARY", "build: " + app::build_summary(vars, report));
  return 0;
}

// `build-mode`: variables -> plan -> (dry run | IAM policy | apply into --root).
int run_build_mode(const std::string& program, const std::vector<std::string>& args) {
  auto parsed = cli::parse_build_args(args);
  if (!parsed) {
    int rc = fail(parsed.error());
    std::cerr << "run '" << program << " build-mode --help' for usage\n";
    return rc;
  }
  const cli::BuildArgs& a = *parsed;
  if (a.help) {
    std::cout << cli::build_help(program);
    return 0;
  }
  auto vars = build_vars(a);
  if (!vars) return fail(vars.error());
  if (a.print_iam_policy) {
    std::cout << compute::build_iam_policy(*vars).dump(2) << "\n";
    return 0;
  }

  platform::SignalWatcher signals([](int, bool first) {
    if (first) log::emit(log::Level::Notice, "SIGNAL", "stopping at the next safe point; nothing half-installed");
  });
  auto fs = platform::PosixRootFs::open(a.root);
  if (!fs) return fail(fs.error().wrap("--root {}", a.root));
  const compute::BuildFacts facts = app::gather_build_facts(**fs);
  auto plan = compute::plan_build(*vars, facts);
  if (!plan) return fail(plan.error());
  for (const auto& n : plan->notes) log::info(n.id, "{}", n.message);
  if (a.dry_run) std::cout << compute::render_build_plan(*vars, facts, *plan, a.root) << std::flush;
  // A step marked WOULD FAIL: the dry run ends as the real run would, before it changes anything.
  if (plan->blocked) return fail(*plan->blocked);
  if (a.dry_run) return 0;
  return apply_build(a, *vars, *plan, **fs, &signals.token());
}

}  // namespace

int main(int argc, char** argv) {
  std::string program = argc > 0 ? std::filesystem::path(argv[0]).filename().string() : "eks-node-agent";
  std::vector<std::string> args(argv + 1, argv + argc);
  // nodeadm-internal: the AL2023 image's networking helper (agent/nodeadm_internal_main.cc).
  if (program == "nodeadm-internal") return agent::nodeadm_internal_main(args);
  if (!args.empty() && args[0] == "nodeadm-internal") return agent::nodeadm_internal_main({args.begin() + 1, args.end()});
  int rc = 0;
  if (program == "nodeadm") {
    rc = run_nodeadm(program, args);
  } else if (!args.empty() && args[0] == "nodeadm") {
    rc = run_nodeadm("eks-node-agent nodeadm", {args.begin() + 1, args.end()});
  } else if (!args.empty() && args[0] == "max-pods" &&
      std::find(args.begin(), args.end(), "--generate-table") != args.end()) {
    rc = run_generate_table({args.begin() + 1, args.end()});
  } else if (!args.empty() && args[0] == "max-pods") {
    rc = run_max_pods({args.begin() + 1, args.end()});
  } else if (!args.empty() && args[0] == "status") {
    rc = run_status({args.begin() + 1, args.end()});
  } else if (!args.empty() && args[0] == "build-mode") {
    rc = run_build_mode(program, {args.begin() + 1, args.end()});
  } else if (!args.empty() && args[0] == "config") {
    rc = run_config(program, {args.begin() + 1, args.end()});
  } else {
    rc = run_bootstrap_command(program, args);
  }
  return rc;
}
