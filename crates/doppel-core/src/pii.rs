//! Personal data: what column names and values reveal about it, and the checksums (Luhn for card
//! numbers, ISO 13616 mod 97 for IBANs) that real values carry and fake values must carry too.
//!
//! A column is personal data of a patterned kind (cards, social security numbers, IBANs, IP
//! addresses, street addresses) when at least [`VALUE_SHARE`] of its sampled values match the
//! kind's pattern, checksums included; the name can only add to that, never replace it, except
//! for names and dates of birth, whose values have no pattern (see [`crate::Metadata::detect`]).
//!
//! ```
//! use doppel_core::pii;
//!
//! assert!(pii::is_card_number("4111 1111 1111 1111"));
//! assert!(!pii::is_card_number("4111 1111 1111 1112")); // the Luhn checksum fails
//! assert!(pii::is_iban("DE89 3704 0044 0532 0130 00"));
//! assert!(pii::is_ssn("123-45-6789") && !pii::is_ssn("666-45-6789"));
//! ```

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;

use crate::metadata::PiiKind;

/// The share of sampled values that must match a kind's pattern for the column to be that kind.
pub const VALUE_SHARE: f64 = 0.9;

/// The most values of a column that pattern detection reads (evenly spread over the column).
const MAX_SAMPLED: usize = 10_000;

/// The IBAN length of each country in the SWIFT IBAN registry that doppel knows.
pub const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NL", 18),
    ("NO", 15),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("SA", 24),
    ("SC", 31),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
];

/// The IBAN length of a country (two upper-case letters), if doppel knows the country.
pub fn iban_length(country: &str) -> Option<usize> {
    IBAN_LENGTHS.iter().find(|(code, _)| *code == country).map(|(_, length)| *length)
}

/// Whether the digits of `digits` (digits only) pass the Luhn checksum.
pub fn luhn_valid(digits: &str) -> bool {
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && luhn_sum(digits, false).is_multiple_of(10)
}

