//! Recognising that a user wants a person, in English and Vietnamese (with or without
//! diacritics), in two steps:
//!
//! 1. **Rules** for explicit requests for a human or live agent ("human", "live agent", "người
//!    thật", "connect me to an agent"), angry demands to escalate and refusals of the bot. They
//!    run on the message lower-cased, accent-folded and with punctuation removed, so "gặp nhân
//!    viên" and "gap nhan vien" are the same text. Single words do not decide: a request needs a
//!    verb of asking or talking next to a word for a person, or a short message that is only
//!    such a word ("agent please"). Questions about support (its hours, how to reach it) and
//!    people who are not staff (friends, other players) are not hand-offs.
//! 2. The **classifier** of [`crate::classifier`] for the requests in the user's own words
//!    ("you keep sending me the same link", "có ai trực không vậy").

use std::sync::LazyLock;

use regex::Regex;

use crate::classifier::{self, HandoffCrossValidation};
use crate::text;

/// Why a message asks for a hand-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum HandoffReason {
    /// The user asked for a human, a live agent or a real person.
    AskedForHuman,
    /// The user demanded an escalation (a manager, a complaint), typically angry.
    Escalation,
    /// The user refused to keep talking to a bot.
    RefusedBot,
    /// The hand-off classifier recognised a request for a person in the user's own words
    /// (frustration with the bot, "is anyone there?").
    Inferred,
}

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this module, checked by the tests.
    Regex::new(pattern).unwrap_or_else(|e| panic!("hand-off pattern {pattern:?}: {e}"))
}

/// Words for a member of staff (English, folded).
const EN_HUMAN: &str = r"(?:(?:real|live|actual|human|support|customer service|customer support|an actual|a real|a live) )*(?:human being|human|person|agent|rep|representative|staff|staff member|operator|employee|support team|team member|moderator|mod|admin|supervisor|manager|someone (?:real|from (?:support|staff|the team|your team|customer service))|somebody (?:real|from (?:support|staff|the team))|real people|real humans|people from support|customer service|customer support|live support|live chat|gm|game master)";

/// Words for a member of staff (Vietnamese, folded).
const VI_HUMAN: &str = r"(?:nhan vien(?: ho tro| cskh| tu van| cham soc khach hang| that)?|nguoi that(?: su)?|nguoi ho tro|nguoi phu trach|nguoi that de|con nguoi|tu van vien|tong dai vien|tong dai|admin|mod|cskh|quan ly|cap tren|bo phan ho tro|ben ho tro|doi ngu ho tro|support|agent|nguoi cua (?:game|nha phat hanh|cong ty))";

