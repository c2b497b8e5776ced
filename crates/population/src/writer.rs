//! How one person writes names: script, orthography, romanisation, favourite
//! spellings and slips of the pen. Registering officers and inquirers are
//! both writers; the gap between two writers is what matching must bridge.

use std::cell::Cell;

use rand::Rng as _;

use crate::cyrillic::{Romanisation, feminine_surname, patronymic, romanise};
use crate::names::{Entry, Pool, table};
use crate::rng::Rng;
use crate::{Culture, Noise};

/// One word of a name, before it is written down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A name from a list, as a given name or a chain element.
    Name(Pool, u16),
    /// A nickname or diminutive of a name, when it has one.
    Short(Pool, u16),
    /// Ukrainian/Russian patronymic from the father's (male) name.
    Patronymic { father: u16, female: bool },
    /// Ukrainian/Russian surname, feminine when `female`.
    Surname { idx: u16, female: bool },
}

/// How a writer romanises names that are not Cyrillic, beyond picking one
/// of the spellings the name tables list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// One of the listed spellings.
    Table,
    /// French-style: ou for u, ch for sh, dj for j, Abdel for Abdul.
    French,
    /// Scholarly Arabic: `'Abd al-'Azīz`, `'Alī`, long vowels with macrons.
    Scholarly,
    /// Vowel length written the other way: Nour → Nur, Nur → Noor.
    VowelLength,
}

/// A writer's fixed habits.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    pub(crate) culture: Culture,
    /// Writes the culture's own script (Arabic, Persian, Ge'ez, Cyrillic).
    pub(crate) native: bool,
    /// Somali: 0 Somali orthography, 1 English-style. Ukrainian/Russian:
    /// 0 Ukrainian forms, 1 Russian forms.
    pub(crate) group: usize,
    system: Romanisation,
    /// Chance of the canonical (most usual) spelling; otherwise the writer's
    /// own habitual variant for that name.
    canonical_bias: f64,
    /// Chance of a slip in each written word.
    pub(crate) typo_rate: f64,
    /// Chance of the canonical place spelling.
    place_bias: f64,
    /// Seeds the writer's habitual variant per name, so one writer spells a
    /// name the same way each time.
    habit: u64,
    /// Romanisation habit for Latin output of non-Cyrillic names.
    pub(crate) scheme: Scheme,
    /// Writes everything in capitals.
    pub(crate) caps: bool,
    /// Slips made so far (for the `Typo` label).
    slips: Cell<u32>,
}

/// Chance of each romanisation scheme among writers using Latin letters
/// (French, scholarly, vowel length; the rest use the tables), by culture.
fn scheme_shares(c: Culture) -> [f64; 3] {
    match c {
        Culture::Arabic => [0.18, 0.10, 0.10],
        Culture::DariPashto => [0.08, 0.06, 0.12],
        Culture::Somali => [0.05, 0.0, 0.15],
        Culture::Tigrinya => [0.0, 0.0, 0.15],
        Culture::UkrainianRussian => [0.0, 0.0, 0.0],
    }
}

/// Share of Ukrainian/Russian writers using Polish-style spelling.
const POLISH_SHARE: f64 = 0.12;

/// Share of officers (forms filled in capitals) and inquirers' scribes
/// writing everything in capitals.
const OFFICER_CAPS: f64 = 0.12;
const INQUIRER_CAPS: f64 = 0.05;

/// Share of officers writing in the native script, by culture. Somali is
/// written in Latin letters by everyone.
fn officer_native_share(c: Culture) -> f64 {
    match c {
        Culture::Arabic | Culture::DariPashto => 0.2,
        Culture::Tigrinya => 0.15,
        Culture::Somali => 0.0,
        Culture::UkrainianRussian => 0.25,
    }
}

/// Share of inquirers writing in the native script, when the registration
/// was not (native script appears on one side only).
fn inquirer_native_share(c: Culture) -> f64 {
    match c {
        Culture::Arabic | Culture::DariPashto | Culture::Tigrinya => 0.3,
        Culture::Somali => 0.0,
        Culture::UkrainianRussian => 0.4,
    }
}

