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
    fn fds() {
        assert_eq!(fd("3"), Ok(3));
        assert!(fd("-1").is_err());
        assert!(fd("x").is_err());
    }
}