struct Patterns {
    ask: Vec<Regex>,
    /// "cần ... nhân viên": folded, `can` is also English ("can I get support in Vietnamese"),
    /// so this one only applies to Vietnamese messages.
    ask_vi: Regex,
    escalate: Vec<Regex>,
    refuse_bot: Vec<Regex>,
    hours_question: Regex,
    strong_desire: Regex,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    let fill = r"(?:\s+\w+){0,3}?";
    Patterns {
        ask: vec![
            // talk / speak / chat to a person
            re(&format!(
                r"\b(?:talk|speak|chat|speaking|talking|chatting|communicate)(?:\s+\w+)?\s+(?:to|with){fill}\s+{EN_HUMAN}\b"
            )),
            // connect / transfer / put me through to a person
            re(&format!(
                r"\b(?:connect|transfer|put|pass|forward|route|send|hand)\s+(?:me|us|this|my case|my ticket)(?:\s+(?:through|over|on))?\s+(?:to|with){fill}\s+{EN_HUMAN}\b"
            )),
            // get me / I want / I need / give me a person
            re(&format!(
                r"\b(?:get|give|find|bring|send)\s+me{fill}\s+{EN_HUMAN}\b"
            )),
            re(&format!(
                r"\b(?:i|we|id|i d)\s+(?:really\s+)?(?:want|need|would like|d like|wanna|demand|request|require|prefer|am asking for|m asking for)(?:\s+to\s+(?:talk|speak|chat)\s+(?:to|with))?{fill}\s+{EN_HUMAN}\b"
            )),
            re(&format!(
                r"\b(?:can|could|may)\s+(?:i|we)\s+(?:please\s+)?(?:have|get|see)\s+(?:a|an|the|some|your)?\s*{EN_HUMAN}\b"
            )),
            re(&format!(
                r"\b(?:let|allow)\s+me\s+(?:talk|speak|chat)\s+(?:to|with){fill}\s+{EN_HUMAN}\b"
            )),
            re(
                r"\b(?:is there|are there|do you have|got)\s+(?:a|an|any)\s+(?:real\s+|live\s+|actual\s+)?(?:human|person|agent|people|staff)\b.*\b(?:talk|speak|chat)\b",
            ),
            re(
                r"\b(?:talk|speak)\s+(?:to|with)\s+(?:someone|somebody|anyone|anybody)(?:\s+(?:please|pls|plz|now|asap|real|there))*(?:$|\s+(?:about|regarding|who|from support|at support|in charge))",
            ),
            re(
                r"\bhelp\s+from\s+(?:a|an|some|your)?\s*(?:real\s+|live\s+|actual\s+)?(?:human|person|agent|staff|staff member|representative)\b",
            ),
            re(
                r"\b(?:can|could|will|would)\s+(?:a|an|some|any)\s+(?:real\s+|live\s+|actual\s+)?(?:human|person|agent|staff member)\s+(?:help|assist|look at|contact|call|check)\b",
            ),
            re(
                r"\bget\s+(?:a|an)\s+(?:real\s+|live\s+|actual\s+)?(?:human|person|agent)(?:$|\s+(?:on|here|in here|to|please|pls|plz|now|asap|already))",
            ),
            // "I need someone to lock my account now": an urgent action only staff can take
            re(
                r"\b(?:need|needs|want)\s+(?:someone|somebody|a person|one of you|one of your people|anyone)(?:\s+(?:from|on|at)\s+(?:your|the)\s+(?:team|staff|support|end|side))?\s+to\s+(?:lock|freeze|block|secure|suspend|stop|check|fix|look at|look into|call|contact|reset|restore|recover|refund|reverse|cancel|delete|unlock|unban|handle|sort out|shut down|take down|kick)\b(?:\s+\w+){0,6}?\s+(?:now|right now|immediately|asap|urgently|right away|at once|today)\b",
            ),
            // "need an agent asap", "need a human now": no subject, but urgent
            re(
                r"\b(?:need|needs|want|get)\s+(?:a|an|some|your)\s+(?:real\s+|live\s+|actual\s+)?(?:human|person|agent|representative|staff member|admin|mod|gm)\s+(?:asap|now|right now|immediately|urgently|urgent|fast|quick|quickly|here now|on this)\b",
            ),
            re(
                r"\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:the\s+|your\s+)?(?:support|support team|helpdesk|help desk)\b",
            ),
            re(
                r"\b(?:can|could|will|would)\s+(?:someone|somebody|a person|an agent|a human|staff)(?:\s+from\s+\w+(?:\s+\w+)?)?\s+(?:contact|call|email|message|dm|reach|help)\s+me\b",
            ),
            re(
                r"^(?:humans? only|only humans?|no bots?|real humans? only)(?:\s+(?:please|pls|plz))?$",
            ),
            re(
                r"\b(?:noi chuyen|chat|tro chuyen|nhan tin)\s+voi\s+(?:mot\s+)?(?:con\s+)?nguoi(?:$|\s+(?:di|voi|nha|nhe|duoc khong|dc khong|a|that|khong phai))",
            ),
            re(
                r"\bgap\s+(?:mot\s+)?nguoi(?:$|\s+(?:di|voi|nha|nhe|that|ho tro|duoc khong|dc khong))",
            ),
            // the whole message is a request word, maybe with a politeness word ("human please")
            re(
                r"^(?:(?:i want|i need|give me|get me|a|an|the|my|some)\s+)?(?:real\s+|live\s+|actual\s+)*(?:agent|human|representative|operator|real person|live person|person|live support|customer service|support agent|support team|support staff|staff|live chat)(?:\s+(?:pls|plz|please|now|asap|thanks|thx|thank you|right now|here|ty))*$",
            ),
            // Vietnamese: (cho / tôi muốn / cần / xin) gặp, nói chuyện với, kết nối với, chuyển sang ... a person
            re(&format!(
                r"\b(?:gap|gap duoc|gap truc tiep|noi chuyen(?: truc tiep)?(?: voi)?|chat(?: truc tiep)?(?: voi)?|nhan tin(?: truc tiep)?(?: voi)?|trao doi(?: truc tiep)?(?: voi)?|ket noi(?: voi| toi| den)?|chuyen(?: minh| toi| em| cho minh| cho toi)?(?: sang| qua| cho| toi| den)|goi|keu|xin|muon)(?:\s+\w+){{0,2}}?\s+{VI_HUMAN}\b"
            )),
            re(&format!(
                r"^(?:cho\s+)?(?:xin\s+)?(?:gap\s+)?{VI_HUMAN}(?:\s+(?:oi|di|voi|a|nha|nhe|giup|ho|dau|dau roi|pls|ah|em|minh|toi|tui))*$"
            )),
        ],
        ask_vi: re(&format!(r"\bcan(?:\s+\w+){{0,2}}?\s+{VI_HUMAN}\b")),
        escalate: vec![
            re(
                r"\bescalat(?:e|ing)\s+(?:this|it|that|my|me|the (?:issue|case|ticket|problem|matter|complaint))\b",
            ),
            re(r"\b(?:please|pls|plz|just|you need to|i want you to)\s+escalate\b"),
            re(r"^escalate\b"),
            re(r"\b(?:want|need|request|demand|asking for)(?:\s+an?)?\s+escalation\b"),
            re(
                r"\b(?:i|we)\s+(?:want|need|would like|d like|demand|wanna)\s+to\s+(?:complain|file a complaint|make a complaint|lodge a complaint)\b",
            ),
            re(
                r"\b(?:speak|talk)\s+to\s+(?:your|a|the)\s+(?:boss|superior|manager|supervisor|higher up|higher ups)\b",
            ),
            // threats: a lawyer, a chargeback, public reviews, a regulator (the user wants a
            // person to act, whatever the words)
            re(
                r"\b(?:my|our)\s+(?:lawyer|attorney|solicitor)s?\b|\b(?:legal action|small claims court|take you to court|see you in court|class action)\b",
            ),
            re(
                r"\b(?:i will|i ll|ill|we will|we ll|going to|gonna|about to|will be|(?:i am|im|i m|were|we are) (?:filing|opening|doing|leaving|posting|calling|contacting|reporting|taking|starting|writing))\s+(?:\w+\s+){0,4}?(?:chargebacks?|charge back|lawsuit|sue|suing|1 star|one star|bad reviews?|negative reviews?|consumer protection|ftc|better business bureau|bbb|lawyer|attorney|the police)\b",
            ),
            re(
                r"\b(?:unless|if nobody|if no one|if noone)\s+(?:someone|somebody|a person|a human|an agent|a real person|staff|support|you guys|your team)(?:\s+(?:real|actual|from support|from your team))?\s+(?:\w+\s+){0,2}?(?:replies|reply|responds|respond|answers|answer|calls|call|fixes|fix|contacts|contact|gets back|helps|help|looks)\b",
            ),
            re(
                r"\b(?:se|sap|dang)\s+(?:kien|di kien|khoi kien|bao cong an|to cao|boc phot|danh gia 1 sao|danh gia mot sao)\b",
            ),
            re(r"\b(?:toi|minh|em|tui|tao)\s+(?:muon|can|se|phai)\s+khieu nai\b"),
            re(r"\b(?:bao|dua|chuyen)\s+(?:len|cho)\s+(?:cap tren|quan ly|sep)\b"),
            re(r"\b(?:gap|goi|keu)\s+(?:sep|cap tren|quan ly|nguoi co tham quyen)\b"),
        ],
        refuse_bot: vec![
            re(
                r"\b(?:not|no more|stop|dont want|do not want|done|done with|tired of|sick of)\s+(?:talking to\s+|to talk to\s+|chatting with\s+|with\s+)?(?:a|the|this|your|some|an)?\s*(?:bot|robot|machine|ai|automated (?:reply|replies|answers?))\b.*\b(?:human|person|agent|someone|somebody|people|real)\b",
            ),
            re(
                r"\b(?:human|person|agent|someone|somebody|people|real)\b.*\b(?:not|no)\s+(?:a|the|this|your|an)?\s*(?:bot|robot|machine|ai)\b",
            ),
            re(
                r"\bkhong\s+(?:phai|muon\s+(?:noi chuyen|chat|nhan tin|tro chuyen)\s+voi)\s+(?:la\s+|voi\s+)?(?:bot|robot|may|tu dong)\b",
            ),
            re(r"\b(?:dung|khong can|deo can|chan)\s+(?:bot|robot|may tra loi|tra loi tu dong)\b"),
        ],
        hours_question: re(
            r"\b(?:when|what time|which (?:hours|days)|opening hours|hours|what days|open on|available on|online on|gio lam viec|may gio|luc nao|khi nao|thoi gian lam viec|gio nao|ngay nao|co lam (?:viec )?(?:thu bay|chu nhat|cuoi tuan)|cuoi tuan|thu bay|chu nhat|ngay le|weekends?|saturdays?|sundays?|holidays?)\b",
        ),
        strong_desire: re(
            r"\b(?:now|right now|immediately|asap|i want|i need|connect me|transfer me|get me|ngay bay gio|ngay lap tuc|ngay di|lien|gap ngay|muon gap|can gap)\b",
        ),
    }
});

