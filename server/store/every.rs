//! How often to take a scheduled snapshot: `90s`, `10m`, `1h30m`, `1d`.

use std::time::Duration;

/// Parse an interval: one or more `<number><unit>` parts, units `s`, `m`, `h`, `d`.
pub fn parse_every(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("an empty interval: write e.g. 30s, 10m, 1h or 1h30m".into());
    }
    let mut total: u64 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "{text:?}: expected a number at {rest:?} (write e.g. 30s, 10m, 1h30m)"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?}: {:?} is too large", &rest[..digits]))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let secs = match &rest[..unit_len] {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "" => {
                return Err(format!(
                    "{text:?}: {n} has no unit (write {n}s, {n}m or {n}h)"
                ))
            }
            u => return Err(format!("{text:?}: unknown unit {u:?} (use s, m, h or d)")),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(secs)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("{text:?} is too long an interval"))?;
    }
    if total == 0 {
        return Err(format!("{text:?}: the interval must be at least 1s"));
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse() {
        assert_eq!(parse_every("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_every("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_every("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_every(" 2d "), Ok(Duration::from_secs(172_800)));
    }

    #[test]
    fn bad_intervals_say_why() {
        assert!(parse_every("").unwrap_err().contains("empty"));
        assert!(parse_every("10").unwrap_err().contains("no unit"));
        assert!(parse_every("10x").unwrap_err().contains("unknown unit"));
        assert!(parse_every("m").unwrap_err().contains("expected a number"));
        assert!(parse_every("0s").unwrap_err().contains("at least 1s"));
        assert!(parse_every("99999999999999999999s")
            .unwrap_err()
            .contains("too large"));
        assert!(parse_every("-5m").is_err());
    }
}
