use super::qr::{self, QrMatrix, QrPayloadError};
use super::*;
use crate::{Achievement, PassportContent, PassportIssuer, Recipient, Score, verify};

const SUBJECTS: [(&str, &str); 4] = [
    ("MATH", "Mathematics"),
    ("READ", "Reading"),
    ("SCI", "Science"),
    ("LIFE", "Life skills"),
];

/// A synthetic record: generated titles and codes, never a real child's data.
fn achievement(i: usize) -> Achievement {
    let (code, subject) = SUBJECTS[i % SUBJECTS.len()];
    Achievement {
        record_id: uuid::Uuid::now_v7().to_string(),
        title: format!("{subject} grade {} unit {i}", 3 + i % 4),
        framework_code: "HAVEN-COMMON".into(),
        subject_code: code.into(),
        level_code: format!("G{}", 3 + i % 4),
        outcomes: vec![(
            format!("{code}.{}", i % 9),
            format!("{subject} outcome {i}"),
        )],
        score: (i % 3 != 2).then(|| Score {
            raw: 40.0,
            max: 50.0,
            scaled: i.is_multiple_of(3).then_some(80.0),
            passed: Some(i % 5 != 4),
            grade: String::new(),
        }),
        occurred_at: Some(1_780_000_000 + i as i64 * 86_400),
    }
}

fn named(given: &str, family: &str) -> Recipient {
    Recipient::Named {
        given_name: given.into(),
        family_name: family.into(),
        birth_year: Some(2015),
    }
}

fn content(achievements: usize, recipient: Recipient) -> PassportContent {
    let now = chrono::Utc::now().timestamp();
    PassportContent {
        credential_id: uuid::Uuid::now_v7(),
        recipient,
        achievements: (0..achievements).map(achievement).collect(),
        valid_from: now - 10,
        valid_until: Some(now + 365 * 86_400),
        status_list_id: "1".into(),
    }
}

fn issuer() -> PassportIssuer {
    PassportIssuer::generate("Synthetic Learning Centre", "https://haven.example.org")
}

fn issue(issuer: &PassportIssuer, achievements: usize, recipient: Recipient) -> String {
    issuer
        .issue(&content(achievements, recipient))
        .expect("issue")
        .jwt
}

/// Reads a code back the way a camera would: the modules drawn as a greyscale image with a quiet
/// zone, found and decoded by an independent QR reader.
fn scan(matrix: &QrMatrix) -> String {
    const PIXELS: usize = 3;
    const QUIET: usize = 4;
    let side = (matrix.width() + 2 * QUIET) * PIXELS;
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
        let (mx, my) = (x / PIXELS, y / PIXELS);
        let dark = mx >= QUIET && my >= QUIET && matrix.is_dark(mx - QUIET, my - QUIET);
        if dark { 0 } else { 255 }
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one code in the image");
    grids[0].decode().expect("the reader decodes the code").1
}

#[test]
fn a_one_record_passport_fits_one_code_that_a_qr_reader_reads_back() {
    let issuer = issuer();
    let jwt = issue(&issuer, 1, named("Testa", "Example"));
    let codes = qr::encode(&jwt).expect("encode");
    assert_eq!(codes.len(), 1);
    assert!(codes[0].starts_with("HVN1:1/1:"));
    assert!(
        codes[0].len() < jwt.len(),
        "{} characters for a {}-byte JWT",
        codes[0].len(),
        jwt.len()
    );
    let scanned = scan(&QrMatrix::for_code(&codes[0]).expect("matrix"));
    assert_eq!(scanned, codes[0]);
    let decoded = qr::decode([scanned.as_str()]).expect("decode");
    assert_eq!(decoded, jwt);
    let verified = verify(&decoded, &issuer.trust_list()).expect("verifies");
    assert_eq!(verified.achievements.len(), 1);
}

