#!/usr/bin/env bash
# shellcheck disable=SC2086 # $J, $B, $HK, $view and the like are words, split on purpose
# Benchmarks (not tests): jail against bubblewrap and hakoniwa on the same work, in one run, as
# ratios.
#   startup     the same view (--ro-bind / / --proc --dev --tmpfs /tmp true): jail with its
#               confinement, without it, as bwrap, and bwrap; hakoniwa with and without its
#               seccomp profile; jail's and hakoniwa's defaults; a busybox tree at /; the unshare
#               floor; reports off; an idle --allow-host proxy; and, as no launcher, an empty
#               static C program and /bin/true (what a program's start costs here)
#   binds       N read-only binds, N = 0, 10, 100, 1000, 3000
#   seccomp     a syscall-heavy job under no filter, a one-instruction allow-all filter, jail's
#               default policy and hakoniwa's
#   memory      PSS and RSS of the launcher's own processes while `sleep` runs inside
#   rate        sandboxes started per second by 2 concurrent launchers
# Usage: tests/bench/run.sh [--markdown FILE] [JAIL_BINARY]  (default target/release/jail;
# runs as the caller, or as $JAIL_TEST_USER when root). Needs hyperfine, bwrap and python3; as
# root it installs Debian's hyperfine and bubblewrap when missing, and hakoniwa through
# tests/bench/hakoniwa.sh (HAKONIWA=PATH uses that binary, HAKONIWA=none leaves it out).
# --markdown rewrites only the host section of FILE (between its "bench:host" marker comments),
# so tests/bench/vm.sh's section stays. `make bench` writes BENCHMARKS.md.
set -euo pipefail
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bench_dir=$PWD/tests/bench
md=
if [[ ${1:-} == --markdown ]]; then
	md=$(realpath -m "$2")
	shift 2
fi
bin=${1:-target/release/jail}
[[ -x $bin ]] || make --no-print-directory build
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
	((EUID == 0)) || { echo "bench: not found: ${need[*]} (apt-get install them, as root)" >&2; exit 1; }
	echo "bench: installing ${need[*]}" >&2
	timeout 600 apt-get install -y -q "${need[@]}" >&2 ||
		{ timeout 300 apt-get update -q >&2 && timeout 600 apt-get install -y -q "${need[@]}" >&2; }
fi
hk_src=${HAKONIWA:-}
hk_why=
if [[ -z $hk_src ]]; then
	hk_src=$(tests/bench/hakoniwa.sh) || { hk_src=none hk_why="tests/bench/hakoniwa.sh failed"; }
