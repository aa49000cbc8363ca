#!/usr/bin/env bash
# Builds a kind node image from package registries only (no container registry): Kubernetes, containerd, etcd,
# CoreDNS, crictl, the CNI plugins, local-path-provisioner and kind itself from the Go module proxy, the rest from
# Debian's archive. Called by `npm run kind:image` (scripts/kind-image.ts), which decides the tag and the cache.
#
#   OUT=<build dir of the tag> KINDBIN=<folder for kind> TAG=<image tag> BASE=<Debian 12 base image>
#   CAP_DROP=<capabilities the machine lacks, comma-separated> DOCKER_HOST=... build.sh
#
# Kubernetes' commands cannot be `go install`ed (its go.mod replaces its staging modules with ./staging): a wrapper
# module requires k8s.io/kubernetes and replaces each staging module with its published v0.X.Y, as
# kubernetes-sigs/scheduler-plugins builds its scheduler. Steps print "==> " lines; every step is skipped when its
# output is in OUT already.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${OUT:?}" "${KINDBIN:?}" "${TAG:?}" "${BASE:?}"
K8S=1.34.4 CONTAINERD=2.1.4 ETCD=3.6.5 KIND=0.33.0 CRICTL=1.34.0 COREDNS=1.12.1 LOCALPATH=0.0.30 CNI=1.7.1 PAUSE=3.10.1
bin=$OUT/bin; mkdir -p "$bin" "$OUT/mod" "$KINDBIN"
# One build of a tag at a time: a second waits.
exec 9>"$OUT/.lock"; flock 9
# Every output, checked one by one: a build stopped half-way is finished, not trusted.
have() { for f in "$@"; do [ -x "$bin/$f" ] || return 1; done; }
export CGO_ENABLED=0 GOFLAGS=-trimpath GOTOOLCHAIN=local
step() { printf '==> %s\n' "$*"; }
# docker build, quiet: its output (and the legacy builder's deprecation notice) only when it fails.
build() { "$DOCKER" build -q "$@" >"$ctx/build.log" 2>&1 || { cat "$ctx/build.log" >&2; return 1; }; }
DOCKER=$(command -v docker)

# A module of ours that requires $2 (with replace lines $3) and blank-imports the packages $4, so go build can name them.
wrapper() {
  local d=$OUT/mod/$1; mkdir -p "$d"; cd "$d"
  printf 'module pgchaos.local/%s\n\ngo 1.24.0\n\nrequire %s\n' "$1" "$2" > go.mod
  if [ -n "$3" ]; then printf '\nreplace (\n%s)\n' "$3" >> go.mod; fi
  { printf '//go:build tools\n\npackage tools\n\nimport (\n'; for i in $4; do printf '\t_ "%s"\n' "$i"; done; printf ')\n'; } > tools.go
  go mod tidy
}

if ! have kubelet kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy; then
  step "Kubernetes v$K8S: kubelet, kubeadm, kubectl, kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy (Go module proxy; 5 min cold on 2 cores)"
  staging="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller"
  rep=""; for m in $staging; do rep+=$'\t'"k8s.io/$m => k8s.io/$m v0.${K8S#1.}"$'\n'; done
  cmds="kubelet kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy"
  wrapper k8s "k8s.io/kubernetes v$K8S" "$rep" "$(for c in $cmds; do echo "k8s.io/kubernetes/cmd/$c"; done)"
  # Without these the binaries call themselves v0.0.0-master, which kubeadm refuses.
  ld="-s -w"; for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do ld+=" -X $p.gitVersion=v$K8S -X $p.gitMajor=${K8S%%.*} -X $p.gitMinor=$(echo "$K8S" | cut -d. -f2) -X $p.gitTreeState=clean"; done
  go build -ldflags "$ld" -o "$bin/" $(for c in $cmds; do echo "k8s.io/kubernetes/cmd/$c"; done)
fi
if ! have containerd containerd-shim-runc-v2 ctr; then
  step "containerd v$CONTAINERD"
  wrapper containerd "github.com/containerd/containerd/v2 v$CONTAINERD" "" "github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 github.com/containerd/containerd/v2/cmd/ctr"
  go build -tags "no_btrfs no_devmapper no_zfs no_aufs" -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=v$CONTAINERD" -o "$bin/" github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 github.com/containerd/containerd/v2/cmd/ctr
