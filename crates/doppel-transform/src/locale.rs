//! Locales of fake personal data: the name lists and name order of the `fake` crate's locales.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use fake::locales::Data;
use serde::{Deserialize, Serialize};

use doppel_core::{Error, Result};

/// The locale of fake names (and of the emails made from them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Locale {
    /// English (`en`).
    #[default]
    #[serde(rename = "en")]
    English,
    /// German, Germany (`de_DE`).
    #[serde(rename = "de_DE")]
    GermanGermany,
    /// French, France (`fr_FR`).
    #[serde(rename = "fr_FR")]
    FrenchFrance,
    /// Italian, Italy (`it_IT`).
    #[serde(rename = "it_IT")]
    ItalianItaly,
    /// Dutch, Netherlands (`nl_NL`).
    #[serde(rename = "nl_NL")]
    DutchNetherlands,
    /// Portuguese, Brazil (`pt_BR`).
    #[serde(rename = "pt_BR")]
    PortugueseBrazil,
    /// Portuguese, Portugal (`pt_PT`).
    #[serde(rename = "pt_PT")]
    PortuguesePortugal,
    /// Turkish, Turkey (`tr_TR`).
    #[serde(rename = "tr_TR")]
    TurkishTurkey,
    /// Welsh, United Kingdom (`cy_GB`).
    #[serde(rename = "cy_GB")]
    WelshUnitedKingdom,
    /// Japanese, Japan (`ja_JP`).
    #[serde(rename = "ja_JP")]
    JapaneseJapan,
    /// Chinese, China (`zh_CN`).
    #[serde(rename = "zh_CN")]
    ChineseChina,
    /// Chinese, Taiwan (`zh_TW`).
    #[serde(rename = "zh_TW")]
    ChineseTaiwan,
    /// Arabic, Saudi Arabia (`ar_SA`).
    #[serde(rename = "ar_SA")]
    ArabicSaudiArabia,
    /// Persian, Iran (`fa_IR`).
    #[serde(rename = "fa_IR")]
    PersianIran,
}

/// A constant of the `fake` crate's data for `locale`.
macro_rules! data {
    ($locale:expr, $name:ident) => {
        match $locale {
            Locale::English => <fake::locales::EN as Data>::$name,
            Locale::GermanGermany => <fake::locales::DE_DE as Data>::$name,
            Locale::FrenchFrance => <fake::locales::FR_FR as Data>::$name,
            Locale::ItalianItaly => <fake::locales::IT_IT as Data>::$name,
            Locale::DutchNetherlands => <fake::locales::NL_NL as Data>::$name,
            Locale::PortugueseBrazil => <fake::locales::PT_BR as Data>::$name,
            Locale::PortuguesePortugal => <fake::locales::PT_PT as Data>::$name,
            Locale::TurkishTurkey => <fake::locales::TR_TR as Data>::$name,
            Locale::WelshUnitedKingdom => <fake::locales::CY_GB as Data>::$name,
            Locale::JapaneseJapan => <fake::locales::JA_JP as Data>::$name,
            Locale::ChineseChina => <fake::locales::ZH_CN as Data>::$name,
            Locale::ChineseTaiwan => <fake::locales::ZH_TW as Data>::$name,
            Locale::ArabicSaudiArabia => <fake::locales::AR_SA as Data>::$name,
            Locale::PersianIran => <fake::locales::FA_IR as Data>::$name,
        }
    };
}

impl Locale {
    /// Every locale, in the order `--help` lists them.
    pub const ALL: [Locale; 14] = [
        Locale::English,
        Locale::GermanGermany,
        Locale::FrenchFrance,
        Locale::ItalianItaly,
        Locale::DutchNetherlands,
        Locale::PortugueseBrazil,
        Locale::PortuguesePortugal,
        Locale::TurkishTurkey,
        Locale::WelshUnitedKingdom,
        Locale::JapaneseJapan,
        Locale::ChineseChina,
        Locale::ChineseTaiwan,
        Locale::ArabicSaudiArabia,
        Locale::PersianIran,
    ];

