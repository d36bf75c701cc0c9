#!/bin/bash
# Boot the cached test VM (building it first if needed), run PAYLOAD_DIR/test.sh
# inside as the lingering user `tester` (uid 1000) with a running systemd user
# manager, print the test's output on stdout and exit with its exit status.
# See tests/vm/README.md.
#
# Usage: tests/vm/run.sh PAYLOAD_DIR [TIMEOUT_SECONDS]
#   PAYLOAD_DIR   must hold an executable test.sh; may hold root-setup.sh (run
#                 as root in the guest before the test) and any other files
#                 (copied with modes kept, symlinks dereferenced).
#   TIMEOUT       hard limit for the VM (boot + test + poweroff), default 900.
# Exit: the test's exit status, or 125 when the harness failed (bad usage,
#   image build failed, guest crashed/hung/timed out, root-setup.sh failed).
#   A guest whose kernel stalls (an emulated CPU that stopped answering) is
#   booted once more on a fresh share; a second stall is the harness's failure.
# Env:
#   JAIL_VM_CACHE   image cache root (default /var/cache/jail-vm)
#   JAIL_VM_ACCEL   auto (default: kvm if it really runs a guest, else tcg) | kvm | tcg
#   JAIL_VM_MEM     guest RAM in MiB (default 1024)
#   JAIL_VM_SMP     guest CPUs (default 2)
#   JAIL_VM_KEEP    1: always keep the run dir; 0: never; default: keep on failure
set -euo pipefail

here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
readonly HARNESS_FAILED=125

