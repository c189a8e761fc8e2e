#include "agent/nodeadm_internal_main.h"

#include <cstdlib>
#include <iostream>

#include "agent/app/log.h"
#include "agent/cli/nodeadm_internal_cli.h"
#include "agent/platform/asio_imds.h"
#include "agent/platform/posix_command_runner.h"
#include "agent/platform/posix_root_fs.h"
#include "agent/platform/steady_clock.h"

namespace agent {

int nodeadm_internal_main(const std::vector<std::string>& argv) {
  auto args = cli::parse_nodeadm_internal_args(argv);
  if (!args) {
    log::error("E_Usage", "{}", args.error().message);
    std::cerr << "run 'nodeadm-internal --help' for usage\n";
    return 2;
  }
  if (args->help) {
    std::cout << cli::nodeadm_internal_help();
    return 0;
  }
  auto fs = platform::PosixRootFs::open(args->root);
  if (!fs) {
    log::error("E_Io", "--root {}: {}", args->root, fs.error().message);
    return 1;
  }
  platform::SteadyClock clock;
  // IMDSv2 as the bootstrap uses it; the budget covers the 404 retries of an ENI IMDS does not
  // list yet (about a minute, as nodeadm's client).
  platform::AsioImds::Options imds_options;
  imds_options.endpoint = platform::resolve_imds_endpoint(
      args->imds_endpoint, std::getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT"), std::getenv("IMDS_ENDPOINT"));
  imds_options.overall = std::chrono::seconds(90);
  platform::AsioImds imds(imds_options, clock);
  platform::PosixCommandRunner commands(std::chrono::seconds(10));
  app::NodeadmInternalPorts ports{.imds = imds, .fs = **fs, .commands = commands, .clock = clock};
  return cli::run_nodeadm_internal(*args, ports);
}

}  // namespace agent
