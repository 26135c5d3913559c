//! Sizes as operators write them: `700M`, `4G`, `1.5G`, `32GB`, `4294967295`.
//!
//! `K`, `M`, `G`, `T` and `KiB`, `MiB`, `GiB`, `TiB` are binary units (powers of 1024: `4G`
//! is FAT32's 4 GiB); `KB`, `MB`, `GB`, `TB` are decimal (powers of 1000), as sizes are
//! printed on media (a "32GB" stick holds 32 000 000 000 bytes). A number may have a
//! fraction (`1.5G`); the result is rounded down to whole bytes.

/// Error for a size that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a size: write a number of bytes, or a number (a fraction is allowed) with a unit: K, M, G, T or KiB, MiB, GiB, TiB (powers of 1024), KB, MB, GB, TB (powers of 1000), e.g. 700M, 1.5G, 32GB"
)]
pub struct BadSize(pub String);

/// Parse a size (see the module documentation for the units).
pub fn parse(s: &str) -> Result<u64, BadSize> {
    let bad = || BadSize(s.into());
    let t = s.trim();
    let num_end = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(num_end);
    let unit = unit.trim_start();
    let mult: u64 = match unit {
        "" | "B" | "b" => 1,
        _ => {
            let (letter, rest) = unit.split_at(1);
            let power = match letter.to_ascii_uppercase().as_str() {
                "K" => 1,
                "M" => 2,
                "G" => 3,
                "T" => 4,
                _ => return Err(bad()),
            };
            let base: u64 = match rest {
                "" | "iB" | "ib" | "IB" => 1024,
                "B" | "b" => 1000,
                _ => return Err(bad()),
            };
            base.pow(power)
        }
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 9
        || mult == 1 && num.contains('.')
    {
        return Err(bad());
    }
    let int: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let whole = int.checked_mul(mult).ok_or_else(bad)?;
    let part = if frac.is_empty() {
        0
    } else {
        let f: u128 = frac.parse().map_err(|_| bad())?;
        (f * u128::from(mult) / 10u128.pow(frac.len() as u32)) as u64
    };
    whole.checked_add(part).ok_or_else(bad)
}

/// The smallest size at least `n` bytes that reads well as an argument: whole KiB, MiB or
/// GiB rounded up to one decimal (`1.6G`), e.g. to suggest a `--media-size` that works.
pub fn suggest(n: u64) -> String {
    for (shift, unit) in [(30u32, "G"), (20, "M"), (10, "K")] {
        let u = 1u64 << shift;
        if n >= u {
            // Tenths of the unit, rounded up.
            let tenths = (u128::from(n) * 10).div_ceil(u128::from(u));
            return if tenths % 10 == 0 {
                format!("{}{unit}", tenths / 10)
            } else {
                format!("{}.{}{unit}", tenths / 10, tenths % 10)
            };
        }
    }
    n.to_string()
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
        assert_eq!(parse("4GiB"), Ok(4 << 30));
        assert_eq!(parse("32GB"), Ok(32_000_000_000));
        assert_eq!(parse("700 MB"), Ok(700_000_000));
        assert_eq!(parse("1.5G"), Ok(3 << 29));
        assert_eq!(parse("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse("0.5K"), Ok(512));
        assert_eq!(parse(".5K"), Ok(512));
        assert_eq!(parse("1.0001K"), Ok(1024), "rounded down");
        // No fraction of a byte.
        for bad in [
            "G",
            "4.5.1G",
            "1.5",
            "99999999999T",
            "4X",
            "4Gi",
            "-1G",
            "",
            ".",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(human(1536 * 1024), "1.5 MiB");
    }

    #[test]
    fn suggestions_are_enough_and_parse() {
        for n in [
            1u64,
            1000,
            1024,
            1025,
            1 << 20,
            (1 << 20) + 1,
            1_610_612_736,
            5 << 30,
        ] {
            let s = suggest(n);
            let back = parse(&s).unwrap();
            assert!(back >= n, "{n} -> {s} -> {back}");
            assert!(back - n < (back / 10).max(1024), "{n} -> {s}: too generous");
        }
        assert_eq!(suggest(1_610_612_736), "1.5G");
        assert_eq!(suggest((1 << 30) + 1), "1.1G");
        assert_eq!(suggest(3 << 20), "3M");
    }
}
