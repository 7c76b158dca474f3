//! Login name normalisation, so that names which look alike name one account.

use unicode_normalization::UnicodeNormalization;

/// Normalises a login name: Unicode NFKC, then lowercase.
///
/// NFKC folds compatibility forms such as full-width `ａｄｍｉｎ` into
/// `admin`, and lowercasing folds `Admin` into `admin`, so each of these
/// names the same account.
pub fn normalize_username(username: &str) -> String {
    username.nfkc().collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::normalize_username;

    #[test]
    fn normalize_username_folds_width_and_case() {
        let cases = [
            ("admin", "admin"),
            ("Admin", "admin"),
            ("ＡＤＭＩＮ", "admin"),
            ("ａｄｍｉｎ", "admin"),
            ("li.wei@example", "li.wei@example"),
            ("张三", "张三"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_username(input), expected, "{input}");
        }
    }
}
