# Generated from jail::cli::command() by tests/generated.rs; do not edit: regenerate with JAIL_REGENERATE=1 cargo test --test generated

_jail_clap() {
    local i cur prev opts cmd
    COMPREPLY=()
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        cur="$2"
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
    fi
    prev="$3"
    cmd=""
    opts=""

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="jail"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        jail)
            opts="-v -h -V --dry-run --profile --share-net --share-ipc --share-uts --share-pid --share-cgroup --uid --gid --map-subids --bind --bind-try --ro-bind --ro-bind-try --dev-bind --dev-bind-try --remount-ro --tmpfs --proc --dev --mqueue --dir --symlink --file --bind-data --ro-bind-data --chmod --bind-fd --ro-bind-fd --overlay --tmp-overlay --ro-overlay --perms --protect --overlay-src --size --hostname --chdir --setenv --unsetenv --clearenv --argv0 --as-pid-1 --new-session --cap-add --cap-drop --landlock --allow-host --allow-connect --allow-bind --seccomp-policy --seccomp --add-seccomp-fd --allow-userns --disable-userns --mem --mem-high --swap --cpu --cpu-weight --pids --cpuset --io-weight --slice --timeout --report --stats --stats-json --verbose --help --version"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --dry-run)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                --profile)
                    local oldifs
                    if [ -n "${IFS+x}" ]; then
                        oldifs="$IFS"
                    fi
                    IFS=$'\n'
                    COMPREPLY=($(compgen -f "${cur}"))
                    if [ -n "${oldifs+x}" ]; then
                        IFS="$oldifs"
                    fi
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o filenames
                    fi
                    return 0
                    ;;
                --uid)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --gid)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --bind)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --bind-try)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ro-bind)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ro-bind-try)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dev-bind)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dev-bind-try)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --remount-ro)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --tmpfs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --proc)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dev)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mqueue)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dir)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --symlink)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --bind-data)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --ro-bind-data)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --chmod)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --bind-fd)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --ro-bind-fd)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --overlay)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --tmp-overlay)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --ro-overlay)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --perms)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --protect)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --overlay-src)
                    COMPREPLY=()
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o plusdirs
                    fi
                    return 0
                    ;;
                --size)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --hostname)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --chdir)
                    COMPREPLY=()
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o plusdirs
                    fi
                    return 0
                    ;;
                --setenv)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --unsetenv)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --argv0)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --cap-add)
                    COMPREPLY=($(compgen -W "CAP_AUDIT_CONTROL CAP_AUDIT_READ CAP_AUDIT_WRITE CAP_BLOCK_SUSPEND CAP_BPF CAP_CHECKPOINT_RESTORE CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_IPC_LOCK CAP_IPC_OWNER CAP_KILL CAP_LEASE CAP_LINUX_IMMUTABLE CAP_MAC_ADMIN CAP_MAC_OVERRIDE CAP_MKNOD CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_RAW CAP_PERFMON CAP_SETFCAP CAP_SETGID CAP_SETPCAP CAP_SETUID CAP_SYSLOG CAP_SYS_ADMIN CAP_SYS_BOOT CAP_SYS_CHROOT CAP_SYS_MODULE CAP_SYS_NICE CAP_SYS_PACCT CAP_SYS_PTRACE CAP_SYS_RAWIO CAP_SYS_RESOURCE CAP_SYS_TIME CAP_SYS_TTY_CONFIG CAP_WAKE_ALARM ALL" -- "${cur}"))
                    return 0
                    ;;
                --cap-drop)
                    COMPREPLY=($(compgen -W "CAP_AUDIT_CONTROL CAP_AUDIT_READ CAP_AUDIT_WRITE CAP_BLOCK_SUSPEND CAP_BPF CAP_CHECKPOINT_RESTORE CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_IPC_LOCK CAP_IPC_OWNER CAP_KILL CAP_LEASE CAP_LINUX_IMMUTABLE CAP_MAC_ADMIN CAP_MAC_OVERRIDE CAP_MKNOD CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_RAW CAP_PERFMON CAP_SETFCAP CAP_SETGID CAP_SETPCAP CAP_SETUID CAP_SYSLOG CAP_SYS_ADMIN CAP_SYS_BOOT CAP_SYS_CHROOT CAP_SYS_MODULE CAP_SYS_NICE CAP_SYS_PACCT CAP_SYS_PTRACE CAP_SYS_RAWIO CAP_SYS_RESOURCE CAP_SYS_TIME CAP_SYS_TTY_CONFIG CAP_WAKE_ALARM ALL" -- "${cur}"))
                    return 0
                    ;;
                --landlock)
                    COMPREPLY=($(compgen -W "off best-effort strict" -- "${cur}"))
                    return 0
                    ;;
                --allow-host)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --allow-connect)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --allow-bind)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --seccomp-policy)
                    local oldifs
                    if [ -n "${IFS+x}" ]; then
                        oldifs="$IFS"
                    fi
                    IFS=$'\n'
                    COMPREPLY=($(compgen -f "${cur}"))
                    if [ -n "${oldifs+x}" ]; then
                        IFS="$oldifs"
                    fi
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o filenames
                    fi
                    return 0
                    ;;
                --seccomp)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --add-seccomp-fd)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --mem)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --mem-high)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --swap)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --cpu)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --cpu-weight)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --pids)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --cpuset)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --io-weight)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --slice)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --report)
                    COMPREPLY=($(compgen -W "text json none" -- "${cur}"))
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                --stats-json)
                    COMPREPLY=("${cur}")
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o nospace
                    fi
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
    esac
}