impl Writer {
    fn new(
        culture: Culture,
        rng: &mut Rng,
        native: bool,
        somali_orthography: f64,
        ua: f64,
    ) -> Self {
        let group = match culture {
            Culture::Somali => usize::from(!rng.gen_bool(somali_orthography)),
            Culture::UkrainianRussian => usize::from(!rng.gen_bool(ua)),
            _ => 0,
        };
        let x: f64 = rng.r#gen();
        let polish = culture == Culture::UkrainianRussian && rng.gen_bool(POLISH_SHARE);
        let system = if polish {
            if group == 0 {
                Romanisation::PlUa
            } else {
                Romanisation::PlRu
            }
        } else if group == 0 {
            if x < 0.5 {
                Romanisation::UaNational
            } else if x < 0.85 {
                Romanisation::UaLegacy
            } else {
                Romanisation::UaLegacyG
            }
        } else if x < 0.3 {
            Romanisation::RuBgn
        } else if x < 0.65 {
            Romanisation::RuPassport
        } else {
            Romanisation::RuPopular
        };
        let mut w = Self {
            culture,
            native,
            group,
            system,
            canonical_bias: 0.5,
            typo_rate: 0.0,
            place_bias: 0.7,
            habit: rng.r#gen(),
            scheme: Scheme::Table,
            caps: false,
            slips: Cell::new(0),
        };
        let shares = scheme_shares(culture);
        let y: f64 = rng.r#gen();
        if !native {
            w.scheme = if y < shares[0] {
                Scheme::French
            } else if y < shares[0] + shares[1] {
                Scheme::Scholarly
            } else if y < shares[0] + shares[1] + shares[2] {
                Scheme::VowelLength
            } else {
                Scheme::Table
            };
        }
        w
    }

    /// The reference spelling: canonical forms, Latin letters (Ukrainian
    /// national romanisation of Ukrainian forms), no slips. Used for
    /// [`crate::Person`] names.
    pub(crate) fn canonical(culture: Culture) -> Self {
        Self {
            culture,
            native: false,
            group: 0,
            system: Romanisation::UaNational,
            canonical_bias: 1.0,
            typo_rate: 0.0,
            place_bias: 1.0,
            habit: 0,
            scheme: Scheme::Table,
            caps: false,
            slips: Cell::new(0),
        }
    }

    /// The labels this writer's habits give everything they write (slips
    /// are counted separately: see [`Writer::take_slips`]).
    pub(crate) fn labels(&self) -> Vec<Noise> {
        let mut v = Vec::new();
        if self.native {
            v.push(Noise::NativeScript);
        }
        match self.scheme {
            Scheme::French => v.push(Noise::FrenchRomanisation),
            Scheme::Scholarly => v.push(Noise::ScholarlyRomanisation),
            Scheme::VowelLength => v.push(Noise::ShortVowel),
            Scheme::Table => {}
        }
        if matches!(self.system, Romanisation::PlUa | Romanisation::PlRu)
            && self.culture == Culture::UkrainianRussian
            && !self.native
        {
            v.push(Noise::PolishRomanisation);
        }
        match self.culture {
            Culture::UkrainianRussian if self.group == 1 => v.push(Noise::RussianForms),
            Culture::Somali if self.group == 0 => v.push(Noise::SomaliOrthography),
            _ => {}
        }
        if self.caps {
            v.push(Noise::AllCaps);
        }
        v
    }

    /// Slips made since the last call, resetting the count.
    pub(crate) fn take_slips(&self) -> u32 {
        self.slips.replace(0)
    }

    /// A registering officer: careful (about 4% of words with a slip).
    pub(crate) fn officer(culture: Culture, rng: &mut Rng) -> Self {
        let native = rng.gen_bool(officer_native_share(culture));
        let mut w = Self::new(culture, rng, native, 0.4, 0.7);
        w.typo_rate = 0.04;
        w.canonical_bias = 0.6;
        w.place_bias = 0.75;
        w.caps = rng.gen_bool(OFFICER_CAPS);
        w
    }

    /// An inquirer (or the caseworker taking down their words): about 10% of
    /// words with a slip. `allow_native` is false when the registration of a
    /// sought child is already in native script.
    pub(crate) fn inquirer(culture: Culture, rng: &mut Rng, allow_native: bool) -> Self {
        let native = allow_native && rng.gen_bool(inquirer_native_share(culture));
        let mut w = Self::new(culture, rng, native, 0.55, 0.65);
        w.typo_rate = 0.10;
        w.canonical_bias = 0.5;
        w.place_bias = 0.55;
        w.caps = rng.gen_bool(INQUIRER_CAPS);
        w
    }

