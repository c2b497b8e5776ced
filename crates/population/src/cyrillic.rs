//! Ukrainian and Russian name morphology and romanisation: patronymics,
//! feminine surnames, and the several Latin spellings that the same Cyrillic
//! name gets (Serhii/Serhiy/Sergiy, Sergei/Sergey, Oleksandr/Aleksandr/Alexander).

/// A way of writing Cyrillic in Latin letters. Ukrainian systems apply to
/// Ukrainian forms, Russian ones to Russian forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Romanisation {
    /// Ukrainian national system of 2010 (passports since then): Serhii, Oleksii.
    UaNational,
    /// Older Ukrainian passport/BGN-like spelling: Serhiy, Yuriy, Nataliya.
    UaLegacy,
    /// As `UaLegacy` with Г as g, common in older documents: Sergiy, Grygoriy.
    UaLegacyG,
    /// BGN/PCGN for Russian: Sergey, Aleksey, Artyom.
    RuBgn,
    /// Russian passports (ICAO 9303): Sergei, Aleksei, Iurii, Artem.
    RuPassport,
    /// Popular English spelling: Alexander, Dmitry, Yury, Maxim.
    RuPopular,
    /// Polish-style spelling of Ukrainian forms, as officers trained in
    /// Poland write them: Wołodymyr, Szewczenko, Jurij, Hałyna.
    PlUa,
    /// Polish-style spelling of Russian forms: Siergiej is not attempted,
    /// only the letters: Aleksandr, Wiktor, Siemionow → Semjonow.
    PlRu,
}

fn is_vowel(c: char) -> bool {
    "аеєиіїоуюяыэё".contains(c)
}

/// Romanises Cyrillic text; non-Cyrillic characters pass through.
pub(crate) fn romanise(text: &str, system: Romanisation) -> String {
    use Romanisation::*;
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        let raw = chars[i];
        let upper = raw.is_uppercase();
        let c = raw.to_lowercase().next().unwrap_or(raw);
        let prev = if i == 0 {
            None
        } else {
            chars[i - 1].to_lowercase().next()
        };
        let next = chars.get(i + 1).and_then(|n| n.to_lowercase().next());
        let initial = prev.is_none_or(|p| !p.is_alphabetic());
        let after_vowel = prev.is_some_and(|p| is_vowel(p) || p == 'ь' || p == 'ъ');
        let word_end = next.is_none_or(|n| !n.is_alphabetic());
        let mut consumed = 1;
        // Polish writes a hard л as ł; Ukrainian е and и are hard, Russian soft.
        let before_soft = matches!(next, Some('і' | 'ь' | 'я' | 'ю' | 'є' | 'ї' | 'ё'))
            || (system == PlRu && matches!(next, Some('е' | 'и')));
        let piece: &str = match (system, c) {
            (PlUa | PlRu, 'в') => "w",
            (PlUa, 'г') => "h",
            (PlUa | PlRu, 'г' | 'ґ') => "g",
            (PlUa | PlRu, 'є') => "je",
            (PlRu, 'е') if initial || after_vowel => "je",
            (PlRu, 'ё') => "jo",
            (PlUa | PlRu, 'ж') => "ż",
            (PlUa, 'и') => "y",
            (PlUa | PlRu, 'ї') => "ji",
            (PlUa | PlRu, 'й') => "j",
            (PlUa | PlRu, 'л') if !before_soft => "ł",
            (PlUa | PlRu, 'х') => "ch",
            (PlUa | PlRu, 'ц') => "c",
            (PlUa | PlRu, 'ч') => "cz",
            (PlUa | PlRu, 'ш') => "sz",
            (PlUa | PlRu, 'щ') => "szcz",
            (PlUa | PlRu, 'ю') if initial || after_vowel => "ju",
            (PlUa | PlRu, 'ю') => "iu",
            (PlUa | PlRu, 'я') if initial || after_vowel => "ja",
            (PlUa | PlRu, 'я') => "ia",
            // Popular English spelling contracts a few clusters.
            (RuPopular, 'к') if next == Some('с') => {
                consumed = 2;
                "x"
            }
            (RuPopular, 'и')
                if next == Some('й') && chars.get(i + 2).is_none_or(|n| !n.is_alphabetic()) =>
            {
                consumed = 2;
                "y"
            }
            (_, 'а') => "a",
            (_, 'б') => "b",
            (_, 'в') => "v",
            (UaNational | UaLegacy, 'г') => "h",
            (_, 'г') | (_, 'ґ') => "g",
            (_, 'д') => "d",
            (RuBgn, 'е') if initial || after_vowel => "ye",
            (RuPopular, 'е') if after_vowel => "ye",
            (_, 'е') => "e",
            // ё is "yo" except after the hushing consonants, where it is "o".
            (RuBgn | RuPopular, 'ё') if matches!(prev, Some('ж' | 'ш' | 'ч' | 'щ')) => "o",
            (RuBgn | RuPopular, 'ё') => "yo",
            (_, 'ё') => "e",
            (UaNational, 'є') if !initial => "ie",
            (_, 'є') => "ye",
            (_, 'ж') => "zh",
            (_, 'з') => "z",
            (UaNational | UaLegacy | UaLegacyG, 'и') => "y",
            (_, 'и') => "i",
            (_, 'і') => "i",
            (UaNational, 'ї') if !initial => "i",
            (_, 'ї') => "yi",
            (UaNational, 'й') if !initial => "i",
            (RuPassport, 'й') => "i",
            (RuPopular, 'й') if !initial && word_end => "i",
            (_, 'й') => "y",
            (_, 'к') => "k",
            (_, 'л') => "l",
            (_, 'м') => "m",
            (_, 'н') => "n",
            (_, 'о') => "o",
            (_, 'п') => "p",
            (_, 'р') => "r",
            (_, 'с') => "s",
            (_, 'т') => "t",
            (_, 'у') => "u",
            (_, 'ф') => "f",
            (_, 'х') => "kh",
            (_, 'ц') => "ts",
            (_, 'ч') => "ch",
            (_, 'ш') => "sh",
            (_, 'щ') => "shch",
            (RuPassport, 'ъ') => "ie",
            (_, 'ъ') | (_, 'ь') | (_, '\'') | (_, '’') => "",
            (_, 'ы') => "y",
            (_, 'э') => "e",
            (UaNational, 'ю') | (RuPassport, 'ю') if !initial => "iu",
            (RuPassport, 'ю') => "iu",
            (_, 'ю') => "yu",
            (UaNational, 'я') | (RuPassport, 'я') if !initial => "ia",
            (RuPassport, 'я') => "ia",
            (_, 'я') => "ya",
            _ => {
                out.push(raw);
                i += 1;
                continue;
            }
        };
        if upper {
            let mut cs = piece.chars();
            if let Some(first) = cs.next() {
                out.extend(first.to_uppercase());
                out.push_str(cs.as_str());
            }
        } else {
            out.push_str(piece);
        }
        i += consumed;
    }
    out
}