#[test]
fn a_bigger_passport_spreads_over_codes_read_in_any_order() {
    let issuer = issuer();
    let jwt = issue(&issuer, 40, named("Testa", "Example"));
    let codes = qr::encode(&jwt).expect("encode");
    assert!(
        (2..=qr::MAX_CODES).contains(&codes.len()),
        "{} codes",
        codes.len()
    );
    let mut scanned: Vec<String> = codes
        .iter()
        .map(|code| scan(&QrMatrix::for_code(code).expect("matrix")))
        .collect();
    assert_eq!(scanned, codes);
    scanned.reverse();
    scanned.rotate_left(1);
    // A code scanned twice does no harm.
    scanned.push(scanned[0].clone());
    let decoded = qr::decode(scanned.iter().map(String::as_str)).expect("decode");
    assert_eq!(decoded, jwt);
    let verified = verify(&decoded, &issuer.trust_list()).expect("verifies");
    assert_eq!(verified.achievements.len(), 40);
    // The text form a school saves, one code per line, whatever the order.
    let file = scanned.join("\r\n") + "\n";
    assert_eq!(qr::credential_from_text(&file).as_deref(), Ok(jwt.as_str()));
    assert_eq!(
        qr::credential_from_text(&format!("  {jwt}\n")).as_deref(),
        Ok(jwt.as_str())
    );
}

#[test]
fn the_decoder_refuses_a_foreign_prefix_bad_numbering_and_bad_base45() {
    let jwt = issue(&issuer(), 1, named("Testa", "Example"));
    let code = qr::encode(&jwt).expect("encode").remove(0);
    let data = code.strip_prefix("HVN1:1/1:").expect("numbered");
    assert_eq!(
        qr::decode([format!("HC1:{data}").as_str()]),
        Err(QrPayloadError::Prefix)
    );
    assert_eq!(
        qr::decode([code.to_lowercase().as_str()]),
        Err(QrPayloadError::Prefix)
    );
    for numbering in ["0/1", "2/1", "1/5", "1/", "x/1", "11/12", "1-1"] {
        assert_eq!(
            qr::decode([format!("HVN1:{numbering}:{data}").as_str()]),
            Err(QrPayloadError::Numbering),
            "{numbering}"
        );
    }
    let lowercase = format!("HVN1:1/1:{}a{}", &data[..10], &data[11..]);
    assert!(matches!(
        qr::decode([lowercase.as_str()]),
        Err(QrPayloadError::Base45 { index: 1, .. })
    ));
    let one_char_short = &code[..code.len() - 1];
    let short = qr::decode([one_char_short]);
    assert!(short.is_err() || short.as_deref() != Ok(jwt.as_str()));
    assert_eq!(qr::decode([]), Err(QrPayloadError::Empty));
}

#[test]
fn a_changed_character_never_yields_a_passport_that_verifies() {
    let issuer = issuer();
    let trusted = issuer.trust_list();
    let jwt = issue(&issuer, 1, named("Testa", "Example"));
    let code = qr::encode(&jwt).expect("encode").remove(0);
    let start = "HVN1:1/1:".len();
    for i in (start..code.len()).step_by(97) {
        let mut changed = code.clone().into_bytes();
        changed[i] = if changed[i] == b'0' { b'1' } else { b'0' };
        let changed = String::from_utf8(changed).expect("ascii");
        if let Ok(decoded) = qr::decode([changed.as_str()]) {
            assert!(
                verify(&decoded, &trusted).is_err(),
                "a change at {i} went unnoticed"
            );
        }
    }
}

#[test]
fn a_missing_or_foreign_code_is_named() {
    let jwt = issue(&issuer(), 40, named("Testa", "Example"));
    let codes = qr::encode(&jwt).expect("encode");
    let count = codes.len();
    assert!(count >= 2);
    let without_first: Vec<&str> = codes[1..].iter().map(String::as_str).collect();
    assert_eq!(
        qr::decode(without_first),
        Err(QrPayloadError::Missing {
            missing: vec![1],
            count
        })
    );
    let other = qr::encode(&issue(&issuer(), 1, named("Other", "Example"))).expect("encode");
    assert_eq!(
        qr::decode([codes[0].as_str(), other[0].as_str()]),
        Err(QrPayloadError::CountMismatch(count, 1))
    );
    let conflicting = format!("{}0", codes[0]);
    assert_eq!(
        qr::decode([codes[0].as_str(), conflicting.as_str()]),
        Err(QrPayloadError::ConflictingDuplicate(1))
    );
}

