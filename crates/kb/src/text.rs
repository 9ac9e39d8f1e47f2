//! Text analysis shared by indexing and querying: tokenising, case and accent folding, English
//! stemming, syllable bigrams, stop words and language detection.

use std::collections::HashSet;
use std::sync::LazyLock;

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language as StemLanguage, LowerCaser, RawTokenizer, RemoveLongFilter,
    SimpleTokenizer, Stemmer, TextAnalyzer, TokenStream, WhitespaceTokenizer,
};
use unicode_normalization::UnicodeNormalization;

use crate::article::Language;

/// Name of the analyser for stemmed, accent-folded text (every language).
pub(crate) const STEM: &str = "kb_stem";
/// Name of the analyser that keeps diacritics (lower-cased only).
pub(crate) const EXACT: &str = "kb_exact";
/// Name of the analyser for pre-built bigram text (split on spaces only).
pub(crate) const BIGRAM: &str = "kb_bigram";

/// Longest token kept, in bytes.
const MAX_TOKEN: usize = 40;

/// The analyser for [`STEM`] fields: words, lower case, ASCII folding (which also turns `đ` into
/// `d`), English Snowball stemming.
pub(crate) fn stem_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(StemLanguage::English))
        .build()
}

/// The analyser for [`EXACT`] fields: words, lower case, diacritics kept.
pub(crate) fn exact_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN))
        .filter(LowerCaser)
        .build()
}

/// The analyser for [`BIGRAM`] fields.
pub(crate) fn bigram_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WhitespaceTokenizer::default()).build()
}

fn fold_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default())
        .filter(AsciiFoldingFilter)
        .build()
}

fn stemmer_only() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default())
        .filter(Stemmer::new(StemLanguage::English))
        .build()
}

/// Unicode NFC (so that a letter followed by combining marks tokenises like the usual
/// precomposed form) with apostrophes removed, so that "didn't" is one word (`didnt`) in queries and articles.
pub(crate) fn clean(text: &str) -> String {
    let text: String = text
        .nfd()
        .filter(|c| !matches!(c, '\'' | '\u{2019}'))
        .collect();
    modern_tone_marks(&text).nfc().collect()
}

/// Vietnamese tone marks (combining, after NFD).
fn is_tone(c: char) -> bool {
    matches!(c, '\u{300}' | '\u{301}' | '\u{303}' | '\u{309}' | '\u{323}')
}