/// The patronymic formed from a father's given name (in the same language's
/// Cyrillic form): Олександр → Олександрович / Олександрівна.
pub(crate) fn patronymic(father: &str, ukrainian: bool, female: bool) -> String {
    let pick = |m: &str, f: &str| if female { f.to_string() } else { m.to_string() };
    let strip = |suffix: &str| father.strip_suffix(suffix).unwrap_or(father).to_string();
    if ukrainian {
        match father {
            "Микола" => return pick("Миколайович", "Миколаївна"),
            "Ілля" => return pick("Ілліч", "Іллівна"),
            _ => {}
        }
        if father.ends_with("ій") {
            let stem = strip("ій");
            pick(&format!("{stem}ійович"), &format!("{stem}іївна"))
        } else if father.ends_with('о') {
            let stem = strip("о");
            pick(&format!("{stem}ович"), &format!("{stem}івна"))
        } else if father.ends_with('ь') {
            let stem = strip("ь");
            pick(&format!("{stem}ьович"), &format!("{stem}івна"))
        } else {
            pick(&format!("{father}ович"), &format!("{father}івна"))
        }
    } else {
        match father {
            "Пётр" => return pick("Петрович", "Петровна"),
            "Павел" => return pick("Павлович", "Павловна"),
            "Михаил" => return pick("Михайлович", "Михайловна"),
            "Дмитрий" => return pick("Дмитриевич", "Дмитриевна"),
            "Илья" => return pick("Ильич", "Ильинична"),
            _ => {}
        }
        if father.ends_with("ий") {
            let stem = strip("ий");
            pick(&format!("{stem}ьевич"), &format!("{stem}ьевна"))
        } else if father.ends_with('й') {
            let stem = strip("й");
            pick(&format!("{stem}евич"), &format!("{stem}евна"))
        } else if father.ends_with('ь') {
            let stem = strip("ь");
            pick(&format!("{stem}евич"), &format!("{stem}евна"))
        } else {
            pick(&format!("{father}ович"), &format!("{father}овна"))
        }
    }
}

