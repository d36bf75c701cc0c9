#!/bin/bash
# Build (once) the Debian bookworm VM image used to test jail under a real
# systemd user manager on cgroup v2.  See tests/vm/README.md.
#
# Usage: tests/vm/build-image.sh [--path]
#   Prints the image directory (holding image.raw, vmlinuz, initrd.img) on
#   stdout; everything else goes to stderr.  Needs root (debootstrap, chroot).
#   --path: only print where the image of this recipe is (built or not).
#
# Env:
#   JAIL_VM_CACHE         cache root (default /var/cache/jail-vm)
#   JAIL_VM_MIRROR        Debian mirror URL (default: read from apt sources)
#   JAIL_VM_INSTALL_DEPS  =1: apt-get install missing host tools
#
# The cache key is the sha256 of this file, so any change to the recipe
# rebuilds; the old image directories are removed after a successful build.
set -euo pipefail

readonly SUITE=bookworm
# What a test may need inside the guest; keep it small (every package costs
# download and debootstrap time on each recipe change).
readonly PACKAGES=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,linux-image-amd64,udev,kmod,initramfs-tools,procps,util-linux,uidmap
readonly IMAGE_SIZE=2G

cache=${JAIL_VM_CACHE:-/var/cache/jail-vm}
self=$(readlink -f "${BASH_SOURCE[0]}")
recipe=$(sha256sum "$self" | cut -c1-16)
image_dir=$cache/image-$recipe

