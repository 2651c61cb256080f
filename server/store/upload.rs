//! Limits of uploads. An upload is checked whole before anything is stored, by the one reader
//! of snapshot files ([`crate::snapshot::file::parse`]).

/// The largest upload `dockmap serve` accepts unless told otherwise (`--upload-limit`).
pub const DEFAULT_UPLOAD_LIMIT: usize = 64 * 1024 * 1024;

/// Parse a size: bytes, or with a unit `K`/`KiB`, `M`/`MiB`, `G`/`GiB` (powers of 1024).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("{text:?}: expected a number of bytes, e.g. 64MiB"));
    }
    let n: usize = t[..digits]
        .parse()
        .map_err(|_| format!("{text:?} is too large"))?;
    let mult: usize = match t[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        u => return Err(format!("{text:?}: unknown unit {u:?} (use K, M or G)")),
    };
    match n.checked_mul(mult) {
        Some(0) => Err(format!("{text:?}: the limit must be above 0")),
        Some(v) => Ok(v),
        None => Err(format!("{text:?} is too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("2k"), Ok(2048));
        assert!(parse_size("0").is_err());
        assert!(parse_size("MiB").unwrap_err().contains("expected a number"));
        assert!(parse_size("5 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
    }
}
