//! Reading a user's message before it is searched: sentences, the sentence that asks, chat
//! spelling and abbreviations.
//!
//! A message is split into sentences. Sentences that are only greetings, thanks, apologies or
//! function words ("Where are they?") are dropped. When some sentences ask something (a question mark, a question word at the
//! start, "help me", "làm sao"...) and others tell the story around it, the asking sentences
//! weigh [`ASKING`] and the others [`STORY`]; otherwise every sentence weighs the same. Each
//! word is then normalised: letters repeated three times or more become one ("pleaseee"), and
//! chat abbreviations of the [`Lexicon`] are replaced by what they stand for ("pw", "ko", "dc").

use std::collections::HashSet;
use std::sync::LazyLock;

use crate::article::Language;
use crate::lexicon::Lexicon;
use crate::text::{self, Word};

/// Weight of the words of a sentence that asks.
pub(crate) const ASKING: f32 = 1.0;
/// Weight of the words of the other sentences of a message that has an asking sentence.
pub(crate) const STORY: f32 = 0.5;

/// Most words of a message kept for searching (the asking sentences first).
const MAX_WORDS: usize = 40;

/// One word of the message, with the weight of its sentence.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QueryWord {
    pub(crate) word: Word,
    pub(crate) weight: f32,
    /// Index of its sentence (word pairs never cross sentences).
    pub(crate) sentence: usize,
}

/// A message ready to search.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parsed {
    pub(crate) words: Vec<QueryWord>,
    pub(crate) language: Language,
}

/// Words that only greet, thank, apologise or address someone (folded).
static FILLER: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    "hi hello hey hiya heya yo greetings morning afternoon evening good day thanks thank thx ty \
     cheers appreciate appreciated advance sorry bother bothering regards best dear sir madam \
     team guys folks everyone all love great awesome amazing nice lovely wonderful fun enjoy \
     enjoying fan huge long time player here again quick question just wondering hope hoping \
     doing fine well xin chao cam on chuc ngay tot lanh alo shop ad admin ban oi a nha nhe \
     minh em anh chi ah a vay voi hoi cho e"
        .split_whitespace()
        .collect()
});

/// First words of an asking sentence (folded).
static QUESTION_START: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    "how what why where when which who whom whose can could would will is are am do does did \
     should shall any anyone anybody help pls please plz is there whats hows wheres lam sao \
     tai sao vi sao the nao o dau bao gio khi nao co gi giup cho xin"
        .split_whitespace()
        .collect()
});

/// Phrases that make a sentence ask wherever they are (folded words joined by spaces).
const ASKING_PHRASES: &[&str] = &[
    "help me",
    "what do i do",
    "what should i do",
    "what can i do",
    "any idea",
    "any ideas",
    "how do i",
    "how can i",
    "how to",
    "is it possible",
    "i need",
    "i want to",
    "need help",
    "lam sao",
    "the nao",
    "nhu the nao",
    "o dau",
    "duoc khong",
    "dc khong",
    "phai lam gi",
    "lam gi",
    "giup minh",
    "giup em",
    "giup toi",
    "cach nao",
    "la gi",
    "bao lau",
];

/// A sentence of the message and whether it ended with a question mark.
fn sentences(message: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in message.chars() {
        if matches!(c, '.' | '!' | '?' | '\n' | ';' | '…' | '。' | '？' | '！') {
            let question = matches!(c, '?' | '？');
            if !current.trim().is_empty() {
                out.push((std::mem::take(&mut current), question));
            } else if question && let Some(last) = out.last_mut() {
                last.1 = true;
            }
            current.clear();
        } else {
            current.push(c);
        }
    }
    if !current.trim().is_empty() {
        out.push((current, false));
    }
    out
}

/// Letters repeated three times or more become one ("pleaseee" -> "please", "sooo" -> "so").
fn squeeze(word: &str) -> Option<String> {
    let chars: Vec<char> = word.chars().collect();
    let long_run = chars.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]);
    if !long_run || chars.iter().all(char::is_ascii_digit) {
        return None;
    }
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let run = j - i;
        out.push(c);
        if run == 2 {
            out.push(c);
        }
        i = j;
    }
    Some(out)
}

fn is_filler(words: &[Word]) -> bool {
    words
        .iter()
        .all(|w| text::is_stop(&w.folded) || FILLER.contains(w.folded.as_str()))
}

