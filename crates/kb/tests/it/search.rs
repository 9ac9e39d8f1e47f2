use flexcord_kb::{KnowledgeBase, Language, SearchOptions};

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
    for q in [
        "how tall is mount everest",
        "recipe for banana bread",
        "xin chao",
        "lịch chiếu phim rạp tối nay",
        "what is your name",
        "are you a bot",
        "thank you, that helped",
        "bạn tên gì",
    ] {
        assert!(kb.search(q, 5).expect("search").is_empty(), "{q}");
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
    assert!(first.confidence > 0.3 && first.confidence <= 1.0);
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
