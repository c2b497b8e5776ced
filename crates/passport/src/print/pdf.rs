//! The passport page as a PDF 1.4 file, written by hand: one A4 page, the standard Helvetica fonts in
//! WinAnsi encoding (no font is embedded), and the QR codes as filled rectangles. Text outside WinAnsi
//! is transliterated for display; the codes carry the exact text.

use super::qr::QrMatrix;
use super::{Learner, PassportSheet, SheetRow};

const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const MARGIN: f32 = 42.0;
const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
const VALUE_X: f32 = MARGIN + 92.0;
/// The largest side of a code, quiet zone included: 85 mm.
const MAX_CODE_SIDE: f32 = 240.0;
/// The largest module: 0.9 mm. A small code need not fill the page.
const MAX_MODULE: f32 = 2.5;
/// The white margin a scanner needs around a code, in modules.
const QUIET_ZONE: usize = 4;
const CODE_GAP: f32 = 12.0;
const CAPTION_HEIGHT: f32 = 14.0;
const ROW_HEIGHT: f32 = 11.5;
/// Between the table's last row and the codes.
const TABLE_GAP: f32 = 6.0;
/// Table rows kept free however many codes there are.
const MIN_TABLE_ROWS: usize = 3;
/// Columns of the achievements table: left edge and width.
const COLUMNS: [(f32, f32); 4] = [
    (MARGIN, 196.0),
    (MARGIN + 200.0, 96.0),
    (MARGIN + 300.0, 86.0),
    (MARGIN + 390.0, CONTENT_WIDTH - 390.0),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
    Oblique,
}

impl Font {
    fn resource(self) -> &'static str {
        match self {
            Font::Regular => "F1",
            Font::Bold => "F2",
            Font::Oblique => "F3",
        }
    }

    /// Advance width of a WinAnsi byte in thousandths of the font size (the Adobe AFM metrics).
    fn advance(self, byte: u8) -> f32 {
        let table = match self {
            Font::Bold => &HELVETICA_BOLD_WIDTHS,
            Font::Regular | Font::Oblique => &HELVETICA_WIDTHS,
        };
        match byte {
            0x20..=0x7e => f32::from(table[usize::from(byte - 0x20)]),
            ELLIPSIS => 1000.0,
            // Accented letters are about as wide as their base letter; this errs on the wide side.
            _ => 667.0,
        }
    }

    fn width(self, text: &[u8], size: f32) -> f32 {
        text.iter().map(|&b| self.advance(b)).sum::<f32>() * size / 1000.0
    }
}

const ELLIPSIS: u8 = 0x85;

#[rustfmt::skip]
const HELVETICA_WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

#[rustfmt::skip]
const HELVETICA_BOLD_WIDTHS: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

/// Text as WinAnsi bytes: what Helvetica can show as is stays, anything else is transliterated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WinAnsi {
    pub(crate) bytes: Vec<u8>,
    /// Whether some character had to be transliterated.
    pub(crate) transliterated: bool,
}

pub(crate) fn winansi(text: &str) -> WinAnsi {
    let mut bytes = Vec::with_capacity(text.len());
    let mut transliterated = false;
    for c in text.chars() {
        if let Some(byte) = winansi_byte(c) {
            bytes.push(byte);
            continue;
        }
        if c.is_control() {
            bytes.push(b' ');
            continue;
        }
        transliterated = true;
        bytes.extend(
            any_ascii::any_ascii_char(c)
                .bytes()
                .filter(|b| (0x20..=0x7e).contains(b)),
        );
    }
    WinAnsi {
        bytes,
        transliterated,
    }
}

