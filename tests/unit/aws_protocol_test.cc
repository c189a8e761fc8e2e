// The AWS wire format without signing: request building, answer parsing, error meaning.
#include "agent/aws/protocol.h"

#include <doctest/doctest.h>

#include "agent/aws/xml.h"

using agent::AttemptOutcome;
using agent::Errc;
using namespace agent::aws;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

constexpr const char* kClusterJson = R"({
  "cluster": {
    "name": "my-cluster",
    "arn": "arn:aws:eks:us-west-2:111122223333:cluster/my-cluster",
    "endpoint": "https://ABC.gr7.us-west-2.eks.amazonaws.com",
    "status": "ACTIVE",
    "certificateAuthority": {"data": "LS0tLS1CRUdJTg=="},
    "kubernetesNetworkConfig": {"serviceIpv4Cidr": "10.100.0.0/16", "serviceIpv6Cidr": null, "ipFamily": "ipv4"},
    "id": null,
    "outpostConfig": null,
    "tags": {}
  }
})";

constexpr const char* kTypesXml = R"(<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstanceTypesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r-1</requestId>
  <instanceTypeSet>
    <item>
      <instanceType>c6in.32xlarge</instanceType>
      <hypervisor>nitro</hypervisor>
      <bareMetal>false</bareMetal>
      <vCpuInfo><defaultVCpus>128</defaultVCpus><defaultCores>64</defaultCores></vCpuInfo>
      <networkInfo>
        <maximumNetworkInterfaces>16</maximumNetworkInterfaces>
        <maximumNetworkCards>2</maximumNetworkCards>
        <defaultNetworkCardIndex>0</defaultNetworkCardIndex>
        <networkCards>
          <item><networkCardIndex>0</networkCardIndex><maximumNetworkInterfaces>8</maximumNetworkInterfaces></item>
          <item><networkCardIndex>1</networkCardIndex><maximumNetworkInterfaces>8</maximumNetworkInterfaces></item>
        </networkCards>
        <ipv4AddressesPerInterface>50</ipv4AddressesPerInterface>
        <ipv6AddressesPerInterface>50</ipv6AddressesPerInterface>
      </networkInfo>
    </item>
    <item>
      <instanceType>m5.metal</instanceType>
      <bareMetal>true</bareMetal>
      <vCpuInfo><defaultVCpus>96</defaultVCpus></vCpuInfo>
      <networkInfo>
        <maximumNetworkInterfaces>15</maximumNetworkInterfaces>
        <ipv4AddressesPerInterface>50</ipv4AddressesPerInterface>
      </networkInfo>
    </item>
  </instanceTypeSet>
  <nextToken>AAE+/x==</nextToken>
</DescribeInstanceTypesResponse>)";

}  // namespace

TEST_CASE("DescribeCluster is a GET of /clusters/NAME; a name that could change the path is refused") {
  auto r = describe_cluster_request("https://eks.us-west-2.amazonaws.com", "my-cluster_2");
  REQUIRE(r);
  CHECK(r->method == "GET");
  CHECK(r->url == "https://eks.us-west-2.amazonaws.com/clusters/my-cluster_2");
  CHECK(r->body.empty());
  CHECK(r->service == Service::Eks);
  CHECK(r->iam_action == "eks:DescribeCluster");
  for (const char* bad : {"", "../x", "a/b", "-x", "a b", "x?y", "c%2F"}) {
    CAPTURE(bad);
    auto e = describe_cluster_request("https://e", bad);
    REQUIRE_FALSE(e);
    CHECK(e.error().code == Errc::Invalid);
  }
  CHECK_FALSE(describe_cluster_request("https://e", std::string(101, 'a')));
}

