#include "agent/model/result.h"

namespace agent {

const char* errc_name(Errc c) {
  switch (c) {
    case Errc::Usage: return "usage";
    case Errc::Invalid: return "invalid";
    case Errc::Parse: return "parse";
    case Errc::NotFound: return "not-found";
    case Errc::Unavailable: return "unavailable";
    case Errc::Timeout: return "timeout";
    case Errc::Denied: return "denied";
    case Errc::Io: return "io";
    case Errc::Service: return "service";
    case Errc::AwsApi: return "aws-api";
    case Errc::Unsupported: return "unsupported";
    case Errc::Interrupted: return "interrupted";
    case Errc::Internal: return "internal";
  }
  return "internal";
}

}  // namespace agent