    /// Picks one spelling from `options`: the first (with probability `bias`
    /// over writers) or this writer's habitual variant. The choice is a
    /// function of the writer and the name, so one writer spells a name the
    /// same way every time, as people do.
    fn choose<'a>(&self, options: &'a [String], bias: f64) -> &'a str {
        if options.len() <= 1 {
            return &options[0];
        }
        // FNV-1a over the canonical form, mixed with the writer's habit.
        let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ self.habit;
        for b in options[0].bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h ^= h >> 29;
        if (h % 10_000) as f64 / 10_000.0 < bias {
            return &options[0];
        }
        &options[1 + ((h >> 20) % (options.len() as u64 - 1)) as usize]
    }

    /// The Cyrillic form of a Ukrainian/Russian entry in this writer's language.
    fn cyrillic<'a>(&self, entry: &'a Entry) -> &'a str {
        &entry.group(self.group)[0]
    }

    /// Cyrillic as this writer puts it on paper.
    fn finish_cyrillic(&self, cyr: &str) -> String {
        if self.native {
            cyr.to_string()
        } else {
            romanise(cyr, self.system)
        }
    }

    /// Writes one word without slips; `None` for a short form the name lacks.
    pub(crate) fn spell(&self, rng: &mut Rng, tok: Tok) -> Option<String> {
        let t = table(self.culture);
        let slavic = self.culture == Culture::UkrainianRussian;
        Some(match tok {
            Tok::Name(pool, idx) => {
                let e = t.entry(pool, idx);
                if slavic {
                    self.finish_cyrillic(self.cyrillic(e))
                } else if self.native && !e.native.is_empty() {
                    self.choose(&e.native, 0.75).to_string()
                } else if self.scheme == Scheme::Scholarly {
                    scholarly(e)
                } else {
                    let chosen = self.choose(e.group(self.group), self.canonical_bias);
                    self.apply_scheme(chosen)
                }
            }
            Tok::Short(pool, idx) => {
                let shorts = t.entry(pool, idx).short_group(self.group);
                if shorts.is_empty() {
                    return None;
                }
                let s = &shorts[rng.gen_range(0..shorts.len())];
                if slavic {
                    self.finish_cyrillic(s)
                } else {
                    self.apply_scheme(s)
                }
            }
            Tok::Patronymic { father, female } => {
                let e = t.entry(Pool::Male, father);
                let p = patronymic(self.cyrillic(e), self.group == 0, female);
                self.finish_cyrillic(&p)
            }
            Tok::Surname { idx, female } => {
                let e = t.entry(Pool::Surname, idx);
                let base = self.cyrillic(e);
                let s = if female {
                    feminine_surname(base, self.group == 0)
                } else {
                    base.to_string()
                };
                self.finish_cyrillic(&s)
            }
        })
    }

    /// French-style or vowel-length respelling of a Latin word.
    fn apply_scheme(&self, word: &str) -> String {
        match self.scheme {
            Scheme::French => french(word),
            Scheme::VowelLength => vowel_length(word),
            Scheme::Table | Scheme::Scholarly => word.to_string(),
        }
    }

    /// Writes one word, with this writer's rate of slips, in capitals if
    /// that is the writer's habit.
    pub(crate) fn write(&self, rng: &mut Rng, tok: Tok) -> Option<String> {
        let s = self.spell(rng, tok)?;
        let s = if rng.gen_bool(self.typo_rate) {
            let slipped = typo(rng, &s);
            if slipped != s {
                self.slips.set(self.slips.get() + 1);
            }
            slipped
        } else {
            s
        };
        Some(if self.caps { s.to_uppercase() } else { s })
    }

    /// Writes several words as one space-separated string.
    pub(crate) fn write_all(&self, rng: &mut Rng, toks: &[Tok]) -> String {
        let words: Vec<String> = toks.iter().filter_map(|&t| self.write(rng, t)).collect();
        words.join(" ")
    }

    /// Writes a place name: canonical or a variant; Russian-language writers
    /// prefer the Russian variant (Kharkov) for Ukrainian places.
    pub(crate) fn place(&self, spellings: &[String]) -> String {
        let bias = if self.culture == Culture::UkrainianRussian && self.group == 1 {
            0.3
        } else {
            self.place_bias
        };
        self.choose(spellings, bias).to_string()
    }
}