/// Compound words that contain a word for a person but mean a thing.
const THINGS: &[(&str, &str)] = &[
    ("password manager", "password tool"),
    ("task manager", "task tool"),
    ("file manager", "file tool"),
    ("download manager", "download tool"),
    ("app manager", "app tool"),
    ("device manager", "device tool"),
    ("storage manager", "storage tool"),
    ("account manager", "account tool"),
    ("travel agent", "travel thing"),
    ("secret agent", "secret thing"),
    ("user agent", "user thing"),
    ("agent role", "role thing"),
    ("staff role", "role thing"),
    ("moderator role", "role thing"),
    ("admin role", "role thing"),
    ("staff tag", "tag thing"),
];

/// The message as the rules and the classifier read it: lower case, no diacritics, no
/// punctuation, some compound words for things renamed.
pub(crate) fn normalise(message: &str) -> String {
    let without_apostrophes = message.replace(['\'', '’', '`'], "");
    let mut line = format!(" {} ", text::folded_line(&without_apostrophes));
    for (from, to) in THINGS {
        line = line.replace(&format!(" {from} "), &format!(" {to} "));
    }
    line.trim().to_owned()
}

/// Whether a message asks to be handed off to a person, and why: the rules first, then the
/// classifier.
///
/// ```
/// use flexcord_kb::{HandoffReason, detect_handoff};
/// assert_eq!(detect_handoff("please let me speak with a human"), Some(HandoffReason::AskedForHuman));
/// assert_eq!(detect_handoff("cho em gặp nhân viên với"), Some(HandoffReason::AskedForHuman));
/// assert_eq!(detect_handoff("what are your live agent hours?"), None);
/// assert_eq!(detect_handoff("how do I contact my friend"), None);
/// ```
pub fn detect_handoff(message: &str) -> Option<HandoffReason> {
    detect(message, false)
}