fi
if ! have etcd; then
  step "etcd v$ETCD (kubeadm 1.31+ wants 3.5.11 or later; Debian 12 has 3.4)"
  rep=""; for m in api/v3 client/pkg/v3 client/v3 etcdctl/v3 etcdutl/v3 pkg/v3 server/v3; do rep+=$'\t'"go.etcd.io/etcd/$m => go.etcd.io/etcd/$m v$ETCD"$'\n'; done
  wrapper etcd "go.etcd.io/etcd/v3 v$ETCD" "$rep" "go.etcd.io/etcd/server/v3"
  go build -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3
fi
for m in "kind sigs.k8s.io/kind@v$KIND" "crictl sigs.k8s.io/cri-tools/cmd/crictl@v$CRICTL" "coredns github.com/coredns/coredns@v$COREDNS" "local-path-provisioner github.com/rancher/local-path-provisioner@v$LOCALPATH"; do
  set -- $m
  have "$1" || { step "$2"; GOBIN=$bin go install -ldflags "-s -w" "$2"; }
done
cp "$bin/kind" "$KINDBIN/kind.part" && mv "$KINDBIN/kind.part" "$KINDBIN/kind"
mkdir -p "$bin/cni"
for p in main/bridge ipam/host-local main/loopback meta/portmap; do
  have "cni/$(basename $p)" || { step "CNI plugin $p v$CNI"; GOBIN=$bin/cni go install -ldflags "-s -w" "github.com/containernetworking/plugins/plugins/$p@v$CNI"; }
done
if ! have pause; then
  step "pause $PAUSE, from Kubernetes' own pause.c"
  gcc -Os -static -DVERSION="v$PAUSE" -o "$bin/pause" "$(go env GOMODCACHE)/k8s.io/kubernetes@v$K8S/build/pause/linux/pause.c"
fi