/// The WinAnsi (cp1252) byte of a character, when it has one.
fn winansi_byte(c: char) -> Option<u8> {
    let byte = match c {
        ' '..='~' => c as u8,
        '\u{a0}' => b' ',
        '\u{a1}'..='\u{ff}' => c as u8,
        '\u{20ac}' => 0x80,
        '\u{201a}' => 0x82,
        '\u{0192}' => 0x83,
        '\u{201e}' => 0x84,
        '\u{2026}' => 0x85,
        '\u{2020}' => 0x86,
        '\u{2021}' => 0x87,
        '\u{02c6}' => 0x88,
        '\u{2030}' => 0x89,
        '\u{0160}' => 0x8a,
        '\u{2039}' => 0x8b,
        '\u{0152}' => 0x8c,
        '\u{017d}' => 0x8e,
        '\u{2018}' => 0x91,
        '\u{2019}' => 0x92,
        '\u{201c}' => 0x93,
        '\u{201d}' => 0x94,
        '\u{2022}' => 0x95,
        '\u{2013}' => 0x96,
        '\u{2014}' => 0x97,
        '\u{02dc}' => 0x98,
        '\u{2122}' => 0x99,
        '\u{0161}' => 0x9a,
        '\u{203a}' => 0x9b,
        '\u{0153}' => 0x9c,
        '\u{017e}' => 0x9e,
        '\u{0178}' => 0x9f,
        _ => return None,
    };
    Some(byte)
}

/// The longest start of `text` that fits `max_width`, ending in an ellipsis when shortened.
fn fit(text: &[u8], font: Font, size: f32, max_width: f32) -> Vec<u8> {
    if font.width(text, size) <= max_width {
        return text.to_vec();
    }
    let room = max_width - font.width(&[ELLIPSIS], size);
    let mut width = 0.0;
    let mut kept: Vec<u8> = text
        .iter()
        .take_while(|&&b| {
            width += font.advance(b) * size / 1000.0;
            width <= room
        })
        .copied()
        .collect();
    while kept.last() == Some(&b' ') {
        kept.pop();
    }
    kept.push(ELLIPSIS);
    kept
}

/// A PDF literal string body: `(`, `)` and `\` escaped, anything outside printable ASCII as octal, so
/// the file's strings are ASCII whatever the text.
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for &b in bytes {
        match b {
            b'(' | b')' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

/// A number as PDF writes it: at most two decimals, no trailing zeros.
fn num(value: f32) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.to_owned()
    }
}

/// The page's content stream, drawn top down.
#[derive(Debug, Default)]
struct Canvas {
    ops: String,
}

impl Canvas {
    fn text(&mut self, font: Font, size: f32, x: f32, y: f32, bytes: &[u8]) {
        self.ops.push_str(&format!(
            "BT /{} {} Tf {} {} Td ({}) Tj ET\n",
            font.resource(),
            num(size),
            num(x),
            num(y),
            escape(bytes)
        ));
    }

    /// Text cut to `max_width`.
    fn text_fit(&mut self, font: Font, size: f32, x: f32, y: f32, max_width: f32, text: &str) {
        let shown = fit(&winansi(text).bytes, font, size, max_width);
        self.text(font, size, x, y, &shown);
    }

    fn grey(&mut self, level: f32) {
        self.ops.push_str(&format!("{} g\n", num(level)));
    }

    fn rule(&mut self, y: f32) {
        self.ops.push_str(&format!(
            "0.6 G 0.5 w {} {} m {} {} l S\n",
            num(MARGIN),
            num(y),
            num(MARGIN + CONTENT_WIDTH),
            num(y)
        ));
    }

    /// A code with its top left module at (`x`, `top`), `module` points a side: one rectangle per
    /// horizontal run of dark modules, in a coordinate system of modules with y downwards.
    fn qr(&mut self, matrix: &QrMatrix, x: f32, top: f32, module: f32) {
        self.ops.push_str(&format!(
            "q 0 g {} 0 0 {} {} {} cm\n",
            num(module),
            num(-module),
            num(x),
            num(top)
        ));
        let width = matrix.width();
        for y in 0..width {
            let mut run_start = None;
            for x in 0..=width {
                match (matrix.is_dark(x, y), run_start) {
                    (true, None) => run_start = Some(x),
                    (false, Some(start)) => {
                        self.ops
                            .push_str(&format!("{start} {y} {} 1 re\n", x - start));
                        run_start = None;
                    }
                    _ => {}
                }
            }
        }
        self.ops.push_str("f Q\n");
    }
}

