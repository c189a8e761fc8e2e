#include <doctest/doctest.h>

#include "agent/compute/al2023/go_json.h"

using agent::compute::al2023::go_json_marshal_indent;
using agent::compute::al2023::go_json_struct_indent;

TEST_CASE("go_json: MarshalIndent layout, sorted keys, no trailing newline") {
  auto v = nlohmann::json::parse(R"({"b":[1,2],"a":{"x":true,"e":{},"l":[]},"n":null})");
  CHECK(go_json_marshal_indent(v, 4) ==
        "{\n    \"a\": {\n        \"e\": {},\n        \"l\": [],\n        \"x\": true\n    },\n"
        "    \"b\": [\n        1,\n        2\n    ],\n    \"n\": null\n}");
}

TEST_CASE("go_json: struct order is kept") {
  nlohmann::ordered_json v;
  v["z"] = "1";
  v["a"] = 2;
  CHECK(go_json_struct_indent(v, 2) == "{\n  \"z\": \"1\",\n  \"a\": 2\n}");
}

TEST_CASE("go_json: HTML escaping and float64 numbers as Go prints them") {
  auto v = nlohmann::json::parse(R"({"s":"<a&b>\u2028","i":1048576,"f":0.5,"big":1e21,"tiny":1e-7})");
  CHECK(go_json_marshal_indent(v, 0) ==
        "{\n\"big\": 1e+21,\n\"f\": 0.5,\n\"i\": 1048576,\n\"s\": \"\\u003ca\\u0026b\\u003e\\u2028\",\n\"tiny\": 1e-7\n}");
}