/// The digit that, appended to `digits` (digits only), makes the number pass the Luhn checksum.
pub fn luhn_check_digit(digits: &str) -> char {
    let sum = luhn_sum(digits, true);
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// The Luhn sum of `digits`; `doubling_last` when the last digit given is doubled (it is when
/// a check digit is still to be appended).
fn luhn_sum(digits: &str, doubling_last: bool) -> u32 {
    digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(position, byte)| {
            let digit = u32::from(byte - b'0');
            if (position % 2 == 0) == doubling_last {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum()
}

/// The card scheme whose issuer identification numbers (IIN) and lengths `digits` fits, if any.
pub fn card_scheme(digits: &str) -> Option<&'static str> {
    let length = digits.len();
    if !(12..=19).contains(&length) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let prefix = |n: usize| digits[..n].parse::<u32>().unwrap_or(0);
    let (two, three, four) = (prefix(2), prefix(3), prefix(4));
    if digits.starts_with('4') && matches!(length, 13 | 16 | 19) {
        Some("Visa")
    } else if ((51..=55).contains(&two) || (2221..=2720).contains(&four)) && length == 16 {
        Some("Mastercard")
    } else if matches!(two, 34 | 37) && length == 15 {
        Some("American Express")
    } else if ((300..=305).contains(&three) || matches!(two, 36 | 38 | 39)) && (14..=19).contains(&length) {
        Some("Diners Club")
    } else if (3528..=3589).contains(&four) && (16..=19).contains(&length) {
        Some("JCB")
    } else if (four == 6011 || (644..=649).contains(&three) || two == 65) && (16..=19).contains(&length) {
        Some("Discover")
    } else if two == 62 && (16..=19).contains(&length) {
        Some("UnionPay")
    } else if (2200..=2204).contains(&four) && length == 16 {
        Some("Mir")
    } else if (two == 50 || (56..=58).contains(&two) || matches!(four, 6304 | 6759 | 6761..=6763))
        && (13..=19).contains(&length)
    {
        Some("Maestro")
    } else {
        None
    }
}

/// The digits of a number written in groups (`4111 1111 1111 1111`, `378282-246310005`): digit
/// groups of 2 to 8 digits, separated by one kind of separator (a space or a dash), or none.
fn grouped_digits(text: &str) -> Option<String> {
    let separator = text.chars().find(|c| !c.is_ascii_digit());
    match separator {
        None => Some(text.to_string()),
        Some(separator @ (' ' | '-')) => {
            let groups: Vec<&str> = text.split(separator).collect();
            groups
                .iter()
                .all(|group| (2..=8).contains(&group.len()) && group.bytes().all(|b| b.is_ascii_digit()))
                .then(|| groups.concat())
        }
        Some(_) => None,
    }
}

/// Whether `text` is a payment card number: 13 to 19 digits, optionally in groups separated by
/// spaces or dashes, with a known scheme's IIN prefix and a valid Luhn checksum.
pub fn is_card_number(text: &str) -> bool {
    grouped_digits(text).is_some_and(|digits| {
        (13..=19).contains(&digits.len()) && card_scheme(&digits).is_some() && luhn_valid(&digits)
    })
}

/// Whether `text` has the shape of a card number without its checksum: 12 to 19 digits,
/// optionally grouped (for columns whose name says they hold card numbers).
fn has_card_shape(text: &str) -> bool {
    grouped_digits(text).is_some_and(|digits| (12..=19).contains(&digits.len()))
}

/// Whether nine digits are a social security number the SSA could have issued: area not 000,
/// 666 or 900-999, group not 00, serial not 0000.
fn ssn_digits_valid(area: &str, group: &str, serial: &str) -> bool {
    let area: u32 = area.parse().unwrap_or(0);
    area != 0 && area != 666 && area < 900 && group != "00" && serial != "0000"
}

/// Whether `text` is a US social security number written `123-45-6789` (with a valid area,
/// group and serial).
pub fn is_ssn(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 11
        && bytes[3] == b'-'
        && bytes[6] == b'-'
        && bytes.iter().enumerate().all(|(i, b)| i == 3 || i == 6 || b.is_ascii_digit())
        && ssn_digits_valid(&text[..3], &text[4..6], &text[7..])
}

/// Whether `text` is a social security number written as nine plain digits (or in 3-2-4 groups
/// separated by spaces): only meaningful when the column's name says so.
fn is_plain_ssn(text: &str) -> bool {
    let digits: String = match text.len() {
        9 => text.to_string(),
        11 if text.as_bytes()[3] == b' ' && text.as_bytes()[6] == b' ' => text.replace(' ', ""),
        _ => return false,
    };
    digits.len() == 9
        && digits.bytes().all(|b| b.is_ascii_digit())
        && ssn_digits_valid(&digits[..3], &digits[3..5], &digits[5..])
}

/// An IBAN without its spaces, upper-cased, when `text` is written as one (compact, or in groups
/// of four separated by single spaces).
fn compact_iban(text: &str) -> Option<String> {
    if text.contains(' ') {
        let groups: Vec<&str> = text.split(' ').collect();
        let (last, full) = groups.split_last()?;
        if !full.iter().all(|g| g.len() == 4) || !(1..=4).contains(&last.len()) {
            return None;
        }
    }
    let compact: String = text.chars().filter(|c| *c != ' ').collect::<String>().to_ascii_uppercase();
    let bytes = compact.as_bytes();
    (15..=34).contains(&bytes.len()).then_some(())?;
    (bytes[..2].iter().all(u8::is_ascii_uppercase)
        && bytes[2..4].iter().all(u8::is_ascii_digit)
        && bytes[4..].iter().all(u8::is_ascii_alphanumeric))
    .then_some(compact)
}

/// The remainder modulo 97 of an IBAN-style alphanumeric string read as a number (letters are
/// 10 to 35).
fn mod97(text: &str) -> u32 {
    text.chars().fold(0u32, |remainder, c| match c.to_digit(36) {
        Some(value) if value >= 10 => (remainder * 100 + value) % 97,
        Some(value) => (remainder * 10 + value) % 97,
        None => remainder,
    })
}

/// The two check digits of the IBAN of `country` (two upper-case letters) and `bban`
/// (upper-case letters and digits).
pub fn iban_check_digits(country: &str, bban: &str) -> String {
    let remainder = mod97(&format!("{bban}{country}00"));
    format!("{:02}", 98 - remainder)
}

/// Whether `text` is an IBAN: a known country code, two check digits and the country's length
/// of letters and digits, compact or in groups of four, with a valid mod-97 checksum.
pub fn is_iban(text: &str) -> bool {
    let Some(compact) = compact_iban(text) else { return false };
    iban_length(&compact[..2]) == Some(compact.len())
        && mod97(&format!("{}{}", &compact[4..], &compact[..4])) == 1
        && compact[2..4] != *"00"
        && compact[2..4] != *"01"
        && compact[2..4] != *"99"
}

/// Whether `text` is an IPv4 (dotted quad, each part 0 to 255) or IPv6 address.
pub fn is_ip_address(text: &str) -> bool {
    is_ipv4(text) || (text.contains(':') && text.parse::<Ipv6Addr>().is_ok())
}

fn is_ipv4(text: &str) -> bool {
    text.split('.').count() == 4
        && text.split('.').all(|part| !part.is_empty() && part.len() <= 3 && part.bytes().all(|b| b.is_ascii_digit()))
        && text.parse::<Ipv4Addr>().is_ok()
}

/// Street suffixes a street address ends with (before any unit, city, state and ZIP code).
pub const STREET_SUFFIXES: &[&str] = &[
    "St",
    "Street",
    "Ave",
    "Av",
    "Avenue",
    "Rd",
    "Road",
    "Blvd",
    "Boulevard",
    "Ln",
    "Lane",
    "Dr",
    "Drive",
    "Way",
    "Ct",
    "Court",
    "Pl",
    "Place",
    "Ter",
    "Terrace",
    "Cir",
    "Circle",
    "Pkwy",
    "Parkway",
    "Hwy",
    "Highway",
    "Sq",
    "Square",
    "Trl",
    "Trail",
];

/// Words of sentences that street names do not have.
const SENTENCE_WORDS: &[&str] = &[
    "the", "a", "an", "and", "or", "to", "of", "in", "on", "at", "by", "for", "with", "from", "into", "over", "down",
    "up", "past", "is", "was", "went", "we", "i", "you", "he", "she", "they", "it", "my", "our", "your", "their",
];

static STREET_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    let suffixes = STREET_SUFFIXES.join("|");
    let pattern = format!(
        r"^\d{{1,6}}[A-Za-z]?(?:-\d{{1,4}})?\s+(?:[A-Z0-9][A-Za-z0-9'.\-]*\s+){{1,4}}(?i:{suffixes})\.?(?:\s+(?i:N|S|E|W|NE|NW|SE|SW)\.?)?(?:,?\s+(?i:apt|apartment|suite|ste|unit|\#)\.?\s*[A-Za-z0-9\-]+)?(?:,\s*[A-Z][A-Za-z.'\-]*(?:\s[A-Za-z][A-Za-z.'\-]*){{0,3}}(?:,\s*[A-Z]{{2}}(?:\s+\d{{5}}(?:-\d{{4}})?)?)?)?$"
    );
    Regex::new(&pattern).expect("invariant: the street address pattern compiles")
});

