//! Turns the usual "user namespaces are off on this host" failures into the fix.

use nix::errno::Errno;

fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// A hint for a failed clone(CLONE_NEWUSER) or a denied first mount, or "".
pub fn userns_hint(e: Errno) -> String {
    if sysctl("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return "; unprivileged user namespaces are disabled: sysctl -w kernel.unprivileged_userns_clone=1".into();
    }
    if sysctl("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") || e == Errno::ENOSPC {
        return "; no user namespaces left: sysctl -w user.max_user_namespaces=15000".into();
    }
    if sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return "; AppArmor restricts unprivileged user namespaces: install jail's AppArmor profile \
                (packaging/apparmor/jail) or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
            .into();
    }
    String::new()
}
