#!/bin/bash
# The AWS API fallbacks end to end: the agent binary in scratch roots against the IMDS emulator and
# the AWS API emulator (tests/support/aws_emulator.py, which verifies every request's SigV4
# signature with botocore). Usage:
#   aws_test.sh PATH/TO/eks-node-agent
set -u
AGENT=$(realpath "$1")
source "$(dirname "$0")/lib.sh"
start_emulator

# --- the AWS API emulator (Debian's python3: it needs python3-botocore) --------------------------
start_aws() { start_server AWS aws_emulator.py "$@"; }
stop_aws() { stop_server AWS; }
if ! /usr/bin/python3 -c 'import botocore' 2>/dev/null; then
  echo "not ok - python3-botocore is not installed for /usr/bin/python3 (scripts/install-deps.sh installs it)"
  exit 1
fi
start_aws

aws_control() { post_control "$AWS_URL/_control" "$1"; }
aws_reset() { aws_control '{"action":"reset"}'; }
# aws_stat PYEXPR: evaluates PYEXPR over the emulator's /_stats (as `s`) and prints it.
aws_stat() { get_stat "$AWS_URL/_stats" "$1"; }
CREDS_PATH=latest/meta-data/iam/security-credentials/eks-node-role

# aws_agent ROOT ARGS...: the agent with the AWS endpoint pointed at the emulator.
aws_agent() { AWS_ENDPOINT_URL="$AWS_URL" agent "$@"; }