TEST_CASE("EC2 requests are form-encoded POST bodies with the API version") {
  auto one = describe_instance_types_request("https://ec2.us-west-2.amazonaws.com", {"m5.large"}, "", 100);
  REQUIRE(one);
  CHECK(one->method == "POST");
  CHECK(one->url == "https://ec2.us-west-2.amazonaws.com/");
  CHECK(one->body == "Action=DescribeInstanceTypes&Version=2016-11-15&InstanceType.1=m5.large");
  CHECK(one->headers == std::vector<std::string>{"Content-Type: application/x-www-form-urlencoded; charset=utf-8"});
  CHECK(one->iam_action == "ec2:DescribeInstanceTypes");
  CHECK(one->subject == "instance type 'm5.large'");

  auto page = describe_instance_types_request("https://e", {}, "AAE+/x==", 100);
  REQUIRE(page);
  CHECK(page->body == "Action=DescribeInstanceTypes&Version=2016-11-15&MaxResults=100&NextToken=AAE%2B%2Fx%3D%3D");
  CHECK_FALSE(describe_instance_types_request("https://e", {"M5.LARGE"}, "", 100));
  CHECK_FALSE(describe_instance_types_request("https://e", {"m5.large&Action=x"}, "", 100));
  CHECK_FALSE(describe_instance_types_request("https://e", {}, "", 4));

  auto inst = describe_instances_request("https://e", "i-0123456789abcdef0");
  REQUIRE(inst);
  CHECK(inst->body == "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0");
  CHECK(inst->iam_action == "ec2:DescribeInstances");
  CHECK_FALSE(describe_instances_request("https://e", "i-XYZ"));
  CHECK_FALSE(describe_instances_request("https://e", "vol-0123"));
}

TEST_CASE("form_encode keeps only RFC 3986 unreserved characters") {
  CHECK(form_encode("aZ09-_.~") == "aZ09-_.~");
  CHECK(form_encode("a b+c/=&") == "a%20b%2Bc%2F%3D%26");
  CHECK(form_encode("\xc3\xa9") == "%C3%A9");
}

TEST_CASE("DescribeCluster JSON maps as bootstrap.sh's query did, null as absent") {
  auto c = parse_describe_cluster(kClusterJson);
  REQUIRE(c);
  CHECK(c->name == "my-cluster");
  CHECK(c->status == "ACTIVE");
  CHECK(c->endpoint == "https://ABC.gr7.us-west-2.eks.amazonaws.com");
  CHECK(c->certificate_authority == "LS0tLS1CRUdJTg==");
  CHECK(c->service_ipv4_cidr == std::optional<std::string>("10.100.0.0/16"));
  CHECK_FALSE(c->service_ipv6_cidr);
  CHECK(c->ip_family == std::optional<std::string>("ipv4"));
  CHECK(c->id.empty());
  CHECK_FALSE(c->outpost_arn);
}

TEST_CASE("DescribeCluster of a local Outpost cluster carries its id and Outpost ARN") {
  auto c = parse_describe_cluster(R"({"cluster": {"name": "l", "status": "CREATING", "id": "0123-abcd",
      "endpoint": "https://x", "certificateAuthority": {"data": "Y2E="},
      "kubernetesNetworkConfig": {"serviceIpv4Cidr": "None", "ipFamily": "ipv6", "serviceIpv6Cidr": "fd00::/108"},
      "outpostConfig": {"outpostArns": ["arn:aws:outposts:us-west-2:1:outpost/op-1", "arn:2"]}}})");
  REQUIRE(c);
  CHECK(c->id == "0123-abcd");
  CHECK(c->outpost_arn == std::optional<std::string>("arn:aws:outposts:us-west-2:1:outpost/op-1"));
  CHECK_FALSE(c->service_ipv4_cidr);  // the CLI's "None"
  CHECK(c->service_ipv6_cidr == std::optional<std::string>("fd00::/108"));
  CHECK(c->ip_family == std::optional<std::string>("ipv6"));
  CHECK(c->status == "CREATING");
}

TEST_CASE("a DescribeCluster answer without a cluster object is a parse error") {
  for (const char* bad : {"", "[]", "{}", R"({"cluster": "x"})", "<html>"}) {
    CAPTURE(bad);
    auto c = parse_describe_cluster(bad);
    REQUIRE_FALSE(c);
    CHECK(c.error().code == Errc::Parse);
  }
}