log() { printf 'build-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

have_image() {
    [[ -f $image_dir/stamp && $(cat "$image_dir/stamp") == "$recipe" ]]
}

if [[ ${1:-} == --path ]]; then
    printf '%s\n' "$image_dir"
    exit 0
fi

# Fast path without a lock: a finished image dir only ever appears by rename.
if have_image; then
    printf '%s\n' "$image_dir"
    exit 0
fi

[[ $(id -u) == 0 ]] || die "must run as root (debootstrap, chroot)"

ensure_tools() {
    local -a missing=()
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
    command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
    [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)
    ((${#missing[@]} == 0)) && return 0
    if [[ ${JAIL_VM_INSTALL_DEPS:-0} == 1 ]]; then
        log "installing ${missing[*]}"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    else
        die "missing host packages: ${missing[*]} (apt-get install ${missing[*]}, or set JAIL_VM_INSTALL_DEPS=1)"
    fi
    # mkfs.ext4 -d needs e2fsprogs >= 1.43
    mkfs.ext4 -V 2>&1 | grep -q '^mke2fs 1\.4[3-9]' || die "mkfs.ext4 too old for -d"
}

# The first Debian archive (not security) that carries $SUITE/main, from the
# host's apt configuration, in apt's reading order.  Never hard-code a host.
find_mirror() {
    local f
    {
        [[ -f /etc/apt/sources.list ]] && oneline </etc/apt/sources.list
        for f in /etc/apt/sources.list.d/*; do
            case $f in
            *.list) oneline <"$f" ;;
            *.sources) deb822 <"$f" ;;
            esac
        done
    } | awk -v suite="$SUITE" '
        $2 == suite && $3 == "main" && $1 !~ /security/ { print $1; exit }'
}

# One-line format -> "URI SUITE COMPONENT" per component.
oneline() {
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' | awk '
        $1 == "deb" && NF >= 4 { for (i = 4; i <= NF; i++) print $2, $3, $i }'
}

# deb822 format -> same triples (handles continuation lines and Enabled: no).
deb822() {
    awk '
        function flush(   u, s, c, nu, ns, nc, i, j, k) {
            if (types ~ /(^| )deb( |$)/ && tolower(enabled) != "no") {
                nu = split(uris, u, " "); ns = split(suites, s, " ")
                nc = split(comps, c, " ")
                for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
                    for (k = 1; k <= nc; k++) print u[i], s[j], c[k]
            }
            types = uris = suites = comps = enabled = ""; field = ""
        }
        /^#/ { next }
        /^[ \t]*$/ { flush(); next }
        /^[ \t]/ { if (field != "") val[field] = val[field] " " $0; set(); next }
        {
            field = tolower(substr($0, 1, index($0, ":") - 1))
            val[field] = substr($0, index($0, ":") + 1); set()
        }
        function set() {
            if (field == "types") types = val[field]
            else if (field == "uris") uris = val[field]
            else if (field == "suites") suites = val[field]
            else if (field == "components") comps = val[field]
            else if (field == "enabled") enabled = val[field]
            gsub(/^[ \t]+|[ \t]+$/, "", enabled)
        }
        END { flush() }'
}

configure_rootfs() {
    local r=$1
    echo jail-vm >"$r/etc/hostname"
    printf '127.0.0.1 localhost\n127.0.1.1 jail-vm\n' >"$r/etc/hosts"
    # No fsck: every boot runs on a -snapshot overlay of a pristine image.
    echo '/dev/vda / ext4 rw,errors=remount-ro 0 0' >"$r/etc/fstab"

    chroot "$r" useradd -m -u 1000 -U -s /bin/bash tester
    chroot "$r" passwd -qd root
    # Unprivileged user namespaces for jail; write explicitly, useradd may not.
    echo 'tester:100000:65536' >"$r/etc/subuid"
    echo 'tester:100000:65536' >"$r/etc/subgid"
    # Lingering: user@1000.service (the user manager) starts at boot.
    mkdir -p "$r/var/lib/systemd/linger"
    touch "$r/var/lib/systemd/linger/tester"

    # 9p is not in the initrd; load it from the root fs after switch-root.
    printf '9p\n9pnet_virtio\n' >"$r/etc/modules-load.d/9p.conf"

    # The boot-time runner: mount the share, run the per-run guest-runner.sh
    # that run.sh put there, power off.  The runner lives on the share so it
    # can change without rebuilding the image.
    install -m 0755 /dev/stdin "$r/usr/local/sbin/jail-vm-runner" <<'EOF'
#!/bin/bash
# Installed by tests/vm/build-image.sh.
share=/mnt/share
modprobe -a 9p 9pnet_virtio || true
mkdir -p "$share"
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share "$share" &&
    [[ -f $share/guest-runner.sh ]]; then
    bash "$share/guest-runner.sh"
else
    echo "jail-vm-runner: no share or no guest-runner.sh" >&2
fi
# Power off whatever happened, so the host sees the end at once.
systemctl poweroff --no-block
EOF
    cat >"$r/etc/systemd/system/jail-vm-runner.service" <<'EOF'
[Unit]
Description=jail VM test runner
After=systemd-user-sessions.service systemd-logind.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/jail-vm-runner
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
    ln -sf /etc/systemd/system/jail-vm-runner.service \
        "$r/etc/systemd/system/multi-user.target.wants/jail-vm-runner.service"

    # Nothing else should wake up during a test.  (ttyS0 keeps a login
    # prompt, root with an empty password, for manual debugging only.)
    ln -sf /dev/null "$r/etc/systemd/system/getty@tty1.service"
    rm -f "$r"/etc/systemd/system/timers.target.wants/* \
        "$r/etc/systemd/system/multi-user.target.wants/e2scrub_reap.service"

    # A small initrd with just what mounts /dev/vda: the default one (36 MB,
    # MODULES=most) takes ~3.5 s of guest time just to unpack under TCG.
    echo 'MODULES=list' >"$r/etc/initramfs-tools/conf.d/jail-vm.conf"
    printf '%s\n' virtio_pci virtio_blk ext4 >>"$r/etc/initramfs-tools/modules"
    mount -t proc proc "$r/proc"
    chroot "$r" update-initramfs -u -k all >&2
    umount "$r/proc"

    # debootstrap leaves the downloaded .debs in the tree (~200 MB).
    rm -f "$r"/var/cache/apt/archives/*.deb
}

ensure_tools
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 # two concurrent first runs: one builds, the other waits and reuses
if have_image; then
    printf '%s\n' "$image_dir"
    exit 0
fi

mirror=${JAIL_VM_MIRROR:-$(find_mirror)}
[[ -n $mirror ]] || die "no Debian $SUITE main archive in /etc/apt/sources.list{,.d/*}; set JAIL_VM_MIRROR"

# Remove a build tree.  debootstrap mounts proc/sys in the chroot: unmount
# whatever is under it first, and never let rm cross into a mount.
remove_tree() {
    local m
    awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r m; do umount -l "$m" || true; done
    rm -rf --one-file-system "$1"
}

# Leftovers of a build that was killed (we hold the lock: nobody else builds).
for old in "$cache"/.build.*; do
    if [[ -e $old ]]; then remove_tree "$old"; fi
done

tmp=$(mktemp -d "$cache/.build.XXXXXX")
chmod 755 "$tmp"
trap 'remove_tree "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$SECONDS
log "building $image_dir (recipe $recipe) from $mirror"
mkdir -p "$cache/debs"
if ! debootstrap --variant=minbase --include="$PACKAGES" \
    --cache-dir="$cache/debs" "$SUITE" "$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
    cp "$tmp/debootstrap.log" "$cache/last-build.log" || true
    tail -n 30 "$tmp/debootstrap.log" >&2
    die "debootstrap failed (full log: $cache/last-build.log)"
fi
log "debootstrap done in $((SECONDS - start)) s"

configure_rootfs "$tmp/rootfs"

shopt -s nullglob
kernels=("$tmp"/rootfs/boot/vmlinuz-*)
initrds=("$tmp"/rootfs/boot/initrd.img-*)
shopt -u nullglob
((${#kernels[@]} == 1 && ${#initrds[@]} == 1)) || die "expected one kernel and one initrd in rootfs/boot"
cp "${kernels[0]}" "$tmp/vmlinuz"
cp "${initrds[0]}" "$tmp/initrd.img"

# -d copies owners/modes/devices/xattrs without a loop mount; sparse file.
truncate -s "$IMAGE_SIZE" "$tmp/image.raw"
mkfs.ext4 -q -F -L jailroot -d "$tmp/rootfs" "$tmp/image.raw"
rm -rf --one-file-system "$tmp/rootfs" "$tmp/debootstrap.log"
echo "$recipe" >"$tmp/stamp"

# Atomic publish, then drop images of older recipes.
mv -T "$tmp" "$image_dir"
trap - EXIT
for old in "$cache"/image-*; do
    [[ $old == "$image_dir" ]] || remove_tree "$old"
done
log "image ready in $((SECONDS - start)) s: $(du -sh "$image_dir" | cut -f1) used"
printf '%s\n' "$image_dir"