/// Whether `text` is a street address: a house number, one to four words of street name and a
/// street suffix (`St`, `Avenue`, ...), optionally a unit and `, City, ST 12345`. Street-name
/// words start with a capital letter or a digit, unless the whole text is in one case.
pub fn is_street_address(text: &str) -> bool {
    if text.len() > 200 {
        return false;
    }
    // Sentences (`3 of us went down the road`) have words that street names do not.
    let street = text.split(',').next().unwrap_or_default();
    if street.split_whitespace().any(|word| SENTENCE_WORDS.iter().any(|w| word.eq_ignore_ascii_case(w))) {
        return false;
    }
    if text.chars().any(char::is_uppercase) {
        STREET_ADDRESS.is_match(text)
    } else {
        STREET_ADDRESS.is_match(&text.to_uppercase())
    }
}

/// The words of a column name, lower-cased: split at anything that is not a letter or a digit
/// and where `camelCase` changes case (`IPAddress` gives `ip`, `address`).
fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let previous = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1);
        let boundary = c.is_uppercase()
            && previous
                .is_some_and(|p| p.is_lowercase() || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase())));
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Phrases that, ending a column's name, say which personal data it holds (`billing_address`,
/// `customerDOB`, `address_line_1`). Names and emails are matched more loosely, in
/// [`name_hint`].
const NAME_PHRASES: &[(PiiKind, &[&str])] = &[
    (PiiKind::DateOfBirth, &["dob"]),
    (PiiKind::DateOfBirth, &["date", "of", "birth"]),
    (PiiKind::DateOfBirth, &["birth", "date"]),
    (PiiKind::DateOfBirth, &["date", "birth"]),
    (PiiKind::DateOfBirth, &["birthdate"]),
    (PiiKind::DateOfBirth, &["birthday"]),
    (PiiKind::DateOfBirth, &["birth", "day"]),
    (PiiKind::Ssn, &["ssn"]),
    (PiiKind::Ssn, &["ssn", "number"]),
    (PiiKind::Ssn, &["social", "security"]),
    (PiiKind::Ssn, &["social", "security", "number"]),
    (PiiKind::Ssn, &["social", "security", "no"]),
    (PiiKind::Ssn, &["socialsecuritynumber"]),
    (PiiKind::CreditCard, &["credit", "card"]),
    (PiiKind::CreditCard, &["creditcard"]),
    (PiiKind::CreditCard, &["card", "number"]),
    (PiiKind::CreditCard, &["card", "no"]),
    (PiiKind::CreditCard, &["card", "num"]),
    (PiiKind::CreditCard, &["cardnumber"]),
    (PiiKind::CreditCard, &["cc", "number"]),
    (PiiKind::CreditCard, &["cc", "num"]),
    (PiiKind::CreditCard, &["cc", "no"]),
    (PiiKind::CreditCard, &["ccnumber"]),
    (PiiKind::Iban, &["iban"]),
    (PiiKind::Iban, &["iban", "number"]),
    (PiiKind::Iban, &["iban", "code"]),
    (PiiKind::IpAddress, &["ip"]),
    (PiiKind::IpAddress, &["ip", "address"]),
    (PiiKind::IpAddress, &["ip", "addr"]),
    (PiiKind::IpAddress, &["ipaddress"]),
    (PiiKind::IpAddress, &["ipaddr"]),
    (PiiKind::IpAddress, &["ipv4"]),
    (PiiKind::IpAddress, &["ipv6"]),
    (PiiKind::IpAddress, &["ipv4", "address"]),
    (PiiKind::IpAddress, &["ipv6", "address"]),
    (PiiKind::PostalAddress, &["address"]),
    (PiiKind::PostalAddress, &["addr"]),
    (PiiKind::PostalAddress, &["street"]),
    (PiiKind::PostalAddress, &["street", "address"]),
    (PiiKind::PostalAddress, &["streetaddress"]),
    (PiiKind::PostalAddress, &["address", "line"]),
    (PiiKind::PostalAddress, &["addressline"]),
];

