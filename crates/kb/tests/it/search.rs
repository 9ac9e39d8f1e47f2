use flexcord_kb::{Confidence, KnowledgeBase, Language, SearchOptions};

fn kb() -> KnowledgeBase {
    KnowledgeBase::sample().expect("sample index")
}

fn top(kb: &KnowledgeBase, q: &str) -> Vec<String> {
    kb.search(q, 3)
        .expect("search")
        .into_iter()
        .map(|s| s.id)
        .collect()
}

#[test]
fn vietnamese_without_diacritics_matches() {
    let kb = kb();
    assert_eq!(top(&kb, "doi mat khau")[0], "reset-password-vi");
    assert_eq!(top(&kb, "đổi mật khẩu")[0], "reset-password-vi");
    // đ folds to d
    assert_eq!(top(&kb, "khong dang nhap duoc")[0], "login-problems-vi");
}

#[test]
fn title_outweighs_body() {
    let kb = kb();
    // "cache" is in one title and in other bodies
    assert_eq!(top(&kb, "cache")[0], "slow-loading-clear-cache");
}

#[test]
fn typos_are_tolerated() {
    let kb = kb();
    assert_eq!(top(&kb, "pasword resett")[0], "reset-password");
    assert_eq!(top(&kb, "evolusion of critters")[0], "critter-evolution");
}

#[test]
fn stemming_matches_word_forms() {
    let kb = kb();
    assert!(top(&kb, "refunded purchases").contains(&"request-refund".to_owned()));
}

#[test]
fn synonyms_widen_the_query() {
    let kb = kb();
    assert_eq!(top(&kb, "reimbursement please")[0], "request-refund");
}

#[test]
fn off_topic_suggests_nothing_but_raw_ranking_still_ranks() {
    let kb = kb();
    let options = SearchOptions::default();
    for q in [
        "how tall is mount everest",
        "recipe for banana bread",
        "xin chao",
        "lịch chiếu phim rạp tối nay",
        "are you a bot",
        "thank you, that helped",
    ] {
        let answer = kb.answer(q, &options).expect("search");
        assert_eq!(answer.confidence, Confidence::Unknown, "{q}");
        assert!(answer.suggestions.is_empty(), "{q}");
        assert!(kb.search(q, 5).expect("search").is_empty(), "{q}");
    }
    // Questions to the bot itself share a word with an article ("name", "tên"): at most
    // "Is it one of these?", never a sure answer.
    for q in ["what is your name", "bạn tên gì"] {
        let answer = kb.answer(q, &options).expect("search");
        assert_ne!(answer.confidence, Confidence::Sure, "{q}");
        assert!(answer.suggestions.len() <= 3, "{q}");
    }
    let raw = SearchOptions::default().with_threshold(None);
    assert!(
        !kb.search_with("banana bread recipe for the raid", &raw)
            .expect("search")
            .is_empty()
    );
}