/// The feminine form of a surname (Іванов → Іванова, Яворський → Яворська);
/// surnames in -енко, -ук, -ко and the like do not change.
pub(crate) fn feminine_surname(surname: &str, ukrainian: bool) -> String {
    let swaps: &[(&str, &str)] = if ukrainian {
        &[("ський", "ська"), ("цький", "цька")]
    } else {
        &[("ский", "ская"), ("цкий", "цкая"), ("ой", "ая")]
    };
    for (from, to) in swaps {
        if let Some(stem) = surname.strip_suffix(from) {
            return format!("{stem}{to}");
        }
    }
    if ["ов", "ев", "єв", "ёв", "ин", "ін"]
        .iter()
        .any(|s| surname.ends_with(s))
    {
        return format!("{surname}а");
    }
    surname.to_string()
}

#[cfg(test)]
mod tests {
    use super::Romanisation::*;
    use super::*;

    #[test]
    fn ukrainian_romanisations() {
        assert_eq!(romanise("Олександр", UaNational), "Oleksandr");
        assert_eq!(romanise("Сергій", UaNational), "Serhii");
        assert_eq!(romanise("Сергій", UaLegacy), "Serhiy");
        assert_eq!(romanise("Сергій", UaLegacyG), "Sergiy");
        assert_eq!(romanise("Наталія", UaNational), "Nataliia");
        assert_eq!(romanise("Наталія", UaLegacy), "Nataliya");
        assert_eq!(romanise("Юрій", UaNational), "Yurii");
        assert_eq!(romanise("Євген", UaNational), "Yevhen");
        assert_eq!(romanise("Кузнєцов", UaNational), "Kuznietsov");
        assert_eq!(romanise("Микола", UaNational), "Mykola");
    }

    #[test]
    fn russian_romanisations() {
        assert_eq!(romanise("Александр", RuBgn), "Aleksandr");
        assert_eq!(romanise("Александр", RuPopular), "Alexandr");
        assert_eq!(romanise("Сергей", RuBgn), "Sergey");
        assert_eq!(romanise("Сергей", RuPassport), "Sergei");
        assert_eq!(romanise("Сергей", RuPopular), "Sergei");
        assert_eq!(romanise("Дмитрий", RuPopular), "Dmitry");
        assert_eq!(romanise("Юрий", RuPassport), "Iurii");
        assert_eq!(romanise("Артём", RuBgn), "Artyom");
        assert_eq!(romanise("Артём", RuPassport), "Artem");
        assert_eq!(romanise("Наталья", RuBgn), "Natalya");
        assert_eq!(romanise("Наталья", RuPassport), "Natalia");
        assert_eq!(romanise("Николай", RuPopular), "Nikolai");
        assert_eq!(romanise("Максим", RuPopular), "Maxim");
        assert_eq!(romanise("Евгений", RuBgn), "Yevgeniy");
    }

    #[test]
    fn polish_style_spellings() {
        assert_eq!(romanise("Володимир", PlUa), "Wołodymyr");
        assert_eq!(romanise("Шевченко", PlUa), "Szewczenko");
        assert_eq!(romanise("Юрій", PlUa), "Jurij");
        assert_eq!(romanise("Галина", PlUa), "Hałyna");
        assert_eq!(romanise("Виктор", PlRu), "Wiktor");
    }

    #[test]
    fn patronymics() {
        assert_eq!(patronymic("Олександр", true, false), "Олександрович");
        assert_eq!(patronymic("Олександр", true, true), "Олександрівна");
        assert_eq!(patronymic("Сергій", true, true), "Сергіївна");
        assert_eq!(patronymic("Дмитро", true, false), "Дмитрович");
        assert_eq!(patronymic("Василь", true, true), "Василівна");
        assert_eq!(patronymic("Сергей", false, false), "Сергеевич");
        assert_eq!(patronymic("Юрий", false, true), "Юрьевна");
        assert_eq!(patronymic("Игорь", false, false), "Игоревич");
        assert_eq!(patronymic("Николай", false, true), "Николаевна");
    }

    #[test]
    fn feminine_surnames() {
        assert_eq!(feminine_surname("Іванов", true), "Іванова");
        assert_eq!(feminine_surname("Яворський", true), "Яворська");
        assert_eq!(feminine_surname("Яворский", false), "Яворская");
        assert_eq!(feminine_surname("Шевченко", true), "Шевченко");
        assert_eq!(feminine_surname("Ковалёв", false), "Ковалёва");
    }
}
