# Generated from jail::cli::command() by tests/generated.rs; do not edit: regenerate with JAIL_REGENERATE=1 cargo test --test generated

complete -c jail -l dry-run -d 'Print the plan (text or json) and exit without touching anything' -r -f -a "text\t''
json\t''"
complete -c jail -l profile -d 'Read options from a TOML file first (repeatable); the command line\'s apply after them' -r -F
complete -c jail -l uid -d 'The uid inside the sandbox (default: the caller\'s)' -r -f
complete -c jail -l gid -d 'The gid inside the sandbox (default: the caller\'s)' -r -f
complete -c jail -l bind -d 'Bind SRC at DEST, writable' -r -F
complete -c jail -l bind-try -d 'Like --bind, but skip if SRC does not exist' -r -F
complete -c jail -l ro-bind -d 'Bind SRC at DEST, read-only all the way down' -r -F
complete -c jail -l ro-bind-try -d 'Like --ro-bind, but skip if SRC does not exist' -r -F
complete -c jail -l dev-bind -d 'Bind SRC at DEST, writable, device nodes usable' -r -F
complete -c jail -l dev-bind-try -d 'Like --dev-bind, but skip if SRC does not exist' -r -F
complete -c jail -l remount-ro -d 'Make the mount at DEST (and beneath it) read-only' -r -F
complete -c jail -l tmpfs -d 'Mount an empty tmpfs at DEST (see --size, --perms)' -r -F
complete -c jail -l proc -d 'Mount a fresh procfs at DEST' -r -F
complete -c jail -l dev -d 'Mount a minimal /dev at DEST' -r -F
complete -c jail -l mqueue -d 'Mount a POSIX message queue filesystem at DEST' -r -F
complete -c jail -l dir -d 'Create a directory at DEST (see --perms)' -r -F
complete -c jail -l symlink -d 'Create a symbolic link at DEST pointing to TARGET' -r -F
complete -c jail -l file -d 'Copy the data read from FD into a new file at DEST' -r -f
complete -c jail -l bind-data -d 'Bind a file holding the data read from FD at DEST' -r -f
complete -c jail -l ro-bind-data -d 'Like --bind-data, read-only' -r -f
complete -c jail -l chmod -d 'Change the mode of PATH inside the sandbox' -r -f
complete -c jail -l bind-fd -d 'Bind what descriptor FD has open at DEST, writable' -r -f
complete -c jail -l ro-bind-fd -d 'Like --bind-fd, read-only' -r -f
complete -c jail -l overlay -d 'Overlay at DEST, changes kept in RWSRC (see --overlay-src)' -r -F
complete -c jail -l tmp-overlay -d 'Overlay at DEST, changes on a tmpfs (see --overlay-src)' -r -F
complete -c jail -l ro-overlay -d 'Read-only overlay at DEST of two or more --overlay-src' -r -F
complete -c jail -l perms -d 'Mode for the next --tmpfs, --dir, --file, --bind-data or --ro-bind-data' -r -f
complete -c jail -l protect -d 'Keep PATH and everything below it read-only, even inside a writable bind (repeatable)' -r -F
complete -c jail -l overlay-src -d 'A lower layer for the next --overlay, --tmp-overlay or --ro-overlay (the last on top)' -r -f -a "(__fish_complete_directories)"
complete -c jail -l size -d 'Size limit of the next --tmpfs (K, M, G suffixes)' -r -f
complete -c jail -l hostname -d 'Set the hostname inside the sandbox' -r -f
complete -c jail -l chdir -d 'Change to DIR inside the sandbox (default: the current directory if present, else /)' -r -f -a "(__fish_complete_directories)"
complete -c jail -l setenv -d 'Set an environment variable' -r -f
complete -c jail -l unsetenv -d 'Unset an environment variable' -r -f
complete -c jail -l argv0 -d 'Run the command with NAME as argv[0]' -r -f
complete -c jail -l cap-add -d 'Keep a capability (e.g. CAP_NET_ADMIN, or ALL)' -r -f -a "CAP_AUDIT_CONTROL\t''
CAP_AUDIT_READ\t''
CAP_AUDIT_WRITE\t''
CAP_BLOCK_SUSPEND\t''
CAP_BPF\t''
CAP_CHECKPOINT_RESTORE\t''
CAP_CHOWN\t''
CAP_DAC_OVERRIDE\t''
CAP_DAC_READ_SEARCH\t''
CAP_FOWNER\t''
CAP_FSETID\t''
CAP_IPC_LOCK\t''
CAP_IPC_OWNER\t''
CAP_KILL\t''
CAP_LEASE\t''
CAP_LINUX_IMMUTABLE\t''
CAP_MAC_ADMIN\t''
CAP_MAC_OVERRIDE\t''
CAP_MKNOD\t''
CAP_NET_ADMIN\t''
CAP_NET_BIND_SERVICE\t''
CAP_NET_BROADCAST\t''
CAP_NET_RAW\t''
CAP_PERFMON\t''
CAP_SETFCAP\t''
CAP_SETGID\t''
CAP_SETPCAP\t''
CAP_SETUID\t''
CAP_SYSLOG\t''
CAP_SYS_ADMIN\t''
CAP_SYS_BOOT\t''
CAP_SYS_CHROOT\t''
CAP_SYS_MODULE\t''
CAP_SYS_NICE\t''
CAP_SYS_PACCT\t''
CAP_SYS_PTRACE\t''
CAP_SYS_RAWIO\t''
CAP_SYS_RESOURCE\t''
CAP_SYS_TIME\t''
CAP_SYS_TTY_CONFIG\t''
CAP_WAKE_ALARM\t''
ALL\t''"
complete -c jail -l cap-drop -d 'Drop a capability added earlier (or ALL)' -r -f -a "CAP_AUDIT_CONTROL\t''
CAP_AUDIT_READ\t''
CAP_AUDIT_WRITE\t''
CAP_BLOCK_SUSPEND\t''
CAP_BPF\t''
CAP_CHECKPOINT_RESTORE\t''
CAP_CHOWN\t''
CAP_DAC_OVERRIDE\t''
CAP_DAC_READ_SEARCH\t''
CAP_FOWNER\t''
CAP_FSETID\t''
CAP_IPC_LOCK\t''
CAP_IPC_OWNER\t''
CAP_KILL\t''
CAP_LEASE\t''
CAP_LINUX_IMMUTABLE\t''
CAP_MAC_ADMIN\t''
CAP_MAC_OVERRIDE\t''
CAP_MKNOD\t''
CAP_NET_ADMIN\t''
CAP_NET_BIND_SERVICE\t''
CAP_NET_BROADCAST\t''
CAP_NET_RAW\t''
CAP_PERFMON\t''
CAP_SETFCAP\t''
CAP_SETGID\t''
CAP_SETPCAP\t''
CAP_SETUID\t''
CAP_SYSLOG\t''
CAP_SYS_ADMIN\t''
CAP_SYS_BOOT\t''
CAP_SYS_CHROOT\t''
CAP_SYS_MODULE\t''
CAP_SYS_NICE\t''
CAP_SYS_PACCT\t''
CAP_SYS_PTRACE\t''
CAP_SYS_RAWIO\t''
CAP_SYS_RESOURCE\t''
CAP_SYS_TIME\t''
CAP_SYS_TTY_CONFIG\t''
CAP_WAKE_ALARM\t''
ALL\t''"
complete -c jail -l landlock -d 'Landlock: off, best-effort (default) or strict' -r -f -a "off\t''
best-effort\t''
strict\t''"
complete -c jail -l allow-host -d 'Reach HOST (or *.domain) through jail\'s proxy; nothing else leaves (repeatable)' -r -f -a "(__fish_print_hostnames)"
complete -c jail -l allow-connect -d 'Allow TCP connections to PORT only (repeatable; Landlock ABI 4)' -r -f
complete -c jail -l allow-bind -d 'Allow binding TCP PORT only (repeatable; Landlock ABI 4)' -r -f
complete -c jail -l seccomp-policy -d 'Seccomp: default (built-in policy), off, or a Docker/OCI JSON profile file' -r -F
complete -c jail -l seccomp -d 'Use the compiled classic BPF program read from FD instead of the built-in policy' -r -f
complete -c jail -l add-seccomp-fd -d 'Stack the compiled classic BPF program read from FD (repeatable)' -r -f
complete -c jail -l mem -d 'Memory limit (memory.max); swap is off unless --swap' -r -f
complete -c jail -l mem-high -d 'Memory throttling threshold (memory.high)' -r -f
complete -c jail -l swap -d 'Swap limit (memory.swap.max)' -r -f
complete -c jail -l cpu -d 'CPU limit as percent of one CPU: 20%, 150% (cpu.max)' -r -f
complete -c jail -l cpu-weight -d 'CPU weight, 1 to 10000 (cpu.weight)' -r -f
complete -c jail -l pids -d 'Limit on processes and threads (pids.max)' -r -f
complete -c jail -l cpuset -d 'CPUs the sandbox may run on, e.g. 0,2,4-6 (cpuset.cpus)' -r -f
complete -c jail -l io-weight -d 'IO weight, 1 to 10000 (io.weight)' -r -f
complete -c jail -l slice -d 'The user manager\'s slice for the scope (default jail.slice)' -r -f
complete -c jail -l timeout -d 'Stop the command after DURATION (30s, 5m), counted from the launch: SIGTERM, then SIGKILL; exit 124. A setup still running then is killed' -r -f
complete -c jail -l report -d 'How jail says at exit what it refused: text (default), json, or none' -r -f -a "text\t''
json\t''
none\t''"
complete -c jail -l stats-json -d 'Write the usage report as one JSON object to FD' -r -f
complete -c jail -l share-net -d 'Keep the caller\'s network namespace'
complete -c jail -l share-ipc -d 'Keep the caller\'s ipc namespace'
complete -c jail -l share-uts -d 'Keep the caller\'s uts namespace (hostname)'
complete -c jail -l share-pid -d 'Keep the caller\'s pid namespace'
complete -c jail -l share-cgroup -d 'Keep the caller\'s cgroup namespace'
complete -c jail -l map-subids -d 'Also map the caller\'s /etc/subuid and /etc/subgid ranges'
complete -c jail -l clearenv -d 'Start from an empty environment (then --setenv applies)'
complete -c jail -l as-pid-1 -d 'Run the command as pid 1 instead of jail\'s init'
complete -c jail -l new-session -d 'Start a new session (no controlling terminal)'
complete -c jail -l allow-userns -d 'Allow the command to create user namespaces (refused by default)'
complete -c jail -l disable-userns -d 'Refuse new user namespaces inside the sandbox (the default)'
complete -c jail -l stats -d 'Print a usage report on stderr when the command ends'
complete -c jail -s v -l verbose -d 'Say on stderr what the kernel could not enforce'
complete -c jail -s h -l help -d 'Print help (see more with \'--help\')'
complete -c jail -s V -l version -d 'Print version'