/// Renders the page.
pub(crate) fn render(sheet: &PassportSheet, codes: &[QrMatrix]) -> Vec<u8> {
    let mut canvas = Canvas::default();
    let mut y = PAGE_HEIGHT - 50.0;
    canvas.grey(0.0);
    canvas.text(Font::Bold, 20.0, MARGIN, y, b"Learning passport");
    y -= 15.0;
    canvas.grey(0.35);
    canvas.text(
        Font::Regular,
        8.5,
        MARGIN,
        y,
        b"An Open Badges 3.0 credential signed by its issuer. The QR code below carries the whole credential.",
    );
    y -= 24.0;

    let name_transliterated = match &sheet.learner {
        Learner::Named { name, birth_year } => {
            field(&mut canvas, &mut y, b"Learner", Font::Bold, 13.0, name);
            if let Some(year) = birth_year {
                field(
                    &mut canvas,
                    &mut y,
                    b"Birth year",
                    Font::Regular,
                    10.0,
                    year,
                );
            }
            winansi(name).transliterated
        }
        Learner::Hashed => {
            field(
                &mut canvas,
                &mut y,
                b"Learner",
                Font::Oblique,
                10.0,
                "hashed recipient identifier: the passport names the learner only by a salted hash",
            );
            false
        }
        Learner::Unnamed => {
            field(
                &mut canvas,
                &mut y,
                b"Learner",
                Font::Oblique,
                10.0,
                "not named in the passport",
            );
            false
        }
    };
    let other_transliterated = [&sheet.issuer_name, &sheet.issuer_id, &sheet.credential_id]
        .into_iter()
        .chain(sheet.achievements.iter().flat_map(|row| {
            [&row.title, &row.subject_level, &row.result]
                .into_iter()
                .chain(&row.outcomes)
        }))
        .any(|text| winansi(text).transliterated);
    let note = if name_transliterated {
        Some("The name is shown in Latin letters; the exact name is in the QR credential.")
    } else if other_transliterated {
        Some("Some text is shown in Latin letters; the QR credential holds it exactly.")
    } else {
        None
    };
    if let Some(note) = note {
        canvas.grey(0.35);
        canvas.text_fit(Font::Oblique, 8.5, VALUE_X, y + 3.0, CONTENT_WIDTH, note);
        y -= 12.0;
    }
    field(
        &mut canvas,
        &mut y,
        b"Issuer",
        Font::Regular,
        10.0,
        &sheet.issuer_name,
    );
    field(
        &mut canvas,
        &mut y,
        b"Issuer id",
        Font::Regular,
        7.5,
        &sheet.issuer_id,
    );
    field(
        &mut canvas,
        &mut y,
        b"Credential",
        Font::Regular,
        8.5,
        &sheet.credential_id,
    );
    field(
        &mut canvas,
        &mut y,
        b"Valid",
        Font::Regular,
        10.0,
        &validity(sheet),
    );
    if let Some(date) = &sheet.last_activity {
        field(
            &mut canvas,
            &mut y,
            b"Last activity",
            Font::Regular,
            10.0,
            date,
        );
    }
    y -= 8.0;

    canvas.grey(0.0);
    let heading = format!("Achievements ({})", sheet.achievements.len());
    canvas.text(Font::Bold, 11.0, MARGIN, y, heading.as_bytes());
    y -= 15.0;
    let table_top = y;
    // The rows kept free, plus the line that counts the rows left out.
    let ceiling = table_top - table_height(MIN_TABLE_ROWS + 1) - TABLE_GAP;
    let codes_top = layout_codes(&mut canvas, codes, ceiling);
    table(
        &mut canvas,
        &sheet.achievements,
        table_top,
        codes_top + TABLE_GAP,
    );

    canvas.grey(0.35);
    let instructions: [&[u8]; 2] = [
        b"To verify at a school: scan every code on this page into a text file, one line per code, and run",
        b"haven passport verify FILE --trust ISSUERS.jwks   (the issuer's public keys). The page alone proves nothing.",
    ];
    for (i, line) in instructions.iter().enumerate() {
        canvas.text(Font::Regular, 8.0, MARGIN, 50.0 - 11.0 * i as f32, line);
    }
    document(canvas.ops.as_bytes())
}

