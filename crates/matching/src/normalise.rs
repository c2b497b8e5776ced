//! Folding a name typed in any script to lowercase ASCII tokens.
//!
//! The fold is the first, exact layer of matching: two spellings that fold to
//! the same token are treated as the same spelling. Everything looser (the
//! consonant skeleton, the equivalence groups) is built on top of the fold.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Folds one name (any script) to lowercase ASCII tokens.
///
/// Steps: NFKD, strip combining marks, transliterate (any_ascii), lowercase,
/// split on anything non-alphanumeric; empty tokens are dropped. Two
/// deliberate refinements:
///
/// * apostrophes and similar marks are *deleted* rather than split on, so
///   `Ol'ga` (from Cyrillic `Ольга`), `O'Brien` and Ge'ez ejectives
///   (`ts'egay`) stay one token;
/// * Cyrillic letters keep their marks (`й` is a letter of its own, not an
///   accented `и`) and a few Arabic letters that any_ascii drops or renders as
///   punctuation (alef, ayn) are given a vowel, because Latin spellings of
///   those names start with one (`علي` → `aaly`, `أحمد` → `ahmd`).
///
/// Folding is idempotent: every output token folds to itself.
pub fn fold_tokens(name: &str) -> Vec<String> {
    fold_to_ascii(name)
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Transliterates the whole name to lowercase ASCII, keeping separators.
///
/// NFC first so that decomposed input (`и` + combining breve) is recognised as
/// the letter it spells before the per-letter rules run.
fn fold_to_ascii(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.nfc() {
        fold_char(c, &mut out);
    }
    out
}

/// Appends the folded form of one (NFC) character.
fn fold_char(c: char, out: &mut String) {
    if let Some(vowel) = arabic_vowel_letter(c) {
        out.push_str(vowel);
    } else if is_cyrillic(c) {
        push_transliterated(c, out);
    } else {
        decompose_compatible(c, |part| {
            if !is_combining_mark(part) {
                push_transliterated(part, out);
            }
        });
    }
}

/// Transliterates one character with any_ascii, lowercased, without
/// apostrophe-like marks.
fn push_transliterated(c: char, out: &mut String) {
    for ascii in any_ascii::any_ascii_char(c).chars() {
        if !is_elided(ascii) {
            out.push(ascii.to_ascii_lowercase());
        }
    }
}

/// Marks that sit *inside* a name rather than between names: apostrophes
/// (`O'Brien`), Cyrillic soft/hard signs and Arabic hamza (any_ascii renders
/// them as `'`), ayn written as `` ` `` or `ʿ`, Ge'ez ejectives.
fn is_elided(c: char) -> bool {
    matches!(c, '\'' | '`' | '"')
}

/// Cyrillic letters are transliterated whole: stripping the breve from `й`
/// would turn `Сергій` into `sergii` instead of any_ascii's `sergiy`.
fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{052F}')
}

/// Arabic-script letters that any_ascii drops or renders as punctuation but
/// that Latin spellings write as a vowel.
///
/// Alef carries the initial vowel of `أحمد` (Ahmad) and `إبراهيم` (Ibrahim) and
/// the long ā elsewhere. Initial ayn is written as a vowel in Latin (`علي` Ali,
/// `عبدالله` Abdullah, `عائشة` Aisha); the unwritten short vowel after it is
/// most often `a`. Ayn folds to `aa` rather than `a`: the skeleton reads both
/// alike, but the fold of an Arabic-script name then never equals a different
/// Latin name's fold, so `عمر` (Umar, folded `aamr`) in the equivalence table
/// does not capture the Latin name `Amr`.
fn arabic_vowel_letter(c: char) -> Option<&'static str> {
    match c {
        // alef, alef with hamza above, alef with madda, alef wasla
        '\u{0627}' | '\u{0623}' | '\u{0622}' | '\u{0671}' => Some("a"),
        // alef with hamza below: the vowel is i (إبراهيم Ibrahim, إسماعيل Ismail)
        '\u{0625}' => Some("i"),
        // ayn
        '\u{0639}' => Some("aa"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(name: &str) -> Vec<String> {
        fold_tokens(name)
    }

    #[test]
    fn latin_diacritics_and_case_are_removed() {
        assert_eq!(fold("José"), ["jose"]);
        assert_eq!(fold("JOSE"), ["jose"]);
        assert_eq!(fold("Müller"), ["muller"]);
        // decomposed input (e + combining acute) folds like precomposed
        assert_eq!(fold("Jose\u{301}"), ["jose"]);
    }

    #[test]
    fn names_split_on_spaces_hyphens_and_punctuation() {
        assert_eq!(
            fold("Abdul-Rahman  al.Hassan"),
            ["abdul", "rahman", "al", "hassan"]
        );
        assert_eq!(fold("Mohammed, Abdullahi"), ["mohammed", "abdullahi"]);
    }

    #[test]
    fn apostrophes_join_rather_than_split() {
        assert_eq!(fold("O'Brien"), ["obrien"]);
        assert_eq!(fold("Ольга"), ["olga"]);
        assert_eq!(fold("ʿAli"), ["ali"]);
    }

    #[test]
    fn empty_and_punctuation_only_input_has_no_tokens() {
        assert!(fold("").is_empty());
        assert!(fold(" - , ' . ").is_empty());
    }

    #[test]
    fn cyrillic_short_i_is_kept_as_y() {
        assert_eq!(fold("Сергій"), ["sergiy"]);
        assert_eq!(fold("Сергей"), ["sergey"]);
        // decomposed й (и + combining breve) is recomposed first
        assert_eq!(fold("Сергі\u{438}\u{306}"), ["sergiy"]);
    }

    #[test]
    fn cyrillic_stress_marks_are_stripped() {
        assert_eq!(fold("Серге\u{301}й"), ["sergey"]);
    }

    #[test]
    fn arabic_script_keeps_consonants_and_initial_vowel() {
        assert_eq!(fold("محمد"), ["mhmd"]);
        assert_eq!(fold("أحمد"), ["ahmd"]);
        assert_eq!(fold("علي"), ["aaly"]);
        assert_eq!(fold("إبراهيم"), ["ibrahym"]);
    }

    #[test]
    fn arabic_vowel_marks_are_stripped() {
        // مُحَمَّد with damma, fatha, shadda
        assert_eq!(fold("مُحَمَّد"), ["mhmd"]);
    }

    #[test]
    fn geez_script_is_transliterated_with_vowels() {
        assert_eq!(fold("ተስፋይ"), ["tesfay"]);
        assert_eq!(fold("ጸጋይ"), ["tsegay"]);
    }

    #[test]
    fn folding_is_idempotent() {
        for name in [
            "Олександр",
            "محمد",
            "José Müller",
            "ተስፋዬ",
            "O'Brien",
            "حسین",
        ] {
            for token in fold(name) {
                assert_eq!(fold(&token), std::slice::from_ref(&token), "{name}");
            }
        }
    }

    #[test]
    fn folded_tokens_are_lowercase_ascii_alphanumeric() {
        for name in ["Øyvind", "Straße", "ǅemal", "Ḥusayn", "ﬁona", "ＡＢＣ"] {
            for token in fold(name) {
                assert!(
                    token
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                    "{token}"
                );
            }
        }
    }
}