/// [`detect_handoff`], with a stricter classifier threshold when the knowledge base has a
/// sure answer to the message (`answered`).
pub(crate) fn detect(message: &str, answered: bool) -> Option<HandoffReason> {
    if let Some(reason) = rule(message) {
        return Some(reason);
    }
    let line = normalise(message);
    if line.is_empty() {
        return None;
    }
    let threshold = if answered {
        classifier::THRESHOLD_WHEN_ANSWERED
    } else {
        classifier::THRESHOLD
    };
    let p = &*PATTERNS;
    if p.hours_question.is_match(&line) && !p.strong_desire.is_match(&line) {
        // a question about support's hours or days, however it is worded
        return None;
    }
    (classifier::CLASSIFIER.probability(&line) >= threshold).then_some(HandoffReason::Inferred)
}

/// Cross-validates the hand-off classifier on its shipped training lines (see
/// `flexcord-kb handoff-cv`).
pub fn handoff_cross_validation(folds: usize) -> HandoffCrossValidation {
    classifier::cross_validate(folds)
}

/// The rules alone.
pub(crate) fn rule(message: &str) -> Option<HandoffReason> {
    let line = normalise(message);
    if line.is_empty() {
        return None;
    }
    let p = &*PATTERNS;
    if p.escalate.iter().any(|r| r.is_match(&line)) {
        return Some(HandoffReason::Escalation);
    }
    if p.refuse_bot.iter().any(|r| r.is_match(&line)) {
        return Some(HandoffReason::RefusedBot);
    }
    let asks = p.ask.iter().any(|r| r.is_match(&line))
        || (p.ask_vi.is_match(&line)
            && text::detect_language(message) == crate::article::Language::Vietnamese);
    if asks {
        if p.hours_question.is_match(&line) && !p.strong_desire.is_match(&line) {
            return None;
        }
        return Some(HandoffReason::AskedForHuman);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (message, hand-off expected). Half of each language are near misses.
    const EN: &[(&str, bool)] = &[
        ("can I please talk to a human", true),
        ("I need to speak with a real person about my account", true),
        ("connect me to a live agent", true),
        ("transfer me to customer service please", true),
        ("human please", true),
        ("Agent!", true),
        ("live agent plz", true),
        ("representative", true),
        ("Let me speak to someone from support", true),
        ("I'd like to chat with an actual human being", true),
        ("get me your supervisor, this is unacceptable", true),
        ("This is absurd. I want a manager now", true),
        (
            "I want to file a complaint about how this was handled",
            true,
        ),
        ("please escalate my ticket", true),
        ("I'm done talking to a bot, I want a person", true),
        (
            "stop sending automated replies and get me a real human",
            true,
        ),
        ("Could I get a representative on the line?", true),
        ("is it possible to talk to a staff member", true),
        ("i need a human asap my purchase vanished", true),
        ("put me through to an operator", true),
        ("I demand to speak to your boss", true),
        ("is there a human I could chat with", true),
        ("could a live person check my case", true),
        ("let me talk to the support team", true),
        ("humans only please", true),
        ("I would like to speak to someone about a charge", true),
        ("can I get help from a real person", true),
        ("how do I contact a friend in game", false),
        ("when are live agents available?", false),
        ("what are your support hours on Sunday", false),
        ("how do I chat with other players nearby", false),
        ("can I talk to my friends while raiding", false),
        ("my password manager does not autofill the login", false),
        ("the human critter evolution is bugged", false),
        ("how do I report a person who is cheating", false),
        ("is the bot down? /helpme does nothing", false),
        ("how do I become a moderator on the Discord server", false),
        ("what does an agent do when I open a case", false),
        ("I want to trade with someone nearby", false),
        ("transfer my account to a new phone", false),
        (
            "my kid talks to strangers in chat, can I turn that off",
            false,
        ),
        ("where can I find the support article about refunds", false),
        ("this event is ridiculous lol", false),
        ("the game keeps crashing, so annoying", false),
        ("send a gift to my friend", false),
        ("what time does customer service open", false),
        ("how does escalation of raid difficulty work", false),
        ("give me more coins please", false),
        ("is there a person in the game who sells items", false),
        ("can I talk to someone in my guild from the map", false),
        ("how do I get a human-looking avatar", false),
        (
            "not a bot question: what does the support agent role do",
            false,
        ),
        ("can a critter help me in raids", false),
        ("how do I speak to someone in my raid group", false),
        ("I got help from a friend to evolve my critter", false),
        (
            "someone changed my email, i need somebody to freeze my account right now",
            true,
        ),
        ("need one of you to reverse this charge today", true),
        ("i need someone to raid with right now", false),
        ("i need someone to trade with today", false),
        ("how do i lock my account if my phone is stolen", false),
    ];

    const VI: &[(&str, bool)] = &[
        ("cho em gặp nhân viên hỗ trợ", true),
        ("tôi muốn nói chuyện với người thật", true),
        ("cho minh gap nhan vien voi", true),
        ("kết nối với nhân viên giúp mình", true),
        ("chuyển cho tôi sang nhân viên tư vấn", true),
        ("nhân viên đâu rồi", true),
        ("admin ơi", true),
        ("gọi admin ra đây giải quyết đi", true),
        ("cần gặp người hỗ trợ gấp", true),
        ("không phải bot, tôi cần người thật", true),
        ("tôi không muốn nói chuyện với bot nữa", true),
        ("cho xin gặp quản lý", true),
        ("mất tiền mà không ai xử lý, tôi muốn khiếu nại", true),
        ("báo lên cấp trên giùm tôi", true),
        ("muon chat voi nhan vien cskh", true),
        ("nhắn tin trực tiếp với tư vấn viên được không", true),
        ("cskh", true),
        ("gap nguoi that duoc khong", true),
        ("cho tui noi chuyen voi nhan vien", true),
        ("đừng bot nữa, cho gặp người", true),
        ("mình muốn nói chuyện với người, không phải máy", true),
        ("nhân viên ơi giúp em với", true),
        ("làm sao để gặp bạn bè trong game", false),
        ("nhân viên hỗ trợ làm việc mấy giờ", false),
        ("giờ làm việc của bộ phận hỗ trợ là khi nào", false),
        ("tôi gặp lỗi khi đăng nhập", false),
        ("gap loi QC-1002 khi mo game", false),
        ("nói chuyện với bạn bè trong game thế nào", false),
        ("kết nối tài khoản google như thế nào", false),
        ("chuyển xu cho bạn được không", false),
        ("bot discord không phản hồi lệnh /helpme", false),
        ("cách kháng nghị khi tài khoản bị khóa", false),
        ("người chơi khác gian lận thì báo cáo ở đâu", false),
        ("cuối tuần có nhân viên trực không", false),
        ("gặp boss raid ở đâu", false),
        ("cách nhập mã quà tặng", false),
        ("tôi muốn đổi mật khẩu", false),
        ("làm sao liên hệ hỗ trợ", false),
        ("nhân vật của tôi bị kẹt", false),
        ("game này hay quá", false),
        ("cách gặp người chơi khác để trao đổi", false),
        ("mình cần giúp về nạp xu", false),
        ("nói chuyện với người chơi khác bằng cách nào", false),
        ("nhân viên hỗ trợ có nói tiếng Việt không", false),
    ];

    fn check(table: &[(&str, bool)]) {
        let mut wrong = Vec::new();
        for (message, want) in table {
            let got = detect_handoff(message).is_some();
            if got != *want {
                wrong.push(format!("{message:?}: expected {want}, got {got}"));
            }
        }
        assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
    }

    #[test]
    fn english_table() {
        assert!(EN.len() >= 40 && EN.iter().filter(|(_, h)| !h).count() >= 20);
        check(EN);
    }

    #[test]
    fn vietnamese_table() {
        assert!(VI.len() >= 40 && VI.iter().filter(|(_, h)| !h).count() >= 20);
        check(VI);
    }

    #[test]
    fn vietnamese_without_diacritics_behaves_the_same() {
        for (message, want) in VI {
            let folded = normalise(message);
            assert_eq!(detect_handoff(&folded).is_some(), *want, "{folded}");
        }
    }

    #[test]
    fn reasons() {
        assert_eq!(
            detect_handoff("escalate this please"),
            Some(HandoffReason::Escalation)
        );
        assert_eq!(
            detect_handoff("not a bot, a real person please"),
            Some(HandoffReason::RefusedBot)
        );
        assert_eq!(detect_handoff(""), None);
        assert_eq!(detect_handoff("!!!"), None);
    }
}