# The images kubeadm and the node's manifests name: a static binary on scratch, or Debian 12. Built under names of
# ours (an engine may hold the real registry.k8s.io images: they are never touched), and named as kubeadm wants them
# inside the node only.
build_name=pgchaos-kind-build-$$
ctx=$(mktemp -d)
# Whatever way this ends, no build container, temporary image or intermediate image of the node is left.
cleanup() {
  rm -rf "$ctx"
  docker rm -f "$build_name" >/dev/null 2>&1 || true
  # By name, not by id: an image with nothing of its own (the local-path helper) has its base's id.
  docker images --format '{{.Repository}}:{{.Tag}}' --filter "reference=pgchaos.local/kind-build/*" 2>/dev/null | xargs -r docker rmi >/dev/null 2>&1 || true
  docker rmi "$TAG-base" >/dev/null 2>&1 || true
}
trap cleanup EXIT
tmp() { echo "pgchaos.local/kind-build/$(echo "$1" | tr '/:' '__')"; }
static() { # final-name binary path-in-image
  rm -rf "$ctx/s"; mkdir -p "$ctx/s"; cp "$bin/$2" "$ctx/s/bin"
  printf 'FROM scratch\nCOPY bin %s\nENTRYPOINT ["%s"]\n' "$3" "$3" > "$ctx/s/Dockerfile"
  build --network none -t "$(tmp "$1")" "$ctx/s"
}
debian() { # final-name extra-packages files...
  local name=$1 pkgs=$2; shift 2
  rm -rf "$ctx/d"; mkdir -p "$ctx/d"; [ $# -eq 0 ] || cp "$@" "$ctx/d/"
  { printf 'FROM %s\n' "$BASE"
    [ -z "$pkgs" ] || printf 'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s && rm -rf /var/lib/apt/lists/*\n' "$pkgs"
    for f in "$@"; do printf 'COPY %s /usr/local/bin/\n' "$(basename "$f")"; done; } > "$ctx/d/Dockerfile"
  build --network host -t "$(tmp "$name")" "$ctx/d"
}
images="registry.k8s.io/kube-apiserver:v$K8S registry.k8s.io/kube-controller-manager:v$K8S registry.k8s.io/kube-scheduler:v$K8S registry.k8s.io/etcd:$ETCD-0 registry.k8s.io/coredns/coredns:v$COREDNS registry.k8s.io/pause:$PAUSE registry.k8s.io/pause:3.10 registry.k8s.io/kube-proxy:v$K8S pgchaos.local/local-path-provisioner:v$LOCALPATH pgchaos.local/local-path-helper:bookworm pgchaos.local/podnet:v1"
if [ ! -s "$OUT/images.tar" ]; then
  step "component images"
  static "registry.k8s.io/kube-apiserver:v$K8S" kube-apiserver /usr/local/bin/kube-apiserver
  static "registry.k8s.io/kube-controller-manager:v$K8S" kube-controller-manager /usr/local/bin/kube-controller-manager
  static "registry.k8s.io/kube-scheduler:v$K8S" kube-scheduler /usr/local/bin/kube-scheduler
  static "registry.k8s.io/etcd:$ETCD-0" etcd /usr/local/bin/etcd
  static "registry.k8s.io/coredns/coredns:v$COREDNS" coredns /coredns
  static "registry.k8s.io/pause:$PAUSE" pause /pause
  docker tag "$(tmp "registry.k8s.io/pause:$PAUSE")" "$(tmp registry.k8s.io/pause:3.10)"
  static "pgchaos.local/local-path-provisioner:v$LOCALPATH" local-path-provisioner /usr/local/bin/local-path-provisioner
  debian "registry.k8s.io/kube-proxy:v$K8S" "iptables conntrack ipset kmod" "$bin/kube-proxy"
  debian pgchaos.local/local-path-helper:bookworm ""
  debian pgchaos.local/podnet:v1 iproute2 "$bin/kubectl" "$here/podnet.sh"
  docker save -o "$OUT/images.tar.part" $(for i in $images; do tmp "$i"; done)
  mv "$OUT/images.tar.part" "$OUT/images.tar"
fi

step "node image $TAG"
kindfiles=$(go env GOMODCACHE)/sigs.k8s.io/kind@v$KIND/images/base/files
[ -d "$kindfiles" ] || GOFLAGS=-mod=mod go mod download "sigs.k8s.io/kind@v$KIND"
rm -rf "$ctx/n"; mkdir -p "$ctx/n"; cp -r "$kindfiles" "$ctx/n/files"; chmod -R u+w "$ctx/n/files"
# containerd may not set oom_score_adj below its own here (the node has no CAP_SYS_RESOURCE without --privileged).
sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "$ctx/n/files/etc/containerd/config.toml"
cp "$bin"/{containerd,containerd-shim-runc-v2,ctr,crictl,kubelet,kubeadm,kubectl} "$ctx/n/"
cp -r "$bin/cni" "$ctx/n/cni"; cp -r "$here/manifests" "$ctx/n/manifests"; cp "$here/cgroups.sh" "$here/Dockerfile" "$ctx/n/"
build --network host --build-arg "BASE=$BASE" --build-arg "KUBERNETES=v$K8S" -t "$TAG-base" "$ctx/n"
# The component images go into the node's containerd, as kind's own node image build does, then the container is
# committed: kubeadm then finds every image it needs and pulls nothing.
drop=(); IFS=, read -ra caps <<< "${CAP_DROP:-}"; for c in "${caps[@]}"; do drop+=(--cap-drop "$c"); done
docker run -d --name "$build_name" --network none --cap-add ALL "${drop[@]}" --security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined --device /dev/kmsg --device-cgroup-rule 'a *:* rwm' --tmpfs /tmp --tmpfs /run --cgroupns=private "$TAG-base" >/dev/null
ok=; for _ in $(seq 120); do docker exec "$build_name" ctr version >/dev/null 2>&1 && { ok=1; break; }; sleep 0.5; done
[ -n "$ok" ] || { echo "the node's containerd did not start within 60 s; its journal:" >&2; docker exec "$build_name" journalctl -u containerd --no-pager -n 30 >&2 || true; exit 1; }
docker exec -i "$build_name" ctr -n k8s.io images import --all-platforms --no-unpack - < "$OUT/images.tar" >/dev/null
for i in $images; do
  docker exec "$build_name" ctr -n k8s.io images tag --force "$(tmp "$i"):latest" "$i" >/dev/null
  docker exec "$build_name" ctr -n k8s.io images rm "$(tmp "$i"):latest" >/dev/null
done
docker exec "$build_name" systemctl stop containerd
docker commit --change 'ENTRYPOINT [ "/usr/local/bin/pgchaos-cgroups" ]' "$build_name" "$TAG" >/dev/null
step "done: $TAG"