    /// The code users write (`en`, `de_DE`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Locale::English => "en",
            Locale::GermanGermany => "de_DE",
            Locale::FrenchFrance => "fr_FR",
            Locale::ItalianItaly => "it_IT",
            Locale::DutchNetherlands => "nl_NL",
            Locale::PortugueseBrazil => "pt_BR",
            Locale::PortuguesePortugal => "pt_PT",
            Locale::TurkishTurkey => "tr_TR",
            Locale::WelshUnitedKingdom => "cy_GB",
            Locale::JapaneseJapan => "ja_JP",
            Locale::ChineseChina => "zh_CN",
            Locale::ChineseTaiwan => "zh_TW",
            Locale::ArabicSaudiArabia => "ar_SA",
            Locale::PersianIran => "fa_IR",
        }
    }

    /// Reads a code, in any case and with `_` or `-` (`de_DE`, `de-de`); `en_US` and `en_GB`
    /// are English.
    pub fn parse(text: &str) -> Result<Locale> {
        let wanted = text.trim().replace('-', "_").to_lowercase();
        if matches!(wanted.as_str(), "en_us" | "en_gb") {
            return Ok(Locale::English);
        }
        Locale::ALL.into_iter().find(|l| l.code().to_lowercase() == wanted).ok_or_else(|| {
            let codes: Vec<&str> = Locale::ALL.iter().map(|l| l.code()).collect();
            Error::InvalidConfig(format!("locale `{text}`: expected one of {}", codes.join(", ")))
        })
    }

    /// Whether this is the default locale (which model files leave out).
    pub fn is_english(&self) -> bool {
        *self == Locale::English
    }

    /// Given names.
    pub fn first_names(self) -> &'static [&'static str] {
        data!(self, NAME_FIRST_NAME)
    }

    /// Family names.
    pub fn last_names(self) -> &'static [&'static str] {
        data!(self, NAME_LAST_NAME)
    }

    /// A full name in the locale's order (`Mary Smith`; `山田 太郎`).
    pub fn full_name(self, first: &str, last: &str) -> String {
        data!(self, NAME_TPL).replace("{FirstName}", first).replace("{LastName}", last)
    }
}

/// Whether `word` is a given name of any locale's list (exact case: `Maria`).
pub fn is_given_name(word: &str) -> bool {
    static NAMES: OnceLock<HashSet<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| Locale::ALL.iter().flat_map(|l| l.first_names().iter().copied()).collect()).contains(word)
}

/// Whether `word` is a family name of any locale's list (exact case: `Schmidt`).
pub fn is_family_name(word: &str) -> bool {
    static NAMES: OnceLock<HashSet<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| Locale::ALL.iter().flat_map(|l| l.last_names().iter().copied()).collect()).contains(word)
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_named() {
        for locale in Locale::ALL {
            assert_eq!(Locale::parse(locale.code()).expect("parses"), locale);
            assert_eq!(Locale::parse(&locale.code().to_uppercase().replace('_', "-")).expect("parses"), locale);
            let json = serde_json::to_string(&locale).expect("serialises");
            assert_eq!(json, format!("\"{}\"", locale.code()));
            assert!(!locale.first_names().is_empty() && !locale.last_names().is_empty(), "{locale}");
        }
        let error = Locale::parse("xx_YY").expect_err("unknown").to_string();
        assert!(error.contains("locale `xx_YY`") && error.contains("de_DE"), "{error}");
    }

    #[test]
    fn names_follow_the_locale_order() {
        assert_eq!(Locale::English.full_name("Mary", "Smith"), "Mary Smith");
        assert_eq!(Locale::JapaneseJapan.full_name("太郎", "山田"), "山田 太郎");
    }
}
