//! Sizes as operators write them: `700M`, `4G`, `32G`, `4294967295` (binary units).

/// Error for a size that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a size: write a number of bytes, or a number with K, M, G or T (binary units, e.g. 700M, 4G)"
)]
pub struct BadSize(pub String);

/// Parse a size with an optional binary unit (K, M, G, T; `KiB`/`MB`-style suffixes and
/// lowercase are accepted and all mean powers of 1024).
pub fn parse(s: &str) -> Result<u64, BadSize> {
    let t = s.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    let n: u64 = num.parse().map_err(|_| BadSize(s.into()))?;
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(BadSize(s.into())),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| BadSize(s.into()))
}

/// A size for people: `1.5 MiB`.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse("700M"), Ok(700 << 20));
        assert_eq!(parse("4G"), Ok(4 << 30));
        assert_eq!(parse("32g"), Ok(32 << 30));
        assert_eq!(parse("4294967295"), Ok(4_294_967_295));
        assert_eq!(parse("1KiB"), Ok(1024));
        assert!(parse("4.5G").is_err());
        assert!(parse("G").is_err());
        assert!(parse("99999999999T").is_err());
        assert_eq!(human(1536 * 1024), "1.5 MiB");
    }
}
