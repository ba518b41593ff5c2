//! Kubernetes quantities (`128Mi`, `1.5G`, `500m`, `2`) as the numbers the engine takes.

/// A memory quantity in bytes.
pub fn bytes(q: &str) -> Option<u64> {
    let (number, scale) = split(q)?;
    let factor: f64 = match scale {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "m" => 1e-3,
        _ => return None,
    };
    let b = (number * factor).ceil();
    (b.is_finite() && b >= 0.0 && b < u64::MAX as f64).then_some(b as u64)
}

/// A CPU quantity in nano-CPUs (`500m` is 500,000,000).
pub fn nano_cpus(q: &str) -> Option<i64> {
    let (number, scale) = split(q)?;
    let factor = match scale {
        "" => 1e9,
        "m" => 1e6,
        "u" => 1e3,
        "n" => 1.0,
        _ => return None,
    };
    let n = (number * factor).round();
    (n.is_finite() && n > 0.0 && n < i64::MAX as f64).then_some(n as i64)
}

/// The number and the suffix; an exponent (`1e6`) is folded into the number.
fn split(q: &str) -> Option<(f64, &str)> {
    let q = q.trim();
    let end = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (num, rest) = q.split_at(end);
    let mut number: f64 = num.parse().ok()?;
    let mut suffix = rest;
    if let Some(exp) = rest.strip_prefix(['e', 'E']) {
        if let Ok(e) = exp.parse::<i32>() {
            number *= 10f64.powi(e);
            suffix = "";
        }
    }
    (number >= 0.0).then_some((number, suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_as_kubernetes_reads_them() {
        assert_eq!(bytes("128Mi"), Some(128 << 20));
        assert_eq!(bytes("1Gi"), Some(1 << 30));
        assert_eq!(bytes("1.5G"), Some(1_500_000_000));
        assert_eq!(bytes("1e6"), Some(1_000_000));
        assert_eq!(bytes("1000"), Some(1000));
        assert_eq!(bytes("12Q"), None);
        assert_eq!(bytes("-1Mi"), None);
        assert_eq!(bytes(""), None);
        assert_eq!(nano_cpus("500m"), Some(500_000_000));
        assert_eq!(nano_cpus("2"), Some(2_000_000_000));
        assert_eq!(nano_cpus("0.25"), Some(250_000_000));
        assert_eq!(nano_cpus("0"), None);
        assert_eq!(nano_cpus("1Gi"), None);
    }
}