#[test]
fn an_inflation_bomb_is_refused_before_it_fills_memory() {
    let bomb = miniz_oxide::deflate::compress_to_vec(&vec![0u8; 4 * qr::MAX_INFLATED_BYTES], 10);
    assert!(bomb.len() < 8 * 1024, "{} bytes", bomb.len());
    let code = format!("HVN1:1/1:{}", base45::encode(&bomb));
    assert_eq!(
        qr::decode([code.as_str()]),
        Err(QrPayloadError::InflatedTooLarge)
    );
    let garbage = format!("HVN1:1/1:{}", base45::encode(b"not deflate at all"));
    assert_eq!(qr::decode([garbage.as_str()]), Err(QrPayloadError::Inflate));
    // Inflates, but to something other than a packed JWT.
    let unpacked = miniz_oxide::deflate::compress_to_vec(b"\0\0\0\x09{}", 10);
    let code = format!("HVN1:1/1:{}", base45::encode(&unpacked));
    assert_eq!(qr::decode([code.as_str()]), Err(QrPayloadError::Packing));
}

#[test]
fn a_code_of_the_largest_allowed_text_fits_a_version_40_code_at_level_m() {
    let largest = "HVN1:1/4:".to_owned()
        + &"Z9".repeat(qr::MAX_CHARS_PER_CODE).as_str()[..qr::MAX_CHARS_PER_CODE - 9];
    assert_eq!(largest.len(), qr::MAX_CHARS_PER_CODE);
    let matrix = QrMatrix::for_code(&largest).expect("fits");
    assert_eq!(matrix.width(), 177, "version 40");
    assert!(QrMatrix::for_code(&(largest + "Z")).is_err());
    assert!(qr::bytes_per_code() * 3 / 2 + 9 <= qr::MAX_CHARS_PER_CODE);
}

#[test]
fn encoding_refuses_what_is_not_a_canonical_jwt() {
    assert_eq!(qr::encode("abc"), Err(QrPayloadError::NotAJwt));
    assert_eq!(qr::encode("a.b"), Err(QrPayloadError::NotAJwt));
    assert_eq!(qr::encode("e30.e30."), Err(QrPayloadError::NotAJwt));
    // `e31` decodes to `{}` too, but is not the canonical form: the round trip could not be exact.
    assert_eq!(qr::encode("e31.e30.AAAA"), Err(QrPayloadError::NotAJwt));
}

// --- the page ---