/// Re-cases `out` like `model`: capitalised when the model starts upper-case.
fn like_case(model: &str, out: &str) -> String {
    if model.chars().next().is_some_and(char::is_uppercase) {
        let mut cs = out.chars();
        cs.next()
            .map(|f| f.to_uppercase().chain(cs).collect())
            .unwrap_or_default()
    } else {
        out.to_string()
    }
}

/// French-style romanisation of a Latin spelling: `ou` for u, `ch` for sh,
/// `dj` for an initial j, `i` for ee, `Abdel` for Abdul (Youssef, Nour,
/// Abdelaziz, Choukri, Djamal).
pub(crate) fn french(word: &str) -> String {
    let lower = word.to_lowercase();
    let lower = lower
        .replacen("abdul", "abdel", 1)
        .replace("sh", "ch")
        .replace("ee", "i")
        .replace("oo", "u");
    let chars: Vec<char> = lower.chars().collect();
    let mut out = String::with_capacity(lower.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| chars[p]);
        match c {
            'u' if prev != Some('o') && prev != Some('q') => out.push_str("ou"),
            'j' if i == 0 => out.push_str("dj"),
            _ => out.push(c),
        }
    }
    like_case(word, &out)
}

/// Vowel length the other way round: a long vowel written short (Nour →
/// Nur, Saeed → Said, Nuur → Nur), or, when there is none, the first u or i
/// inside the word written long (Nur → Noor, Amin → Ameen).
pub(crate) fn vowel_length(word: &str) -> String {
    let lower = word.to_lowercase();
    for (long, short) in [
        ("ou", "u"),
        ("oo", "u"),
        ("uu", "u"),
        ("ee", "i"),
        ("ii", "i"),
        ("aa", "a"),
    ] {
        if lower.contains(long) {
            return like_case(word, &lower.replacen(long, short, 1));
        }
    }
    let chars: Vec<char> = lower.chars().collect();
    for i in 1..chars.len().saturating_sub(1) {
        let long = match chars[i] {
            'u' => "oo",
            'i' => "ee",
            _ => continue,
        };
        let vowel = |c: char| "aeiouy".contains(c);
        if !vowel(chars[i - 1]) && !vowel(chars[i + 1]) {
            let out: String = chars[..i].iter().collect::<String>()
                + long
                + &chars[i + 1..].iter().collect::<String>();
            return like_case(word, &out);
        }
    }
    word.to_string()
}

/// Scholarly romanisation of an Arabic-script name: the spelling with u
/// rather than o (Muhammad, Yusuf), the ayn written `'` where the native
/// form starts with one (`'Ali`, `'Umar`), `'Abd al-` for the Abd- names,
/// and long vowels marked with macrons (`Yūsuf` is not attempted: doubled
/// and diphthong vowels only, `Sa'īd`).
pub(crate) fn scholarly(entry: &Entry) -> String {
    let spellings = entry.group(0);
    let base = spellings
        .iter()
        .find(|s| s.contains('u') && !s.to_lowercase().contains('o') && !s.contains(' '))
        .unwrap_or(&spellings[0]);
    let lower = base.to_lowercase();
    let ayn = entry.native.iter().any(|n| n.starts_with('\u{0639}'));
    for prefix in ["abdul", "abdel", "abdal", "abdur", "abdu", "abd"] {
        if let Some(rest) = lower.strip_prefix(prefix)
            && rest.len() >= 3
        {
            let rest = rest.trim_start_matches(['r', 'l']);
            let rest = if rest.starts_with("lah") || rest.starts_with("llah") {
                "Allah".to_string()
            } else {
                let mut cs = rest.chars();
                let Some(first) = cs.next() else { break };
                let tail: String = cs.collect();
                let mark = if rest.starts_with("aziz") { "'" } else { "" };
                format!("al-{mark}{}{}", first.to_uppercase(), macrons(&tail))
            };
            return format!("'Abd {rest}");
        }
    }
    let marked = macrons(&lower);
    let word = like_case(base, &marked);
    if ayn { format!("'{word}") } else { word }
}

