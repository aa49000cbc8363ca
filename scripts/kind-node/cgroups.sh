#!/bin/sh
# What --privileged would give: cgroup v1 hierarchies mounted read-write in the container's cgroup namespace.
set -e
# A cgroup v2 host gives the container its cgroup namespace read-write as it is: kind's entrypoint handles it.
[ -f /sys/fs/cgroup/cgroup.controllers ] && exec /usr/local/bin/entrypoint /sbin/init
ctrls=$(awk 'NR>1 && $4==1 {print $1}' /proc/cgroups)
umount -R /sys/fs/cgroup
mount -t tmpfs -o rw,nosuid,nodev,noexec,mode=755 tmpfs /sys/fs/cgroup
for line in $(cut -d: -f2 /proc/self/cgroup | sort -u); do
  [ -z "$line" ] && continue
  dir=/sys/fs/cgroup/$line
  mkdir -p "$dir"
  case "$line" in name=*) mount -t cgroup -o "rw,nosuid,nodev,noexec,none,$line" cgroup "$dir" ;; *) mount -t cgroup -o "rw,nosuid,nodev,noexec,$line" cgroup "$dir" ;; esac
done
for l in $(ls /sys/fs/cgroup); do case "$l" in *,*) for p in $(echo "$l" | tr , ' '); do [ -e /sys/fs/cgroup/$p ] || ln -s "$l" /sys/fs/cgroup/$p; done ;; esac; done
[ -d /sys/fs/cgroup/name=systemd ] && { mkdir -p /sys/fs/cgroup/systemd; mount --move /sys/fs/cgroup/name=systemd /sys/fs/cgroup/systemd; rmdir /sys/fs/cgroup/name=systemd; } || true
exec /usr/local/bin/entrypoint /sbin/init
