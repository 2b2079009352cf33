#!/usr/bin/env bash
# lab.sh: a local multi-host NovaCron lab on one machine.
#
# Every lab host is a libvirtd (with its own virtlogd) in a mount namespace of its
# own, over its own /run/libvirt, /var/lib/libvirt, /var/cache/libvirt,
# /var/log/libvirt and /etc/libvirt, plus one `novacron agent` that drives it
# through the libvirt driver. Guests boot a tiny cached kernel + busybox initramfs
# that prints `tick N` every second on its serial console, or a cached boot disk
# (lab-disk-N.qcow2) that reads its NoCloud seed first and then ticks the same way.
#
#   lab.sh up [--hosts N] [--no-agents]
#                           start N hosts (default 3) and their agents; prints env lines
#   lab.sh down             stop and remove everything the lab started (keeps the cache)
#   lab.sh status           hosts, libvirtd state, domains, agents
#   lab.sh env              print the env lines again
#   lab.sh smoke            boot one guest on every host with virsh alone, check it ticks
#   lab.sh kill NAME        host NAME dies at once: SIGKILL to its agent, libvirtd, virtlogd, QEMUs
#   lab.sh restart NAME     start host NAME again (killing what still runs of it first)
#   lab.sh start-libvirtd NAME
#                           start host NAME's libvirtd again; its QEMUs keep running
#   lab.sh cut NAME         host NAME loses the network; its guests and agent keep running
#   lab.sh heal NAME        undo cut
#
# Run as root. State lives in $NOVACRON_LAB_DIR (default /var/lib/novacron-lab), the
# guest image in $NOVACRON_LAB_CACHE (default /var/cache/novacron-lab). Progress goes
# to stderr, the env lines of `up` and `env` to stdout: eval "$(lab.sh up)".
set -euo pipefail

LAB=${NOVACRON_LAB_DIR:-/var/lib/novacron-lab}
CACHE=${NOVACRON_LAB_CACHE:-/var/cache/novacron-lab}
# Every lab host shares this machine's few CPUs; each offers this many vCPUs to
# VMs, an over-commit that lets a small machine hold a useful number of guests.
LAB_VCPUS=${NOVACRON_LAB_VCPUS:-8}
# Memory each host offers to VMs, in MiB: the hosts share this machine's memory,
# so each offers a slice of it (rebalancing reads load against this size).
LAB_MEMORY_MIB=${NOVACRON_LAB_MEMORY_MIB:-2048}
# First port of host 1's range for incoming migrations; host I takes the 64
# ports from BASE+64*(I-1).
LAB_MIGRATION_PORT_BASE=${NOVACRON_LAB_MIGRATION_PORT_BASE:-49152}
# Host I's agent binds (and its QEMUs take migrations) on NET.I: every
# 127.x.y.z is loopback on Linux, so the addresses need no setup, and a cut can
# drop one host's address without touching the others.
LAB_NET=${NOVACRON_LAB_NET:-127.0.1}
# Host I's agent runs as root with the supplementary group GID_BASE+I (its
# QEMUs with it as their group), so that a cut can also drop the connections
# they open (their source address is 127.0.0.1, whatever the agent binds) with
# an iptables owner match. A bare number: libvirt needs no group record for a
# supplementary group of its client, nor for the QEMU group "+N".
LAB_GID_BASE=${NOVACRON_LAB_GID_BASE:-64700}
# The lab guest ignores ACPI power-off: do not make every stop wait 30 s.
LAB_STOP_TIMEOUT=${NOVACRON_LAB_STOP_TIMEOUT:-10s}
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)

readonly DEFAULT_HOSTS=3
readonly LIBVIRT_DEADLINE=90 # seconds for a fresh libvirtd to answer (it probes QEMU first)
readonly CLUSTER_DEADLINE=90 # seconds for the agents to elect a leader
readonly STOP_DEADLINE=10    # seconds between SIGTERM and SIGKILL
readonly SMOKE_DEADLINE=60   # seconds for a smoke guest to print its ticks
readonly GOSSIP_BASE=7946 RAFT_BASE=7947 HTTP_BASE=8090 PORT_STRIDE=10
# The iptables chains `cut` adds its rules to, jumped to from INPUT and OUTPUT.
readonly CHAIN_IN=NOVACRON-LAB-IN CHAIN_OUT=NOVACRON-LAB-OUT
# qemu-utils (qemu-img), syslinux, syslinux-common (mbr.bin), mtools, dosfstools,
# fdisk (sfdisk), kmod (depmod, modprobe) and xz-utils build the boot disk.
readonly APT_PACKAGES=(qemu-system-x86 libvirt-daemon-system libvirt-clients busybox-static cpio iproute2 iptables curl
	qemu-utils syslinux syslinux-common mtools dosfstools fdisk kmod xz-utils)
# The lab's boot disk in $CACHE (see build_disk) and the kernel modules its
# initramfs loads, with their dependencies: virtio disks (the seed too), a seed
# on an IDE or SCSI CD-ROM, and the seed's file systems (ISO 9660 or FAT).
# The boot disk's name carries its version: a change to its init makes a new
# name, so a machine with the old one cached builds the new one.
readonly DISK_IMAGE=lab-disk-2.qcow2
readonly DISK_MODULES=(virtio_pci virtio_blk virtio_scsi ata_piix sr_mod isofs vfat nls_cp437 nls_ascii)
# The folders each host gets its own copy of, as "HOSTDIR subfolder:mount point".
readonly HOST_MOUNTS=(run:/run/libvirt lib:/var/lib/libvirt cache:/var/cache/libvirt log:/var/log/libvirt etc:/etc/libvirt)

# ---------------------------------------------------------------- messages

log() { printf 'lab: %s\n' "$*" >&2; }
die() {
	printf 'lab: error: %s\n' "$*" >&2
	exit 1
}

# ---------------------------------------------------------------- paths

host_name() { printf 'host%d' "$1"; }
host_dir() { printf '%s/hosts/host%d' "$LAB" "$1"; }
host_sock() { printf '%s/run/libvirt-sock' "$(host_dir "$1")"; }
host_uri() { printf 'qemu+unix:///system?socket=%s' "$(host_sock "$1")"; }
gossip_port() { echo $((GOSSIP_BASE + PORT_STRIDE * ($1 - 1))); }
raft_port() { echo $((RAFT_BASE + PORT_STRIDE * ($1 - 1))); }
http_port() { echo $((HTTP_BASE + $1)); }
host_addr() { printf '%s.%d' "$LAB_NET" "$1"; }
host_gid() { echo $((LAB_GID_BASE + $1)); }
host_http() { printf 'https://%s:%d' "$(host_addr "$1")" "$(http_port "$1")"; }