/// A labelled line of the header block, moving `y` down.
fn field(canvas: &mut Canvas, y: &mut f32, label: &[u8], font: Font, size: f32, value: &str) {
    canvas.grey(0.35);
    canvas.text(Font::Regular, 9.0, MARGIN, *y, label);
    canvas.grey(0.0);
    canvas.text_fit(
        font,
        size,
        VALUE_X,
        *y,
        MARGIN + CONTENT_WIDTH - VALUE_X,
        value,
    );
    *y -= 15.0;
}

fn validity(sheet: &PassportSheet) -> String {
    let date = |secs: i64| {
        chrono::DateTime::from_timestamp(secs, 0)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "?".into())
    };
    match (sheet.valid_from, sheet.valid_until) {
        (Some(from), Some(until)) => format!("{} to {}", date(from), date(until)),
        (Some(from), None) => format!("from {}, no end date", date(from)),
        (None, Some(until)) => format!("until {}", date(until)),
        (None, None) => "no dates stated".into(),
    }
}

/// Height of the table header plus `rows` rows.
fn table_height(rows: usize) -> f32 {
    14.0 + ROW_HEIGHT * rows as f32
}

/// The achievements from `top` down to no lower than `bottom`; what does not fit is counted.
fn table(canvas: &mut Canvas, rows: &[SheetRow], top: f32, bottom: f32) {
    let headers: [&[u8]; 4] = [b"Achievement", b"Subject / level", b"Result", b"Outcomes"];
    canvas.grey(0.35);
    for (header, (x, _)) in headers.iter().zip(COLUMNS) {
        canvas.text(Font::Bold, 8.0, x, top, header);
    }
    canvas.rule(top - 4.0);
    canvas.grey(0.0);
    if rows.is_empty() {
        canvas.text(
            Font::Oblique,
            9.0,
            MARGIN,
            top - 14.0,
            b"No achievements recorded.",
        );
        return;
    }
    let room = ((top - 14.0 - bottom) / ROW_HEIGHT).floor().max(1.0) as usize;
    let shown = if rows.len() <= room {
        rows.len()
    } else {
        room - 1
    };
    let mut y = top - 14.0;
    for row in &rows[..shown] {
        let cells = [
            row.title.clone(),
            row.subject_level.clone(),
            row.result.clone(),
            row.outcomes.join(", "),
        ];
        for (cell, (x, width)) in cells.iter().zip(COLUMNS) {
            canvas.text_fit(Font::Regular, 8.5, x, y, width - 4.0, cell);
        }
        y -= ROW_HEIGHT;
    }
    if shown < rows.len() {
        let more = format!("and {} more: see the QR code", rows.len() - shown);
        canvas.text(Font::Oblique, 8.5, MARGIN, y, more.as_bytes());
    }
}