/// Words before `address` that make it something other than a postal address.
const NOT_POSTAL: &[&str] =
    &["email", "mail", "ip", "mac", "web", "url", "wallet", "contract", "memory", "bitcoin", "btc", "eth", "host"];

/// Words that, ending a name, do not change what it holds (`address_2`, `iban_line`).
fn is_trailing_filler(word: &str) -> bool {
    word.bytes().all(|b| b.is_ascii_digit()) || word == "line"
}

/// The kind of personal data a column's name says it holds, if any.
pub fn name_hint(name: &str) -> Option<PiiKind> {
    let lower = name.to_ascii_lowercase().replace(['.', '-', ' '], "_");
    if lower.contains("email") || lower.contains("e_mail") {
        return Some(PiiKind::Email);
    }
    if lower.contains("phone") || lower.contains("mobile") || lower.contains("telephone") {
        return Some(PiiKind::Phone);
    }
    if let Some(kind) = phrase_hint(name) {
        return Some(kind);
    }
    if lower.contains("first_name") || lower.contains("firstname") || lower.contains("given_name") {
        return Some(PiiKind::FirstName);
    }
    if lower.contains("last_name")
        || lower.contains("lastname")
        || lower.contains("surname")
        || lower.contains("family_name")
    {
        return Some(PiiKind::LastName);
    }
    if lower == "name"
        || lower.contains("full_name")
        || lower.contains("person_name")
        || lower.contains("customer_name")
    {
        return Some(PiiKind::PersonName);
    }
    None
}