# host_index NAME: the number of lab host NAME (host2 or 2), or die.
host_index() {
	local i=${1#host}
	[[ $i =~ ^[1-9][0-9]*$ && -d $(host_dir "$i") ]] ||
		die "no lab host named '$1' in $LAB (the hosts: $(lab_hosts | sed 's/^/host/' | paste -sd' ' -))"
	printf '%s' "$i"
}

# lab_hosts prints the numbers of the hosts the lab has folders for, in order.
lab_hosts() {
	local d
	[[ -d $LAB/hosts ]] || return 0
	for d in "$LAB"/hosts/host*; do
		[[ -d $d ]] && printf '%s\n' "${d##*/host}"
	done | sort -n
}

# ---------------------------------------------------------------- processes

# running PID: true when the process exists and is not a zombie.
running() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# pid_alive PIDFILE: true when the file names a running process.
pid_alive() {
	local pid
	[[ -s $1 ]] || return 1
	pid=$(<"$1")
	[[ $pid =~ ^[0-9]+$ ]] && running "$pid"
}

# cmdline_of PID: the command line with spaces between the arguments.
cmdline_of() {
	local c
	c=$({ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null) || return 1
	printf '%s' "$c"
}

# agent_pids I: pids of novacron agents that use host I's data dir.
agent_pids() {
	local p dir c
	dir="$(host_dir "$1")/agent"
	for p in /proc/[0-9]*; do
		c=$(cmdline_of "${p#/proc/}") || continue
		[[ $c == *" agent "* && $c == *"--data-dir $dir "* ]] && printf '%s\n' "${p#/proc/}"
	done
	return 0
}

# guard_pids I: pids of the fencing guards (novacron guard) of host I's agent:
# they outlive a killed agent on purpose, so every verb that stops a host or the
# lab stops them too.
guard_pids() {
	local p lease c
	lease="$(host_dir "$1")/agent/guard.lease"
	for p in /proc/[0-9]*; do
		c=$(cmdline_of "${p#/proc/}") || continue
		[[ $c == *" guard "* && $c == *"--lease $lease "* ]] && printf '%s\n' "${p#/proc/}"
	done
	return 0
}

# ns_pids I: pids of every process that lives in host I's mount namespace
# (libvirtd, virtlogd, QEMU): the ones whose mount table has host I's /run/libvirt
# bind mount. The mount's source path may be shown relative to its file system,
# so it must be a suffix of the real path.
ns_pids() {
	local p src want
	want=$(realpath -m "$(host_dir "$1")/run")
	for p in /proc/[0-9]*; do
		src=$(awk '$5 == "/run/libvirt" { print $4; exit }' "$p/mountinfo" 2>/dev/null) || continue
		[[ -n $src && $src != / && $want == *"$src" ]] && printf '%s\n' "${p#/proc/}"
	done
	return 0
}

# alive PID...: prints the pids that still run.
alive() {
	local p
	for p in "$@"; do
		running "$p" && printf '%s\n' "$p"
	done
	return 0
}

# wait_gone DEADLINE PID...: poll until the processes are gone; false at the deadline.
wait_gone() {
	local deadline=$((SECONDS + $1))
	shift
	while [[ -n $(alive "$@") ]]; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

# stop_pids NAME PID...: SIGTERM, then SIGKILL to whatever is left after the deadline.
stop_pids() {
	local what=$1 left
	shift
	(($# > 0)) || return 0
	kill -TERM "$@" 2>/dev/null || true
	wait_gone "$STOP_DEADLINE" "$@" && return 0
	left=$(alive "$@" | paste -sd' ' -)
	log "$what did not stop on SIGTERM within ${STOP_DEADLINE}s: SIGKILL $left"
	# shellcheck disable=SC2086 # a list of pids
	kill -KILL $left 2>/dev/null || true
	wait_gone "$STOP_DEADLINE" "$@" || true
}

# ---------------------------------------------------------------- prerequisites

require_root() {
	((EUID == 0)) || die "run me as root (sudo $0 $1): the lab starts libvirtd and mounts folders"
}

# busybox_is_static: the guest needs a busybox that runs without shared libraries.
busybox_is_static() {
	local bb out
	bb=$(command -v busybox) || return 1
	out=$(LC_ALL=C ldd "$bb" 2>&1 || true)
	[[ $out == *"not a dynamic executable"* || $out == *"statically linked"* ]]
}

# missing_tools prints the commands the lab needs that are not installed.
missing_tools() {
	local c
	for c in qemu-system-x86_64 libvirtd virtlogd virsh busybox cpio gzip unshare ip curl iptables setpriv \
		qemu-img syslinux mcopy mkfs.vfat sfdisk depmod modprobe xz; do
		PATH=$PATH:/usr/sbin:/sbin command -v "$c" >/dev/null || printf '%s\n' "$c"
	done
	[[ -n $(syslinux_mbr) ]] || printf '%s\n' "syslinux's mbr.bin"
	if command -v busybox >/dev/null && ! busybox_is_static; then
		printf '%s\n' "busybox (static: the installed one is dynamic)"
	fi
}

APT_UPDATED=no
apt_update_once() {
	[[ $APT_UPDATED == yes ]] && return 0
	log "apt-get update"
	DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
	APT_UPDATED=yes
}

ensure_packages() {
	local missing
	missing=$(missing_tools)
	[[ -z $missing ]] && return 0
	if ! command -v apt-get >/dev/null; then
		die "missing commands, and no apt-get to install them: $(echo "$missing" | paste -sd, -)"$'\n'"install the packages that provide them (Debian: ${APT_PACKAGES[*]})"
	fi
	log "missing: $(echo "$missing" | paste -sd, -); installing ${APT_PACKAGES[*]}"
	apt_update_once
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}" >&2
	missing=$(missing_tools)
	[[ -z $missing ]] || die "still missing after apt-get install: $(echo "$missing" | paste -sd, -)"
}

# ---------------------------------------------------------------- the guest image

# kernel_packages prints candidate kernel packages, best first: the cloud kernel
# (small, no firmware), then the generic one, each unsigned first.
kernel_packages() {
	local meta real
	for meta in linux-image-cloud-amd64 linux-image-amd64; do
		real=$(apt-cache depends "$meta" 2>/dev/null | awk '!found && $1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; found = 1 }' || true)
		[[ -n $real ]] || continue
		printf '%s\n' "$real-unsigned" "$real"
	done
}

# has_candidate PKG: apt knows a version of PKG it can download.
has_candidate() {
	local policy
	policy=$(apt-cache policy "$1" 2>/dev/null || true)
	[[ $policy =~ Candidate:\ [^\(] ]]
}

# fetch_kernel DIR: download and unpack a kernel package into DIR, print the vmlinuz path.
fetch_kernel() {
	local dir=$1 pkg try
	for try in 1 2; do
		while read -r pkg; do
			has_candidate "$pkg" || continue
			log "downloading kernel package $pkg"
			if (cd "$dir" && apt-get download -q "$pkg" >&2 2>&1); then
				dpkg -x "$dir"/"$pkg"_*.deb "$dir/root"
				find "$dir/root/boot" -name 'vmlinuz-*' -print -quit
				return 0
			fi
		done < <(kernel_packages)
		((try == 1)) && apt_update_once
	done
	die "no kernel package found (tried: $(kernel_packages | paste -sd, -)); is apt configured?"
}

# write_init FILE: the guest's /init.
write_init() {
	cat >"$1" <<'EOF'
#!/bin/busybox sh
# NovaCron lab guest: print `tick N` every second, forever. N restarting at 1
# means the guest rebooted.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "novacron lab guest: init started"
# The console is ttyS0 when booted with console=ttyS0; otherwise write there too.
also_ttys0=no
case " $(cat /proc/cmdline) " in
*" console=ttyS0"*) ;;
*) [ -c /dev/ttyS0 ] && also_ttys0=yes ;;
esac
n=0
while true; do
	n=$((n + 1))
	echo "tick $n"
	if [ "$also_ttys0" = yes ]; then echo "tick $n" >/dev/ttyS0; fi
	sleep 1
done
EOF
	chmod 0755 "$1"
}

# write_disk_init FILE: the /init of the boot disk's initramfs: a tiny
# stand-in for cloud-init's NoCloud source, then the same ticks.
write_disk_init() {
	cat >"$1" <<'EOF'
#!/bin/busybox sh
# NovaCron lab disk guest: booted from its own disk, it configures itself from
# the NoCloud seed (the volume labelled cidata) as cloud-init would, then
# prints `tick N` every second, forever.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp /cidata
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "novacron lab guest: init started (disk)"
# Disk, CD-ROM and file system drivers, dependencies first.
while read -r m; do
	insmod "/lib/modules/$m" || echo "novacron lab guest: insmod $m failed"
done </lib/modules/load
# Devices appear asynchronously: look for the seed for up to 10 s (a FAT
# seed's label may be upper case).
dev=
i=0
while [ $i -lt 50 ] && ! dev=$(findfs LABEL=cidata 2>/dev/null || findfs LABEL=CIDATA 2>/dev/null); do
	i=$((i + 1))
	sleep 0.2
done
echo "novacron lab guest: block devices:"
cat /proc/partitions
if [ -z "$dev" ]; then
	echo "cloud-init: no cidata volume"
elif ! mount -o ro "$dev" /cidata; then
	echo "cloud-init: cannot mount the cidata volume $dev"
else
	# meta-data is YAML: `local-hostname: NAME`, NAME maybe quoted.
	name=$(sed -n 's/^local-hostname:[[:space:]]*//p' /cidata/meta-data | head -n 1 |
		sed "s/[[:space:]]*\$//; s/^[\"']//; s/[\"']\$//")
	if [ -n "$name" ] && hostname "$name"; then
		echo "cloud-init: hostname=$(hostname)"
	else
		echo "cloud-init: no local-hostname in meta-data"
	fi
	if [ "$(head -c 2 /cidata/user-data 2>/dev/null)" = "#!" ]; then
		cp /cidata/user-data /tmp/user-data
		chmod 0755 /tmp/user-data
		echo "cloud-init: running user-data"
		(
			/tmp/user-data
			echo "cloud-init: user-data exited $?"
		) </dev/null 2>&1 &
	fi
	umount /cidata
fi
# A shell on the serial console (`novacron vm console`): what is typed there
# runs, and its output comes back; a new one starts when it exits.
(while true; do setsid sh -c 'exec sh -i </dev/ttyS0 >/dev/ttyS0 2>&1'; done) &
n=0
while true; do
	n=$((n + 1))
	echo "tick $n"
	sleep 1
done
EOF
	chmod 0755 "$1"
}

# syslinux_mbr prints the path of syslinux's master boot record, if installed.
syslinux_mbr() {
	local f
	for f in /usr/lib/syslinux/mbr/mbr.bin /usr/share/syslinux/mbr.bin /usr/lib/syslinux/bios/mbr.bin; do
		[[ -s $f ]] && printf '%s\n' "$f" && return 0
	done
	return 0
}

# disk_modules VMLINUZ DIR: copy DISK_MODULES and their dependencies from the
# kernel package VMLINUZ was unpacked from (ROOT/boot/vmlinuz-VER) into DIR,
# uncompressed (busybox insmod reads plain .ko files only), and write
# DIR/load, their file names in the order to load them.
disk_modules() {
	local vmlinuz=$1 dir=$2 ver root mods m line ko name
	local -a order=()
	ver=${vmlinuz##*/vmlinuz-}
	root=${vmlinuz%/boot/*}
	mods=$(find "$root" -maxdepth 4 -type d -path "*/lib/modules/$ver" -print -quit)
	[[ -n $mods ]] || die "the kernel package of $ver has no lib/modules/$ver"
	# depmod -b wants ROOT/lib/modules/VER; a usr-merged package ships usr/lib/modules.
	if [[ $mods != "$root/lib/modules/$ver" ]]; then
		mkdir -p "$root/lib/modules"
		mv "$mods" "$root/lib/modules/$ver"
	fi
	PATH=$PATH:/usr/sbin:/sbin depmod -b "$root" "$ver"
	for m in "${DISK_MODULES[@]}"; do
		line=$(PATH=$PATH:/usr/sbin:/sbin modprobe -d "$root" -S "$ver" --show-depends "$m" 2>&1) ||
			die "kernel $ver has no module $m: $line"
		while read -r line; do
			[[ $line == insmod\ * ]] || continue # "builtin NAME": nothing to load
			ko=${line#insmod }
			ko=${ko%% *}
			[[ " ${order[*]} " == *" $ko "* ]] || order+=("$ko")
		done <<<"$line"
	done
	: >"$dir/load"
	for ko in "${order[@]}"; do
		name=${ko##*/}
		name=${name%%.ko*}.ko
		case $ko in
		*.ko.xz) xz -dc "$ko" >"$dir/$name" ;;
		*.ko.gz) gzip -dc "$ko" >"$dir/$name" ;;
		*.ko.zst) zstd -dcq "$ko" >"$dir/$name" || die "$ko: zstd is needed to unpack it" ;;
		*) cp "$ko" "$dir/$name" ;;
		esac
		printf '%s\n' "$name" >>"$dir/load"
	done
}

# build_disk WORK VMLINUZ: $CACHE/$DISK_IMAGE, a qcow2 disk that boots under a
# BIOS with no -kernel: an MBR (syslinux's mbr.bin) and one bootable FAT16
# partition at 1 MiB holding syslinux (installed with --offset: no loop
# device), syslinux.cfg, VMLINUZ and an initramfs with busybox, the modules of
# VMLINUZ's own package and write_disk_init's /init.
build_disk() {
	local work=$1/disk vmlinuz=$2 raw mbr
	local -r size_mib=64 part_start=2048 # sectors
	raw=$work/disk.raw
	mbr=$(syslinux_mbr)
	[[ -n $mbr ]] || die "syslinux's mbr.bin is missing (Debian: syslinux-common)"
	mkdir -p "$work"/initrd/{bin,dev,proc,sys,tmp,lib/modules}
	cp "$(command -v busybox)" "$work/initrd/bin/busybox"
	mknod -m 600 "$work/initrd/dev/console" c 5 1 2>/dev/null || true
	write_disk_init "$work/initrd/init"
	disk_modules "$vmlinuz" "$work/initrd/lib/modules"
	(cd "$work/initrd" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -9 >"$work/initrd.img"
	cat >"$work/syslinux.cfg" <<'EOF'
SERIAL 0 115200
DEFAULT lab
PROMPT 0
TIMEOUT 0
LABEL lab
	LINUX /vmlinuz
	INITRD /initrd.img
	APPEND console=ttyS0
EOF
	truncate -s "${size_mib}M" "$raw"
	printf 'label: dos\nstart=%d, type=e, bootable\n' "$part_start" | PATH=$PATH:/usr/sbin:/sbin sfdisk -q "$raw"
	PATH=$PATH:/usr/sbin:/sbin mkfs.vfat -F 16 -n NOVACRON --offset "$part_start" "$raw" $((size_mib * 1024 - part_start / 2)) >/dev/null
	MTOOLS_SKIP_CHECK=1 mcopy -i "$raw@@$((part_start * 512))" "$vmlinuz" ::vmlinuz
	MTOOLS_SKIP_CHECK=1 mcopy -i "$raw@@$((part_start * 512))" "$work/initrd.img" "$work/syslinux.cfg" ::
	syslinux --install --offset $((part_start * 512)) "$raw"
	dd if="$mbr" of="$raw" bs=440 count=1 conv=notrunc status=none
	qemu-img convert -f raw -O qcow2 "$raw" "$CACHE/$DISK_IMAGE.tmp"
	mv "$CACHE/$DISK_IMAGE.tmp" "$CACHE/$DISK_IMAGE"
	log "boot disk: $CACHE/$DISK_IMAGE (qcow2, $(du -h "$CACHE/$DISK_IMAGE" | cut -f1); kernel ${vmlinuz##*/}, modules $(paste -sd' ' "$work/initrd/lib/modules/load"))"
}

# build_guest caches $CACHE/vmlinuz and $CACHE/initrd.img (a guest booted with
# -kernel) and $CACHE/$DISK_IMAGE (a guest booted from its disk), each built
# once. The disk holds its own kernel, of the same package as its modules.
build_guest() {
	local work vmlinuz="" bb
	[[ -s $CACHE/vmlinuz && -s $CACHE/initrd.img && -s $CACHE/$DISK_IMAGE ]] && return 0
	mkdir -p "$CACHE"
	work=$(mktemp -d "$CACHE/build.XXXXXX")
	# shellcheck disable=SC2064 # expand now: $work is local
	trap "rm -rf '$work'" EXIT
	if [[ ! -s $CACHE/vmlinuz || ! -s $CACHE/$DISK_IMAGE ]]; then
		mkdir -p "$work/kernel"
		vmlinuz=$(fetch_kernel "$work/kernel")
		[[ -n $vmlinuz && -s $vmlinuz ]] || die "the kernel package has no boot/vmlinuz-*"
	fi
	if [[ ! -s $CACHE/vmlinuz ]]; then
		cp "$vmlinuz" "$CACHE/vmlinuz.tmp" && mv "$CACHE/vmlinuz.tmp" "$CACHE/vmlinuz"
		log "kernel: $CACHE/vmlinuz (from ${vmlinuz##*/})"
	fi
	if [[ ! -s $CACHE/initrd.img ]]; then
		bb=$(command -v busybox)
		mkdir -p "$work/initrd/bin" "$work/initrd/dev" "$work/initrd/proc" "$work/initrd/sys"
		cp "$bb" "$work/initrd/bin/busybox"
		mknod -m 600 "$work/initrd/dev/console" c 5 1 2>/dev/null || true
		write_init "$work/initrd/init"
		(cd "$work/initrd" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -9 >"$CACHE/initrd.img.tmp"
		mv "$CACHE/initrd.img.tmp" "$CACHE/initrd.img"
		log "initramfs: $CACHE/initrd.img ($(du -h "$CACHE/initrd.img" | cut -f1))"
	fi
	[[ -s $CACHE/$DISK_IMAGE ]] || build_disk "$work" "$vmlinuz"
	rm -rf "$work"
	trap - EXIT
}

# ---------------------------------------------------------------- libvirt hosts

# conf_set FILE KEY VALUE: set `KEY = VALUE` in a libvirt config file.
conf_set() {
	local file=$1 key=$2 value=$3
	sed -i "/^[#[:space:]]*${key}[[:space:]]*=/d" "$file"
	printf '%s = %s\n' "$key" "$value" >>"$file"
}

# prepare_host I: the host's folders and its own copy of /etc/libvirt.
prepare_host() {
	local dir uuid
	dir=$(host_dir "$1")
	# The folders libvirt's package ships and libvirtd does not create itself.
	mkdir -p "$dir"/{run,cache,agent} "$dir"/lib/{images,boot} "$dir"/log/qemu
	[[ -f $dir/etc/libvirtd.conf ]] && return 0
	[[ -f /etc/libvirt/libvirtd.conf ]] || die "/etc/libvirt/libvirtd.conf is missing: is libvirt-daemon-system installed?"
	rm -rf "${dir:?}/etc"
	cp -a /etc/libvirt "$dir/etc"
	# No networks, pools or domains start by themselves: all hosts share one
	# network namespace, and the machine's own domains are not the lab's.
	find "$dir/etc" -path '*/autostart/*' -delete
	find "$dir/etc/qemu" -maxdepth 1 -name '*.xml' -delete
	uuid=$(cat /proc/sys/kernel/random/uuid)
	conf_set "$dir/etc/libvirtd.conf" host_uuid "\"$uuid\""
	# Paths are as seen inside the host's namespace: /var/log/libvirt is $dir/log.
	conf_set "$dir/etc/libvirtd.conf" log_outputs '"3:file:/var/log/libvirt/libvirtd.log"'
	conf_set "$dir/etc/virtlogd.conf" log_outputs '"3:file:/var/log/libvirt/virtlogd.log"'
	# QEMU runs as root with no security driver: the hosts share the cached kernel
	# and initrd, and must not chown them or count owners in xattrs.
	conf_set "$dir/etc/qemu.conf" user '"root"'
	# The host's own group (see LAB_GID_BASE): a cut drops what its QEMUs send,
	# such as an outgoing migration stream.
	conf_set "$dir/etc/qemu.conf" group "\"+$(host_gid "$1")\""
	conf_set "$dir/etc/qemu.conf" dynamic_ownership 0
	conf_set "$dir/etc/qemu.conf" remember_owner 0
	conf_set "$dir/etc/qemu.conf" security_driver '"none"'
	# The hosts share this machine's network: give each its own range of ports
	# for incoming migrations, or two migrations into two hosts at once both
	# take the first port and one fails.
	local port_min=$((LAB_MIGRATION_PORT_BASE + 64 * ($1 - 1)))
	conf_set "$dir/etc/qemu.conf" migration_port_min "$port_min"
	conf_set "$dir/etc/qemu.conf" migration_port_max $((port_min + 63))
	log "$(host_name "$1"): host_uuid $uuid"
}

# The script run inside the host's new mount namespace: $1 is the host folder,
# the rest are "subfolder:mount point" pairs. A virtlogd that still runs (the
# host's libvirtd alone is started again: start-libvirtd) is kept.
# shellcheck disable=SC2016 # expanded by the inner shell
readonly NS_SCRIPT='
dir=$1
shift
for m in "$@"; do
	mkdir -p "${m#*:}"
	mount --bind "$dir/${m%%:*}" "${m#*:}"
done
if ! { [ -s "$dir/virtlogd.pid" ] && kill -0 "$(cat "$dir/virtlogd.pid")" 2>/dev/null; }; then
	virtlogd -d -p "$dir/virtlogd.pid"
fi
libvirtd -d -p "$dir/libvirtd.pid"
'

# seed_caps I: give host I the QEMU capabilities an earlier host probed, so its
# libvirtd answers in a second instead of probing QEMU for ~20s. libvirt checks
# the cache against the QEMU binary, the kernel and the CPU, and probes again
# when they changed.
seed_caps() {
	local to
	to="$(host_dir "$1")/cache/qemu/capabilities"
	compgen -G "$CACHE/qemu-capabilities/*.xml" >/dev/null || return 0
	compgen -G "$to/*.xml" >/dev/null && return 0
	mkdir -p "$to"
	cp "$CACHE"/qemu-capabilities/*.xml "$to/"
}

# save_caps I: keep host I's probed QEMU capabilities for the next hosts.
save_caps() {
	local from
	from="$(host_dir "$1")/cache/qemu/capabilities"
	compgen -G "$CACHE/qemu-capabilities/*.xml" >/dev/null && return 0
	compgen -G "$from/*.xml" >/dev/null || return 0
	mkdir -p "$CACHE/qemu-capabilities"
	cp "$from"/*.xml "$CACHE/qemu-capabilities/"
}

libvirt_answers() {
	virsh -q -c "$(host_uri "$1")" version >/dev/null 2>&1
}

# start_libvirt I: start host I's virtlogd and libvirtd unless they run.
start_libvirt() {
	local dir
	dir=$(host_dir "$1")
	if pid_alive "$dir/libvirtd.pid" && pid_alive "$dir/virtlogd.pid"; then
		return 0
	fi
	if [[ -n $(ns_pids "$1") ]]; then
		die "$(host_name "$1") is half up (processes left in its namespace: $(ns_pids "$1" | paste -sd' ' -)); run: $0 down"
	fi
	rm -f "$dir/libvirtd.pid" "$dir/virtlogd.pid" "$dir"/run/*-sock
	log "$(host_name "$1"): starting libvirtd in its own mount namespace"
	unshare_host "$1"
}

# unshare_host I: run NS_SCRIPT for host I in a new mount namespace.
unshare_host() {
	local dir
	dir=$(host_dir "$1")
	PATH=$PATH:/usr/sbin:/sbin unshare -m --propagation private \
		bash -euc "$NS_SCRIPT" lab-host "$dir" "${HOST_MOUNTS[@]}" >>"$dir/start.log" 2>&1 ||
		die "$(host_name "$1"): libvirtd did not start; see $dir/start.log and $dir/log/libvirtd.log"
}

# wait_libvirt I: poll until host I's libvirtd answers.
wait_libvirt() {
	local deadline=$((SECONDS + LIBVIRT_DEADLINE)) dir
	dir=$(host_dir "$1")
	until libvirt_answers "$1"; do
		if ((SECONDS >= deadline)); then
			tail -n 20 "$dir/log/libvirtd.log" >&2 2>/dev/null || true
			die "$(host_name "$1"): libvirtd did not answer at $(host_uri "$1") within ${LIBVIRT_DEADLINE}s"
		fi
		pid_alive "$dir/libvirtd.pid" || [[ ! -s $dir/libvirtd.pid ]] ||
			die "$(host_name "$1"): libvirtd exited; see $dir/log/libvirtd.log"
		sleep 0.3
	done
}

# ---------------------------------------------------------------- agents

# novacron_bin prints the agent binary: $NOVACRON_BIN, else the one this lab's
# agents were started with (so that `restart` brings back the same version),
# else bin/novacron (built when missing).
novacron_bin() {
	local bin=${NOVACRON_BIN:-}
	if [[ -z $bin && -s $LAB/agent-bin && -x $(<"$LAB/agent-bin") ]]; then
		bin=$(<"$LAB/agent-bin")
	fi
	bin=${bin:-$REPO_ROOT/bin/novacron}
	if [[ ! -x $bin ]]; then
		[[ -z ${NOVACRON_BIN:-} ]] || die "NOVACRON_BIN=$bin is not an executable"
		log "building $bin (make build)"
		make -C "$REPO_ROOT" build >&2 || die "make build failed"
	fi
	printf '%s' "$bin"
}

token() {
	if [[ ! -s $LAB/token ]]; then
		mkdir -p "$LAB"
		(
			umask 077
			printf 'nvc_lab_%s\n' "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" >"$LAB/token"
		)
	fi
	tr -d '\n' <"$LAB/token"
}

# lab_tls BIN I: the lab's CA and gossip key (made once per lab) and host
# I's node certificate for its address, in $LAB/tls. The agents run with TLS
# and encrypted gossip, as production agents must: every lab test walks the
# secure path.
lab_tls() {
	local bin=$1 i=$2 name
	name=$(host_name "$i")
	if [[ ! -f $LAB/tls/ca.pem ]]; then
		"$bin" tls ca create --out "$LAB/tls" >/dev/null || die "could not create the lab's CA in $LAB/tls"
	fi
	if [[ ! -f $LAB/tls/gossip-key ]]; then
		(umask 077 && "$bin" operator gossip keygen >"$LAB/tls/gossip-key") || die "could not make the lab's gossip key"
	fi
	if [[ ! -f $LAB/tls/$name.pem ]]; then
		"$bin" tls cert create --ca "$LAB/tls" --node "$name" --ip "$(host_addr "$i")" --out "$LAB/tls" >/dev/null ||
			die "could not issue $name's certificate"
	fi
}

# start_agent I N: start host I's agent in a cluster of N unless it runs.
start_agent() {
	local i=$1 n=$2 dir bin j args
	dir=$(host_dir "$i")
	[[ -n $(agent_pids "$i") ]] && return 0
	bin=$(novacron_bin)
	printf '%s\n' "$bin" >"$LAB/agent-bin"
	token >/dev/null # creates $LAB/token (mode 600) on first use
	lab_tls "$bin" "$i"
	# The token goes by file, not on the command line, where ps shows it.
	args=(agent --name "$(host_name "$i")" --data-dir "$dir/agent" --bind "$(host_addr "$i")"
		--gossip-port "$(gossip_port "$i")" --raft-port "$(raft_port "$i")" --http-port "$(http_port "$i")"
		--bootstrap-expect "$n" --bootstrap-token-file "$LAB/token"
		--hypervisor libvirt --libvirt-uri "$(host_uri "$i")" --virt-type qemu --vcpus "$LAB_VCPUS" --stop-timeout "$LAB_STOP_TIMEOUT"
		--memory-mib "$LAB_MEMORY_MIB" --migrate-uri "tcp://$(host_addr "$i")"
		--libvirt-peer-uri "$(host_uri "$i")" --libvirt-peer-schemes qemu+unix
		--image-dir "$CACHE" --console-log-dir "$dir/log/qemu"
		--tls-ca "$LAB/tls/ca.pem" --tls-cert "$LAB/tls/$(host_name "$i").pem" --tls-key "$LAB/tls/$(host_name "$i")-key.pem"
		--gossip-key-file "$LAB/tls/gossip-key")
	# Guests boot only from files inside --image-dir: the cached kernel,
	# initramfs and boot disk (NOVACRON_LAB_KERNEL, NOVACRON_LAB_INITRD,
	# NOVACRON_LAB_IMAGE) live in $CACHE.
	# Every agent knows every other one, so any of them can restart alone later.
	for ((j = 1; j <= n; j++)); do
		((j == i)) || args+=(--join "$(host_addr "$j"):$(gossip_port "$j")")
	done
	# Extra agent flags for every host (say, shorter HA timings for a test).
	if [[ -n ${NOVACRON_LAB_AGENT_FLAGS:-} ]]; then
		# shellcheck disable=SC2206 # split on purpose: a list of flags
		args+=(${NOVACRON_LAB_AGENT_FLAGS})
	fi
	log "$(host_name "$i"): starting agent on $(host_addr "$i") (http :$(http_port "$i"), gossip :$(gossip_port "$i"), raft :$(raft_port "$i"), group $(host_gid "$i"))"
	# setpriv: root, with the host's own group as its only supplementary one,
	# which `cut` matches. (As the primary group, libvirt refuses the client:
	# it looks up a group record for it.)
	setsid nohup setpriv --groups "$(host_gid "$i")" -- "$bin" "${args[@]}" </dev/null >>"$dir/agent.log" 2>&1 &
	echo $! >"$dir/agent.pid"
}

healthz() {
	curl -s --max-time 2 --cacert "$LAB/tls/ca.pem" "$(host_http "$1")/healthz" 2>/dev/null || true
}

# leader_of I: the leader host I's agent reports, empty if none or no answer.
leader_of() {
	healthz "$1" | sed -n 's/.*"leader":"\([^"]*\)".*/\1/p'
}

agent_log_tails() {
	local i
	for i in $(lab_hosts); do
		printf '\n---- tail of %s/agent.log ----\n' "$(host_dir "$i")" >&2
		tail -n 25 "$(host_dir "$i")/agent.log" >&2 2>/dev/null || true
	done
}

# wait_cluster N: poll until all N agents report the same leader.
wait_cluster() {
	local n=$1 deadline=$((SECONDS + CLUSTER_DEADLINE)) i leader l ok
	while :; do
		ok=yes leader=""
		for ((i = 1; i <= n; i++)); do
			if [[ -z $(agent_pids "$i") ]]; then
				agent_log_tails
				die "the agent of $(host_name "$i") exited; its log is above (clean up: $0 down)"
			fi
			l=$(leader_of "$i")
			if [[ -z $l || (-n $leader && $l != "$leader") ]]; then ok=no; fi
			leader=$l
		done
		if [[ $ok == yes ]]; then
			log "cluster up: leader $leader"
			return 0
		fi
		if ((SECONDS >= deadline)); then
			agent_log_tails
			die "no leader that all $n agents agree on within ${CLUSTER_DEADLINE}s; agent logs above (clean up: $0 down)"
		fi
		sleep 0.5
	done
}

# ---------------------------------------------------------------- env lines

# with_agents: the lab runs agents (`up` without --no-agents).
with_agents() {
	[[ $(cat "$LAB/agents" 2>/dev/null) != no ]]
}

# write_env N: $LAB/env, the lines `up` and `env` print.
write_env() {
	local n=$1 i
	{
		if with_agents; then
			printf "export NOVACRON_ADDR='%s'\n" "$(host_http 1)"
			printf "export NOVACRON_TOKEN='%s'\n" "$(token)"
			printf "export NOVACRON_CACERT='%s'\n" "$LAB/tls/ca.pem"
		fi
		printf "export NOVACRON_LAB_KERNEL='%s'\n" "$CACHE/vmlinuz"
		printf "export NOVACRON_LAB_INITRD='%s'\n" "$CACHE/initrd.img"
		printf "export NOVACRON_LAB_IMAGE='%s'\n" "$CACHE/$DISK_IMAGE"
		for ((i = 1; i <= n; i++)); do
			printf '# %s: libvirt %s, agent %s\n' "$(host_name "$i")" "$(host_uri "$i")" "$(host_http "$i")"
			printf "export NOVACRON_LAB_HOST%d_URI='%s'\n" "$i" "$(host_uri "$i")"
			if with_agents; then printf "export NOVACRON_LAB_HOST%d_ADDR='%s'\n" "$i" "$(host_http "$i")"; fi
		done
	} >"$LAB/env.tmp"
	mv "$LAB/env.tmp" "$LAB/env"
}

# ---------------------------------------------------------------- verbs

# lab_is_up N: every host answers and every agent agrees on a leader.
lab_is_up() {
	local n=$1 i leader="" l
	for ((i = 1; i <= n; i++)); do
		libvirt_answers "$i" || return 1
		with_agents || continue
		[[ -n $(agent_pids "$i") ]] || return 1
		l=$(leader_of "$i")
		[[ -n $l && (-z $leader || $l == "$leader") ]] || return 1
		leader=$l
	done
}

cmd_up() {
	local n=$DEFAULT_HOSTS agents=yes have i start=$SECONDS
	while (($# > 0)); do
		case $1 in
		--hosts)
			[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--hosts needs a number of hosts (1 or more)"
			n=$2
			shift 2
			;;
		--hosts=*)
			n=${1#--hosts=}
			[[ $n =~ ^[1-9][0-9]*$ ]] || die "--hosts needs a number of hosts (1 or more)"
			shift
			;;
		--no-agents)
			agents=no
			shift
			;;
		*) die "up: unknown argument $1 (usage: $0 up [--hosts N] [--no-agents])" ;;
		esac
	done
	require_root up
	[[ $LAB != *"'"* && $CACHE != *"'"* ]] || die "NOVACRON_LAB_DIR and NOVACRON_LAB_CACHE must not contain a single quote"
	have=$(lab_hosts | wc -l)
	if ((have > 0 && have != n)); then
		die "the lab in $LAB has $have hosts, not $n; run: $0 down"
	fi
	if ((have > 0)) && [[ $(cat "$LAB/agents" 2>/dev/null || echo yes) != "$agents" ]]; then
		die "the lab in $LAB was started $(with_agents && echo with || echo without) agents; run: $0 down"
	fi
	if ((have == n)) && lab_is_up "$n"; then
		log "the lab is already up with $n hosts ($LAB)"
		write_env "$n"
		cat "$LAB/env"
		return 0
	fi
	ensure_packages
	build_guest
	# Cuts left by a lab that was never taken down would cut this one's hosts.
	if ((have == 0)) && command -v iptables >/dev/null; then
		fw_delete tag_of_lab_or_orphan
	fi
	mkdir -p "$LAB/hosts"
	echo "$agents" >"$LAB/agents"
	for ((i = 1; i <= n; i++)); do prepare_host "$i"; done
	# Without cached QEMU capabilities, host1 probes QEMU alone first (faster than
	# every host probing at once) and the others reuse what it found.
	if ! compgen -G "$CACHE/qemu-capabilities/*.xml" >/dev/null; then
		log "first run: host1 probes QEMU's capabilities (about 10-25 s)"
		start_libvirt 1
		wait_libvirt 1
		save_caps 1
	fi
	for ((i = 1; i <= n; i++)); do
		seed_caps "$i"
		start_libvirt "$i"
	done
	for ((i = 1; i <= n; i++)); do wait_libvirt "$i"; done
	log "$n libvirt hosts answer ($((SECONDS - start))s)"
	if [[ $agents == yes ]]; then
		for ((i = 1; i <= n; i++)); do start_agent "$i" "$n"; done
		wait_cluster "$n"
	fi
	write_env "$n"
	log "lab up in $((SECONDS - start))s; env in $LAB/env; stop it with: $0 down"
	cat "$LAB/env"
}

# destroy_domains I: destroy and undefine every domain of host I; prints their names.
destroy_domains() {
	local uri d
	uri=$(host_uri "$1")
	libvirt_answers "$1" || return 0
	while read -r d; do
		[[ -n $d ]] || continue
		virsh -q -c "$uri" destroy "$d" >/dev/null 2>&1 || true
		virsh -q -c "$uri" undefine "$d" --nvram >/dev/null 2>&1 ||
			virsh -q -c "$uri" undefine "$d" >/dev/null 2>&1 || true
		printf '%s\n' "$d"
	done < <(virsh -q -c "$uri" list --all --name 2>/dev/null)
}

# qemu_pids I: the QEMU processes host I's libvirtd started, from its pid files.
qemu_pids() {
	local f pid
	for f in "$(host_dir "$1")"/run/qemu/*.pid; do
		[[ -s $f ]] || continue
		pid=$(<"$f")
		[[ $pid =~ ^[0-9]+$ ]] || continue
		# run/qemu also holds driver.pid, libvirtd's own.
		[[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */qemu-system-* ]] && printf '%s\n' "$pid"
	done
	return 0
}

# lab_leftovers prints what the lab left behind: processes of lab hosts, agents,
# and processes whose mount table mentions $LAB.
lab_leftovers() {
	local i p
	for i in $(lab_hosts); do
		for p in $(ns_pids "$i") $(agent_pids "$i") $(guard_pids "$i"); do
			printf '%s %s: %s\n' "$(host_name "$i")" "$p" "$(cmdline_of "$p" | cut -c1-100)"
		done
	done
	# shellcheck disable=SC2013 # file names, one a line
	for p in $(grep -l -F "$LAB/" /proc/[0-9]*/mountinfo 2>/dev/null | cut -d/ -f3); do
		printf 'mount of %s in process %s: %s\n' "$LAB" "$p" "$(cmdline_of "$p" | cut -c1-100)"
	done
}

cmd_down() {
	local i f dir pids hp domains qemus nagents ndomains=0 nqemu=0 left
	require_root down
	if [[ ! -d $LAB/hosts ]] || [[ -z $(lab_hosts) ]]; then
		log "no lab hosts in $LAB: nothing to stop"
		rm -f "$LAB/env" "$LAB/agents" "$LAB/agent-bin"
		fw_delete tag_of_lab_or_orphan
		return 0
	fi
	# The network first: agents stopping on a cut network wait for peers in vain.
	fw_delete tag_of_lab
	mapfile -t pids < <(for i in $(lab_hosts); do agent_pids "$i"; done)
	nagents=${#pids[@]}
	stop_pids "agents" "${pids[@]}"
	log "stopped $nagents agent(s)"
	# A stopped agent stops its guard; a killed one's guard is still running.
	mapfile -t pids < <(for i in $(lab_hosts); do guard_pids "$i"; done)
	((${#pids[@]} == 0)) || { stop_pids "fencing guards" "${pids[@]}"; log "stopped ${#pids[@]} fencing guard(s) of killed agents"; }
	pids=()
	for i in $(lab_hosts); do
		dir=$(host_dir "$i")
		mapfile -t qemus < <(qemu_pids "$i")
		mapfile -t domains < <(destroy_domains "$i")
		ndomains=$((ndomains + ${#domains[@]}))
		nqemu=$((nqemu + ${#qemus[@]}))
		((${#domains[@]} == 0)) || log "$(host_name "$i"): destroyed and undefined ${domains[*]}"
		# Also whatever else is still in the namespace: QEMU whose libvirtd died,
		# daemons whose pid files are gone.
		mapfile -t hp < <(
			for f in "$dir/libvirtd.pid" "$dir/virtlogd.pid"; do pid_alive "$f" && printf '%s\n' "$(<"$f")"; done
			printf '%s\n' "${qemus[@]}"
			ns_pids "$i"
		)
		mapfile -t hp < <(printf '%s\n' "${hp[@]}" | grep -E '^[0-9]+$' | sort -un || true)
		((${#hp[@]} == 0)) || log "$(host_name "$i"): stopping libvirtd, virtlogd and ${#qemus[@]} QEMU (pids ${hp[*]})"
		pids+=("${hp[@]}")
	done
	stop_pids "lab host processes" "${pids[@]}"
	left=$(lab_leftovers)
	if [[ -n $left ]]; then
		printf '%s\n' "$left" >&2
		die "these are still running after SIGKILL; $LAB/hosts is kept"
	fi
	[[ -n $LAB && $LAB != / ]] || die "refusing to remove hosts under LAB=$LAB"
	rm -rf "$LAB/hosts" "$LAB/env" "$LAB/agents" "$LAB/agent-bin" "$LAB/tls"
	fw_delete tag_of_lab_or_orphan
	if [[ -n $(fw_rules "$CHAIN_IN"; fw_rules "$CHAIN_OUT") ]]; then
		log "iptables rules of another lab remain in $CHAIN_IN/$CHAIN_OUT: $(fw_rules "$CHAIN_OUT" | cut -d' ' -f1 | sort -u | paste -sd' ' -)"
	fi
	log "removed $LAB/hosts ($nagents agents, $ndomains domains, $nqemu QEMU processes); no lab process or mount is left; kept $CACHE"
}

cmd_status() {
	local i dir state agent l net
	if [[ -z $(lab_hosts) ]]; then
		echo "no lab in $LAB (start one: $0 up)"
		return 0
	fi
	echo "guest images: $CACHE/vmlinuz + $CACHE/initrd.img; boot disk $CACHE/$DISK_IMAGE (qcow2)"
	for i in $(lab_hosts); do
		dir=$(host_dir "$i")
		state=down
		pid_alive "$dir/libvirtd.pid" && state="running (pid $(<"$dir/libvirtd.pid"))"
		libvirt_answers "$i" && state="$state, answers"
		agent=down
		with_agents || agent="none (started with --no-agents)"
		[[ -n $(agent_pids "$i") ]] && agent="running (pid $(agent_pids "$i" | paste -sd' ' -))"
		l=$(leader_of "$i")
		net=ok
		is_cut "$i" && net="CUT OFF (heal it: $0 heal $(host_name "$i"))"
		echo "$(host_name "$i"): $(host_uri "$i")"
		echo "  libvirtd: $state"
		echo "  agent:    $agent, $(host_http "$i"), leader ${l:-none}"
		echo "  network:  $net ($(host_addr "$i"), gossip :$(gossip_port "$i"), raft :$(raft_port "$i"), group $(host_gid "$i"))"
		if libvirt_answers "$i"; then
			virsh -c "$(host_uri "$i")" list --all | sed '/^$/d; s/^/  /'
		fi
	done
}

cmd_env() {
	[[ -s $LAB/env ]] || die "no lab env in $LAB (start one: $0 up)"
	cat "$LAB/env"
}

# smoke_xml NAME SERIALLOG: a 96 MiB TCG guest booting the cached image.
smoke_xml() {
	cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>96</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>$CACHE/vmlinuz</kernel>
    <initrd>$CACHE/initrd.img</initrd>
    <cmdline>console=ttyS0</cmdline>
  </os>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='pty'>
      <log file='$2' append='off'/>
      <target port='0'/>
    </serial>
    <console type='pty'><target type='serial' port='0'/></console>
  </devices>
</domain>
EOF
}

# cmd_smoke boots a transient guest on every host with virsh alone and waits for
# `tick 3` in its serial log, which is written under the host's log folder.
cmd_smoke() {
	local i name log_in log_out deadline xml
	require_root smoke
	[[ -n $(lab_hosts) ]] || die "no lab hosts in $LAB (start one: $0 up)"
	build_guest
	for i in $(lab_hosts); do
		name="lab-smoke-$(host_name "$i")"
		log_in=/var/log/libvirt/qemu/$name-serial.log # as the host's libvirtd sees it
		xml=$(host_dir "$i")/$name.xml
		smoke_xml "$name" "$log_in" >"$xml"
		virsh -q -c "$(host_uri "$i")" create "$xml" >/dev/null || die "$(host_name "$i"): virsh create $xml failed"
		log "$(host_name "$i"): started $name"
	done
	for i in $(lab_hosts); do
		name="lab-smoke-$(host_name "$i")"
		log_out=$(host_dir "$i")/log/qemu/$name-serial.log
		deadline=$((SECONDS + SMOKE_DEADLINE))
		until grep -q '^tick 3' "$log_out" 2>/dev/null; do
			((SECONDS < deadline)) || die "$(host_name "$i"): no 'tick 3' in $log_out within ${SMOKE_DEADLINE}s"
			sleep 0.5
		done
		log "$(host_name "$i"): $name ticks ($(grep -c '^tick' "$log_out") ticks in $log_out)"
		virsh -q -c "$(host_uri "$i")" destroy "$name" >/dev/null
	done
	log "smoke test passed on $(lab_hosts | wc -l) host(s)"
}

# ---------------------------------------------------------------- host failures

# host_pids I: every process of host I: its agent and fencing guard, libvirtd and virtlogd (pid
# files), its QEMUs (libvirtd's pid files in run/qemu) and whatever else lives
# in its mount namespace (a QEMU whose pid file is gone, a helper libvirtd forked).
host_pids() {
	local dir f
	dir=$(host_dir "$1")
	{
		agent_pids "$1"
		guard_pids "$1"
		for f in "$dir/libvirtd.pid" "$dir/virtlogd.pid"; do
			if pid_alive "$f"; then printf '%s\n' "$(<"$f")"; fi
		done
		qemu_pids "$1"
		ns_pids "$1"
	} | grep -E '^[0-9]+$' | sort -un || true
}

# kill_host I: SIGKILL every process of host I in one go (one kill builtin, a
# few microseconds from the first to the last), then once more for anything
# forked meanwhile, and wait until all are gone. Prints `killed_at=EPOCH` (the
# moment before the first signal, seconds with microseconds) on stdout.
kill_host() {
	local i=$1 dir t0 t1 more what agents p
	local -a pids
	dir=$(host_dir "$i")
	mapfile -t pids < <(host_pids "$i")
	if ((${#pids[@]} == 0)); then
		log "$(host_name "$i"): nothing of it runs"
		return 0
	fi
	what="" agents=" $(agent_pids "$i" | paste -sd' ' -) "
	for p in "${pids[@]}"; do
		case $(readlink "/proc/$p/exe" 2>/dev/null) in
		*/qemu-system-*) what+=" qemu:$p" ;;
		*/libvirtd) what+=" libvirtd:$p" ;;
		*/virtlogd) what+=" virtlogd:$p" ;;
		*) [[ $agents == *" $p "* ]] && what+=" agent:$p" || what+=" other:$p" ;;
		esac
	done
	t0=$EPOCHREALTIME
	kill -KILL "${pids[@]}" 2>/dev/null || true
	t1=$EPOCHREALTIME
	mapfile -t more < <(host_pids "$i")
	if ((${#more[@]} > 0)); then
		log "$(host_name "$i"): SIGKILL to ${#more[@]} more process(es) that appeared meanwhile: ${more[*]}"
		kill -KILL "${more[@]}" 2>/dev/null || true
		pids+=("${more[@]}")
	fi
	wait_gone "$STOP_DEADLINE" "${pids[@]}" ||
		die "$(host_name "$i"): still running after SIGKILL: $(alive "${pids[@]}" | paste -sd' ' -)"
	log "$(host_name "$i"): killed ${#pids[@]} processes within $((${t1//[.,]/} - ${t0//[.,]/})) µs:$what"
	printf 'killed_at=%s\n' "$t0"
}

# wait_agent I: poll until host I's agent answers with a leader.
wait_agent() {
	local deadline=$((SECONDS + CLUSTER_DEADLINE)) l
	while :; do
		if [[ -z $(agent_pids "$1") ]]; then
			tail -n 25 "$(host_dir "$1")/agent.log" >&2 2>/dev/null || true
			die "$(host_name "$1"): the agent exited; the tail of its log is above"
		fi
		l=$(leader_of "$1")
		if [[ -n $l ]]; then
			log "$(host_name "$1"): agent up, leader $l"
			return 0
		fi
		((SECONDS < deadline)) || die "$(host_name "$1"): the agent reports no leader within ${CLUSTER_DEADLINE}s; see $(host_dir "$1")/agent.log"
		sleep 0.3
	done
}

cmd_kill() {
	local i
	require_root kill
	[[ $# == 1 ]] || die "usage: $0 kill NAME (host1, host2, ...)"
	i=$(host_index "$1")
	kill_host "$i"
}

# cmd_restart starts host I again as after a reboot: whatever still runs of it
# is killed first, its /run/libvirt is emptied (a tmpfs at boot), then its
# libvirtd (in a new mount namespace, as `up` does) and its agent start and the
# agent rejoins. A cut host stays cut.
cmd_restart() {
	local i dir
	require_root restart
	[[ $# == 1 ]] || die "usage: $0 restart NAME (host1, host2, ...)"
	i=$(host_index "$1")
	dir=$(host_dir "$i")
	if [[ -n $(host_pids "$i") ]]; then
		log "$(host_name "$i"): still running: killing it first"
		kill_host "$i" >/dev/null
	fi
	rm -rf "${dir:?}/run"
	mkdir -p "$dir/run"
	start_libvirt "$i"
	wait_libvirt "$i"
	log "$(host_name "$i"): libvirtd answers"
	with_agents || return 0
	start_agent "$i" "$(lab_hosts | wc -l)"
	if is_cut "$i"; then
		log "$(host_name "$i"): the host is cut off: not waiting for its agent to see a leader (heal it: $0 heal $(host_name "$i"))"
		return 0
	fi
	wait_agent "$i"
}

# cmd_start_libvirtd starts host I's libvirtd again after it exited or was
# killed, and waits until it answers, leaving its virtlogd and running QEMUs
# alone (restart kills them): what restarting libvirtd on a real host does.
# The new libvirtd runs in a new mount namespace over the same folders, finds
# the QEMUs' state in run/qemu and reconnects to their monitors.
cmd_start_libvirtd() {
	local i dir
	require_root start-libvirtd
	[[ $# == 1 ]] || die "usage: $0 start-libvirtd NAME (host1, host2, ...)"
	i=$(host_index "$1")
	dir=$(host_dir "$i")
	if pid_alive "$dir/libvirtd.pid"; then
		log "$(host_name "$i"): libvirtd already runs (pid $(<"$dir/libvirtd.pid"))"
		return 0
	fi
	rm -f "$dir/libvirtd.pid" "$dir/run/libvirt-sock" "$dir/run/libvirt-sock-ro" "$dir/run/libvirt-admin-sock"
	log "$(host_name "$i"): starting libvirtd again in a new mount namespace (its virtlogd and QEMUs keep running)"
	unshare_host "$i"
	wait_libvirt "$i"
	log "$(host_name "$i"): libvirtd answers (pid $(<"$dir/libvirtd.pid"))"
}

# ---------------------------------------------------------------- network cuts

ipt() { iptables -w 5 "$@"; }

# cut_tag I: the comment on every rule that cuts host I of this lab.
cut_tag() { printf 'nvclab:%s:host%d' "$LAB" "$1"; }

# cut_rules I: the rules that cut host I, one per line as CHAIN ARGS: nothing
# reaches or leaves its address, and nothing its agent or QEMUs send (their
# group, which also covers connections they open from 127.0.0.1) leaves.
cut_rules() {
	local a g t
	a=$(host_addr "$1") g=$(host_gid "$1") t=$(cut_tag "$1")
	printf '%s -d %s/32 -m comment --comment %s -j DROP\n' "$CHAIN_IN" "$a" "$t"
	printf '%s -s %s/32 -m comment --comment %s -j DROP\n' "$CHAIN_IN" "$a" "$t"
	printf '%s -d %s/32 -m comment --comment %s -j DROP\n' "$CHAIN_OUT" "$a" "$t"
	printf '%s -s %s/32 -m comment --comment %s -j DROP\n' "$CHAIN_OUT" "$a" "$t"
	printf '%s -m owner --gid-owner %s --suppl-groups -m comment --comment %s -j DROP\n' "$CHAIN_OUT" "$g" "$t"
}

# is_cut I: the lab's rules cut host I.
is_cut() {
	ipt -S "$CHAIN_OUT" 2>/dev/null | grep -qF -- "--comment \"$(cut_tag "$1")\""
}

# fw_rules CHAIN: the lab rules in CHAIN as `-D CHAIN ARGS` lines, with the tag
# of each in front: TAG -D CHAIN ARGS.
fw_rules() {
	ipt -S "$1" 2>/dev/null | sed -n 's/^-A \(.*--comment "\(nvclab:[^"]*\)".*\)$/\2 -D \1/p' | tr -d '"'
}

# fw_delete WANT: delete the lab rules whose tag WANT accepts (a function of
# the tag), then the chains and their jumps once no rule is left in them.
fw_delete() {
	local want=$1 chain tag rule n=0
	for chain in "$CHAIN_IN" "$CHAIN_OUT"; do
		while read -r tag rule; do
			[[ -n $tag ]] || continue
			"$want" "$tag" || continue
			# shellcheck disable=SC2086 # a rule: words without spaces or quotes
			ipt $rule && n=$((n + 1))
		done < <(fw_rules "$chain")
	done
	fw_prune
	((n == 0)) || log "removed $n iptables rule(s)"
	return 0
}

# fw_prune removes the lab's chains, and the jumps to them, when they are empty.
fw_prune() {
	local chain parent
	for chain in "$CHAIN_IN" "$CHAIN_OUT"; do
		ipt -n -L "$chain" >/dev/null 2>&1 || continue
		[[ -z $(ipt -S "$chain" | sed '/^-N /d') ]] || continue
		parent=INPUT
		[[ $chain == "$CHAIN_OUT" ]] && parent=OUTPUT
		while ipt -D "$parent" -j "$chain" 2>/dev/null; do :; done
		ipt -X "$chain"
	done
}

# Tag filters for fw_delete.
tag_of_lab() { [[ $1 == "nvclab:$LAB:"* ]]; }
tag_of_host() { [[ $1 == "$CUT_TAG" ]]; }
# tag_orphan: a rule of a lab whose folder has no hosts left (its down never
# ran): it would cut the next lab's hosts, which take the same addresses.
tag_orphan() {
	local dir=${1#nvclab:}
	dir=${dir%:host*}
	[[ ! -d $dir/hosts ]]
}
tag_of_lab_or_orphan() { tag_of_lab "$1" || tag_orphan "$1"; }

cmd_cut() {
	local i rule p
	require_root cut
	[[ $# == 1 ]] || die "usage: $0 cut NAME (host1, host2, ...)"
	[[ $LAB != *[[:space:]\"]* ]] || die "NOVACRON_LAB_DIR must not contain spaces or quotes: the rules carry it in a comment"
	i=$(host_index "$1")
	if is_cut "$i"; then
		log "$(host_name "$i") is already cut off"
		return 0
	fi
	# An agent started some other way than start_agent lacks the host's group:
	# its outgoing connections would get through.
	for p in $(agent_pids "$i"); do
		grep -qE "^Groups:.*\b$(host_gid "$i")\b" "/proc/$p/status" 2>/dev/null ||
			die "$(host_name "$i")'s agent (pid $p) is not in group $(host_gid "$i"), so a cut would not stop what it sends; restart it with: $0 restart $(host_name "$i")"
	done
	ipt -n -L "$CHAIN_IN" >/dev/null 2>&1 || ipt -N "$CHAIN_IN"
	ipt -n -L "$CHAIN_OUT" >/dev/null 2>&1 || ipt -N "$CHAIN_OUT"
	ipt -C INPUT -j "$CHAIN_IN" 2>/dev/null || ipt -I INPUT 1 -j "$CHAIN_IN"
	ipt -C OUTPUT -j "$CHAIN_OUT" 2>/dev/null || ipt -I OUTPUT 1 -j "$CHAIN_OUT"
	# The address rules first: they cut incoming traffic at once.
	while read -r rule; do
		# shellcheck disable=SC2086 # a rule: words without spaces or quotes
		ipt -A $rule
	done < <(cut_rules "$i")
	printf 'cut_at=%s\n' "$EPOCHREALTIME"
	log "$(host_name "$i") is cut off: $(host_addr "$i") and group $(host_gid "$i") dropped (iptables chains $CHAIN_IN, $CHAIN_OUT); its guests, libvirtd and agent keep running; heal it: $0 heal $(host_name "$i")"
}

cmd_heal() {
	local i
	require_root heal
	[[ $# == 1 ]] || die "usage: $0 heal NAME (host1, host2, ...)"
	i=$(host_index "$1")
	if ! is_cut "$i"; then
		log "$(host_name "$i") is not cut off"
		fw_prune
		return 0
	fi
	CUT_TAG=$(cut_tag "$i") fw_delete tag_of_host
	printf 'healed_at=%s\n' "$EPOCHREALTIME"
	log "$(host_name "$i") is on the network again"
}

usage() {
	cat <<EOF
usage: $0 VERB
  up [--hosts N] [--no-agents]
                  start N libvirt hosts (default $DEFAULT_HOSTS) and one agent each
                  (--no-agents: the libvirt hosts only); prints env lines:
                  eval "\$($0 up)"
  down            stop and remove everything the lab started (keeps the guest image)
  deps            install the packages the lab needs and build the guest images
                  (kernel + initramfs, and the boot disk $DISK_IMAGE)
  status          hosts, libvirtd state, domains, agents
  env             print the env lines again
  smoke           boot a guest on every host with virsh alone and check it ticks
  kill NAME       host NAME (host1, host2, ...) dies at once: SIGKILL to its agent,
                  libvirtd, virtlogd and QEMUs together; prints killed_at=EPOCH
  restart NAME    start host NAME again as after a reboot (killing what still runs
                  of it first): a new libvirtd, then its agent, which rejoins
  start-libvirtd NAME
                  start host NAME's libvirtd again after it stopped, leaving its
                  virtlogd and QEMUs running (a libvirtd restart on a real host)
  cut NAME        host NAME loses the network: its address and everything its agent
                  and QEMUs send are dropped (iptables chains $CHAIN_IN/$CHAIN_OUT);
                  its guests keep running and its agent keeps its libvirtd
  heal NAME       undo cut NAME
Host I's agent listens on $LAB_NET.I (\$NOVACRON_LAB_NET); \$NOVACRON_LAB_AGENT_FLAGS
adds flags to every agent.
State: \$NOVACRON_LAB_DIR ($LAB); guest image: \$NOVACRON_LAB_CACHE ($CACHE).
EOF
}

# cmd_deps installs what the lab and its tests need and builds the guest image,
# without starting anything: `make test` calls it when run as root.
cmd_deps() {
	require_root
	ensure_packages
	build_guest
	log "dependencies ready; guest images in $CACHE: vmlinuz, initrd.img, $DISK_IMAGE"
}

main() {
	local verb=${1:-}
	(($# > 0)) && shift
	case $verb in
	up) cmd_up "$@" ;;
	deps) cmd_deps ;;
	down) cmd_down ;;
	status) cmd_status ;;
	env) cmd_env ;;
	smoke) cmd_smoke ;;
	kill) cmd_kill "$@" ;;
	restart) cmd_restart "$@" ;;
	start-libvirtd) cmd_start_libvirtd "$@" ;;
	cut) cmd_cut "$@" ;;
	heal) cmd_heal "$@" ;;
	-h | --help | help) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
