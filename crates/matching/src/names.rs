//! Prepared name tokens and the token-to-token comparison that scoring uses.
//!
//! A token is prepared once (fold, skeletons, equivalence group, phonetic
//! code, script) and then compared level by level, from identical down to
//! "different name"; the first level that holds is the answer.

use crate::equivalents::{group_of, nickname_groups};
use crate::normalise::fold_tokens;
use crate::skeleton::skeletons;

/// Tokens shorter than this get no deletion-neighbourhood keys: a one-letter
/// edit of a three-letter name is usually another name.
pub(crate) const MIN_DELETION_LEN: usize = 4;

/// The script a token was written in, coarsely: Latin or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Script {
    Latin,
    Arabic,
    Cyrillic,
    Ethiopic,
    Other,
}

/// One folded name token with everything comparisons and keys need.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tok {
    pub(crate) fold: String,
    pub(crate) skeletons: Vec<String>,
    pub(crate) group: Option<&'static str>,
    pub(crate) phonetic: String,
    pub(crate) script: Script,
    /// The fold with vowel length and doubled letters collapsed (`Nour`,
    /// `Noor`, `Nuur`, `Nur` → `nur`; `Youssouf`, `Yūsuf` → `yusuf`).
    pub(crate) short: String,
}

impl Tok {
    pub(crate) fn new(fold: String, script: Script) -> Self {
        Self {
            skeletons: skeletons(&fold),
            group: group_of(&fold),
            phonetic: phonetic(&fold),
            short: vowel_length_fold(&fold),
            fold,
            script,
        }
    }
}

/// Collapses what romanisation schemes disagree about in vowel length and
/// gemination: `ou`/`oo`/`uu` → `u`, `ee`/`ii` → `i`, `aa` → `a`, doubled
/// consonants single, French `dj` → `j`.
pub(crate) fn vowel_length_fold(fold: &str) -> String {
    let replaced = fold
        .replace("ou", "u")
        .replace("oo", "u")
        .replace("uu", "u")
        .replace("ee", "i")
        .replace("ii", "i")
        .replace("aa", "a")
        .replace("dj", "j");
    let mut out = String::with_capacity(replaced.len());
    for c in replaced.chars() {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

/// First parts of the Arabic `Abd` compounds (`'Abd al-'Aziz`, `Abdel
/// Rahman`, `عبد الله`), which schemes write as one word or several.
const ABD_PREFIXES: &[&str] = &[
    "abd", "abdul", "abdel", "abdal", "abdol", "abdur", "abdoul", "aabd", "aabdal", "aabdul",
];
/// `Abdu`/`Abdo` join the next word only across an article (`Abdu al-Karim`):
/// alone they are names of their own.
const ABD_SHORT: &[&str] = &["abdu", "abdo", "aabdu"];
/// Arabic articles written apart (`al-Aziz`, `el Rahman`, `ar-Rahman`).
const ARTICLES: &[&str] = &[
    "al", "el", "ul", "ar", "ur", "er", "ad", "ed", "an", "en", "as", "es", "at", "ash", "az",
];
/// Connectives of a name chain (`Ahmed bin Ali`): not names.
const CONNECTIVES: &[&str] = &["bin", "ibn", "bint", "ben", "wad", "walad", "ould"];

/// Prepares every token of a name. Each whitespace-separated word keeps the
/// script it was written in, so a comparison can tell a transliteration
/// (`Сергій` / `Serhiy`) from a Latin spelling variant.
///
/// Compounds written apart are joined (`'Abd al-'Aziz` → `abdalaziz`, which
/// shares its skeleton with `Abdulaziz`), and articles and connectives
/// standing alone (`al`, `bin`) are dropped when other tokens remain.
pub(crate) fn prepare(name: &str) -> Vec<Tok> {
    let mut words: Vec<(String, Script)> = Vec::new();
    for word in name.split_whitespace() {
        let script = script_of(word);
        for fold in fold_tokens(word) {
            words.push((fold, script));
        }
    }
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let (fold, script) = &words[i];
        let next = words.get(i + 1).map(|w| w.0.as_str());
        let after = words.get(i + 2).map(|w| w.0.as_str());
        let article = next.is_some_and(|n| ARTICLES.contains(&n));
        let is_abd = ABD_PREFIXES.contains(&fold.as_str());
        let is_short = ABD_SHORT.contains(&fold.as_str());
        if (is_abd || is_short)
            && article
            && let Some(after) = after
        {
            let merged = format!("{fold}{}{after}", next.unwrap_or_default());
            out.push(Tok::new(merged, *script));
            i += 3;
            continue;
        }
        if is_abd && let Some(next) = next {
            out.push(Tok::new(format!("{fold}{next}"), *script));
            i += 2;
            continue;
        }
        let filler = ARTICLES.contains(&fold.as_str()) || CONNECTIVES.contains(&fold.as_str());
        if filler && words.len() > 1 {
            i += 1;
            continue;
        }
        out.push(Tok::new(fold.clone(), *script));
        i += 1;
    }
    out
}

fn script_of(word: &str) -> Script {
    for c in word.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '\u{00C0}'..='\u{024F}' => return Script::Latin,
            '\u{0600}'..='\u{06FF}' | '\u{0750}'..='\u{077F}' | '\u{FB50}'..='\u{FEFF}' => {
                return Script::Arabic;
            }
            '\u{0400}'..='\u{052F}' => return Script::Cyrillic,
            '\u{1200}'..='\u{139F}' | '\u{2D80}'..='\u{2DDF}' => return Script::Ethiopic,
            _ => {}
        }
    }
    Script::Other
}

