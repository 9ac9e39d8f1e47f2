//! A small, hand-written table of equivalent phrasings for help-desk vocabulary, in English and
//! Vietnamese (typed without diacritics: the table is matched on folded text).
//!
//! When a phrase of a group occurs in a query, the other phrases of the group are searched too,
//! with a lower weight, and an article that has any of them counts as covering the phrase.

/// Groups of phrases that mean the same thing to a player asking for help.
const GROUPS: &[&[&str]] = &[
    &[
        "refund",
        "money back",
        "reimburse",
        "reimbursement",
        "chargeback",
        "hoan tien",
        "tra lai tien",
    ],
    &[
        "login",
        "log in",
        "sign in",
        "signin",
        "logon",
        "log on",
        "dang nhap",
        "vao game",
        "vao duoc game",
        "vao dc game",
    ],
    &["logout", "log out", "sign out", "dang xuat"],
    &["password", "passcode", "pwd", "mat khau", "mk"],
    &[
        "crash",
        "force close",
        "shuts down",
        "closes itself",
        "kicked out",
        "wont open",
        "doesnt open",
        "not opening",
        "wont start",
        "wont launch",
        "vang",
        "tu thoat",
    ],
    &["freeze", "frozen", "stuck", "treo", "dung hinh"],
    &[
        "charged",
        "billed",
        "paid",
        "payment",
        "thanh toan",
        "tru tien",
        "money taken",
        "took my money",
        "mat tien",
    ],
    &[
        "missing",
        "never arrived",
        "didnt arrive",
        "did not arrive",
        "never showed up",
        "not received",
        "never received",
        "never got",
        "chua nhan",
        "khong nhan duoc",
        "chua nhan duoc",
        "disappeared",
        "vanished",
        "gone missing",
        "bien mat",
    ],
    &["purchase", "bought", "order", "mua hang"],
    &["top up", "topup", "recharge", "nap"],
    &["coin", "currency", "xu"],
    &["delete", "remove", "erase", "xoa"],
    &["account", "acc", "profile", "tai khoan", "tk"],
    &[
        "banned",
        "suspended",
        "suspension",
        "locked",
        "bi khoa",
        "bi cam",
    ],
    &["appeal", "dispute", "khang nghi"],
    &[
        "kid", "child", "children", "son", "daughter", "minor", "tre em", "con toi",
    ],
    &[
        "2fa",
        "two factor",
        "authenticator",
        "verification code",
        "mfa",
        "otp",
        "xac thuc hai lop",
    ],
    &[
        "gift code",
        "promo code",
        "coupon",
        "voucher",
        "giftcode",
        "ma qua tang",
    ],
    &[
        "slow",
        "lag",
        "laggy",
        "takes forever",
        "loading",
        "tai cham",
        "load cham",
        "giat",
    ],
    &["battery", "drain", "hao pin"],
    &[
        "phone",
        "device",
        "mobile",
        "tablet",
        "ipad",
        "dien thoai",
        "thiet bi",
    ],
    &[
        "agent",
        "human",
        "person",
        "representative",
        "staff",
        "operator",
        "nhan vien",
        "nguoi that",
    ],
    &["manager", "supervisor", "quan ly"],
    &["gps", "location", "position", "dinh vi", "vi tri"],
    &[
        "teleport",
        "jumping",
        "jumps around",
        "drift",
        "bi troi",
        "troi vi tri",
        "nhay lung tung",
        "vi tri nhay",
    ],
    &["error", "loi", "bao loi"],
    &["bug", "glitch", "loi game"],
    &["trade", "swap", "exchange", "trao doi"],
    &["friend", "buddy", "ban be"],
    &["event", "su kien"],
    &["raid", "boss"],
    &["bag", "inventory", "storage", "tui do", "hanh trang"],
    &["evolve", "evolution", "tien hoa"],
    &["cancel", "unsubscribe", "huy"],
    &["subscription", "membership", "goi thang"],
    &["notification", "alert", "thong bao"],
    &[
        "language",
        "ngon ngu",
        "tieng viet",
        "vietnamese",
        "tieng anh",
    ],
    &["update", "patch", "new version", "cap nhat"],
    &["progress", "save data", "tien trinh", "du lieu choi"],
    &[
        "personal data",
        "my data",
        "my information",
        "du lieu ca nhan",
    ],
    &["report", "flag", "to cao", "bao cao"],
    &["cheater", "cheating", "hacker", "hack", "gian lan"],
    &["maintenance", "downtime", "servers down", "bao tri"],
    &[
        "support",
        "customer service",
        "ho tro",
        "cham soc khach hang",
    ],
    &[
        "hours",
        "opening hours",
        "support hours",
        "gio lam viec",
        "gio ho tro",
        "may gio",
    ],
    &["signal", "tin hieu"],
    &["not found", "khong tim thay"],
    &["reward", "phan thuong"],
    &["shop", "store", "cua hang"],
    &["contact", "lien he"],
    &[
        "sign up",
        "register",
        "create account",
        "dang ky",
        "tao tai khoan",
    ],
    &["parental", "parent", "family", "phu huynh"],
    &["weekend", "cuoi tuan"],
    &[
        "username",
        "user name",
        "display name",
        "nickname",
        "explorer name",
        "ten hien thi",
        "biet danh",
    ],
];