/// Doubled vowels and `ee`/`ou` as macron vowels (Saeed → Saīd, Nour → Nūr).
fn macrons(word: &str) -> String {
    word.replace("aa", "ā")
        .replace("ee", "ī")
        .replace("ii", "ī")
        .replace("oo", "ū")
        .replace("ou", "ū")
        .replace("uu", "ū")
}

/// QWERTY neighbours, for substitutions that look like real slips.
fn neighbour(c: char) -> Option<&'static str> {
    Some(match c {
        'a' => "sqze",
        'b' => "vn",
        'c' => "xvk",
        'd' => "sfe",
        'e' => "ria",
        'f' => "dgv",
        'g' => "fhk",
        'h' => "gjk",
        'i' => "uoey",
        'j' => "hk",
        'k' => "jlc",
        'l' => "k",
        'm' => "n",
        'n' => "mb",
        'o' => "iup",
        'p' => "o",
        'q' => "wk",
        'r' => "et",
        's' => "adz",
        't' => "ry",
        'u' => "yio",
        'v' => "bf",
        'w' => "qv",
        'x' => "zc",
        'y' => "tui",
        'z' => "xs",
        _ => return None,
    })
}

/// One slip in a word: substitution (Latin only), deletion, transposition
/// or a doubled letter. The first letter is kept, as people rarely get it
/// wrong; words shorter than three letters are left alone.
pub(crate) fn typo(rng: &mut Rng, word: &str) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    if chars.len() < 3 {
        return word.to_string();
    }
    let i = rng.gen_range(1..chars.len());
    let latin = chars[i].is_ascii_alphabetic();
    match rng.gen_range(0..4) {
        0 if latin => {
            let lower = chars[i].to_ascii_lowercase();
            if let Some(n) = neighbour(lower) {
                let opts: Vec<char> = n.chars().collect();
                let mut r = opts[rng.gen_range(0..opts.len())];
                if chars[i].is_ascii_uppercase() {
                    r = r.to_ascii_uppercase();
                }
                chars[i] = r;
            }
        }
        0 | 1 => {
            chars.remove(i);
        }
        2 if i + 1 < chars.len() => chars.swap(i, i + 1),
        2 => chars.swap(i - 1, i),
        _ => chars.insert(i, chars[i]),
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_change_words_a_little() {
        let mut rng = Rng::new(1, 1);
        let mut changed = 0;
        for _ in 0..200 {
            let t = typo(&mut rng, "Abdullahi");
            assert!(t.starts_with('A'));
            assert!((t.chars().count() as i64 - 9).abs() <= 1);
            changed += usize::from(t != "Abdullahi");
        }
        assert!(changed > 150);
        assert_eq!(typo(&mut rng, "Al"), "Al");
    }

    #[test]
    fn inquirers_slip_on_about_one_word_in_ten() {
        let mut rng = Rng::new(5, 5);
        let t = table(Culture::Somali);
        let n = 5_000;
        let mut slips = 0;
        for i in 0..n {
            let w = Writer::inquirer(Culture::Somali, &mut rng, true);
            let tok = Tok::Name(Pool::Male, (i % t.male.entries.len()) as u16);
            w.write(&mut rng, tok);
            slips += w.take_slips() as usize;
        }
        let rate = slips as f64 / n as f64;
        assert!((0.07..0.13).contains(&rate), "slip rate {rate}");
    }

    #[test]
    fn writers_spell_consistently() {
        let mut rng = Rng::new(2, 2);
        let w = Writer::inquirer(Culture::Arabic, &mut rng, false);
        let t = table(Culture::Arabic);
        let m = t.male.find("Mohammed").expect("Mohammed is in the table");
        let spellings: std::collections::HashSet<String> = (0..50)
            .filter_map(|_| w.spell(&mut rng, Tok::Name(Pool::Male, m)))
            .collect();
        assert_eq!(spellings.len(), 1, "{spellings:?}");
        // Across writers, several spellings appear.
        let across: std::collections::HashSet<String> = (0..200)
            .filter_map(|_| {
                Writer::officer(Culture::Arabic, &mut rng).spell(&mut rng, Tok::Name(Pool::Male, m))
            })
            .collect();
        assert!(across.len() >= 4, "{across:?}");
    }
}