/// How closely two tokens agree, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Level {
    /// Same fold.
    Exact,
    /// Same name in another spelling: equivalence group or shared skeleton.
    Variant,
    /// One edit apart, or very close by Jaro–Winkler.
    Typo,
    /// Loosely alike: sounds alike or fairly close.
    Weak,
    Disagree,
}

impl Level {
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The agreement level of two tokens and the reason to show for it.
pub(crate) fn compare_tokens(a: &Tok, b: &Tok) -> (Level, crate::Reason) {
    use crate::Reason;
    let scripts_differ = a.script != b.script;
    if a.fold == b.fold {
        let reason = if scripts_differ {
            Reason::TransliterationVariant
        } else {
            Reason::Identical
        };
        return (Level::Exact, reason);
    }
    let shared_skeleton = a.skeletons.iter().any(|s| b.skeletons.contains(s));
    if is_nickname_of(a, b) || is_nickname_of(b, a) {
        return (Level::Variant, Reason::Nickname);
    }
    if let (Some(ga), Some(gb)) = (a.group, b.group)
        && ga == gb
    {
        let reason = if scripts_differ || shared_skeleton {
            Reason::TransliterationVariant
        } else {
            Reason::EquivalentName
        };
        return (Level::Variant, reason);
    }
    // Two names the equivalence table knows apart (`Maxamed` is Muhammad,
    // `Maxamuud` is Mahmud) are two names, however few letters or
    // consonants they differ by: siblings are often given such pairs.
    if a.group.is_some() && b.group.is_some() {
        return (Level::Disagree, Reason::DifferentName);
    }
    if a.short == b.short && a.short.len() >= 3 {
        return (Level::Variant, Reason::TransliterationVariant);
    }
    if shared_skeleton {
        let reason = if scripts_differ || somali_letters(a) || somali_letters(b) {
            Reason::TransliterationVariant
        } else {
            Reason::SameSkeleton
        };
        return (Level::Variant, reason);
    }
    if nisba(&a.fold, &b.fold) || nisba(&b.fold, &a.fold) {
        return (Level::Disagree, Reason::DifferentName);
    }
    let distance = osa_distance(&a.fold, &b.fold, 2);
    let shorter = a.fold.len().min(b.fold.len());
    // Arabic script writes consonants only: one letter more or less is
    // usually another name, so edits count only on longer tokens.
    let min_typo_len = if a.script == Script::Arabic || b.script == Script::Arabic {
        6
    } else {
        4
    };
    let jw = jaro_winkler(&a.fold, &b.fold);
    if shorter >= min_typo_len && (distance <= 1 || (jw >= 0.93 && distance <= 2)) {
        return (Level::Typo, Reason::SpellingVariant);
    }
    if scripts_differ && skeleton_close(a, b) {
        return (Level::Weak, Reason::TransliterationVariant);
    }
    if a.phonetic.len() >= 3 && a.phonetic == b.phonetic {
        return (Level::Weak, Reason::Phonetic);
    }
    let longer = a.fold.len().max(b.fold.len());
    if (jw >= 0.86 && shorter >= 4 && longer - shorter <= 2) || (distance <= 2 && shorter >= 7) {
        return (Level::Weak, Reason::SpellingVariant);
    }
    (Level::Disagree, Reason::DifferentName)
}

/// `long` is `short` plus a nisba ending (`Ahmadi` from `Ahmad`, `محمدی`
/// from `محمد`): a family name derived from a given name, not a spelling.
fn nisba(short: &str, long: &str) -> bool {
    long.len() == short.len() + 1
        && long.starts_with(short)
        && (long.ends_with('y') || long.ends_with('i'))
}

/// `short` is listed in `data/nicknames.txt` as a nickname of `full`'s group.
fn is_nickname_of(short: &Tok, full: &Tok) -> bool {
    full.group
        .is_some_and(|group| nickname_groups(&short.fold).contains(&group))
}

/// Somali orthography letters (`x` for ḥ, `c` for ayn outside `ch`).
fn somali_letters(token: &Tok) -> bool {
    token.script == Script::Latin && token.skeletons.len() > 1
}

/// Skeletons one edit apart, for names across scripts that the skeleton
/// nearly joins (a long vowel written in one script only).
fn skeleton_close(a: &Tok, b: &Tok) -> bool {
    a.skeletons.iter().any(|x| {
        b.skeletons
            .iter()
            .any(|y| x.len().min(y.len()) >= 3 && osa_distance(x, y, 1) <= 1)
    })
}

/// Optimal string alignment distance (Damerau–Levenshtein without repeated
/// edits of one substring), stopping early once it exceeds `cap`.
pub(crate) fn osa_distance(a: &str, b: &str, cap: usize) -> usize {
    let a = a.as_bytes();
    let b = b.as_bytes();
    if a.len().abs_diff(b.len()) > cap {
        return cap + 1;
    }
    let width = b.len() + 1;
    let mut prev2 = vec![0usize; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut cur = vec![0usize; width];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut value = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                value = value.min(prev2[j - 2] + 1);
            }
            cur[j] = value;
            row_min = row_min.min(value);
        }
        if row_min > cap {
            return cap + 1;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()].min(cap + 1)
}