/// The alternatives found for a query: for each phrase of the query that the table knows, the
/// range of query words it covers and the other phrases of its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expansion {
    /// Index of the first query word of the phrase.
    pub(crate) start: usize,
    /// Number of query words in the phrase.
    pub(crate) len: usize,
    /// The equivalent phrases (folded text).
    pub(crate) alternatives: Vec<&'static str>,
}

/// Finds the table's phrases in a query given as folded words.
pub(crate) fn expand(folded: &[String]) -> Vec<Expansion> {
    let mut out = Vec::new();
    for group in GROUPS {
        for phrase in *group {
            let parts: Vec<&str> = phrase.split(' ').collect();
            if parts.len() > folded.len() {
                continue;
            }
            for start in 0..=folded.len() - parts.len() {
                let hit = parts
                    .iter()
                    .zip(&folded[start..])
                    .all(|(p, w)| matches_word(p, w));
                if hit {
                    out.push(Expansion {
                        start,
                        len: parts.len(),
                        alternatives: group.iter().copied().filter(|p| p != phrase).collect(),
                    });
                }
            }
        }
    }
    out
}

/// A table word matches a query word exactly, as an English plural / verb form, or (for words
/// of eight letters or more) with up to two typing errors.
fn matches_word(table: &str, word: &str) -> bool {
    word == table
        || table.len() >= 8 && word.len() >= 8 && crate::text::edit_distance(table, word) <= 2
        || table.len() >= 3
            && word
                .strip_prefix(table)
                .is_some_and(|rest| matches!(rest, "s" | "es" | "ed" | "d" | "ing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn finds_multi_word_phrases_and_plurals() {
        let found = expand(&words("i want my money back for two coins"));
        let refund = found
            .iter()
            .find(|e| e.alternatives.contains(&"refund"))
            .expect("money back");
        assert_eq!((refund.start, refund.len), (3, 2));
        assert!(
            found
                .iter()
                .any(|e| e.alternatives.contains(&"xu") && e.start == 7)
        );
    }

    #[test]
    fn long_words_tolerate_typos() {
        assert!(
            expand(&words("coins dissapeared"))
                .iter()
                .any(|e| e.alternatives.contains(&"missing"))
        );
        assert!(
            expand(&words("reimbursment"))
                .iter()
                .any(|e| e.alternatives.contains(&"refund"))
        );
        // short words must match exactly: "changed" is not "charged"
        assert!(expand(&words("changed")).is_empty());
    }

    #[test]
    fn no_partial_word_matches() {
        assert!(expand(&words("bagel")).is_empty());
        assert!(expand(&words("")).is_empty());
    }

    #[test]
    fn every_group_has_two_phrases_in_folded_lower_case() {
        for group in GROUPS {
            assert!(group.len() >= 2, "{group:?}");
            for p in *group {
                assert!(
                    p.is_ascii() && *p == p.to_lowercase() && !p.trim().is_empty(),
                    "{p}"
                );
            }
        }
    }
}