/// The PDF's objects by number, checked against the cross-reference table and trailer.
fn parse_pdf(pdf: &[u8]) -> Vec<(usize, Vec<u8>)> {
    assert!(pdf.starts_with(b"%PDF-1.4\n"));
    assert!(pdf.ends_with(b"\n%%EOF\n"));
    let tail_start = pdf
        .windows(b"startxref\n".len())
        .rposition(|w| w == b"startxref\n")
        .expect("startxref")
        + b"startxref\n".len();
    let startxref: usize = std::str::from_utf8(&pdf[tail_start..])
        .ok()
        .and_then(|tail| tail.lines().next())
        .and_then(|n| n.parse().ok())
        .expect("startxref offset");
    assert!(pdf[startxref..].starts_with(b"xref\n0 "));
    let text = std::str::from_utf8(&pdf[startxref..]).expect("an ASCII xref and trailer");
    let mut lines = text.lines().skip(1);
    let header: Vec<usize> = lines
        .next()
        .expect("subsection")
        .split(' ')
        .map(|n| n.parse().expect("number"))
        .collect();
    assert_eq!(header[0], 0);
    let size = header[1];
    assert_eq!(lines.next(), Some("0000000000 65535 f "));
    let mut objects = Vec::new();
    for number in 1..size {
        let entry = lines.next().expect("xref entry");
        assert_eq!(entry.len(), 19, "{entry:?} (20 bytes with its newline)");
        assert!(entry.ends_with(" 00000 n "));
        let offset: usize = entry[..10].parse().expect("offset");
        let head = format!("{number} 0 obj\n");
        assert!(
            pdf[offset..].starts_with(head.as_bytes()),
            "object {number} is not at {offset}"
        );
        let body_start = offset + head.len();
        let end = find(&pdf[body_start..], b"\nendobj\n").expect("endobj") + body_start;
        objects.push((number, pdf[body_start..end].to_vec()));
    }
    assert_eq!(lines.next(), Some("trailer"));
    let trailer = lines.next().expect("trailer dictionary");
    assert!(trailer.contains(&format!("/Size {size} ")));
    assert!(trailer.contains("/Root 1 0 R"));
    objects
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The page's content stream, inflated.
fn content_stream(pdf: &[u8]) -> String {
    let objects = parse_pdf(pdf);
    let (_, stream) = objects
        .iter()
        .find(|(_, body)| body.starts_with(b"<< /Length "))
        .expect("a content stream");
    let length: usize = String::from_utf8_lossy(&stream[b"<< /Length ".len()..])
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("length");
    let data_start = find(stream, b"stream\n").expect("stream") + b"stream\n".len();
    assert_eq!(&stream[data_start + length..], b"\nendstream");
    let inflated =
        miniz_oxide::inflate::decompress_to_vec_zlib(&stream[data_start..data_start + length])
            .expect("FlateDecode");
    String::from_utf8(inflated).expect("an ASCII content stream")
}

/// The text of every `(...) Tj` string, unescaped.
fn shown_strings(content: &str) -> Vec<String> {
    content
        .lines()
        .filter_map(|line| {
            let start = line.find(") Tj")?;
            let open = line.find(" Td (")? + " Td (".len();
            Some(line[open..start].replace("\\(", "(").replace("\\)", ")"))
        })
        .collect()
}

#[test]
fn the_page_is_a_well_formed_pdf_naming_the_learner_and_achievements() {
    let jwt = issue(&issuer(), 3, named("Testa", "Example"));
    let printed = print(&jwt).expect("print");
    assert_eq!(printed.codes.len(), 1);
    let objects = parse_pdf(&printed.pdf);
    assert_eq!(objects.len(), 8);
    assert!(objects[0].1.starts_with(b"<< /Type /Catalog"));
    let content = content_stream(&printed.pdf);
    let strings = shown_strings(&content);
    for expected in [
        "Learning passport",
        "Testa Example",
        "2015",
        "Synthetic Learning Centre",
        "Mathematics grade 3 unit 0",
        "MATH / G3",
        "80% passed",
        "READ.1",
        "Code 1 of 1",
    ] {
        assert!(
            strings.iter().any(|s| s == expected),
            "{expected:?} not on the page: {strings:?}"
        );
    }
    let sheet = PassportSheet::read(&jwt).expect("read");
    assert!(strings.contains(&sheet.credential_id));
    assert!(strings.iter().any(|s| s.contains("haven passport verify")));
    // The codes are drawn: one filled path of rectangles.
    assert!(content.matches(" 1 re\n").count() > 500);
    assert!(content.contains("f Q\n"));
}

#[test]
fn a_name_in_arabic_and_cyrillic_is_transliterated_and_the_file_stays_ascii() {
    let jwt = issue(&issuer(), 2, named("Амира", "سلمى"));
    let printed = print(&jwt).expect("print");
    let content = content_stream(&printed.pdf);
    assert!(content.is_ascii());
    let strings = shown_strings(&content);
    let name = strings
        .iter()
        .find(|s| s.starts_with("Amira"))
        .expect("the transliterated name");
    assert!(name.len() > "Amira ".len(), "{name:?}");
    assert!(
        strings
            .iter()
            .any(|s| s.contains("exact name is in the QR"))
    );
    // The exact name travels in the code.
    let decoded = qr::decode(printed.codes.iter().map(String::as_str)).expect("decode");
    let sheet = PassportSheet::read(&decoded).expect("read");
    assert!(matches!(sheet.learner, Learner::Named { ref name, .. } if name == "Амира سلمى"));
}

#[test]
fn text_in_parentheses_and_backslashes_is_escaped_and_latin_accents_keep_their_letters() {
    let jwt = issue(&issuer(), 1, named("Zoë (Test)", "Back\\slash"));
    let content = content_stream(&print(&jwt).expect("print").pdf);
    assert!(
        content.contains(r"(Zo\353 \(Test\) Back\\slash) Tj"),
        "{content}"
    );
    assert!(!content.contains("Latin letters"));
}

#[test]
fn a_hashed_recipient_is_printed_as_such_without_a_name() {
    let recipient = Recipient::Hashed {
        name: "Testa Example".into(),
        salt: "s4lt".into(),
    };
    let content = content_stream(&print(&issue(&issuer(), 1, recipient)).expect("print").pdf);
    assert!(content.contains("hashed recipient identifier"));
    assert!(!content.contains("Testa"));
    assert!(!content.contains("2015"));
}

#[test]
fn a_long_table_is_cut_with_a_count_of_what_only_the_code_holds() {
    let issuer = issuer();
    // Two codes, then the most codes a page holds: the table keeps a few rows either way.
    for records in [60, 230] {
        let jwt = issue(&issuer, records, named("Testa", "Example"));
        let printed = print(&jwt).expect("print");
        assert!(printed.codes.len() >= 2);
        let strings = shown_strings(&content_stream(&printed.pdf));
        let rows = strings
            .iter()
            .filter(|s| SUBJECTS.iter().any(|(_, subject)| s.starts_with(subject)))
            .count();
        let more = strings
            .iter()
            .find_map(|s| {
                s.strip_prefix("and ")?
                    .strip_suffix(" more: see the QR code")
            })
            .expect("a count of the rest")
            .parse::<usize>()
            .expect("a number");
        assert!(
            rows >= 3,
            "{rows} rows beside {} codes",
            printed.codes.len()
        );
        assert_eq!(rows + more, records);
        for i in 1..=printed.codes.len() {
            let caption = format!("Code {i} of {}", printed.codes.len());
            assert!(strings.contains(&caption), "{caption}");
        }
    }
}

#[test]
fn a_passport_too_big_for_a_page_is_refused_with_how_many_records_fit() {
    let issuer = issuer();
    let full = content(400, named("Testa", "Example"));
    let jwt = issuer.issue(&full).expect("issue").jwt;
    let Err(PrintError::TooLarge {
        achievements,
        needed,
        fit,
    }) = print(&jwt)
    else {
        panic!("400 records should not fit one page");
    };
    assert_eq!(achievements, 400);
    assert!(needed > qr::MAX_CODES);
    assert!((1..400).contains(&fit), "{fit}");
    // The same passport cut to its first `fit` records prints, issued again; a few more do not (the
    // estimate keeps a margin of a record's size for what a new issue changes).
    let cut_to = |records: usize| {
        let mut cut = full.clone();
        cut.achievements.truncate(records);
        print(&issuer.issue(&cut).expect("issue").jwt)
    };
    assert!(cut_to(fit).is_ok(), "{fit} records did not fit");
    assert!(
        matches!(cut_to(fit + 3), Err(PrintError::TooLarge { .. })),
        "{} records fit too",
        fit + 3
    );
}

#[test]
fn a_token_that_is_not_a_credential_is_not_printed() {
    assert!(matches!(print("abc"), Err(PrintError::NotAPassport(_))));
    let header = "eyJhbGciOiJFZERTQSJ9";
    let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"someone","roles":["educator"]}"#);
    let token = format!("{header}.{payload}.c2ln");
    assert_eq!(
        print(&token).err(),
        Some(PrintError::NotAPassport("no verifiable credential"))
    );
}

