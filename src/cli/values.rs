//! Value parsers shared by the CLI: octal modes, byte sizes.

/// `0755`, `755` or `0o755`; at most `07777`.
pub fn octal(s: &str) -> Result<u32, String> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    let v = u32::from_str_radix(digits, 8).map_err(|_| format!("{s:?} is not an octal mode like 0755"))?;
    if v > 0o7777 {
        return Err(format!("{s:?} is larger than 07777"));
    }
    Ok(v)
}

/// A byte count with an optional binary suffix: `512`, `64K`, `48M`, `2G`, `1T` (also `48MiB`).
pub fn size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{s:?} is not a size like 64M"))?;
    let shift = match suffix.to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("{s:?}: unknown suffix {suffix:?} (use K, M, G or T)")),
    };
    n.checked_mul(1u64 << shift).ok_or_else(|| format!("{s:?} is too large"))
}

/// CPU share as percent of one CPU: `20%`, `150%` (or the bare number).
pub fn percent(s: &str) -> Result<u32, String> {
    let n: u32 = s.trim_end_matches('%').parse().map_err(|_| format!("{s:?} is not a percentage like 20%"))?;
    if n == 0 || n > 100_000 {
        return Err(format!("{s:?} is out of range (1% to 100000%)"));
    }
    Ok(n)
}

/// A duration: `30s`, `5m`, `2h`, `500ms`, or bare seconds.
pub fn duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("{s:?} is not a duration like 30s or 5m"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    if !(secs > 0.0 && secs < 1e9) {
        return Err(format!("{s:?} must be positive"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// A descriptor number.
pub fn fd(s: &str) -> Result<i32, String> {
    s.parse::<i32>().ok().filter(|n| *n >= 0).ok_or_else(|| format!("{s:?} is not a file descriptor number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_modes() {
        assert_eq!(octal("0755"), Ok(0o755));
        assert_eq!(octal("1777"), Ok(0o1777));
        assert_eq!(octal("0o700"), Ok(0o700));
        assert!(octal("0855").is_err());
        assert!(octal("17777").is_err());
        assert!(octal("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(size("512"), Ok(512));
        assert_eq!(size("64K"), Ok(65536));
        assert_eq!(size("48M"), Ok(48 << 20));
        assert_eq!(size("48MiB"), Ok(48 << 20));
        assert_eq!(size("2g"), Ok(2 << 30));
        assert!(size("12Q").is_err());
        assert!(size("M").is_err());
        assert!(size("-1").is_err());
        assert!(size("99999999999999T").is_err());
    }

    #[test]
    fn percents_and_durations() {
        assert_eq!(percent("20%"), Ok(20));
        assert_eq!(percent("150"), Ok(150));
        assert!(percent("0%").is_err());
        assert!(percent("x%").is_err());
        assert_eq!(duration("30s"), Ok(std::time::Duration::from_secs(30)));
        assert_eq!(duration("5m"), Ok(std::time::Duration::from_secs(300)));
        assert_eq!(duration("250ms"), Ok(std::time::Duration::from_millis(250)));
        assert_eq!(duration("2"), Ok(std::time::Duration::from_secs(2)));
        assert!(duration("3d").is_err());
        assert!(duration("0").is_err());
    }

    #[test]
    fn fds() {
        assert_eq!(fd("3"), Ok(3));
        assert!(fd("-1").is_err());
        assert!(fd("x").is_err());
    }
}