fi
[[ $hk_src == none && -z $hk_why ]] && hk_why="HAKONIWA=none"
work=$(mktemp -d /var/tmp/jail-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
cp "$bin" "$work/jail"
[[ $hk_src != none ]] && cp "$hk_src" "$work/hakoniwa"
as=()
if ((EUID == 0)); then
	user=${JAIL_TEST_USER:-jailtest}
	as=(setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --clear-groups)
	chown "$user" "$work"
fi
# hakoniwa makes its root's mount point in $TMPDIR, and leaves it there when killed (the memory
# rows kill it): inside the work dir, it goes with it.
mkdir -m 1777 "$work/tmp"
export TMPDIR=$work/tmp
cd "$work"
# The launchers as words; every measuring command runs as the test user itself (hyperfine, the
# rate loops), so no case's time includes a user switch's exec, which would add the same
# constant to jail, bwrap and the floor alike and pull every ratio towards 1.
J="./jail"
B="bwrap"
HK=
[[ -x hakoniwa ]] && HK="./hakoniwa"
as_user() { "${as[@]}" "$@"; }
results=$work/results.tsv # section, case, jail, spread, reference, ratio, hakoniwa, ratio, target
: >"$results"
# Fields split on the unit separator, which (unlike a tab) keeps empty fields apart.
row() { printf '%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\n' "$@" >>"$results"; }
# Every measurement by key: median, standard deviation, min and max.
declare -A med sd lo hi
load() { # a key for each command in order (ms), --, hyperfine json files of the same commands, pooled
	local keys=() k i=0 lines
	while [[ $1 != -- ]]; do keys+=("$1") && shift; done
	shift
	mapfile -t lines < <(python3 -c 'import json, statistics as s, sys
runs = {}
for f in sys.argv[1:]:
    for i, x in enumerate(json.load(open(f))["results"]):
        runs.setdefault(i, []).extend(t * 1e3 for t in x["times"])
for i in sorted(runs):
    v = runs[i]
    print(*("%.3f" % x for x in (s.median(v), s.stdev(v), min(v), max(v))))' "$@")
	for k in "${keys[@]}"; do
		read -r "med[$k]" "sd[$k]" "lo[$k]" "hi[$k]" <<<"${lines[i++]}"
	done
}
put() { # key, samples...
	local k=$1
	shift
	read -r "med[$k]" "sd[$k]" "lo[$k]" "hi[$k]" < <(python3 -c 'import statistics as s,sys
v = [float(x) for x in sys.argv[1:]]
print(s.median(v), s.stdev(v) if len(v) > 1 else 0.0, min(v), max(v))' "$@")
}
# Cells: a median with its unit and decimals; its spread; a labelled reference; a ratio.
v() { printf "%.${3:-3}f %s" "${med[$1]}" "$2"; }
spread() { printf "± %.${2:-3}f (%.${2:-3}f–%.${2:-3}f)" "${sd[$1]}" "${lo[$1]}" "${hi[$1]}"; }
ref() { # label, key, unit, decimals
	[[ -n ${med[$2]:-} ]] || return 0
	printf "%s %.${4:-3}f ± %.${4:-3}f %s" "$1" "${med[$2]}" "${sd[$2]}" "$3"
}
r() { if [[ -n ${1:-} && -n ${2:-} ]]; then python3 -c "print('%.2f' % ($1 / $2))"; fi; }
rk() { r "${med[$1]:-}" "${med[$2]:-}"; }
missed=()
goal() { # name, target ("≤ X" or "≤ X unit"), measured: the target cell, in $tc
	local limit
	limit=$(cut -d' ' -f2 <<<"$2")
	if [[ -n $3 ]] && python3 -c "import sys; sys.exit(0 if $3 <= $limit else 1)"; then
		tc="$2: met"
	else
		missed+=("$1")
		tc="$2: missed"
	fi
}

# Each launcher's binary starts from the disk, as an installed binary runs: a file just
# written (jail's copy here) sits in the page cache in large folios, and a read-only page the
# launcher faults back in after its trim then maps its whole folio (measured: 944 KiB of PSS
# for a fresh copy of jail, 620 KiB once its pages were read back from the disk).
from_disk() { # files...
	sync "$@"
	python3 -c 'import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)' "$@"
}
from_disk ./jail "$(command -v "$B")" ${HK:+./hakoniwa}
echo "== startup" >&2
view="--ro-bind / / --proc /proc --dev /dev --tmpfs /tmp"
off="--landlock=off --seccomp-policy off --allow-userns --report=none"
tree=${JAIL_TEST_CACHE:-/var/cache/jail-test}/busybox
# hakoniwa cannot bind / itself (-b /:/ leaves an empty target, ENOENT; --rootdir / is EINVAL):
# its nearest view binds each entry of / read-only (symlinks as symlinks) on an empty root.
hview="--unshare-all --rootfs=none"
nb=0 nl=0
shopt -s dotglob
for e in /*; do
	case ${e#/} in proc | dev | tmp) continue ;; esac
	[[ $e == *[[:space:]:]* ]] && continue # -b takes HOST:CONTAINER; hyperfine -N splits words
	if [[ -L $e ]]; then
		t=$(readlink "$e")
		[[ $t == *[[:space:]:]* ]] || { hview+=" --symlink $t:$e" && nl=$((nl + 1)); }
	else
		hview+=" -b $e:$e"
		nb=$((nb + 1))
	fi
done
shopt -u dotglob
hview+=" --devfs /dev --tmpfs /tmp"
keys=(jc joff jbw bw jdef jnorep jproxy floor)
cases=("$J $view -- true" "$J $off $view -- true" "$J --bwrap --unshare-all --die-with-parent $view true"
	"$B --unshare-all --die-with-parent $view true" "$J -- true" "$J --report=none -- true"
	"$J --allow-host example.org -- true" "unshare -Urmpf --net --ipc --uts true")
if [[ -n $HK ]]; then
	keys+=(hk hkoff hkdef)
	cases+=("$HK run $hview -- true" "$HK run $hview --seccomp unconfined -- true" "$HK run --unshare-all -- true")
	hk_rules=$(as_user $HK run -v $hview -- true 2>&1 | sed -n 's/.*Seccomp: Load \([0-9]*\) rules.*/\1/p' | head -n 1) || true
fi
# What any program's start costs here, launcher and command alike: glibc probes the CPU's
# caches with CPUID at every start (a trap to the hypervisor in a VM).
if printf 'int main(void) { return 0; }\n' >empty.c && cc -O2 -static-pie -o empty empty.c 2>/dev/null; then
	chmod 755 empty
	keys+=(cempty)
	cases+=("./empty")
fi
# The same exec and exit with no libc at all: the difference is glibc's own start.
if printf 'void _start(void) { __asm__ volatile("mov $60, %%eax; xor %%edi, %%edi; syscall"); }\n' >bare.c &&
	cc -O2 -static -nostdlib -o bare bare.c 2>/dev/null; then
	chmod 755 bare
	keys+=(cbare)
	cases+=("./bare")
fi
keys+=(ctrue)
cases+=("/bin/true")
if [[ -d $tree/bin ]]; then
	keys+=(jtree)
	cases+=("$J --ro-bind $tree / -- true")
	[[ -n $HK ]] && keys+=(hktree) && cases+=("$HK run --unshare-all --rootfs $tree -- /bin/true")
fi
# Five interleaved rounds of 40 runs of each case, pooled: a slower stretch of the machine
# falls on every case alike instead of on the one hyperfine was running.
for round in 1 2 3 4 5; do
	as_user hyperfine -N --warmup 5 --runs 40 --export-json "startup.$round.json" "${cases[@]}" >startup.log 2>&1 ||
		{ echo "bench: startup:" >&2; tail -5 startup.log >&2; exit 1; }
done
load "${keys[@]}" -- startup.[1-5].json
put cost "$(python3 -c "print(${med[jc]} - ${med[joff]})")"
hkcost=
if [[ -n $HK ]]; then
	put hkcost "$(python3 -c "print(${med[hk]} - ${med[hkoff]})")"
	hkcost="hakoniwa's seccomp on − off $(v hkcost ms)"
fi
goal startup "≤ 0.75" "$(rk jc bw)"
row startup "the same view, jail with Landlock and seccomp" "$(v jc ms)" "$(spread jc)" "$(ref bwrap bw ms)" \
	"$(rk jc bw)" "$(ref "hakoniwa with its seccomp profile" hk ms)" "$(rk jc hk)" "$tc"
goal cost "≤ 0.2 ms" "${med[cost]}"
row startup "the same view, jail's confinement off" "$(v joff ms)" "$(spread joff)" "$(ref "unshare floor" floor ms)" \
	"$(rk joff floor)" "$(ref "hakoniwa --seccomp unconfined" hkoff ms)" "$(rk joff hkoff)" ""
row startup "confinement's own cost (on − off)" "$(v cost ms)" "" "" "" "$hkcost" "$(rk cost hkcost)" "$tc"
row startup "the same view, jail as bwrap" "$(v jbw ms)" "$(spread jbw)" "$(ref bwrap bw ms)" "$(rk jbw bw)" "" "" ""
[[ -n ${med[cempty]:-} ]] &&
	row startup "not a launcher: an empty static C program (glibc's start)" "$(v cempty ms)" "$(spread cempty)" "" "" "" "" ""
[[ -n ${med[cbare]:-} ]] &&
	row startup "not a launcher: a static program without a libc (exec and exit)" "$(v cbare ms)" "$(spread cbare)" "" "" "" "" ""
row startup "not a launcher: /bin/true (glibc's start, dynamic)" "$(v ctrue ms)" "$(spread ctrue)" "" "" "" "" ""
row startup "jail's default (-- true)" "$(v jdef ms)" "$(spread jdef)" "$(ref bwrap bw ms)" "$(rk jdef bw)" \
	"$(ref "hakoniwa's default (run --unshare-all -- true)" hkdef ms)" "$(rk jdef hkdef)" ""
row startup "jail's default, --report=none" "$(v jnorep ms)" "$(spread jnorep)" "$(ref default jdef ms)" "$(rk jnorep jdef)" "" "" ""
row startup "jail's default, idle --allow-host proxy" "$(v jproxy ms)" "$(spread jproxy)" "$(ref default jdef ms)" \
	"$(rk jproxy jdef)" "" "" ""
[[ -n ${med[jtree]:-} ]] && row startup "a busybox tree at /" "$(v jtree ms)" "$(spread jtree)" "$(ref bwrap bw ms)" \
	"$(rk jtree bw)" "$(ref "hakoniwa --rootfs (the tree's directories bound)" hktree ms)" "$(rk jtree hktree)" ""

echo "== binds" >&2
mkdir -p src
for n in 0 10 100 1000 3000; do
	: >"binds-$n.args"
	: >"binds-$n.hargs"
	for ((i = 0; i < n; i++)); do
		[[ -d src/d$i ]] || mkdir "src/d$i"
		printf -- '--ro-bind\0%s\0%s\0' "$work/src/d$i" "/tmp/d/d$i" >>"binds-$n.args"
		printf -- '-b\0%s:%s\0' "$work/src/d$i" "/tmp/d/d$i" >>"binds-$n.hargs"
	done
done
chmod -R a+rX src
for n in 0 10 100 1000 3000; do
	runs=20
	((n >= 1000)) && runs=5
	# --args reads the list from a file each run (a shell opens it; hyperfine subtracts the shell).
	# bwrap takes at most 9000 arguments: 3000 binds are beyond it. hakoniwa takes its binds on
	# the command line only: the shell reads them from a file into its arguments (one builtin).
	cmds=("$J --bwrap --unshare-all $view --args 3 true 3<binds-$n.args")
	k=("jb$n")
	((n < 3000)) && cmds+=("$B --unshare-all $view --args 3 true 3<binds-$n.args") && k+=("bb$n")
	# hakoniwa without its seccomp profile, as jail in bubblewrap mode and bwrap run no filter here.
	[[ -n $HK ]] && k+=("hb$n") &&
		cmds+=("mapfile -d '' a <binds-$n.hargs; exec $HK run $hview --seccomp unconfined \"\${a[@]}\" -- true")
	as_user hyperfine --shell=bash --warmup 1 --runs "$runs" --export-json "binds-$n.json" "${cmds[@]}" >"binds-$n.log" 2>&1 ||
		{ echo "bench: binds $n:" >&2; tail -5 "binds-$n.log" >&2; exit 1; }
	load "${k[@]}" -- "binds-$n.json"
	target=""
	((n == 1000)) && goal binds "≤ 30 ms" "${med[jb$n]}" && target=$tc
	bref="$(ref bwrap "bb$n" ms)"
	((n < 3000)) || bref="bwrap refuses (at most 9000 arguments)"
	row binds "$n read-only binds" "$(v "jb$n" ms)" "$(spread "jb$n")" "$bref" "$(rk "jb$n" "bb$n")" \
		"$(ref "hakoniwa --seccomp unconfined" "hb$n" ms)" "$(rk "jb$n" "hb$n")" "$target"
done

echo "== seccomp" >&2
printf '\x06\x00\x00\x00\x00\x00\xff\x7f' >allow-all.bpf
count=2000000
ns() { # launcher words... --: ns per syscall of dd moving 1-byte blocks (2 syscalls a byte)
	local t0 t1
	t0=$(date +%s%N)
	as_user "$@" dd if=/dev/zero of=/dev/null bs=1 count=$count status=none 9<allow-all.bpf
	t1=$(date +%s%N)
	echo $(((t1 - t0) / (2 * count)))
}
declare -A sc=()
for _ in 1 2 3 4 5; do # interleaved rounds
	sc[none]+=" $(ns $J $off --landlock=off --)"
	sc[all]+=" $(ns $J $off --add-seccomp-fd 9 --)"
	sc[def]+=" $(ns $J --landlock=off --)"
	if [[ -n $HK ]]; then
		sc[hkdef]+=" $(ns $HK run $hview --)"
		sc[hknone]+=" $(ns $HK run $hview --seccomp unconfined --)"
	fi
done
for k in "${!sc[@]}"; do
	put "sc_$k" ${sc[$k]}
done
row seccomp "ns per syscall, jail's default policy" "$(v sc_def ns 0)" "$(spread sc_def 0)" \
	"$(ref "allow-all filter" sc_all ns 0)" "$(rk sc_def sc_all)" "$(ref "hakoniwa's default profile" sc_hkdef ns 0)" \
	"$(rk sc_def sc_hkdef)" ""
row seccomp "ns per syscall, one-instruction allow-all filter" "$(v sc_all ns 0)" "$(spread sc_all 0)" \
	"$(ref "no filter" sc_none ns 0)" "$(rk sc_all sc_none)" "" "" ""
row seccomp "ns per syscall, no filter" "$(v sc_none ns 0)" "$(spread sc_none 0)" "" "" \
	"$(ref "hakoniwa --seccomp unconfined" sc_hknone ns 0)" "$(rk sc_none sc_hknone)" ""

echo "== memory" >&2
# The launcher's processes: everything between the started process and the sleep inside.
launcher_kib() { # command...: "PSS RSS" in KiB
	local pid
	"${as[@]}" "$@" sleep 30 >/dev/null & # not as_user: a function in the background is a subshell
	pid=$!
	sleep 1
	python3 - "$pid" <<'PY'
import os, sys
root = int(sys.argv[1])
def kids(p):
    try:
        return [int(c) for t in os.listdir(f"/proc/{p}/task") for c in open(f"/proc/{p}/task/{t}/children").read().split()]
    except OSError:
        return []
total, todo = {"Pss": 0, "Rss": 0}, [root]
while todo:
    p = todo.pop()
    try:
        comm = open(f"/proc/{p}/comm").read().strip()
        if comm != "sleep":
            for l in open(f"/proc/{p}/smaps_rollup"):
                f = l.split(":")[0]
                if f in total:
                    total[f] += int(l.split()[1])
    except OSError:
        pass
    todo += kids(p)
print(total["Pss"], total["Rss"])
PY
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
# As root the measuring process can read the test user's smaps; setpriv execs, so $! is jail.
declare -A pss=() rss=()
for _ in 1 2 3; do # interleaved rounds
	from_disk ./jail "$(command -v "$B")" ${HK:+./hakoniwa}
	read -r p s < <(launcher_kib $J --) && pss[j]+=" $p" rss[j]+=" $s"
	read -r p s < <(launcher_kib $B --unshare-all --die-with-parent $view) && pss[b]+=" $p" rss[b]+=" $s"
	[[ -n $HK ]] && read -r p s < <(launcher_kib $HK run $hview --) && pss[hk]+=" $p" rss[hk]+=" $s"
done
for k in "${!pss[@]}"; do
	put "pss_$k" ${pss[$k]} && put "rss_$k" ${rss[$k]}
done
goal memory "≤ 1.00" "$(rk pss_j pss_b)"
row memory "PSS of the launcher's processes" "$(v pss_j KiB 0)" "$(spread pss_j 0)" "$(ref bwrap pss_b KiB 0)" \
	"$(rk pss_j pss_b)" "$(ref hakoniwa pss_hk KiB 0)" "$(rk pss_j pss_hk)" "$tc"
row memory "RSS of the launcher's processes" "$(v rss_j KiB 0)" "$(spread rss_j 0)" "$(ref bwrap rss_b KiB 0)" \
	"$(rk rss_j rss_b)" "$(ref hakoniwa rss_hk KiB 0)" "$(rk rss_j rss_hk)" ""

echo "== rate" >&2
rate() { # command...: sandboxes per second, 2 launchers running 100 each
	local t0 t1
	t0=$(date +%s%N)
	for _ in 1 2; do as_user bash -c 'for _ in $(seq 100); do "$@" true; done' rate "$@" & done
	wait
	t1=$(date +%s%N)
	python3 -c "print('%.1f' % (200 / (($t1 - $t0) / 1e9)))"
}
declare -A rt=()
for _ in 1 2 3 4 5; do # interleaved rounds
	rt[j]+=" $(rate $J --)"
	rt[b]+=" $(rate $B --unshare-all --die-with-parent $view)"
	[[ -n $HK ]] && rt[hk]+=" $(rate $HK run $hview --)"
done
for k in "${!rt[@]}"; do
	put "rate_$k" ${rt[$k]}
done
row rate "sandboxes per second, 2 concurrent launchers" "$(v rate_j /s 0)" "$(spread rate_j 0)" \
	"$(ref bwrap rate_b /s 0)" "$(rk rate_j rate_b)" "$(ref hakoniwa rate_hk /s 0)" "$(rk rate_j rate_hk)" ""

# Console table, and Markdown when asked.
column -t -s $'\x1f' "$results"
[[ -n $md ]] || exit 0
has() { [[ " ${missed[*]} " == *" $1 "* ]]; }
hk_version=
[[ -n $HK ]] && hk_version="$(./hakoniwa --version), "
linkage=$("$bench_dir/../../packaging/linkage.sh" --describe ./jail)
body=$work/section.md
{
	echo "## On the host (\`make bench\`)"
	echo
	echo "Written by \`make bench\` (tests/bench/run.sh) on $(date -u +%F): $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), Linux $(uname -r);"
	echo "$(./jail --version) ($linkage), $(bwrap --version), ${hk_version}$(hyperfine --version). Medians, as the unprivileged"
	echo "test user (hyperfine itself runs as that user: no case's time includes a user switch), of"
	echo "hyperfine runs (startup: 200 of each case, in 5 interleaved rounds of 40; binds: 20, and 5 from 1000 binds on),"
	echo "5 interleaved rounds (seccomp, rate) and 3 (memory); spread is ± the standard deviation (min–max)."
	echo "Ratios are jail's median over the reference's in the same run (launches per second: higher is"
	echo "better)."
	echo
	echo "| section | case | jail | spread | reference | ratio | hakoniwa | ratio | target |"
	echo "|---|---|---|---|---|---|---|---|---|"
	while IFS=$'\x1f' read -r sec case val spr rf ratio hk hratio target; do
		echo "| $sec | $case | $val | $spr | $rf | $ratio | $hk | $hratio | $target |"
	done <"$results"
	echo
	if [[ -n $HK ]]; then
		echo "hakoniwa cannot bind \`/\` itself (\`-b /:/\` leaves it an empty target, ENOENT; \`--rootdir /\`"
		echo "fails with EINVAL), so its \"same view\" binds the $nb files and directories at / read-only one by"
		echo "one and makes its $nl symlinks, on an empty root, with its /proc, \`--devfs /dev\` and \`--tmpfs /tmp\`,"
		echo "every namespace unshared (\`--unshare-all\`). Its default seccomp profile (podman's${hk_rules:+, $hk_rules rules}, built by libseccomp at"
		echo "each launch) is on unless \`--seccomp unconfined\`; it applies no Landlock unless asked, so it has"
		echo "no row for jail's confinement with Landlock alone. It takes binds on the command line only (the"
		echo "binds rows read them from a file into its arguments, and run it with \`--seccomp unconfined\`:"
		echo "jail in bubblewrap mode and bwrap run no filter there). No hakoniwa cell where it has no such mode:"
		echo "bwrap's command line, jail's refusal report, the \`--allow-host\` proxy, a filter given as a"
		echo "descriptor (it takes profiles). The limits path is in the VM section (\`make bench-vm\`)."
	else
		echo "hakoniwa not measured in this run ($hk_why). The limits path is in the VM section (\`make bench-vm\`)."
	fi
	if ((${#missed[@]})); then
		echo
		echo "### What remains where a target is missed"
		echo
		has startup && {
			echo "- Startup with confinement (target ≤ 0.75 of bwrap): every launch here also starts the"
			echo "  command, a glibc program, whose start alone takes $(python3 -c "print('%.2f' % (${med[cempty]:-0} - ${med[cbare]:-0}))") ms (an empty static C"
			echo "  program, ${med[cempty]:-?} ms, against a static program without a libc, ${med[cbare]:-?} ms), mostly"
			echo "  glibc's CPU-feature probe, whose CPUID instructions each trap to the hypervisor."
			[[ $linkage != *glibc* ]] ||
				echo "  jail's binary here is $linkage: its own start pays that probe too (make's musl build does not)."
			echo "  The \`unshare\` floor row (the same namespaces and two execs, no mounts) is $(rk floor bw)"
			echo "  of bwrap; jail with its confinement off is $(rk joff floor) of that floor. What jail adds"
			echo "  to the floor (the root's mounts and pivots, init's own process, Landlock and seccomp) is"
			echo "  $(python3 -c "print('%.2f' % (${med[jc]} - ${med[floor]}))") ms in this run; 0.75 of bwrap would leave it $(python3 -c "print('%.2f' % (0.75 * ${med[bw]} - ${med[floor]}))") ms."
			echo "  \`tests/bench/phases.sh\` splits a launch into the launcher's setup, the command and the"
			echo "  return, next to bwrap's."
		}
		has cost && {
			echo "- Confinement's own cost (target ≤ 0.2 ms): what is left is Landlock (about 0.1 ms: a"
			echo "  ruleset and two domains, init's and the command's nested in it), the refusal report's"
			echo "  listener hand-over, and one load of the built-in filter (the kernel emulates it for"
			echo "  every syscall number to cache the verdicts; init and the command share the one load)."
			echo "  Its spread between runs is as large as the gap to the target."
		}
		has memory && {
			echo "- Memory (target PSS ≤ bwrap): jail's parent and init drop the binary's read-only image"
			echo "  once the command has run 50 ms (it faults back in as far as their waiting loops need);"
			echo "  what stays is that code (about 128 and 64 KiB), the relocated data, two heaps and"
			echo "  stacks and their share of libc. bwrap is one small C process whose pages are mostly the"
			echo "  libc every process shares."
		}
		has binds && echo "- 1000 read-only binds (target ≤ 30 ms): missed in this run; not yet looked into."
	fi
} >"$body"
# Rewrite only this section of the file, keeping the others (host first, then VM).
python3 "$bench_dir/sections.py" "$md" host "$body"
echo "bench: wrote $md" >&2
