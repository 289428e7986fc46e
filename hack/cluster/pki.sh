#!/usr/bin/env bash
# Certificates of the one-node test cluster (sourced by hack/cluster/up.sh): one CA, the API
# server's serving certificate, a client certificate per component, and the service-account key.
# Usage: make_pki DIR NODE_IP NODE_NAME SERVICE_IP
make_pki() {
  local dir=$1 node_ip=$2 node=$3 svc_ip=$4
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj /CN=tokenwarden-test-ca -keyout ca.key -out ca.crt 2>/dev/null
    openssl ecparam -name prime256v1 -genkey -noout -out sa.key
    openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
    cert apiserver "/CN=kube-apiserver" \
      "subjectAltName=IP:$node_ip,IP:$svc_ip,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" serverAuth
    cert admin "/O=system:masters/CN=tokenwarden-test-admin" "" clientAuth
    cert kubelet "/O=system:nodes/CN=system:node:$node" "" clientAuth
    cert kubelet-serving "/CN=$node" "subjectAltName=IP:$node_ip,DNS:$node" serverAuth
    cert controller-manager "/CN=system:kube-controller-manager" "" clientAuth
    cert scheduler "/CN=system:kube-scheduler" "" clientAuth
    cert kube-proxy "/CN=system:kube-proxy" "" clientAuth
    cert coredns "/CN=coredns" "" clientAuth
    cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "" clientAuth
  )
}

# cert NAME SUBJECT SAN USAGE (in the PKI directory)
cert() {
  local name=$1 subj=$2 san=$3 usage=$4 ext
  ext=$(mktemp)
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [ -z "$san" ] || echo "$san"
  } >"$ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subj" \
    -keyout "$name.key" -out "$name.csr" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile "$ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$ext"
}

# kubeconfig FILE SERVER CERT_NAME (paths relative to the PKI directory PKI)
kubeconfig() {
  local file=$1 server=$2 name=$3 pki=$4
  cat >"$file" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: tokenwarden-test
    cluster: { server: "$server", certificate-authority: "$pki/ca.crt" }
users:
  - name: $name
    user: { client-certificate: "$pki/$name.crt", client-key: "$pki/$name.key" }
contexts:
  - name: tokenwarden-test
    context: { cluster: tokenwarden-test, user: $name }
current-context: tokenwarden-test
YAML
}