# Completes $3 as value number $2 of flag $1: by what that value is, else as clap does the
# word after the flag.
_jail_value() {
    local cur="$3"
    case "$1,$2" in
        --bind,1|--bind,2|--bind-try,1|--bind-try,2|--ro-bind,1|--ro-bind,2|--ro-bind-try,1|--ro-bind-try,2|--dev-bind,1|--dev-bind,2|--dev-bind-try,1|--dev-bind-try,2|--symlink,1|--symlink,2|--file,2|--bind-data,2|--ro-bind-data,2|--chmod,2|--bind-fd,2|--ro-bind-fd,2|--overlay,1|--overlay,2|--overlay,3)
            COMPREPLY=($(compgen -f -- "$cur"))
            compopt -o filenames 2>/dev/null
            ;;
        --file,1|--bind-data,1|--ro-bind-data,1|--chmod,1|--bind-fd,1|--ro-bind-fd,1|--setenv,1|--setenv,2)
            COMPREPLY=("$cur")
            compopt -o nospace 2>/dev/null
            ;;
        *)
            _jail_clap jail "$cur" "$1"
            ;;
    esac
}

# Completes the command name at word $1, or its arguments after it as that command's.
_jail_command() {
    local cur="$2"
    if [[ $1 -lt $COMP_CWORD ]] && declare -F _command_offset >/dev/null; then
        _command_offset "$1"
    elif [[ $1 -eq $COMP_CWORD ]]; then
        COMPREPLY=($(compgen -c -- "$cur"))
    fi
}

# Walks the words before the one being completed to find what it is: an option, the value
# of a flag (--flag VALUE, or --flag=VALUE, which bash splits at the =), the command, or one
# of the command's arguments.
_jail() {
    local cur="${COMP_WORDS[COMP_CWORD]}" i=1 n eq
    COMPREPLY=()
    if [[ $cur == = ]]; then
        _jail_value "${COMP_WORDS[COMP_CWORD-1]}" 1 ""
        return 0
    fi
    while [[ $i -lt $COMP_CWORD ]]; do
        case "${COMP_WORDS[i]}" in
            --)
                _jail_command $((i + 1)) "$cur"
                return 0
                ;;
            --profile|--uid|--gid|--remount-ro|--tmpfs|--proc|--dev|--mqueue|--dir|--tmp-overlay|--ro-overlay|--perms|--protect|--overlay-src|--size|--hostname|--chdir|--unsetenv|--argv0|--cap-add|--cap-drop|--landlock|--allow-host|--allow-connect|--allow-bind|--seccomp-policy|--seccomp|--add-seccomp-fd|--mem|--mem-high|--swap|--cpu|--cpu-weight|--pids|--cpuset|--io-weight|--slice|--timeout|--report|--stats-json)
                n=1
                ;;
            --bind|--bind-try|--ro-bind|--ro-bind-try|--dev-bind|--dev-bind-try|--symlink|--file|--bind-data|--ro-bind-data|--chmod|--bind-fd|--ro-bind-fd|--setenv)
                n=2
                ;;
            --overlay)
                n=3
                ;;
            -*)
                n=0
                ;;
            *)
                _jail_command "$i" "$cur"
                return 0
                ;;
        esac
        eq=0
        if [[ ${COMP_WORDS[i+1]} == = ]]; then
            eq=1
            [[ $n -eq 0 ]] && n=1
        fi
        if [[ $((i + n + eq)) -ge $COMP_CWORD ]]; then
            _jail_value "${COMP_WORDS[i]}" $((COMP_CWORD - i - eq)) "$cur"
            return 0
        fi
        i=$((i + n + eq + 1))
    done
    if [[ $cur == -* ]]; then
        _jail_clap jail "$cur" "${COMP_WORDS[COMP_CWORD-1]}"
    else
        _jail_command "$COMP_CWORD" "$cur"
    fi
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _jail -o nosort -o bashdefault -o default jail
else
    complete -F _jail -o bashdefault -o default jail
fi
