#!/bin/sh
# pgchaos's pod network for kind nodes built here (kind's kindnetd cannot be had from the module proxy): each
# node's pods live on a bridge with the node's podCIDR, and every node routes the other nodes' podCIDRs to them.
# Runs as a DaemonSet on the host network (default-cni.yaml), as kindnetd does.
set -u
conf=/host/etc/cni/net.d/10-pgchaos.conflist
while :; do
  kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' > /tmp/nodes 2>/tmp/err || { cat /tmp/err; sleep 2; continue; }
  while read -r name cidr ip; do
    [ -n "$cidr" ] || continue
    if [ "$name" = "$NODE_NAME" ]; then
      want=$(printf '{"cniVersion":"1.0.0","name":"pgchaos","plugins":[{"type":"bridge","bridge":"cni0","isGateway":true,"ipMasq":false,"hairpinMode":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"%s"}]],"routes":[{"dst":"0.0.0.0/0"}]}},{"type":"portmap","capabilities":{"portMappings":true}}]}' "$cidr")
      if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then printf '%s' "$want" > "$conf.tmp" && mv "$conf.tmp" "$conf" && echo "wrote $conf for $cidr"; fi
    else
      ip route replace "$cidr" via "$ip" && true
    fi
  done < /tmp/nodes
  sleep 5
done