/// The kind whose phrase ends the name (trailing digits and `line` aside).
fn phrase_hint(name: &str) -> Option<PiiKind> {
    let mut words = name_words(name);
    while words.last().is_some_and(|w| is_trailing_filler(w)) && words.len() > 1 {
        words.pop();
    }
    // `address1`, `street2`: a number glued to the last word.
    let mut variants = vec![words.clone()];
    if let Some(last) = words.last() {
        let stripped = last.trim_end_matches(|c: char| c.is_ascii_digit());
        if !stripped.is_empty() && stripped.len() < last.len() {
            let mut variant = words.clone();
            *variant.last_mut().expect("invariant: not empty") = stripped.to_string();
            variants.push(variant);
        }
    }
    let mut best: Option<(usize, PiiKind)> = None;
    for words in &variants {
        for (kind, phrase) in NAME_PHRASES {
            if words.len() >= phrase.len()
                && words[words.len() - phrase.len()..].iter().zip(*phrase).all(|(w, p)| w == p)
            {
                let before = words.len().checked_sub(phrase.len() + 1).map(|i| words[i].as_str());
                if *kind == PiiKind::PostalAddress && before.is_some_and(|b| NOT_POSTAL.contains(&b)) {
                    continue;
                }
                // The longest phrase wins: `ip_address` is an IP address, not a postal one.
                if best.is_none_or(|(length, _)| phrase.len() > length) {
                    best = Some((phrase.len(), *kind));
                }
            }
        }
    }
    best.map(|(_, kind)| kind)
}

/// Whether the name reads as a software version (`version`, `app_ver`, `build`), whose values
/// (`1.2.0.4`) can look like IPv4 addresses.
fn names_a_version(name: &str) -> bool {
    name_words(name).iter().any(|w| matches!(w.as_str(), "version" | "ver" | "release" | "build" | "firmware" | "os"))
}

/// At most [`MAX_SAMPLED`] values, evenly spread over `texts`.
fn sampled<'a>(texts: &'a [Cow<'a, str>]) -> Vec<&'a str> {
    let step = texts.len().div_ceil(MAX_SAMPLED).max(1);
    texts.iter().step_by(step).map(|t| t.as_ref()).collect()
}

/// The share of `values` that `predicate` holds for.
fn share(values: &[&str], predicate: impl Fn(&str) -> bool) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().filter(|v| predicate(v)).count() as f64 / values.len() as f64
}

/// `the values are ...`, or `97.5% of the values are ...` when not all of them are.
fn values_reason(share: f64, what: &str) -> String {
    if share >= 1.0 {
        format!("the values are {what}")
    } else {
        format!("{:.1}% of the values are {what}", share * 100.0)
    }
}