// --- figures for the notes: `cargo test -p haven-passport print::tests::figures -- --ignored --nocapture`

#[test]
#[ignore = "prints the measurements behind the payload format; slow in debug builds"]
fn figures() {
    let issuer = issuer();
    println!(
        "| records | JWT bytes | DEFLATE(JWT text) | zlib(JWT text) | DEFLATE(packed) | zlib(packed) | HVN1 chars | codes (M) | codes (L) |"
    );
    for n in [1usize, 10, 50, 200] {
        let jwt = issue(&issuer, n, named("Testa", "Example"));
        let packed_raw = qr::compress(&jwt).expect("compress");
        let packed_zlib = {
            let raw = miniz_oxide::inflate::decompress_to_vec(&packed_raw).expect("inflate");
            miniz_oxide::deflate::compress_to_vec_zlib(&raw, 10)
        };
        let text_raw = miniz_oxide::deflate::compress_to_vec(jwt.as_bytes(), 10);
        let text_zlib = miniz_oxide::deflate::compress_to_vec_zlib(jwt.as_bytes(), 10);
        let chars = base45::encode(&packed_raw).len();
        let codes_m = qr::codes_needed(packed_raw.len());
        // Level L: 4,296 characters a code.
        let codes_l = packed_raw.len().div_ceil((4296 - 9) / 3 * 2);
        println!(
            "| {n} | {} | {} | {} | {} | {} | {chars} | {codes_m} | {codes_l} |",
            jwt.len(),
            text_raw.len(),
            text_zlib.len(),
            packed_raw.len(),
            packed_zlib.len()
        );
    }
    // One set of records, cut to length, so each count is measured on the same text.
    let full = content(400, named("Testa", "Example"));
    let first = |records: usize| {
        let mut cut = full.clone();
        cut.achievements.truncate(records);
        issuer.issue(&cut).expect("issue").jwt
    };
    let mut fits = Vec::new();
    for codes in 1..=qr::MAX_CODES {
        let most = (1..400)
            .take_while(|&n| {
                qr::codes_needed(qr::compress(&first(n)).expect("compress").len()) <= codes
            })
            .last()
            .unwrap_or(0);
        fits.push(most);
        println!("records that fit {codes} code(s): {most}");
    }
    let printed = print(&first(fits[0])).expect("print");
    println!(
        "PDF bytes, {} records in 1 code: {}",
        fits[0],
        printed.pdf.len()
    );
    let printed = print(&first(fits[qr::MAX_CODES - 1])).expect("print");
    println!(
        "PDF bytes, {} records in {} codes: {}",
        fits[qr::MAX_CODES - 1],
        printed.codes.len(),
        printed.pdf.len()
    );
    let one_jwt = issue(&issuer, 2, named("Testa", "Example"));
    let one = print(&one_jwt).expect("print");
    println!("PDF bytes, 2 records: {}", one.pdf.len());
    // For a look at the pages (pdftoppm -png -r 60 FILE PREFIX).
    let out = std::env::temp_dir();
    std::fs::write(out.join("passport-1.pdf"), &one.pdf).ok();
    // And for trying the CLI: haven passport print/verify FILE --trust issuers.jwks.
    std::fs::write(out.join("passport-1.jwt"), &one_jwt).ok();
    std::fs::write(out.join("passport-issuers.jwks"), issuer.jwks_json()).ok();
    std::fs::write(out.join("passport-max.pdf"), &printed.pdf).ok();
    let mut scripts = content(12, named("Амира", "ሰላም سلمى"));
    scripts.achievements[0].title = "Lecture et écriture (niveau 2) \\ دروس".into();
    let scripts = print(&issuer.issue(&scripts).expect("issue").jwt).expect("print");
    std::fs::write(out.join("passport-scripts.pdf"), &scripts.pdf).ok();
    let hashed = Recipient::Hashed {
        name: "Testa Example".into(),
        salt: "s4lt".into(),
    };
    let hashed = print(&issue(&issuer, 3, hashed)).expect("print");
    std::fs::write(out.join("passport-hashed.pdf"), &hashed.pdf).ok();
}