/// Places the codes above the instructions, at most two a row, as large as fits below `ceiling`
/// (and no larger than [`MAX_CODE_SIDE`] and [`MAX_MODULE`] allow). Returns the top of the block.
fn layout_codes(canvas: &mut Canvas, codes: &[QrMatrix], ceiling: f32) -> f32 {
    let floor = 68.0;
    if codes.is_empty() {
        return floor;
    }
    let per_row = codes.len().min(2);
    let rows = codes.len().div_ceil(2);
    let modules = codes.iter().map(QrMatrix::width).max().unwrap_or(21) + 2 * QUIET_ZONE;
    let by_height = (ceiling - floor - rows as f32 * CAPTION_HEIGHT - (rows - 1) as f32 * CODE_GAP)
        / rows as f32;
    let by_width = (CONTENT_WIDTH - (per_row - 1) as f32 * CODE_GAP) / per_row as f32;
    let side = MAX_CODE_SIDE
        .min(by_height)
        .min(by_width)
        .min(MAX_MODULE * modules as f32);
    let module = side / modules as f32;
    let block_height = rows as f32 * (side + CAPTION_HEIGHT) + (rows - 1) as f32 * CODE_GAP;
    let top = floor + block_height;
    for (i, matrix) in codes.iter().enumerate() {
        let (row, col) = (i / 2, i % 2);
        let in_row = (codes.len() - row * 2).min(2);
        let row_width = in_row as f32 * side + (in_row - 1) as f32 * CODE_GAP;
        let left = MARGIN + (CONTENT_WIDTH - row_width) / 2.0 + col as f32 * (side + CODE_GAP);
        let code_top = top - row as f32 * (side + CAPTION_HEIGHT + CODE_GAP);
        // Each code is centred in its square, so codes of different versions line up.
        let inset = (side - matrix.width() as f32 * module) / 2.0;
        canvas.qr(matrix, left + inset, code_top - inset, module);
        let caption = format!("Code {} of {}", i + 1, codes.len());
        let caption_width = Font::Regular.width(caption.as_bytes(), 8.0);
        canvas.grey(0.35);
        canvas.text(
            Font::Regular,
            8.0,
            left + (side - caption_width) / 2.0,
            code_top - side - 9.0,
            caption.as_bytes(),
        );
    }
    top
}

/// The file: header, eight objects, cross-reference table and trailer.
fn document(content: &[u8]) -> Vec<u8> {
    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(content, 9);
    let mut stream = format!(
        "<< /Length {} /Filter /FlateDecode >>\nstream\n",
        compressed.len()
    )
    .into_bytes();
    stream.extend_from_slice(&compressed);
    stream.extend_from_slice(b"\nendstream");
    let font = |name: &str| {
        format!("<< /Type /Font /Subtype /Type1 /BaseFont /{name} /Encoding /WinAnsiEncoding >>")
            .into_bytes()
    };
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] /Resources << /Font << /F1 4 0 R /F2 5 0 R /F3 6 0 R >> >> /Contents 7 0 R >>",
            num(PAGE_WIDTH),
            num(PAGE_HEIGHT)
        )
        .into_bytes(),
        font("Helvetica"),
        font("Helvetica-Bold"),
        font("Helvetica-Oblique"),
        stream,
        b"<< /Title (Learning passport) /Producer (Haven) >>".to_vec(),
    ];
    // The comment's bytes above 127 tell transfer tools that the file is binary.
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(object);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info {} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1,
            objects.len()
        )
        .as_bytes(),
    );
    pdf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_cut_to_its_column_with_an_ellipsis() {
        let long = winansi(&"Fractions, decimals and percentages ".repeat(10)).bytes;
        let cut = fit(&long, Font::Regular, 8.5, 150.0);
        assert!(Font::Regular.width(&cut, 8.5) <= 150.0);
        assert!(cut.len() < long.len());
        assert_eq!(cut.last(), Some(&ELLIPSIS));
        assert!(cut.starts_with(b"Fractions, decimals"));
        let short = winansi("Fractions").bytes;
        assert_eq!(fit(&short, Font::Bold, 8.5, 150.0), short);
    }

    #[test]
    fn winansi_keeps_latin_letters_and_typography_and_transliterates_the_rest() {
        let latin = winansi("Zoë’s “café” – 5 €");
        assert!(!latin.transliterated);
        assert_eq!(
            escape(&latin.bytes),
            r"Zo\353\222s \223caf\351\224 \226 5 \200"
        );
        let cyrillic = winansi("Дарья");
        assert!(cyrillic.transliterated);
        assert_eq!(cyrillic.bytes, b"Dar'ya");
        let geez = winansi("ሰላም");
        assert!(geez.transliterated);
        assert!(geez.bytes.iter().all(u8::is_ascii_graphic));
        assert_eq!(winansi("a\tb\u{0}").bytes, b"a b ");
    }

    #[test]
    fn numbers_are_written_without_trailing_zeros() {
        assert_eq!(num(595.28), "595.28");
        assert_eq!(num(20.0), "20");
        assert_eq!(num(8.5), "8.5");
        assert_eq!(num(-0.001), "0");
    }
}