TEST_CASE("DescribeInstanceTypes XML: default card ENIs, vCPUs, hypervisor, the next page token") {
  auto p = parse_describe_instance_types(kTypesXml);
  REQUIRE_MESSAGE(p, (p ? "" : p.error().message));
  CHECK(p->next_token == "AAE+/x==");
  REQUIRE(p->types.size() == 2);
  const auto& c6 = p->types[0];
  CHECK(c6.instance_type == "c6in.32xlarge");
  CHECK(c6.default_vcpus == 128);
  CHECK(c6.hypervisor == "nitro");
  CHECK(c6.max_enis == 16);
  CHECK(c6.default_card_max_enis == 8);
  CHECK(c6.network_cards == 2);
  CHECK(c6.ipv4_per_eni == 50);
  const auto& metal = p->types[1];
  CHECK(metal.bare_metal);
  CHECK(metal.hypervisor.empty());
  CHECK(metal.default_card_max_enis == 15);  // no card list: the instance-wide figure
}

TEST_CASE("DescribeInstanceTypes: the last page has no token; an empty page may omit the set") {
  auto p = parse_describe_instance_types(
      "<DescribeInstanceTypesResponse><requestId>x</requestId></DescribeInstanceTypesResponse>");
  REQUIRE(p);
  CHECK(p->types.empty());
  CHECK(p->next_token.empty());
  CHECK_FALSE(parse_describe_instance_types("<Other/>"));
  CHECK_FALSE(parse_describe_instance_types(
      "<DescribeInstanceTypesResponse><instanceTypeSet><item><instanceType>x</instanceType></item>"
      "</instanceTypeSet></DescribeInstanceTypesResponse>"));  // no networkInfo
}

TEST_CASE("DescribeInstances: PrivateDnsName of the instance asked for, empty while unpublished") {
  const std::string xml =
      "<DescribeInstancesResponse xmlns='http://ec2.amazonaws.com/doc/2016-11-15/'><reservationSet><item>"
      "<instancesSet><item><instanceId>i-0a</instanceId><privateDnsName/>"
      "<instanceState><code>0</code><name>pending</name></instanceState></item>"
      "<item><instanceId>i-0b</instanceId><privateDnsName>ip-10-0-0-1.ec2.internal</privateDnsName></item>"
      "</instancesSet></item></reservationSet></DescribeInstancesResponse>";
  auto a = parse_describe_instances(xml, "i-0a");
  REQUIRE(a);
  CHECK(a->private_dns_name.empty());
  CHECK(a->state == "pending");
  auto b = parse_describe_instances(xml, "i-0b");
  REQUIRE(b);
  CHECK(b->private_dns_name == "ip-10-0-0-1.ec2.internal");
  CHECK_FALSE(parse_describe_instances(xml, "i-0c"));
}

