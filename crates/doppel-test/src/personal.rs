//! Generated personal data for detection and replacement tests: valid numbers in common layouts.

use rand::RngExt;

use doppel_core::{SeededRng, pii};

/// `n` random decimal digits.
pub fn digits(rng: &mut SeededRng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

/// A Luhn-valid card number of `length` digits starting with `prefix`.
pub fn card(rng: &mut SeededRng, prefix: &str, length: usize) -> String {
    let mut number = prefix.to_string();
    number.push_str(&digits(rng, length - prefix.len() - 1));
    let check = pii::luhn_check_digit(&number);
    number.push(check);
    number
}

/// `text` in groups of four characters joined by `separator` (`4111 1111 1111 1111`).
pub fn in_fours(text: &str, separator: &str) -> String {
    text.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(separator)
}