fn is_asking(words: &[Word], question_mark: bool) -> bool {
    if question_mark {
        return true;
    }
    let Some(first) = words.first() else {
        return false;
    };
    if QUESTION_START.contains(first.folded.as_str()) {
        return true;
    }
    let line = format!(
        " {} ",
        words
            .iter()
            .map(|w| w.folded.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let vietnamese_question = line.ends_with(" khong ") || line.ends_with(" ko ");
    vietnamese_question
        || ASKING_PHRASES
            .iter()
            .any(|p| line.contains(&format!(" {p} ")))
}

/// Reads a message (see the [module documentation](self)).
pub(crate) fn parse(message: &str, lexicon: &Lexicon, language: Option<Language>) -> Parsed {
    let language = language.unwrap_or_else(|| text::detect_language(message));
    let mut kept: Vec<(Vec<Word>, bool)> = Vec::new();
    for (sentence, question) in sentences(message) {
        let words = normalise(text::words(&sentence), lexicon, language);
        if words.is_empty() || is_filler(&words) {
            continue;
        }
        let asking = is_asking(&words, question);
        kept.push((words, asking));
    }
    let mixed = kept.len() > 1 && kept.iter().any(|s| s.1) && kept.iter().any(|s| !s.1);
    let mut words: Vec<QueryWord> = Vec::new();
    for (n, (sentence, asking)) in kept.into_iter().enumerate() {
        let weight = if mixed && !asking { STORY } else { ASKING };
        words.extend(sentence.into_iter().map(|word| QueryWord {
            word,
            weight,
            sentence: n,
        }));
    }
    if words.len() > MAX_WORDS {
        // keep the asking sentences' words first, then the earliest story words
        let mut order: Vec<usize> = (0..words.len()).collect();
        order.sort_by(|a, b| words[*b].weight.total_cmp(&words[*a].weight).then(a.cmp(b)));
        let mut keep = vec![false; words.len()];
        for i in order.into_iter().take(MAX_WORDS) {
            keep[i] = true;
        }
        let mut i = 0;
        words.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }
    Parsed { words, language }
}

/// Squeezes repeated letters and replaces abbreviations.
fn normalise(words: Vec<Word>, lexicon: &Lexicon, language: Language) -> Vec<Word> {
    let mut out = Vec::with_capacity(words.len());
    for word in words {
        let word = match squeeze(&word.exact) {
            Some(squeezed) => text::words(&squeezed).into_iter().next().unwrap_or(word),
            None => word,
        };
        // the plural of an abbreviation ("pwds", "msgs")
        let plural = word
            .folded
            .strip_suffix('s')
            .filter(|singular| singular.len() >= 3)
            .and_then(|singular| lexicon.abbreviation(singular, language));
        match lexicon.abbreviation(&word.folded, language).or(plural) {
            Some(long) => out.extend(long.iter().cloned()),
            None => out.push(word),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(parsed: &Parsed) -> Vec<(String, f32)> {
        parsed
            .words
            .iter()
            .map(|w| (w.word.folded.clone(), w.weight))
            .collect()
    }

    #[test]
    fn splits_sentences_and_keeps_question_marks() {
        let s = sentences("Hi! My coins are gone. What now?? ok");
        let texts: Vec<(&str, bool)> = s.iter().map(|(t, q)| (t.trim(), *q)).collect();
        assert_eq!(
            texts,
            [
                ("Hi", false),
                ("My coins are gone", false),
                ("What now", true),
                ("ok", false)
            ]
        );
        assert!(sentences("").is_empty());
        assert!(sentences("?!...").is_empty());
    }

    #[test]
    fn greetings_and_thanks_are_dropped_and_the_question_weighs_most() {
        let lexicon = Lexicon::builtin();
        let parsed = parse(
            "Hello team! I bought coins yesterday. Where do I find my coins? Thanks in advance",
            &lexicon,
            None,
        );
        let words = folded(&parsed);
        assert!(words.iter().all(|(w, _)| w != "hello" && w != "thanks"));
        let weight = |word: &str| {
            words
                .iter()
                .find(|(w, _)| w == word)
                .map(|(_, weight)| *weight)
        };
        assert_eq!(weight("bought"), Some(STORY));
        assert_eq!(weight("find"), Some(ASKING));
        // a question without a topical word does not take the weight from the story
        let vague = parse("I bought coins yesterday. Where are they?", &lexicon, None);
        assert!(
            vague
                .words
                .iter()
                .all(|w| (w.weight - ASKING).abs() < f32::EPSILON)
        );
        // one sentence: full weight
        let one = parse("my coins never arrived", &lexicon, None);
        assert!(
            one.words
                .iter()
                .all(|w| (w.weight - ASKING).abs() < f32::EPSILON)
        );
    }

    #[test]
    fn abbreviations_and_repeated_letters() {
        let lexicon = Lexicon::builtin();
        let parsed = parse("forgot my pw pleaseeee", &lexicon, Some(Language::English));
        let words: Vec<String> = folded(&parsed).into_iter().map(|w| w.0).collect();
        assert_eq!(words, ["forgot", "my", "password", "please"]);
        let vi = parse("ko vao dc game", &lexicon, None);
        assert_eq!(vi.language, Language::Vietnamese);
        let words: Vec<String> = vi.words.iter().map(|w| w.word.exact.clone()).collect();
        assert_eq!(words, ["không", "vao", "được", "game"]);
        // plurals of abbreviations of three letters or more; "us" is not "u" + s
        let plural = parse("two pwds and my accts", &lexicon, Some(Language::English));
        let words: Vec<String> = folded(&plural).into_iter().map(|w| w.0).collect();
        assert_eq!(words, ["two", "password", "and", "my", "account"]);
        let us = parse("help us", &lexicon, Some(Language::English));
        assert_eq!(us.words[1].word.folded, "us");
        assert_eq!(squeeze("sooo").as_deref(), Some("so"));
        assert_eq!(squeeze("too"), None);
        assert_eq!(squeeze("1000"), None);
    }

    #[test]
    fn vietnamese_questions_ask() {
        let w = text::words("nạp xu rồi có được không");
        assert!(is_asking(&w, false));
        let w = text::words("mình đã nạp xu hôm qua");
        assert!(!is_asking(&w, false));
    }

    #[test]
    fn odd_input_is_safe() {
        let lexicon = Lexicon::builtin();
        for message in [
            "",
            "   ",
            "?",
            "🙂 🙂",
            "\u{0}",
            &"word ".repeat(5000),
            &"ab.".repeat(3000),
        ] {
            let parsed = parse(message, &lexicon, None);
            assert!(parsed.words.len() <= MAX_WORDS, "{}", parsed.words.len());
        }
    }
}