/// The kind of personal data that a column's values show, with the reason, when at least
/// [`VALUE_SHARE`] of the (sampled) non-missing values match its pattern. Tried in order of how
/// specific the patterns are: emails, IBANs, card numbers, social security numbers, IP
/// addresses, street addresses. The name helps only where the values alone are ambiguous: nine
/// plain digits are a social security number, and 12 to 19 digits a card number, only when the
/// name says so; dotted quads are not IP addresses when the name reads as a version.
///
/// Phone numbers are not tried here: their looser pattern would take negative amounts for
/// phones, so they are matched after numbers and dates.
pub fn kind_from_values(name: &str, texts: &[Cow<'_, str>]) -> Option<(PiiKind, String)> {
    let values = sampled(texts);
    if values.is_empty() {
        return None;
    }
    let hint = name_hint(name);
    let checks: [(PiiKind, f64, String); 5] = [
        (PiiKind::Email, share(&values, is_email), "email addresses".into()),
        (PiiKind::Iban, share(&values, is_iban), "IBANs with valid mod-97 check digits".into()),
        (PiiKind::CreditCard, share(&values, is_card_number), "card numbers with valid Luhn checksums".into()),
        (
            PiiKind::Ssn,
            share(&values, is_ssn),
            "US social security numbers (`###-##-####` with an issuable area, group and serial)".into(),
        ),
        (PiiKind::IpAddress, if names_a_version(name) { 0.0 } else { share(&values, is_ip_address) }, ip_what(&values)),
    ];
    for (kind, matched, what) in checks {
        if matched >= VALUE_SHARE {
            return Some((kind, values_reason(matched, &what)));
        }
    }
    let matched = share(&values, is_street_address);
    if matched >= VALUE_SHARE {
        return Some((
            PiiKind::PostalAddress,
            values_reason(matched, "street addresses (a house number, a street name and a street suffix)"),
        ));
    }
    // Shapes that are personal data only when the name says so.
    let shaped = match hint {
        Some(PiiKind::Ssn) => Some(share(&values, |v| is_ssn(v) || is_plain_ssn(v))),
        Some(PiiKind::CreditCard) => Some(share(&values, has_card_shape)),
        Some(PiiKind::Iban) => Some(share(&values, |v| compact_iban(v).is_some())),
        Some(PiiKind::IpAddress) => Some(share(&values, is_ip_address)),
        _ => None,
    };
    if let (Some(kind), Some(matched)) = (hint, shaped)
        && matched >= VALUE_SHARE
    {
        let label = crate::metadata::pii_label(kind);
        let what = match kind {
            PiiKind::Ssn => "nine-digit social security numbers".to_string(),
            PiiKind::CreditCard => "12 to 19 digits long".to_string(),
            PiiKind::Iban => "shaped like IBANs".to_string(),
            _ => "IP addresses".to_string(),
        };
        return Some((kind, format!("the name reads as {label} and {}", values_reason(matched, &what))));
    }
    None
}

fn ip_what(values: &[&str]) -> String {
    let ipv4 = values.iter().filter(|v| is_ipv4(v)).count();
    if ipv4 == values.len() {
        "IPv4 addresses".into()
    } else if ipv4 == 0 {
        "IPv6 addresses".into()
    } else {
        "IP addresses (IPv4 and IPv6)".into()
    }
}

/// The kind of personal data that an integer column shows: card numbers (13 to 19 digits, IIN
/// prefix, Luhn), or social security numbers when the name says so (leading zeros are lost in
/// integers, so values are read as nine digits).
pub fn kind_from_integers(name: &str, values: &[i64]) -> Option<(PiiKind, String)> {
    if values.is_empty() {
        return None;
    }
    let hint = name_hint(name);
    let texts: Vec<Cow<'_, str>> = values
        .iter()
        .map(|v| match hint {
            Some(PiiKind::Ssn) if (0..1_000_000_000).contains(v) => Cow::Owned(format!("{v:09}")),
            _ => Cow::Owned(v.to_string()),
        })
        .collect();
    kind_from_values(name, &texts).filter(|(kind, _)| matches!(kind, PiiKind::CreditCard | PiiKind::Ssn))
}

/// Whether `text` looks like an email address.
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_check_digits() {
        assert!(luhn_valid("4111111111111111") && luhn_valid("378282246310005") && luhn_valid("79927398713"));
        assert!(!luhn_valid("4111111111111112") && !luhn_valid("") && !luhn_valid("4111 1111"));
        for partial in ["411111111111111", "37828224631000", "7992739871", "0"] {
            let full = format!("{partial}{}", luhn_check_digit(partial));
            assert!(luhn_valid(&full), "{full}");
        }
    }

    #[test]
    fn card_numbers() {
        for card in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "5555555555554444",
            "2223003122003222",
            "378282246310005",
            "3782 822463 10005",
            "6011111111111117",
            "3530111333300000",
            "30569309025904",
            "4222222222222",
        ] {
            assert!(is_card_number(card), "{card}");
        }
        for not_card in [
            "4111111111111112",        // checksum
            "1234567812345670",        // Luhn-valid, but no scheme starts with 1
            "79927398713",             // Luhn-valid, too short
            "4111 1111-1111 1111",     // mixed separators
            "4111  1111 1111 1111",    // double space
            "41111111111111111111111", // too long
            "356938035643809",         // a Luhn-valid IMEI (15 digits, 35): no scheme has that length
            "12.5",
            "",
        ] {
            assert!(!is_card_number(not_card), "{not_card}");
        }
    }

    #[test]
    fn social_security_numbers() {
        assert!(is_ssn("123-45-6789") && is_ssn("078-05-1121"));
        for bad in ["000-12-3456", "666-12-3456", "900-12-3456", "999-99-9999", "123-00-4567", "123-45-0000"] {
            assert!(!is_ssn(bad), "{bad}");
        }
        assert!(!is_ssn("123456789") && is_plain_ssn("123456789") && is_plain_ssn("123 45 6789"));
        assert!(!is_ssn("12345-6789") && !is_ssn("555-123-4567") && !is_ssn("2020-01-01"));
    }

    #[test]
    fn ibans() {
        for iban in [
            "DE89370400440532013000",
            "DE89 3704 0044 0532 0130 00",
            "GB29NWBK60161331926819",
            "GB29 NWBK 6016 1331 9268 19",
            "FR1420041010050500013M02606",
            "NL91ABNA0417164300",
            "BE68539007547034",
            "de89370400440532013000",
        ] {
            assert!(is_iban(iban), "{iban}");
        }
        for bad in [
            "DE89370400440532013001",      // checksum
            "DE8937040044053201300",       // length for DE
            "XX89370400440532013000",      // unknown country
            "DE89 37040044 0532 0130 00",  // grouping
            "DE89-3704-0044-0532-0130-00", // separators
            "ORD-2023-000123",
        ] {
            assert!(!is_iban(bad), "{bad}");
        }
        assert_eq!(iban_check_digits("DE", "370400440532013000"), "89");
        assert_eq!(iban_check_digits("GB", "NWBK60161331926819"), "29");
    }

    #[test]
    fn ip_addresses() {
        for ip in ["192.168.1.1", "10.0.0.7", "255.255.255.255", "::1", "2001:db8::8a2e:370:7334", "fe80::1%eth0"] {
            assert_eq!(is_ip_address(ip), !ip.contains('%'), "{ip}");
        }
        for not_ip in ["256.1.1.1", "1.2.3", "1.2.3.4.5", "12:30", "00:1a:2b:3c:4d:5e", "1.5", "2020-01-01", "+1.2.3.4"]
        {
            assert!(!is_ip_address(not_ip), "{not_ip}");
        }
    }

    #[test]
    fn street_addresses() {
        for address in [
            "123 Main St",
            "4500 Oak Avenue",
            "12 N Elm St.",
            "77 Martin Luther King Jr Blvd",
            "9 Sunset Blvd, Los Angeles, CA 90028",
            "1600 Pennsylvania Ave NW, Washington, DC 20500",
            "221B Baker Street",
            "350 Fifth Avenue, Apt 4B",
            "31 Spooner Street, Quahog, RI 00093-1234",
            "742 evergreen terrace",
            "10 DOWNING ST",
            "1 Infinite Loop Way",
        ] {
            assert!(is_street_address(address), "{address}");
        }
        for not_address in [
            "Main St",
            "123",
            "the 3 of us went down the road",
            "3 people went down the road",
            "5 blocks past the mill road",
            "3 large eggs",
            "Order 12 shipped by road",
            "2020-01-01",
            "visit number 12 went well",
        ] {
            assert!(!is_street_address(not_address), "{not_address}");
        }
    }

    #[test]
    fn name_hints() {
        let cases = [
            ("dob", Some(PiiKind::DateOfBirth)),
            ("customerDOB", Some(PiiKind::DateOfBirth)),
            ("date_of_birth", Some(PiiKind::DateOfBirth)),
            ("BirthDate", Some(PiiKind::DateOfBirth)),
            ("birthday", Some(PiiKind::DateOfBirth)),
            ("birthday_month", None),
            ("ssn", Some(PiiKind::Ssn)),
            ("Social Security Number", Some(PiiKind::Ssn)),
            ("ssn_verified", None),
            ("credit_card_number", Some(PiiKind::CreditCard)),
            ("cc_number", Some(PiiKind::CreditCard)),
            ("CardNumber", Some(PiiKind::CreditCard)),
            ("pan_day", None),
            ("iban", Some(PiiKind::Iban)),
            ("iban_country", None),
            ("ip", Some(PiiKind::IpAddress)),
            ("client_ip", Some(PiiKind::IpAddress)),
            ("IPAddress", Some(PiiKind::IpAddress)),
            ("ip_address", Some(PiiKind::IpAddress)),
            ("zip", None),
            ("description", None),
            ("multiple_lines", None),
            ("address", Some(PiiKind::PostalAddress)),
            ("billing_address", Some(PiiKind::PostalAddress)),
            ("address_line_1", Some(PiiKind::PostalAddress)),
            ("address2", Some(PiiKind::PostalAddress)),
            ("street", Some(PiiKind::PostalAddress)),
            ("mac_address", None),
            ("address_id", None),
            ("email_address", Some(PiiKind::Email)),
            ("fake_first_name", Some(PiiKind::FirstName)),
            ("fake_last_name", Some(PiiKind::LastName)),
            ("name", Some(PiiKind::PersonName)),
            ("street_name", None),
        ];
        for (name, expected) in cases {
            assert_eq!(name_hint(name), expected, "{name}");
        }
        assert_eq!(name_words("IPAddress"), ["ip", "address"]);
        assert_eq!(name_words("customer.DOB 2"), ["customer", "dob", "2"]);
    }
}