log() { printf 'vm-run: %s\n' "$*" >&2; }
fail() {
    log "error: $*"
    exit "$HARNESS_FAILED"
}
# Milliseconds since the epoch, and a duration in seconds with one decimal.
now_ms() {
    local us=${EPOCHREALTIME//[.,]/}
    echo $((us / 1000))
}
secs() { printf '%d.%d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }

(($# >= 1 && $# <= 2)) || fail "usage: $0 PAYLOAD_DIR [TIMEOUT_SECONDS]"
payload=$1
timeout=${2:-900}
[[ -f $payload/test.sh ]] || fail "$payload/test.sh not found"
[[ -x $payload/test.sh ]] || fail "$payload/test.sh is not executable"
[[ $timeout =~ ^[1-9][0-9]*$ ]] || fail "TIMEOUT_SECONDS must be a positive integer, got '$timeout'"
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
mem=${JAIL_VM_MEM:-1024}
smp=${JAIL_VM_SMP:-2}
t_begin=$(now_ms)

# --- image -------------------------------------------------------------------
image_dir=$("$here/build-image.sh" --path)
if [[ -f $image_dir/stamp ]]; then
    log "image: cached ($image_dir)"
else
    t=$(now_ms)
    image_dir=$("$here/build-image.sh") || fail "image build failed"
    log "image: built in $(secs $(($(now_ms) - t))) ($image_dir)"
fi

# --- accelerator ---------------------------------------------------------------
# /dev/kvm can exist and even run a boot sector while Linux cannot boot on it
# (seen: "-cpu host" aborts on MSR 0x10a, "-cpu qemu64" hangs silently), so
# prove KVM by booting the image's own kernel without a root fs: it must reach
# its "Kernel panic" (panic=-1 + -no-reboot make qemu exit) within 15 s.
# The verdict is cached per host boot.
kvm_works() {
    [[ -r /dev/kvm && -w /dev/kvm ]] || return 1
    local verdict boot_id d ok=0
    boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
    verdict=$image_dir/../kvm-probe.$boot_id
    if [[ -f $verdict ]]; then
        [[ $(<"$verdict") == kvm ]]
        return
    fi
    d=$(mktemp -d)
    # The group's 2>/dev/null keeps bash's "Aborted" notice (qemu asserts) quiet.
    if { timeout 15 qemu-system-x86_64 -accel kvm -cpu host -machine q35 -smp "$smp" -m 256 \
        -nodefaults -no-reboot -display none -monitor none -serial "file:$d/serial.log" \
        -kernel "$image_dir/vmlinuz" -append "console=ttyS0 panic=-1 loglevel=1" \
        </dev/null >/dev/null; } 2>/dev/null && grep -q 'Kernel panic' "$d/serial.log"; then
        ok=1
    fi
    rm -rf "$d"
    rm -f "$image_dir"/../kvm-probe.* 2>/dev/null || true
    { ((ok)) && echo kvm || echo tcg; } 2>/dev/null >"$verdict" || true
    ((ok))
}

case ${JAIL_VM_ACCEL:-auto} in
auto) if kvm_works; then accel=kvm; else accel=tcg; fi ;;
kvm | tcg) accel=$JAIL_VM_ACCEL ;;
*) fail "JAIL_VM_ACCEL must be auto, kvm or tcg" ;;
esac
if [[ $accel == kvm ]]; then
    accel_args=(-accel kvm -cpu host)
else
    accel_args=(-accel 'tcg,thread=multi' -cpu max)
fi
log "accel: $accel"

# --- share -------------------------------------------------------------------
# A fresh directory per boot: two runs (or two boots of one run) never see each
# other's files.
run=$(mktemp -d "${TMPDIR:-/tmp}/jail-vm-run.XXXXXX")
share=$run/share
out=$share/out
fresh_share() {
    rm -rf -- "$share"
    mkdir -p "$share/payload" "$out"
    # -L: a symlink in the payload (e.g. to target/release/jail) must arrive as
    # the file it points to; the guest cannot follow host paths.
    cp -aL -- "$payload/." "$share/payload/" || fail "copying $payload failed"
    cp -- "$here/guest-runner.sh" "$share/guest-runner.sh"
}

qpid=
keep=${JAIL_VM_KEEP:-}
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
    local rc=$?
    if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
        kill -KILL "$qpid" 2>/dev/null || true
        wait "$qpid" 2>/dev/null || true
    fi
    if [[ $keep == 1 || ($keep != 0 && $rc != 0) ]]; then
        log "run dir kept: $run (share/out/journal.txt, serial.log, qemu.log)"
    else
        rm -rf -- "$run"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- boot --------------------------------------------------------------------
# What the guest's kernel prints when a CPU stops answering: under TCG a halted
# vCPU can miss its wakeup for good (seen: CPU 0 halted with its timer gone,
# CPU 1 spinning in smp_call_function_single for it, the test frozen). No
# guest program can do that to a kernel; the emulator did, so such a boot is
# abandoned and the test runs once more on a fresh one.
readonly STALL='detected stalls on CPUs|self-detected stall on CPU|BUG: soft lockup'
# How long the guest may stay still after such a message (neither the test's
# output nor the guest runner's heartbeat, every 10 s, moves) before the boot
# counts as stalled; after a transient stall (the host starving qemu) both go on.
readonly STALL_GRACE_MS=60000

# Boots the VM on a fresh share and waits for the test to finish, the timeout,
# or a stalled guest. Sets qrc, timed_out, stalled.
boot() {
    local now progress seen stall_at='' t_start='' t_end='' last_seen='' last_check=0
    fresh_share
    : >"$run/serial.log"
    t_boot=$(now_ms)
    qemu-system-x86_64 "${accel_args[@]}" -smp "$smp" -m "$mem" \
        -machine q35 -nodefaults -no-reboot -display none -monitor none \
        -serial "file:$run/serial.log" \
        -kernel "$image_dir/vmlinuz" -initrd "$image_dir/initrd.img" \
        -append "root=/dev/vda rw console=ttyS0,115200 panic=-1 systemd.show_status=1" \
        -drive "file=$image_dir/image.raw,format=raw,if=virtio,cache=unsafe" -snapshot \
        -virtfs "local,path=$share,mount_tag=share,security_model=none" \
        -device virtio-rng-pci -nic none \
        </dev/null >"$run/qemu.log" 2>&1 &
    qpid=$!
    local deadline=$((t_boot + timeout * 1000))
    progress=$t_boot timed_out=0 stalled=''
    while kill -0 "$qpid" 2>/dev/null; do
        now=$(now_ms)
        if [[ -z $t_start && -e $out/started ]]; then
            t_start=$now
            log "boot -> test start: $(secs $((t_start - t_boot)))"
        fi
        if [[ -z $t_end && -e $out/finished ]]; then
            t_end=$now
            [[ -n $t_start ]] && log "test: $(secs $((t_end - t_start)))"
            # Results are complete; poweroff normally takes 2-4 s, don't wait forever.
            ((deadline < t_end + 60000)) || deadline=$((t_end + 60000))
        fi
        if [[ -z $t_end ]] && ((now - last_check >= 5000)); then
            last_check=$now
            # Progress: the test's output grew or the guest's heartbeat ticked.
            seen="$(stat -c %s "$out/test.out" 2>/dev/null || true)/$(cat "$out/alive" 2>/dev/null || true)"
            [[ $seen == "$last_seen" ]] || progress=$now
            last_seen=$seen
            if [[ -z $stall_at ]] && grep -qE "$STALL" "$run/serial.log" 2>/dev/null; then
                stall_at=$now
                log "the guest's kernel reports a stall: $(grep -m1 -oE "$STALL.*" "$run/serial.log" | cut -c1-100)"
            fi
            if [[ -n $stall_at ]] && ((now - (progress > stall_at ? progress : stall_at) >= STALL_GRACE_MS)); then
                stalled=$(grep -m1 -E "$STALL" "$run/serial.log" | cut -c1-160)
                log "no progress for $((STALL_GRACE_MS / 1000)) s after it: the guest is stalled"
            fi
        fi
        if ((now >= deadline)) || [[ -n $stalled ]]; then
            [[ -n $t_end || -n $stalled ]] || timed_out=1
            log "killing qemu after $(secs $((now - t_boot)))$( ((timed_out)) && echo ": timeout of $timeout s reached")"
            kill -TERM "$qpid" 2>/dev/null || true
            for _ in 1 2 3 4 5 6 7 8 9 10; do
                kill -0 "$qpid" 2>/dev/null || break
                sleep 0.5
            done
            kill -KILL "$qpid" 2>/dev/null || true
            break
        fi
        sleep 0.5
    done
    qrc=0
    wait "$qpid" || qrc=$?
    qpid=
    log "total: $(secs $(($(now_ms) - t_begin))) (qemu: $(secs $(($(now_ms) - t_boot))), exit $qrc)"
}

boot
if [[ -n $stalled && ! -f $out/test.rc ]]; then
    cp -- "$run/serial.log" "$run/serial.stalled.log"
    log "booting again for a second and last attempt (the first boot's console: serial.stalled.log)"
    boot
fi

# --- result ------------------------------------------------------------------
if [[ -f $out/test.rc ]]; then
    rc=$(<"$out/test.rc")
    [[ $rc =~ ^[0-9]+$ ]] || fail "guest wrote a bad test.rc: '$rc'"
    cat -- "$out/test.out"
    exit "$rc"
fi

# No result: say why as well as we can.
if [[ -n $stalled ]]; then
    log "error: no result: the guest's kernel stalled on both boots: $stalled"
elif ((timed_out)); then
    log "error: no result: the VM did not finish within $timeout s"
else
    log "error: no result: the VM stopped (qemu exit $qrc) before the test finished"
fi
if [[ -s $out/error ]]; then log "guest: $(<"$out/error")"; fi
for f in "$out/root-setup.out" "$out/test.out" "$run/qemu.log"; do
    if [[ -s $f ]]; then
        log "--- ${f#"$run/"} (last 40 lines)"
        tail -n 40 -- "$f" >&2
    fi
done
if [[ -s $out/journal.txt ]]; then
    log "--- journal (last 40 lines)"
    tail -n 40 -- "$out/journal.txt" >&2
else
    log "--- serial.log (last 40 lines)"
    tail -n 40 -- "$run/serial.log" >&2 2>/dev/null || true
    echo >&2 # the serial log often ends inside a login prompt
fi
exit "$HARNESS_FAILED"
