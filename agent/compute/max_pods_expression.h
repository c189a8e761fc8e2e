// NodeConfig spec.kubelet.maxPodsExpression (nodeadm): an integer CEL expression over the
// instance's networking that replaces the computed max pods. Pure.
//
// The CEL subset an integer formula needs: int literals, true/false, the variables default_enis,
// ips_per_eni and max_pods, parentheses, unary - and !, * / %, + -, < <= > >= == !=, && || (short
// circuit) and the conditional a ? b : c; 64-bit integers with overflow and division by zero as
// errors, as CEL has them. Anything else (strings, functions, other names) fails to compile.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/model/result.h"

namespace agent::compute {

struct MaxPodsVariables {
  std::int64_t default_enis = 0;  // ENIs of the default network card
  std::int64_t ips_per_eni = 0;   // IPv4 addresses per ENI
  std::int64_t max_pods = 0;      // the value the agent computed
};

// The expression's value, which must be an integer with 0 < value <= 2147483647. Errors (Invalid),
// worded as nodeadm's: "failed to compile custom max pods expression: ...", "could not interpret
// result \"true\" from evaluation of custom max pods expression as an integer: ...", "max pods
// value N from custom expression evaluation is invalid: value must be a positive integer less than
// 2147483647".
Result<int> evaluate_max_pods_expression(std::string_view expression, const MaxPodsVariables& vars);

}  // namespace agent::compute