/// Vietnamese writes the tone of a final `oa`, `oe`, `uy` on either vowel ("hòa" / "hoà",
/// "khóa" / "khoá", "thủy" / "thuỷ"). Moves it to the second vowel, so both spellings are one
/// word. Works on NFD text; other words are unchanged.
fn modern_tone_marks(nfd: &str) -> String {
    let chars: Vec<char> = nfd.chars().collect();
    let ends_word = |j: usize| {
        chars
            .get(j)
            .is_none_or(|n| !n.is_alphanumeric() && !is_tone(*n))
    };
    let mut out = String::with_capacity(nfd.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if i + 2 < chars.len() && is_tone(chars[i + 1]) {
            let first = c.to_ascii_lowercase();
            let second = chars[i + 2].to_ascii_lowercase();
            let pair = matches!((first, second), ('o', 'a' | 'e') | ('u', 'y'));
            // `qu` + `y` is a consonant and a vowel: the tone stays where it is
            let after_q = i > 0 && chars[i - 1].eq_ignore_ascii_case(&'q');
            if pair && !after_q && ends_word(i + 3) {
                out.push(c);
                out.push(chars[i + 2]);
                out.push(chars[i + 1]);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn single(analyzer: &mut TextAnalyzer, text: &str) -> String {
    let mut stream = analyzer.token_stream(text);
    let mut out = String::new();
    while stream.advance() {
        out.push_str(&stream.token().text);
    }
    out
}

/// One word of a text, in its three forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    /// Lower case, diacritics kept.
    pub(crate) exact: String,
    /// Lower case, diacritics removed.
    pub(crate) folded: String,
    /// Folded and stemmed: the form in [`STEM`] fields.
    pub(crate) stem: String,
}

impl Word {
    /// `true` when the user typed diacritics in this word.
    pub(crate) fn has_diacritics(&self) -> bool {
        self.exact != self.folded
    }
}

/// Splits a text into words (same tokenizer as the index).
pub(crate) fn words(text: &str) -> Vec<Word> {
    let text = clean(text);
    let mut exact = exact_analyzer();
    let mut fold = fold_analyzer();
    let mut stem = stemmer_only();
    let mut stream = exact.token_stream(&text);
    let mut out = Vec::new();
    while stream.advance() {
        let exact = stream.token().text.clone();
        let folded = single(&mut fold, &exact);
        let stemmed = single(&mut stem, &folded);
        out.push(Word {
            exact,
            folded,
            stem: stemmed,
        });
    }
    out
}

/// The text of a [`BIGRAM`] field: adjacent stemmed words joined by `_`, separated by spaces.
pub(crate) fn bigram_text(stems: &[String]) -> String {
    let mut out = String::new();
    for pair in stems.windows(2) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&pair[0]);
        out.push('_');
        out.push_str(&pair[1]);
    }
    out
}

/// Stemmed words of a text, as the [`STEM`] analyser makes them.
pub(crate) fn stems(text: &str) -> Vec<String> {
    stems_with(&mut stem_analyzer(), text)
}

/// [`stems`] with an analyser made once by the caller (from [`stem_analyzer`]).
pub(crate) fn stems_with(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let text = clean(text);
    let mut stream = analyzer.token_stream(&text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// Lower-cased, accent-folded words of a text joined by single spaces (for phrase lookups).
pub(crate) fn folded_line(text: &str) -> String {
    words(text)
        .into_iter()
        .map(|w| w.folded)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Markdown to plain text for snippets: headings, emphasis, list markers and table pipes removed.
pub(crate) fn plain_text(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for line in markdown.lines() {
        let mut line = line.trim();
        line = line.trim_start_matches('#').trim_start();
        if let Some(rest) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
            line = rest;
        }
        let digits = line.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && line[digits..].starts_with(". ") {
            line = &line[digits + 2..];
        }
        if line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')) {
            continue;
        }
        let cleaned = line.replace("**", "").replace(['*', '`', '_'], "");
        let cleaned = cleaned
            .trim_matches('|')
            .replace(" | ", "; ")
            .replace('|', " ");
        let cleaned = cleaned.trim();
        if cleaned.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(cleaned);
        if !cleaned.ends_with(['.', '!', '?', ':', ';']) {
            out.push('.');
        }
    }
    out
}

/// Function words (folded forms) that carry no topic: left out of single-word query clauses and
/// of the confidence measure (they still take part in two-word clauses).
static STOP: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    const EN: &str = "a an the and or but nor so if then than that this these those there here \
        is are was were be been being am i me my mine myself you your yours we our ours us he she \
        him her his they them their it its to of in on at for with from by as into onto about \
        over under up down out off again do does did doing done can could would should will shall \
        may might must have has had having how what whats which who whom whose why when where \
        not no yes just get gets got getting im ive id ill youre dont cant wont isnt arent doesnt \
        didnt wasnt couldnt shouldnt wouldnt s t d m ll re ve any some all very really too also \
        much many more most other such only own same each every both few please pls plz thanks \
        thank thx ty hi hello hey ok okay yeah yep hmm lol oh well still even now ever someone \
        anyone something anything know want need like one way thing things since because while \
        after before during around bye goodbye cya cool awesome";
    const VI: &str = "la cua va cac nhung mot co thi ma o de cho voi toi minh em anh chi ban ad \
        admin a nha nhe vay gi nao sao lam the roi dang se da bi nay do ay oi ha hay hoac neu vi \
        nen ra vao ve khong ko k phai giup luc may bao nhieu dau duoc dc j hoi xin chao cam on \
        lai nua van cung rat qua thay ai chu nhi";
    EN.split_whitespace().chain(VI.split_whitespace()).collect()
});

/// `true` for a folded word that carries no topic (or a short number).
pub(crate) fn is_stop(folded: &str) -> bool {
    if folded.chars().all(|c| c.is_ascii_digit()) {
        return folded.len() < 3;
    }
    folded.chars().count() < 2 || STOP.contains(folded)
}

/// Everyday words (folded) that say little about a help-center topic on their own: they count
/// for less in the confidence measure and in the ranking, whatever their rarity in a small
/// knowledge base.
static GENERIC: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    const EN: &str = "work works worked working use used using make made makes go goes going \
        went gone come comes came take takes took taken see seen saw look looks looking say says \
        said saying tell told ask asked asking try tried trying keep keeps kept give gave given \
        find found put set let seem seems feel felt think thought play plays played playing \
        start started stop stopped happen happened happens show shows showed shown change \
        changed leave left turn turned run running move call called help helps really good \
        bad great best better worse worst nice new old big small little long short high low \
        fast quick quickly slowly right wrong sure fine same different next last first second \
        third time times day days week weeks month months year years today tomorrow yesterday \
        tonight morning night hour minute minutes lot lots bit kind sort everything nothing \
        anything something everyone everybody nobody always never often sometimes usually \
        already yet soon again back away around near far place thing stuff way people person \
        man woman guy guys friend game games app apps phone problem problems issue issues \
        question questions reason reasons answer answers fix fixed fixing die dies died dying \
        mean means meant happen while without within through across thanks please maybe \
        probably actually basically literally totally completely anymore able unable why";
    const VI: &str = "game choi tro nguoi cai con ngay hom nay mai qua luon lai hoai hoi \
        thu moi cu nhieu it tot xau nhanh cham duoc biet nghi thay muon can";
    EN.split_whitespace().chain(VI.split_whitespace()).collect()
});

