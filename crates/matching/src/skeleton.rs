//! The consonant skeleton: a loose phonetic key for one folded token.
//!
//! Names from Arabic, Somali, Persian, Ukrainian and Ge'ez reach Latin script
//! through many transliteration schemes that disagree mostly about vowels and
//! about how to spell a handful of consonants. The skeleton therefore keeps
//! what schemes agree on and blurs what they don't:
//!
//! * consonants are mapped to one symbol per sound class (see
//!   [`push_consonant`]); doubled consonants collapse (`mm` → `m`);
//! * a single short vowel between consonants is dropped, because Arabic
//!   script does not write it and Latin schemes disagree about it
//!   (`Mohammed`, `Muhammad`, `محمد` → `mhmd`);
//! * a long vowel or diphthong becomes the glide Arabic script writes for it:
//!   `ou`/`oo`/`uu` → `w`, `ee`/`ii`/`ei`/`ai` → `y` (`Mahmoud` → `mhmwd`,
//!   `Hussein` → `hsyn`), which keeps `Mahmoud` apart from `Mohammed`;
//! * the first vowel of the token is kept as a marker (`a`, `i` for e/i,
//!   `u` for o/u), so `Ali` → `aly` and `Ola` → `ulh` stay apart;
//! * the last vowel is kept as a class, because it often carries gender
//!   (`Amina` → `amnh` vs `Amin` → `amn`): final `a`/`ah` → `h` (Arabic ta
//!   marbuta, `Fatima` = `Fatimah` = `فاطمة`), final `i` → `y`, final `o`/`u`
//!   → `w`; a lone final `e` is dropped (`Tesfaye` = `Tesfay`).
//!
//! Skeleton symbols are lowercase ASCII: consonant classes `b c d f g h j k l
//! m n p r s t w x y z` (`c` = ch, `x` = sh, `g` = gh, `h` = h/kh/g), digits,
//! and the initial vowel markers `a i u`.

/// Skeletons shorter than this match too many unrelated names to be useful.
const MIN_SKELETON_LEN: usize = 3;

/// The skeletons of one folded token: one per plausible reading, deduplicated,
/// and only those long enough to be selective.
pub(crate) fn skeletons(token: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(2);
    push_selective(&mut out, skeleton(token));
    if let Some(somali) = somali_reading(token) {
        push_selective(&mut out, skeleton(&somali));
    }
    if let Some(polish) = polish_reading(token) {
        push_selective(&mut out, skeleton(&polish));
    }
    out
}

/// Rewrites a token as a Polish-style spelling of Cyrillic would read it,
/// if it looks like one: `j` is the glide `y` (`Jurij` = Yurii, `Jarosław`),
/// `ch` is `kh` (`Charkiw`).
fn polish_reading(token: &str) -> Option<String> {
    let bytes = token.as_bytes();
    let polish_j = bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'j' && (i == 0 || bytes[i - 1] != b'd'));
    // Only where other Polish letters show (`w`, `sz`, `cz`, a final `ij`):
    // `Jamal` stays a `j`.
    let polish_letters = token.contains('w')
        || token.contains("sz")
        || token.contains("cz")
        || token.ends_with("ij")
        || token.ends_with("yj");
    if !polish_j || !polish_letters {
        return None;
    }
    Some(token.replace('j', "y").replace("ch", "kh"))
}

/// Keeps a skeleton only when it is long enough and not already present.
fn push_selective(out: &mut Vec<String>, skeleton: String) {
    if skeleton.len() >= MIN_SKELETON_LEN && !out.contains(&skeleton) {
        out.push(skeleton);
    }
}

/// Rewrites a token as Somali orthography would read it, if that differs.
///
/// In Somali Latin script `c` is the ayn (`Cabdullahi` = Abdullahi, `Cumar` =
/// Umar) and `x` is the ḥ (`Maxamed` = Muhammad). Elsewhere `c` is a `k` and
/// `x` a `ks` (`Alexander`), so a token containing them gets both readings.
fn somali_reading(token: &str) -> Option<String> {
    let mut rewritten = String::with_capacity(token.len());
    let mut chars = token.chars().peekable();
    let mut changed = false;
    while let Some(c) = chars.next() {
        match c {
            // `ch` is a digraph in every scheme, never an ayn
            'c' if chars.peek() != Some(&'h') => changed = true,
            'x' => {
                rewritten.push('h');
                changed = true;
            }
            _ => rewritten.push(c),
        }
    }
    changed.then_some(rewritten)
}

/// One piece of a token: a consonant sound, or a maximal run of vowel letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment<'a> {
    Consonant(char),
    Vowels(&'a str),
}