# The later values of flags taking several: true when the word being completed is
# value number $argv[2] of flag $argv[1].
function __fish_jail_value
    set -l tokens (commandline -opc)
    set -l at (math (count $tokens) + 1 - $argv[2])
    test $at -ge 2; and test "$tokens[$at]" = $argv[1]
end
complete -c jail -n '__fish_jail_value --bind 2' -F
complete -c jail -n '__fish_jail_value --bind-try 2' -F
complete -c jail -n '__fish_jail_value --ro-bind 2' -F
complete -c jail -n '__fish_jail_value --ro-bind-try 2' -F
complete -c jail -n '__fish_jail_value --dev-bind 2' -F
complete -c jail -n '__fish_jail_value --dev-bind-try 2' -F
complete -c jail -n '__fish_jail_value --symlink 2' -F
complete -c jail -n '__fish_jail_value --file 2' -F
complete -c jail -n '__fish_jail_value --bind-data 2' -F
complete -c jail -n '__fish_jail_value --ro-bind-data 2' -F
complete -c jail -n '__fish_jail_value --chmod 2' -F
complete -c jail -n '__fish_jail_value --bind-fd 2' -F
complete -c jail -n '__fish_jail_value --ro-bind-fd 2' -F
complete -c jail -n '__fish_jail_value --overlay 2' -F
complete -c jail -n '__fish_jail_value --overlay 3' -F
complete -c jail -n '__fish_jail_value --setenv 2' -f