TEST_CASE("error answers: EKS from the header or the body, EC2 from the XML") {
  auto eks = parse_api_error(Service::Eks, 404, "ResourceNotFoundException:http://internal.amazon.com/coral/",
                             R"({"message":"No cluster found for name: x."})");
  CHECK(eks == ApiError{404, "ResourceNotFoundException", "No cluster found for name: x."});
  auto body_only = parse_api_error(Service::Eks, 400, "", R"({"__type":"com.amazon#InvalidParameterException","Message":"bad"})");
  CHECK(body_only.code == "InvalidParameterException");
  CHECK(body_only.message == "bad");
  auto ec2 = parse_api_error(Service::Ec2, 503, "",
                             "<?xml version=\"1.0\"?><Response><Errors><Error><Code>RequestLimitExceeded</Code>"
                             "<Message>Request limit exceeded.</Message></Error></Errors><RequestID>x</RequestID></Response>");
  CHECK(ec2 == ApiError{503, "RequestLimitExceeded", "Request limit exceeded."});
  auto junk = parse_api_error(Service::Ec2, 502, "", "<html>\nBad Gateway</html>");
  CHECK(junk.code.empty());
  CHECK(contains(junk.message, "Bad Gateway"));
}

TEST_CASE("throttling, server errors and final errors are told apart") {
  CHECK(classify({429, "", ""}) == AttemptOutcome::Throttled);
  CHECK(classify({400, "ThrottlingException", ""}) == AttemptOutcome::Throttled);
  CHECK(classify({503, "RequestLimitExceeded", ""}) == AttemptOutcome::Throttled);
  CHECK(classify({429, "TooManyRequestsException", ""}) == AttemptOutcome::Throttled);
  CHECK(classify({500, "InternalFailure", ""}) == AttemptOutcome::Failure);
  CHECK(classify({503, "", ""}) == AttemptOutcome::Failure);
  CHECK(classify({400, "RequestTimeout", ""}) == AttemptOutcome::Failure);
  CHECK(classify({403, "AccessDeniedException", ""}) == AttemptOutcome::Permanent);
  CHECK(classify({404, "ResourceNotFoundException", ""}) == AttemptOutcome::Permanent);
  CHECK(classify({400, "InvalidInstanceType", ""}) == AttemptOutcome::Permanent);
  CHECK(credentials_expired({403, "ExpiredTokenException", ""}));
  CHECK(credentials_expired({400, "ExpiredToken", ""}));
  CHECK_FALSE(credentials_expired({400, "RequestExpired", ""}));  // clock skew: new keys would not help
}

TEST_CASE("final errors name the IAM action, the missing resource, or the credentials' source") {
  auto req = describe_cluster_request("https://eks", "prod");
  REQUIRE(req);
  auto denied = final_error(*req, {403, "AccessDeniedException", "User: x is not authorized"}, "us-west-2",
                            "instance profile node-role");
  CHECK(denied.code == Errc::AwsApi);
  CHECK(contains(denied.message, "eks:DescribeCluster was denied for the credentials from instance profile node-role"));
  CHECK(contains(denied.message, "allow eks:DescribeCluster"));
  CHECK(contains(denied.message, "User: x is not authorized"));
  auto missing = final_error(*req, {404, "ResourceNotFoundException", "No cluster found"}, "eu-west-1", "environment");
  CHECK(agent::is_aws_not_found(missing));
  CHECK(contains(missing.message, "EKS cluster 'prod' does not exist in eu-west-1"));
  auto creds = final_error(*req, {403, "UnrecognizedClientException", "invalid token"}, "us-west-2", "environment");
  CHECK(contains(creds.message, "rejected the credentials from environment"));
  auto other = final_error(*req, {400, "InvalidParameterException", "nope"}, "us-west-2", "environment");
  CHECK(contains(other.message, "DescribeCluster for EKS cluster 'prod' failed (HTTP 400 InvalidParameterException: nope)"));
  auto ec2 = describe_instances_request("https://ec2", "i-0a");
  REQUIRE(ec2);
  auto unauthorized = final_error(*ec2, {403, "UnauthorizedOperation", "no"}, "us-west-2", "environment");
  CHECK(contains(unauthorized.message, "ec2:DescribeInstances was denied"));
  CHECK_FALSE(contains(unauthorized.message, "--apiserver-endpoint"));
}

TEST_CASE("the XML reader: entities, CDATA, namespaces, attributes, comments") {
  auto x = parse_xml(
      "<?xml version='1.0'?><!-- c --><a:root xmlns:a='u' k=\"v>/\"><b>1 &amp; 2 &lt;3&gt; &#65;&#x42; &quot;&apos;</b>"
      "<c/><d><![CDATA[<raw>&amp;]]></d><!-- inner --><e x='1'/></a:root>");
  REQUIRE_MESSAGE(x, (x ? "" : x.error().message));
  CHECK(x->name == "root");
  CHECK(x->child_text("b") == "1 & 2 <3> AB \"'");
  CHECK(x->child("c") != nullptr);
  CHECK(x->child_text("d") == "<raw>&amp;");
  CHECK(x->child("e") != nullptr);
  CHECK(x->find("missing/x") == nullptr);
  CHECK(x->child_text("missing").empty());
  CHECK(parse_xml("<a>&#x20AC;</a>")->text == "\xe2\x82\xac");
}

TEST_CASE("the XML reader rejects malformed and hostile input with a byte offset") {
  for (const char* bad : {"", "<a>", "<a></b>", "<a>&bogus;</a>", "<a>&#0;</a>", "<a><b></a>", "<a/><b/>",
                          "<a x=1/>", "<a><!-- x</a>", "text"}) {
    CAPTURE(bad);
    auto r = parse_xml(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::Parse);
    CHECK(contains(r.error().message, "at byte"));
  }
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "<a>";
  for (int i = 0; i < 100; ++i) deep += "</a>";
  auto r = parse_xml(deep);
  REQUIRE_FALSE(r);
  CHECK(contains(r.error().message, "nesting too deep"));
}
