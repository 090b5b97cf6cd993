#!/usr/bin/env bash
# Debian packages the integration tests start for real (servers on loopback, container runtime, IPMI simulator).
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have nats-server  || need+=(nats-server)
have redis-server || need+=(redis-server)
have runc         || need+=(runc)
have virsh        || need+=(libvirt-clients)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
have ipmi_sim     || need+=(openipmi)
have ipmitool     || need+=(ipmitool)
# Extra checks of the libvirt driver: qcow2 images (qemu-img) and libvirt's domain schema (virt-xml-validate uses xmllint).
have qemu-img     || need+=(qemu-utils)
have xmllint      || need+=(libxml2-utils)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "missing test dependencies (${need[*]}); run as root or install them: apt-get install ${need[*]}" >&2
  exit 1
fi
echo "installing test dependencies: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