#[test]
fn suggestions_carry_title_url_snippet_and_confidence() {
    let kb = kb();
    let hits = kb.search("reset my password", 3).expect("search");
    let first = &hits[0];
    assert_eq!(first.title, "Reset your password");
    assert_eq!(
        first.url,
        "https://help.critterquest.example/articles/reset-password"
    );
    assert_eq!(first.lang, Language::English);
    assert!(
        first.snippet.to_lowercase().contains("password"),
        "{}",
        first.snippet
    );
    assert!(!first.snippet.contains("**"), "{}", first.snippet);
    assert!(first.snippet.chars().count() <= 182, "{}", first.snippet);
    assert!(first.confidence > flexcord_kb::DEFAULT_SURE_THRESHOLD && first.confidence <= 1.0);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn english_queries_prefer_english_articles() {
    let kb = kb();
    let hits = kb.search("GPS signal", 5).expect("search");
    assert_eq!(hits[0].lang, Language::English);
}

#[test]
fn empty_and_odd_queries_are_safe() {
    let kb = kb();
    for q in ["", "   ", "???", "🙂🙂", &"a".repeat(10_000), "\u{0}"] {
        assert!(kb.search(q, 3).is_ok(), "{q:?}");
    }
}

#[test]
fn limit_is_respected() {
    let kb = kb();
    let raw = SearchOptions::default().with_threshold(None).with_limit(2);
    assert_eq!(kb.search_with("account", &raw).expect("search").len(), 2);
}

#[test]
fn the_three_bands() {
    let kb = kb();
    let options = SearchOptions::default();
    let sure = kb.answer("forgot my password", &options).expect("search");
    assert_eq!(sure.confidence, Confidence::Sure);
    assert_eq!(sure.suggestions[0].id, "reset-password");
    let unknown = kb
        .answer("who won the football match", &options)
        .expect("search");
    assert_eq!(unknown.confidence, Confidence::Unknown);
    assert!(unknown.suggestions.is_empty());
    // a vague message: "Is it one of these?" with at most three articles
    let vague = kb.answer("it doesnt work", &options).expect("search");
    assert_ne!(vague.confidence, Confidence::Sure);
    assert!(vague.suggestions.len() <= 3);
    // the threshold off: the raw ranking, whatever the band
    let raw = kb
        .answer(
            "who won the football match",
            &options.clone().with_threshold(None),
        )
        .expect("search");
    assert!(!raw.suggestions.is_empty());
}

#[test]
fn a_long_message_finds_its_question() {
    let kb = kb();
    let story = "Hi there! I have been playing every day since the summer and I love the \
                 events. Yesterday I bought a bundle of coins with my card. The money left my \
                 account but the coins never showed up in the game. What should I do? Thanks!";
    let hits = kb.search(story, 3).expect("search");
    assert_eq!(
        hits.first().map(|h| h.id.as_str()),
        Some("missing-purchase"),
        "{hits:#?}"
    );
}

#[test]
fn chat_abbreviations_and_spelling() {
    let kb = kb();
    assert_eq!(top(&kb, "forgot my pw")[0], "reset-password");
    let vi = top(&kb, "ko vao dc game");
    assert!(vi[0].starts_with("login-problems"), "{vi:?}");
    assert_eq!(
        top(&kb, "game keeps crashin on startup")[0],
        "app-crashes-on-launch"
    );
}

fn small_kb(articles: &[(&str, &str, &str)]) -> KnowledgeBase {
    let articles = articles
        .iter()
        .map(|(id, title, body)| {
            let text = format!(
                "---\nid: {id}\ntitle: {title}\ntags: [help]\nlang: en\nurl: https://example.com/{id}\n---\n{body}\n"
            );
            flexcord_kb::parse_article(&text, id).expect("article").0
        })
        .collect();
    KnowledgeBase::from_articles(articles).expect("index")
}

#[test]
fn cut_words_are_completed_and_plural_abbreviations_expanded() {
    let kb = small_kb(&[
        (
            "problems",
            "Payment problems",
            "What to do when a payment problem appears.",
        ),
        (
            "passwords",
            "Passwords of several players on one phone",
            "Each player keeps a password in the settings.",
        ),
        ("events", "Weekly events", "Events start every Monday."),
    ]);
    let raw = SearchOptions::default().with_threshold(None);
    let ids = |q: &str, options: &SearchOptions| -> Vec<String> {
        kb.search_with(q, options)
            .expect("search")
            .into_iter()
            .map(|s| s.id)
            .collect()
    };
    // "prob" is no indexed word: only its completion "problem" finds the article
    assert_eq!(
        ids("prob", &raw).first().map(String::as_str),
        Some("problems")
    );
    let mut exact = raw.clone();
    exact.typo_tolerance = false;
    assert!(ids("prob", &exact).is_empty());
    // Vietnamese syllables are whole words: never completed
    let vietnamese = raw.clone().with_language(Some(Language::Vietnamese));
    assert!(ids("prob", &vietnamese).is_empty());
    // a cut that begins no indexed word finds nothing
    assert_eq!(ids("zzz", &raw), Vec::<String>::new());
    // "pwds": the plural of the abbreviation "pwd"
    assert_eq!(
        ids("two pwds", &raw).first().map(String::as_str),
        Some("passwords")
    );
}