/// Splits a folded token into consonant sounds and vowel runs.
fn segments(token: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::with_capacity(token.len());
    let mut rest = token;
    while let Some(first) = rest.chars().next() {
        let used = if is_vowel(first) {
            let run = rest.find(|c| !is_vowel(c)).unwrap_or(rest.len());
            out.push(Segment::Vowels(&rest[..run]));
            run
        } else {
            push_consonant(rest, &mut out)
        };
        rest = &rest[used..];
    }
    out
}

/// `y` is always treated as a consonant: Arabic writes it (ي) whether it is a
/// consonant (`Yusuf`) or part of a diphthong (`Husayn`), and so do we.
fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// Multi-letter spellings of a single consonant sound, longest first.
///
/// `kh` joins `h` because Russian-mediated spellings write Arabic ḥ as `kh`
/// (`Мухаммад` → `mukhammad`, `Хасан` → `khasan`); `gh` (ghain) stays apart so
/// that `Ghassan` does not meet `Hassan`.
const DIGRAPHS: &[(&str, char)] = &[
    ("dzh", 'j'),
    ("sch", 'x'),
    ("tch", 'c'),
    ("kh", 'h'),
    ("gh", 'g'),
    ("sh", 'x'),
    ("szcz", 'x'),
    ("sz", 'x'),
    ("cz", 'c'),
    ("ch", 'c'),
    ("zh", 'j'),
    ("dj", 'j'),
    ("ph", 'f'),
    ("th", 't'),
    ("dh", 'd'),
    ("ck", 'k'),
];

/// Pushes the consonant sound(s) at the start of `rest`; returns the bytes used.
///
/// Single letters: `c`/`q` → `k`, `x` → `ks`, `v` → `w` (`Volodymyr` /
/// `Wolodymyr`, Persian `Parvana` / `Parwana`), and `g` → `h`, because
/// Ukrainian writes as `h` what Russian writes as `g` (`Serhiy` / `Sergei`,
/// `Olha` / `Olga`) and Russian writes Arabic ḥ as `g` (`Магомед`).
fn push_consonant<'a>(rest: &'a str, out: &mut Vec<Segment<'a>>) -> usize {
    if let Some((spelling, sound)) = DIGRAPHS.iter().find(|(s, _)| rest.starts_with(s)) {
        out.push(Segment::Consonant(*sound));
        return spelling.len();
    }
    let Some(letter) = rest.chars().next() else {
        return 0;
    };
    match letter {
        'c' | 'q' => out.push(Segment::Consonant('k')),
        'x' => {
            out.push(Segment::Consonant('k'));
            out.push(Segment::Consonant('s'));
        }
        'v' => out.push(Segment::Consonant('w')),
        'g' => out.push(Segment::Consonant('h')),
        other => out.push(Segment::Consonant(other)),
    }
    letter.len_utf8()
}

/// The skeleton of one reading of a token (before the length filter).
fn skeleton(token: &str) -> String {
    let segments = segments(token);
    let last = segments.len().saturating_sub(1);
    let mut out = Collapsing::default();
    for (index, segment) in segments.iter().enumerate() {
        match *segment {
            Segment::Consonant(sound) => out.push(sound),
            Segment::Vowels(run) => {
                let sound = if index == 0 {
                    leading_vowels(run)
                } else if index == last {
                    final_vowels(run)
                } else {
                    medial_vowels(run)
                };
                out.push_str(sound);
            }
        }
    }
    out.text
}

/// The marker for the vowel(s) a token starts with.
///
/// Only three classes, because initial vowels vary across schemes
/// (`Omar`/`Umar`, `Ibrahim`/`Ebrahim`); a run ending in `i` is a diphthong
/// whose glide Arabic writes (`Aisha`, `عائشة` → `ay…`).
fn leading_vowels(run: &str) -> &'static str {
    let diphthong = run.len() >= 2 && run.ends_with('i');
    match (run.chars().next(), diphthong) {
        (Some('a'), false) => "a",
        (Some('a'), true) => "ay",
        (Some('e' | 'i'), false) => "i",
        (Some('e' | 'i'), true) => "iy",
        (_, false) => "u",
        (_, true) => "uy",
    }
}

/// A vowel run between consonants: a short vowel is dropped, a long vowel or
/// diphthong becomes its glide.
fn medial_vowels(run: &str) -> &'static str {
    if run.len() < 2 { "" } else { glide(run) }
}

/// The glide a multi-letter vowel run implies: `y` for front vowels
/// (`ee`, `ei`, `ai`, `ia`), `w` for back vowels (`ou`, `oo`, `au`), nothing
/// for a long `aa` (Arabic alef, which any_ascii does not write either).
fn glide(run: &str) -> &'static str {
    if run.contains(['i', 'e']) {
        "y"
    } else if run.contains(['o', 'u']) {
        "w"
    } else {
        ""
    }
}