/// Jaro–Winkler similarity of two ASCII strings, in `[0, 1]`.
pub(crate) fn jaro_winkler(a: &str, b: &str) -> f64 {
    let a = a.as_bytes();
    let b = b.as_bytes();
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut a_matched = vec![false; a.len()];
    let mut b_matched = vec![false; b.len()];
    let mut matches = 0usize;
    for i in 0..a.len() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(b.len());
        for j in lo..hi {
            if !b_matched[j] && a[i] == b[j] {
                a_matched[i] = true;
                b_matched[j] = true;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let a_seq = a
        .iter()
        .zip(&a_matched)
        .filter(|(_, m)| **m)
        .map(|(c, _)| c);
    let b_seq = b
        .iter()
        .zip(&b_matched)
        .filter(|(_, m)| **m)
        .map(|(c, _)| c);
    let half_transpositions = a_seq.zip(b_seq).filter(|(x, y)| x != y).count();
    let m = matches as f64;
    let t = half_transpositions as f64 / 2.0;
    let jaro = (m / a.len() as f64 + m / b.len() as f64 + (m - t) / m) / 3.0;
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
    jaro + prefix as f64 * 0.1 * (1.0 - jaro)
}

/// A Soundex-like code: the first sound's class, then consonant classes
/// with vowels and `h w y` dropped and repeats collapsed, at most 6 symbols.
/// Coarser than the skeleton, for blocking and a weak agreement level.
pub(crate) fn phonetic(fold: &str) -> String {
    fn class(c: u8) -> Option<u8> {
        match c {
            b'b' | b'p' | b'f' | b'v' => Some(b'1'),
            b'c' | b'k' | b'g' | b'j' | b'q' | b'x' => Some(b'2'),
            b's' | b'z' => Some(b'7'),
            b'd' | b't' => Some(b'3'),
            b'l' => Some(b'4'),
            b'm' | b'n' => Some(b'5'),
            b'r' => Some(b'6'),
            b'0'..=b'9' => Some(c),
            _ => None,
        }
    }
    let bytes = fold.as_bytes();
    let Some(&first) = bytes.first() else {
        return String::new();
    };
    let mut out = Vec::with_capacity(6);
    out.push(match first {
        b'a' | b'e' | b'i' | b'o' | b'u' | b'y' | b'h' | b'w' => b'0',
        other => class(other).unwrap_or(b'0'),
    });
    let mut last = class(first);
    for &c in &bytes[1..] {
        let code = class(c);
        if let Some(code) = code
            && Some(code) != last
        {
            out.push(code);
            if out.len() == 6 {
                break;
            }
        }
        if !matches!(c, b'h' | b'w') {
            last = code;
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The deletion-1 neighbourhood of a folded token (each single-letter
/// deletion), for tokens of at least [`MIN_DELETION_LEN`] letters.
pub(crate) fn deletions(fold: &str) -> Vec<String> {
    if fold.len() < MIN_DELETION_LEN || !fold.is_ascii() {
        return Vec::new();
    }
    let mut out: Vec<String> = (0..fold.len())
        .map(|i| {
            let mut s = String::with_capacity(fold.len() - 1);
            s.push_str(&fold[..i]);
            s.push_str(&fold[i + 1..]);
            s
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(name: &str) -> Tok {
        prepare(name).remove(0)
    }

    fn level(a: &str, b: &str) -> Level {
        compare_tokens(&tok(a), &tok(b)).0
    }

    #[test]
    fn osa_counts_transpositions_as_one_edit() {
        assert_eq!(osa_distance("mohamed", "mohamed", 2), 0);
        assert_eq!(osa_distance("mohamed", "mohaemd", 2), 1);
        assert_eq!(osa_distance("abc", "abd", 2), 1);
        assert_eq!(osa_distance("abc", "xyz", 2), 3);
    }

    #[test]
    fn jaro_winkler_known_values() {
        assert!((jaro_winkler("martha", "marhta") - 0.961).abs() < 0.001);
        assert!(jaro_winkler("dixon", "dicksonx") > 0.8);
        assert!(jaro_winkler("abc", "xyz") < 0.01);
    }

    #[test]
    fn levels_for_typical_pairs() {
        assert_eq!(level("Mohamed", "mohamed"), Level::Exact);
        assert_eq!(level("Maxamed", "Mohamed"), Level::Variant);
        assert_eq!(level("Сергій", "Serhiy"), Level::Variant);
        assert_eq!(level("Сергій", "Sergiy"), Level::Exact);
        assert_eq!(level("ተስፋይ", "Tesfay"), Level::Exact);
        assert_eq!(level("محمد", "Mohamed"), Level::Variant);
        assert_eq!(level("Faadumo", "Fatima"), Level::Variant);
        assert_eq!(level("hassan", "hassam"), Level::Typo);
        assert_eq!(level("Mohamed", "Tesfay"), Level::Disagree);
    }

    #[test]
    fn two_names_the_table_knows_apart_are_not_spellings_of_one() {
        // Muhammad and Mahmud share their consonants (m-h-m-d) and are one
        // letter apart in Somali orthography, but they are two names: often
        // two brothers'.
        assert_eq!(level("Maxamed", "Maxamuud"), Level::Disagree);
        assert_eq!(level("Mohamed", "Mahmoud"), Level::Disagree);
        // A spelling the table does not list still agrees with the name.
        assert_ne!(level("Maxamuud", "Maxamuuud"), Level::Disagree);
        assert_ne!(level("Mohamed", "Mohamedd"), Level::Disagree);
    }

    #[test]
    fn transliteration_reasons_name_the_script_change() {
        let (_, reason) = compare_tokens(&tok("Сергій"), &tok("Serhiy"));
        assert_eq!(reason, crate::Reason::TransliterationVariant);
        let (_, reason) = compare_tokens(&tok("Sasha"), &tok("Oleksandr"));
        assert_eq!(reason, crate::Reason::Nickname);
    }

    #[test]
    fn phonetic_codes_group_sound_alikes() {
        assert_eq!(phonetic("robert"), phonetic("rupert"));
        assert_eq!(phonetic("omar"), phonetic("umar"));
        assert!(phonetic("").is_empty());
    }

    #[test]
    fn deletions_only_for_longer_tokens() {
        assert!(deletions("ali").is_empty());
        assert_eq!(deletions("anna"), ["ana", "ann", "nna"]);
    }
}
