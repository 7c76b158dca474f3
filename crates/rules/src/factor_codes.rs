//! Checks that a rule names factor codes that HJ 212-2017 defines.
//!
//! Appendix B of HJ 212-2017 gives water codes (Table B.1) as `w` and five
//! digits, and air codes (Table B.2) as `a` and five digits. Noise codes
//! (Table B.3) are short names such as `LA` and `Leq`. Process codes
//! (Tables B.4 to B.7) are `e` or `g` and five letters or digits. A rule
//! naming any other code never matches a reading, so a pack with one is
//! rejected.

/// The noise factor codes of HJ 212-2017 Table B.3, all in dB.
const NOISE_CODES: &[&str] = &[
    "LA", "L5", "L10", "L50", "L90", "L95", "Leq", "Ldn", "Ld", "Ln", "LMx", "LMn",
];

/// Common names of factors, lowercase and without punctuation, with the
/// HJ 212-2017 code to write instead.
const NAMES: &[(&str, &str)] = &[
    ("cod", "w01018"),
    ("ph", "w01001"),
    ("nh3n", "w21003"),
    ("ammonia", "w21003"),
    ("tn", "w21001"),
    ("tp", "w21011"),
    ("ss", "w01012"),
    ("do", "w01009"),
    ("flow", "w00000"),
    ("so2", "a21026"),
    ("nox", "a21002"),
    ("no2", "a21004"),
    ("co", "a21005"),
    ("o3", "a05024"),
    ("pm25", "a34004"),
    ("pm10", "a34002"),
    ("dust", "a34013"),
];

/// Checks `code`, returning the reason and the fix when HJ 212-2017 does
/// not define a code of its shape.
pub(crate) fn check(code: &str) -> Result<(), String> {
    if NOISE_CODES.contains(&code) || has_coded_shape(code) {
        return Ok(());
    }
    let mut message = format!(
        "unknown factor {code:?}: expected an HJ 212-2017 factor code, such as w01018 \
         (COD), a34004 (PM2.5) or LA (noise)"
    );
    if let Some(suggestion) = suggest(code) {
        message.push_str(&format!("; did you mean {suggestion:?}?"));
    }
    Err(message)
}

/// Returns true for `w`, `a`, `e` or `g` followed by five lowercase letters
/// or digits, with at least one digit.
fn has_coded_shape(code: &str) -> bool {
    let bytes = code.as_bytes();
    bytes.len() == 6
        && matches!(bytes[0], b'w' | b'a' | b'e' | b'g')
        && bytes[1..]
            .iter()
            .all(|byte| byte.is_ascii_digit() || byte.is_ascii_lowercase())
        && bytes[1..].iter().any(u8::is_ascii_digit)
}

/// Returns the code that `code` most likely means: a noise code written in
/// another case, or the code of a common factor name.
fn suggest(code: &str) -> Option<&'static str> {
    if let Some(noise) = NOISE_CODES
        .iter()
        .find(|noise| noise.eq_ignore_ascii_case(code))
    {
        return Some(noise);
    }
    let name: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    NAMES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, code)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_codes_pass() {
        for code in [
            "w01018", "w21003", "a34004", "a21026", "LA", "Leq", "e30101",
        ] {
            assert_eq!(check(code), Ok(()), "{code}");
        }
    }

    #[test]
    fn names_get_their_code() {
        let error = check("COD").unwrap_err();
        assert!(error.contains("\"w01018\""), "{error}");
        let error = check("PM2.5").unwrap_err();
        assert!(error.contains("\"a34004\""), "{error}");
        let error = check("la").unwrap_err();
        assert!(error.contains("\"LA\""), "{error}");
    }

    #[test]
    fn malformed_codes_fail() {
        for code in ["w0101", "x01018", "W01018", "wabcde", "w010180"] {
            assert!(check(code).is_err(), "{code}");
        }
    }
}