/// The vowel run that ends a token. Endings often distinguish names
/// (`Amina`/`Amin`, `Maria`/`Mario`), so they are kept as classes: the final
/// vowel's class, preceded by the glide of any vowels before it.
fn final_vowels(run: &str) -> &'static str {
    match run.chars().last() {
        // final -a/-ah is the Arabic ta marbuta (or alef): written ة/ه, folded `h`
        Some('a') => match glide(run.trim_end_matches('a')) {
            "y" => "yh",
            "w" => "wh",
            _ => "h",
        },
        Some('i') => "y",
        // a lone final e is silent or short in most schemes (Tesfaye/Tesfay)
        Some('e') => medial_vowels(run),
        // final o/u, after a glide if there is one (Mario → -yw)
        Some(_) => match glide(&run[..run.len() - 1]) {
            "y" => "yw",
            _ => "w",
        },
        None => "",
    }
}

/// Skeleton text that collapses a repeated symbol unless a vowel came between.
///
/// `Mohammed` → `mhmd` (the double `m` is one sound) but `Habib` keeps both
/// `b`s apart: `hbb`.
#[derive(Debug, Default)]
struct Collapsing {
    text: String,
    /// A dropped vowel since the last symbol pushed.
    separated: bool,
}

impl Collapsing {
    fn push(&mut self, symbol: char) {
        if self.separated || !self.text.ends_with(symbol) {
            self.text.push(symbol);
        }
        self.separated = false;
    }

    /// Pushes a vowel run's sound; an empty sound separates its neighbours.
    fn push_str(&mut self, sound: &str) {
        if sound.is_empty() {
            self.separated = true;
        }
        sound.chars().for_each(|symbol| self.push(symbol));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sk(token: &str) -> Vec<String> {
        skeletons(token)
    }

    #[test]
    fn short_vowels_are_dropped_and_doubles_collapse() {
        assert_eq!(sk("mohammed"), ["mhmd"]);
        assert_eq!(sk("muhammad"), ["mhmd"]);
        assert_eq!(sk("mhmd"), ["mhmd"]);
    }

    #[test]
    fn long_vowels_become_glides() {
        assert_eq!(sk("mahmoud"), ["mhmwd"]);
        assert_eq!(sk("hussein"), ["hsyn"]);
        assert_eq!(sk("husayn"), ["hsyn"]);
    }

    #[test]
    fn somali_tokens_get_a_second_reading() {
        assert_eq!(sk("maxamed"), ["mksmd", "mhmd"]);
        assert_eq!(sk("cabdullahi"), ["kbdlhy", "abdlhy"]);
        assert_eq!(sk("cumar"), ["kmr", "umr"]);
    }

    #[test]
    fn ch_is_a_digraph_not_a_somali_ayn() {
        assert_eq!(sk("aicha"), ["aych"]);
    }

    #[test]
    fn leading_vowel_is_a_marker() {
        assert_eq!(sk("ali"), ["aly"]);
        assert_eq!(sk("ola"), ["ulh"]);
        assert_eq!(sk("ibrahim"), ["ibrhm"]);
        assert_eq!(sk("ebrahim"), ["ibrhm"]);
        assert_eq!(sk("aisha"), ["ayxh"]);
    }

    #[test]
    fn endings_are_kept_as_classes() {
        assert_eq!(sk("fatima"), ["ftmh"]);
        assert_eq!(sk("fatimah"), ["ftmh"]);
        assert_eq!(sk("maria"), ["mryh"]);
        assert_eq!(sk("mario"), ["mryw"]);
        assert_eq!(sk("tesfaye"), ["tsfy"]);
    }

    #[test]
    fn doubles_separated_by_a_vowel_are_kept() {
        assert_eq!(sk("habib"), ["hbb"]);
    }

    #[test]
    fn transliteration_variants_share_a_class() {
        assert_eq!(sk("serhiy"), sk("sergei"));
        assert_eq!(sk("volodymyr"), sk("wolodymyr"));
        assert_eq!(sk("dzhamal"), sk("jamal"));
        assert_eq!(sk("mustapha"), sk("mustafa"));
        assert_eq!(sk("qasim"), sk("kasim"));
    }

    #[test]
    fn ghain_stays_apart_from_h() {
        assert_ne!(sk("ghassan"), sk("hassan"));
    }

    #[test]
    fn short_skeletons_are_not_emitted() {
        assert!(sk("jose").is_empty());
        assert!(sk("al").is_empty());
        assert!(sk("a").is_empty());
        assert!(sk("").is_empty());
    }

    #[test]
    fn skeleton_symbols_are_lowercase_ascii() {
        for token in ["oleksandr", "maxamed", "xyz123", "shchukin", "aaaa", "yyy"] {
            for s in sk(token) {
                assert!(
                    s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                    "{s}"
                );
            }
        }
    }
}