CLUSTER_CA=$(printf -- '-----BEGIN CERTIFICATE-----\nMIIBemulatorClusterCA\n-----END CERTIFICATE-----\n')
CLUSTER_ENDPOINT=https://EMULATED0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com
BASE=(--apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64")

# --- the boot path stays lean ------------------------------------------------------------------
check "the binary does not link libcurl" equals "$(ldd "$AGENT" | grep -c curl)" 0
give_role 1
R=$(new_root lean 2)
LD_DEBUG=files aws_agent "$R" --cluster my-cluster "${BASE[@]}"
check "flag-complete bootstrap exits 0" expect_rc 0
check "flag-complete bootstrap never loads libcurl" lacks "$WORK/err" "libcurl"
check "flag-complete bootstrap makes no AWS call" equals "$(aws_stat 's["requests"]')" 0
check "flag-complete bootstrap reads no credentials" equals "$(imds_stat "s['gets'].get('$CREDS_PATH', 0)")" 0

# --- the headline: --cluster and nothing else --------------------------------------------------
R=$(new_root flagless 2)
LD_DEBUG=files aws_agent "$R" --cluster my-cluster
check "flag-less bootstrap exits 0" expect_rc 0
check "libcurl is loaded when a call is needed" contains "$WORK/err" "libcurl.so.4"
grep -v '^ *[0-9]*:' "$WORK/err" >"$WORK/err.clean"; mv "$WORK/err.clean" "$WORK/err"
check "DescribeCluster announced" contains "$WORK/err" "DESCRIBE_CLUSTER"
check "CA from DescribeCluster" cmp -s <(printf '%s\n' "$CLUSTER_CA") "$R/etc/kubernetes/pki/ca.crt"
check "endpoint from DescribeCluster" contains "$R/var/lib/kubelet/kubeconfig" "server: \"$CLUSTER_ENDPOINT\""
K=$R/etc/kubernetes/kubelet/kubelet-config.json
check "clusterDNS from the cluster's service CIDR (10.100.0.0/16)" json_eq "$K" 'd["clusterDNS"]' '["10.100.0.10"]'
check "every request's signature verified by botocore" equals "$(aws_stat '[s["signature_ok"], s["signature_failed"]]')" "[1, 0]"
check "signed with the instance profile's session key" equals "$(aws_stat 's["access_keys"]')" '{"ASIAEMULATORROLE0001": 1}'
check "status records the DescribeCluster facts" json_eq "$R/run/eks-node-agent/status.json" '[d["facts"]["describeCluster"]["status"], d["facts"]["describeCluster"]["serviceIPv4CIDR"]]' '["ACTIVE", "10.100.0.0/16"]'
check "no CA in the status file" lacks "$R/run/eks-node-agent/status.json" "MIIBemulatorClusterCA"
check "summary" contains "$WORK/err" "cluster=my-cluster instance=m5.large max-pods=29"

aws_reset
aws_agent "$R" --cluster my-cluster --service-ipv4-cidr 192.168.0.0/16
check "a given --service-ipv4-cidr is not overwritten by DescribeCluster" json_eq "$K" 'd["clusterDNS"]' '["192.168.0.10"]'

# --- retries -----------------------------------------------------------------------------------
aws_reset
aws_control '{"action":"fault","operation":"DescribeCluster","status":429,"code":"TooManyRequestsException","count":2}'
R=$(new_root throttled 2)
aws_agent "$R" --cluster my-cluster
check "throttled twice, then success: exits 0" expect_rc 0
check "each throttled attempt is logged" equals "$(grep -c 'AWS_RETRY.*429 TooManyRequestsException' "$WORK/err")" 2
check "three DescribeCluster requests" equals "$(aws_stat 's["by_operation"]["DescribeCluster"]')" 3
check "the values landed after the retries" json_eq "$R/etc/kubernetes/kubelet/kubelet-config.json" 'd["clusterDNS"]' '["10.100.0.10"]'

aws_reset
aws_control '{"action":"fault","operation":"DescribeCluster","status":500,"code":"ServerException"}'
R=$(new_root fivexx 2)
aws_agent "$R" --cluster my-cluster --aws-api-retry-attempts 1
check "5xx: exit 5 after --aws-api-retry-attempts" expect_rc 5
check "5xx: the error counts the attempts" contains "$WORK/err" "failed 2 time(s)"
check "nothing written when DescribeCluster fails" test ! -e "$R/etc/kubernetes/kubelet/kubelet-config.json"

aws_reset
aws_control '{"action":"throttle","operation":"DescribeCluster","rate":0.0001,"burst":0}'
R=$(new_root deadline 2)
START=$(date +%s)
aws_agent "$R" --cluster my-cluster --timeout 4
END=$(date +%s)
check "throttled past the deadline: exit 5" expect_rc 5
check "throttled past the deadline: says so" contains "$WORK/err" "deadline"
check "throttled past the deadline: bounded by --timeout" test $((END - START)) -le 6

# --- final errors --------------------------------------------------------------------------------
aws_reset
R=$(new_root notfound 2)
aws_agent "$R" --cluster no-such-cluster
check "ResourceNotFound: exit 5" expect_rc 5
check "ResourceNotFound names the cluster and region" contains "$WORK/err" "EKS cluster 'no-such-cluster' does not exist in us-west-2"
check "ResourceNotFound is not retried" equals "$(aws_stat 's["by_operation"]["DescribeCluster"]')" 1

aws_reset
aws_control '{"action":"deny","operation":"DescribeCluster"}'
R=$(new_root denied 2)
aws_agent "$R" --cluster my-cluster
check "AccessDenied: exit 5" expect_rc 5
check "AccessDenied names the IAM action" contains "$WORK/err" "eks:DescribeCluster was denied"
check "AccessDenied is not retried" equals "$(aws_stat 's["by_operation"]["DescribeCluster"]')" 1

aws_reset
imds_set "{\"latest/meta-data/iam/security-credentials/eks-node-role\": null}"
R=$(new_root nocreds 2)
LD_DEBUG=files aws_agent "$R" --cluster my-cluster
check "no instance profile: exit 5" expect_rc 5
check "no instance profile: says so" contains "$WORK/err" "no AWS credentials"
check "no instance profile: libcurl is never loaded" lacks "$WORK/err" "libcurl"
give_role 1

# --- credentials ------------------------------------------------------------------------------
aws_reset
imds_control '{"action":"reset_stats"}'
aws_control "{\"action\":\"expire_credentials\",\"access_key_id\":\"ASIAEMULATORROLE0001\",\"then_set_imds\":{\"url\":\"$IMDS_URL/_control\",\"values\":{\"$CREDS_PATH\":$(json_str "$(role_doc 2)")}}}"
R=$(new_root expired 2)
aws_agent "$R" --cluster my-cluster
check "expired instance credentials: exits 0" expect_rc 0
check "expired instance credentials: refreshed from IMDS" equals "$(imds_stat "s['gets'].get('$CREDS_PATH', 0)")" 2
check "expired instance credentials: the new key signed the retry" equals "$(aws_stat 's["access_keys"]')" '{"ASIAEMULATORROLE0001": 1, "ASIAEMULATORROLE0002": 1}'
give_role 1

aws_reset
R=$(new_root envcreds 2)
AWS_ACCESS_KEY_ID=AKIAEMULATORSTATIC01 AWS_SECRET_ACCESS_KEY=static-secret-key-0000000000000000000000 \
  aws_agent "$R" --cluster my-cluster
check "environment credentials win over the instance profile" equals "$(aws_stat 's["access_keys"]')" '{"AKIAEMULATORSTATIC01": 1}'

# --- cluster not ACTIVE yet ---------------------------------------------------------------------
aws_reset
aws_control '{"action":"cluster_statuses","name":"my-cluster","statuses":["CREATING","CREATING","ACTIVE"]}'
R=$(new_root creating 2)
aws_agent "$R" --cluster my-cluster
check "CREATING then ACTIVE: exits 0" expect_rc 0
check "CREATING then ACTIVE: waited" contains "$WORK/err" "CLUSTER_NOT_ACTIVE"
check "CREATING then ACTIVE: asked three times" equals "$(aws_stat 's["by_operation"]["DescribeCluster"]')" 3
aws_reset
aws_control '{"action":"cluster_statuses","name":"my-cluster","statuses":["DELETING"]}'
aws_agent "$R" --cluster my-cluster
check "a DELETING cluster is an error at once" expect_rc 5
check "a DELETING cluster: says so" contains "$WORK/err" "is DELETING"

# --- instance types no table knows ------------------------------------------------------------
aws_reset
T=$(new_root types 2)
imds_set '{"latest/meta-data/instance-type": "x9.large"}'
aws_agent "$T" --cluster my-cluster "${BASE[@]}"
K=$T/etc/kubernetes/kubelet/kubelet-config.json
check "unknown type: exits 0" expect_rc 0
check "unknown type: max pods from DescribeInstanceTypes (3 x (12-1) + 2)" json_eq "$K" '[d["maxPods"], d["kubeReserved"]["memory"]]' '[35, "640Mi"]'
check "unknown type: the source is logged" contains "$WORK/err" "max-pods=35 (EC2 DescribeInstanceTypes)"
check "unknown type: one DescribeInstanceTypes call" equals "$(aws_stat 's["by_operation"]')" '{"DescribeInstanceTypes": 1}'
imds_set '{"latest/meta-data/instance-type": "x9.48xlarge"}'
aws_agent "$T" --cluster my-cluster "${BASE[@]}"
check "unknown type: the default network card's ENIs (8 x 49 + 2)" json_eq "$K" 'd["maxPods"]' '394'
imds_set '{"latest/meta-data/instance-type": "zz1.large"}'
aws_agent "$T" --cluster my-cluster "${BASE[@]}"
check "unknown to EC2 too: exits 0" expect_rc 0
check "unknown to EC2 too: 110 pods and kubeReserved set" json_eq "$K" '[d["maxPods"], d["kubeReserved"]["memory"]]' '[110, "1465Mi"]'
check "unknown to EC2 too: the warning says why" contains "$WORK/err" "EC2 DescribeInstanceTypes failed too"
imds_reset
give_role 1

# --- hostname source ----------------------------------------------------------------------------
aws_reset
aws_control '{"action":"set_instance","id":"i-0123456789abcdef0","private_dns_names":["","ip-10-0-99-1.us-west-2.compute.internal"]}'
H=$(new_root hostname 2)
aws_agent "$H" --cluster my-cluster "${BASE[@]}" --hostname-source ec2
A=$H/etc/systemd/system/kubelet.service.d/10-kubelet-args.conf
check "--hostname-source ec2: exits 0" expect_rc 0
check "--hostname-source ec2: PrivateDnsName once it is published" contains "$A" "--hostname-override=ip-10-0-99-1.us-west-2.compute.internal"
check "--hostname-source ec2: asked until non-empty" equals "$(aws_stat 's["by_operation"]["DescribeInstances"]')" 2
aws_agent "$H" --cluster my-cluster "${BASE[@]}" --hostname-source instance-id
check "--hostname-source instance-id" contains "$A" "--hostname-override=i-0123456789abcdef0"
aws_reset
aws_agent "$H" --cluster my-cluster "${BASE[@]}"
check "default hostname source is IMDS, with no AWS call" contains "$A" "--hostname-override=ip-10-0-12-34.us-west-2.compute.internal"
check "default hostname source: no AWS call" equals "$(aws_stat 's["requests"]')" 0

# --- local cluster on an Outpost ------------------------------------------------------------------
aws_reset
aws_control "{\"action\":\"set_cluster\",\"name\":\"local-cluster\",\"cluster\":{\"name\":\"local-cluster\",\"status\":\"ACTIVE\",\"endpoint\":\"https://localhost\",\"id\":\"0123abcd-4567-89ef-0123-456789abcdef\",\"certificateAuthority\":{\"data\":\"$CA_B64\"},\"kubernetesNetworkConfig\":{\"serviceIpv4Cidr\":\"10.100.0.0/16\",\"ipFamily\":\"ipv4\"},\"outpostConfig\":{\"outpostArns\":[\"arn:aws:outposts:us-west-2:111122223333:outpost/op-0123456789abcdef0\"],\"controlPlaneInstanceType\":\"m5.large\"}}}"
O=$(new_root outpost 2)
printf '10.0.0.1\tother-host\n' >"$O/etc/hosts"
aws_agent "$O" --cluster local-cluster
check "outpost: exits 0" expect_rc 0
check "outpost: bootstrap-kubeconfig names the cluster id" contains "$O/var/lib/kubelet/bootstrap-kubeconfig" "0123abcd-4567-89ef-0123-456789abcdef"
check "outpost: no regular kubeconfig" test ! -e "$O/var/lib/kubelet/kubeconfig"
check "outpost: kubelet bootstraps from it" contains "$O/etc/systemd/system/kubelet.service.d/30-kubelet-extra-args.conf" "--bootstrap-kubeconfig /var/lib/kubelet/bootstrap-kubeconfig"
check "outpost: /etc/hosts has the API host" contains "$O/etc/hosts" "localhost"
check "outpost: /etc/hosts keeps its other lines" contains "$O/etc/hosts" "other-host"
cp "$O/etc/hosts" "$WORK/hosts1"
aws_agent "$O" --cluster local-cluster
check "outpost: a re-run exits 0" expect_rc 0
check "outpost: /etc/hosts unchanged on re-run (no duplicate lines)" cmp -s "$WORK/hosts1" "$O/etc/hosts"
check "outpost: no line appears twice" equals "$(sort "$O/etc/hosts" | uniq -d | wc -l)" 0

# --- proxy: used for the API, never for IMDS ---------------------------------------------------
aws_reset
imds_control '{"action":"reset_stats"}'
P=$(new_root proxy 2)
# The endpoint host does not resolve: only the proxy (the emulator itself) can reach it.
AWS_ENDPOINT_URL=http://eks.emulated.invalid HTTP_PROXY="$AWS_URL" http_proxy="$AWS_URL" \
  HTTPS_PROXY="$AWS_URL" https_proxy="$AWS_URL" agent "$P" --cluster my-cluster
check "proxy: exits 0" expect_rc 0
check "proxy: the API request went through the proxy" equals "$(aws_stat '[s["proxied"], s["signature_ok"]]')" "[1, 1]"
check "proxy: nothing but the API reached the proxy" equals "$(aws_stat 's["statuses"]')" '{"200": 1}'
check "proxy: IMDS was reached directly" test "$(imds_stat 's["requests"]')" -gt 3
AWS_ENDPOINT_URL=http://eks.emulated.invalid HTTP_PROXY="$AWS_URL" NO_PROXY=.emulated.invalid \
  agent "$P" --cluster my-cluster --aws-api-retry-attempts 0
check "proxy: NO_PROXY exempts the host (which then cannot be resolved)" expect_rc 5

# --- max-pods: the vCPU count from EC2 DescribeInstanceTypes, as max-pods-calculator.sh asks it ----
# m5.metal's size implies no vCPU count and it decides the cap (prefix delegation: 11762 uncapped):
# two different EC2 answers must give the two caps.
KEYS=(AWS_REGION=us-west-2 AWS_ENDPOINT_URL="$AWS_URL" AWS_ACCESS_KEY_ID=AKIAEMULATORSTATIC01
      AWS_SECRET_ACCESS_KEY=static-secret-key-0000000000000000000000)
max_pods() { env "$@" >"$WORK/out" 2>"$WORK/err"; RC=$?; }
aws_reset
aws_control '{"action":"set_instance_types","types":[{"instanceType":"m5.metal","vcpus":96,"maxEnis":15,"ipv4PerEni":50,"ipv6PerEni":50,"hypervisor":"","bareMetal":true,"cards":[15],"defaultCard":0}]}'
max_pods "${KEYS[@]}" "$AGENT" max-pods --instance-type m5.metal --cni-version 1.18.0 --cni-prefix-delegation-enabled
check "max-pods with credentials: EC2's 96 vCPUs give the 250 cap" equals "$(cat "$WORK/out"; echo "rc=$RC")" "$(printf '250\nrc=0')"
check "max-pods with credentials: one signed DescribeInstanceTypes" equals "$(aws_stat '[s["by_operation"].get("DescribeInstanceTypes", 0), s["signature_ok"], s["signature_failed"]]')" "[1, 1, 0]"
aws_control '{"action":"set_instance_types","types":[{"instanceType":"m5.metal","vcpus":8,"maxEnis":15,"ipv4PerEni":50,"ipv6PerEni":50,"hypervisor":"","bareMetal":true,"cards":[15],"defaultCard":0}]}'
max_pods "${KEYS[@]}" "$AGENT" max-pods --instance-type m5.metal --cni-version 1.18.0 --cni-prefix-delegation-enabled
check "max-pods with credentials: EC2's 8 vCPUs give the 110 cap" equals "$(cat "$WORK/out"; echo "rc=$RC")" "$(printf '110\nrc=0')"
aws_reset
aws_control '{"action":"set_instance_types","types":[{"instanceType":"t3.nano","vcpus":2,"maxEnis":2,"ipv4PerEni":2,"ipv6PerEni":2,"hypervisor":"nitro","bareMetal":false,"cards":[2],"defaultCard":0}]}'
max_pods "${KEYS[@]}" "$AGENT" max-pods --instance-type t3.nano --cni-version 1.11.2 --cni-prefix-delegation-enabled
check "max-pods t3.nano with prefix delegation (the issue's example) answers with credentials" equals "$(cat "$WORK/out"; echo "rc=$RC")" "$(printf '34\nrc=0')"
check "...having asked EC2 for its vCPUs" equals "$(aws_stat 's["by_operation"].get("DescribeInstanceTypes", 0)')" 1
aws_reset
max_pods AWS_REGION=us-west-2 AWS_ENDPOINT_URL="$AWS_URL" AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= \
  "$AGENT" max-pods --instance-type t3.nano --cni-version 1.11.2 --cni-prefix-delegation-enabled
check "max-pods offline (no credentials): usage error" expect_rc 2
check "...saying why EC2 was not asked and what to pass" contains "$WORK/err" "EC2 DescribeInstanceTypes could not be asked: no AWS credentials in the environment"
check "...pointing at --vcpus" contains "$WORK/err" "pass --vcpus N"
check "...without any request" equals "$(aws_stat 's["requests"]')" 0
max_pods AWS_REGION=us-west-2 AWS_ENDPOINT_URL="$AWS_URL" AWS_ACCESS_KEY_ID= \
  "$AGENT" max-pods --instance-type t3.nano --cni-version 1.11.2 --cni-prefix-delegation-enabled --vcpus 2
check "max-pods offline with --vcpus answers" equals "$(cat "$WORK/out"; echo "rc=$RC")" "$(printf '34\nrc=0')"
aws_control '{"action":"fault","operation":"DescribeInstanceTypes","status":403,"code":"UnauthorizedOperation"}'
max_pods "${KEYS[@]}" "$AGENT" max-pods --instance-type t3.nano --cni-version 1.11.2 --cni-prefix-delegation-enabled
check "max-pods when EC2 refuses: usage error with EC2's reason" bash -c "[ $RC = 2 ] && grep -q UnauthorizedOperation '$WORK/err'"
aws_reset

# --- max-pods --generate-table ------------------------------------------------------------------
stop_aws
start_aws --page-size 3
AWS_REGION=us-west-2 AWS_ENDPOINT_URL="$AWS_URL" AWS_ACCESS_KEY_ID=AKIAEMULATORSTATIC01 \
  AWS_SECRET_ACCESS_KEY=static-secret-key-0000000000000000000000 \
  "$AGENT" max-pods --generate-table --output "$WORK/gen/eni-max-pods.txt" \
  --networking-output "$WORK/gen/instance-networking.jsonl" >"$WORK/out" 2>"$WORK/err"
RC=$?
check "--generate-table exits 0" expect_rc 0
check "--generate-table paged through the region" equals "$(aws_stat 's["by_operation"]["DescribeInstanceTypes"]')" 3
check "--generate-table: every type" equals "$(grep -vc '^#' "$WORK/gen/eni-max-pods.txt")" 8
check "--generate-table: eni-max-pods.txt format" contains "$WORK/gen/eni-max-pods.txt" "m5.large 29"
check "--generate-table: default network card" contains "$WORK/gen/eni-max-pods.txt" "x9.48xlarge 394"
check "--generate-table: networking facts as data/ has them" contains "$WORK/gen/instance-networking.jsonl" '{"instanceType":"m4.xlarge","maxEnis":4,"ipv4PerEni":15,"hypervisor":"xen","bareMetal":false}'
G=$(new_root gentable 2)
cp "$WORK/gen/eni-max-pods.txt" "$G/etc/eks/eni-max-pods.txt"
imds_set '{"latest/meta-data/instance-type": "x9.large"}'
aws_agent "$G" --cluster my-cluster "${BASE[@]}"
check "a generated table makes the EC2 call unnecessary" json_eq "$G/etc/kubernetes/kubelet/kubelet-config.json" 'd["maxPods"]' '35'
check "a generated table: the source is the file" contains "$WORK/err" "max-pods=35 (/etc/eks/eni-max-pods.txt)"
imds_reset

finish