/// `true` for an everyday word (see [`GENERIC`]).
pub(crate) fn is_generic(folded: &str) -> bool {
    GENERIC.contains(folded)
}

/// Folded syllables that are common in Vietnamese and rare as English words.
static VI_MARKERS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    "khong ko duoc dc cua nhung toi minh muon lam sao roi chua nhan vay nhap dau ngay voi nguoi \
     phai bi vang mo xu nap tai khoan mat khau dang loi gi gap vien noi chuyen bao nhieu thoat \
     nha nhe oi cho giup hoan tien mua goi khoa ma duoc nay ve tro choi tim thay tin hieu cach \
     sai hay huy thi ban em anh chi gio viec ho tro lien he dien thoai cap nhat quen mk tk \
     giup xin"
        .split_whitespace()
        .collect()
});

/// Guesses the language of a message: Vietnamese when it has Vietnamese letters with diacritics
/// or enough typically Vietnamese syllables typed without them; English otherwise.
pub fn detect_language(text: &str) -> Language {
    let words = words(text);
    if words.is_empty() {
        return Language::English;
    }
    let accented = words
        .iter()
        .filter(|w| w.has_diacritics() && w.folded.is_ascii())
        .count();
    if accented > 0 {
        return Language::Vietnamese;
    }
    let markers = words
        .iter()
        .filter(|w| VI_MARKERS.contains(w.folded.as_str()))
        .count();
    #[allow(clippy::cast_precision_loss)]
    let share = markers as f64 / words.len() as f64;
    if markers >= 2 && share >= 0.34 {
        Language::Vietnamese
    } else {
        Language::English
    }
}

/// Optimal string alignment distance (Levenshtein with adjacent transpositions).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_vietnamese_and_d_with_stroke() {
        let w = words("Đặt lại MẬT KHẨU đăng nhập");
        let folded: Vec<_> = w.iter().map(|w| w.folded.as_str()).collect();
        assert_eq!(folded, ["dat", "lai", "mat", "khau", "dang", "nhap"]);
        assert_eq!(w[2].exact, "mật");
    }

    #[test]
    fn decomposed_input_is_composed_first() {
        let decomposed = "kha\u{301}ng nghi\u{323}";
        let w = words(decomposed);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].folded, "khang");
        assert_eq!(w[1].folded, "nghi");
    }

    #[test]
    fn old_and_new_tone_placement_are_one_word() {
        for (old, new) in [
            ("khóa", "khoá"),
            ("hòa", "hoà"),
            ("thủy", "thuỷ"),
            ("Khỏe", "Khoẻ"),
        ] {
            assert_eq!(clean(old), clean(new), "{old} / {new}");
        }
        // a tone before a final consonant, `qu`, and plain ASCII are unchanged
        assert_eq!(clean("hoàng quý khoản"), "hoàng quý khoản");
        assert_eq!(clean("go away"), "go away");
        assert_eq!(words("tài khoản bị khoá")[3].exact, words("khóa")[0].exact);
    }

    #[test]
    fn stems_english() {
        assert_eq!(stems("Crashes crashing"), ["crash", "crash"]);
    }

    #[test]
    fn bigrams_join_neighbours() {
        let s: Vec<String> = ["mat", "khau", "moi"].map(String::from).to_vec();
        assert_eq!(bigram_text(&s), "mat_khau khau_moi");
    }

    #[test]
    fn detects_language() {
        assert_eq!(detect_language("mình quên mật khẩu"), Language::Vietnamese);
        assert_eq!(
            detect_language("quen mat khau roi phai lam sao"),
            Language::Vietnamese
        );
        assert_eq!(detect_language("I forgot my password"), Language::English);
        assert_eq!(detect_language("where is the shop"), Language::English);
        assert_eq!(detect_language(""), Language::English);
    }

    #[test]
    fn plain_text_strips_markdown() {
        let md = "# Title\n\n1. Open **Settings**.\n- a `code` item\n\n| A | B |\n|---|---|\n| x | y |\n";
        assert_eq!(
            plain_text(md),
            "Title. Open Settings. a code item. A; B. x; y."
        );
    }
}
