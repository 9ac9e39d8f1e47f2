//! Does a word look like a name (another game's, app's or service's)?
//!
//! A word the knowledge base does not have is a name, slang, a typo or an everyday word no
//! article uses ("couch", "cereal"). Everyday words are told apart with a general English
//! vocabulary (`lexicon/english-words.txt`: SCOWL's size-50 lists of lower-case words, as
//! Debian's `wamerican` ships it, with the British spellings of `wbritish`), its inflected
//! forms ("refunding", "shinies") and its common typos (a letter left out, two letters
//! swapped, a letter doubled: "battry", "forver", "closses"), chat words with a short written
//! list ([`CHAT`]), and Vietnamese syllables by their shape (an onset, a vowel group, a final
//! consonant: "zalo", "shopee" or "garena" are none). What is left ("fortnite", "netflix") is
//! likely a name.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Lower-case English words of three letters or more.
static ENGLISH: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../lexicon/english-words.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect()
});

/// Chat and gaming words that are no dictionary words but no names either (written for this
/// crate; folded).
static CHAT: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    "lol lmao lmfao rofl bruh bro bros sis noob noobs nub ngl tbh idk idc imo imho smh af rn \
     pls plz plzz thx tysm omg omfg wtf wth ffs gg ggs ez op nerf nerfed buff buffed afk brb \
     irl dm dms pm pms ig tho cuz coz cos bc wanna gonna gotta kinda sorta ya yea yeah yep yup \
     nope nah ok okay okey hmm hmmm ugh ughh meh nvm btw fyi asap ikr jk lmk ty tyvm np yw \
     ok pfp ign ingame gameplay laggy lagging glitchy glitched buggy respawn respawned \
     spawned spawns relog relogged relogging reinstall reinstalled uninstall uninstalled \
     unban unbanned login logins logout username usernames userid wifi smartphone email \
     emails online offline screenshot screenshots emoji emojis esports livestream \
     livestreams streamer streamers app apps appstore playstore bluetooth homescreen \
     lockscreen wallpaper autoplay autosave autosaved updated updating unlink unlinked \
     preorder microtransaction microtransactions lootbox lootboxes gacha grind grinding \
     grinded farming afking botting smurf smurfs toxic rage rages ragequit tryhard tryhards \
     mod mods modded hack hacks hacker hackers hacked cheat cheats cheater cheaters \
     dunno lemme gimme ain wasnt isnt doesnt dont didnt cant wont im ive ill id youre \
     theyre thats whats hows wheres theres its lets sry srry pleasee thanx thanku tq insta \
     istg fr frfr lowkey highkey sus bugged crashy crashin loadin smth sth sb smn yall ppl \
     pic pics vid vids info acc accs pw pwd pwds otp admin admins dev devs mic cam gps irl \
     notif notifs msg msgs lvl lvls min mins sec secs hr hrs perma bf gf bday tmr tmrw ur \
     popup popups couldn wouldn shouldn didn doesn isn aren wasn weren hasn haven hadn \
     hasnt havent hadnt wouldnt couldnt shouldnt arent werent todays monday tuesday \
     wednesday thursday friday saturday sunday mondays tuesdays wednesdays thursdays \
     fridays saturdays sundays january february april june july august september october \
     november december"
        .split_whitespace()
        .collect()
});

/// Onsets of a Vietnamese syllable (folded: "đ" is "d"), longest first.
const ONSETS: [&str; 27] = [
    "ngh", "ng", "nh", "ch", "gh", "gi", "kh", "ph", "qu", "th", "tr", "b", "c", "d", "g", "h",
    "k", "l", "m", "n", "p", "r", "s", "t", "v", "x", "",
];

/// Final consonants of a Vietnamese syllable.
const CODAS: [&str; 9] = ["", "c", "ch", "m", "n", "ng", "nh", "p", "t"];

/// `true` when a folded word has the shape of one Vietnamese syllable.
pub(crate) fn is_vietnamese_syllable(folded: &str) -> bool {
    if folded.is_empty() || !folded.chars().all(|c| c.is_ascii_lowercase()) {
        return false;
    }
    ONSETS.iter().any(|onset| {
        folded.strip_prefix(onset).is_some_and(|rest| {
            let vowels = rest
                .chars()
                .take_while(|c| matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y'))
                .count();
            (1..=3).contains(&vowels) && CODAS.contains(&&rest[vowels..])
        })
    })
}

/// `true` when a folded word is an English word or a chat word.
pub(crate) fn is_everyday(folded: &str) -> bool {
    ENGLISH.contains(folded) || CHAT.contains(folded)
}

/// `true` when a folded word is an inflected form of an English or chat word ("-s", "-es",
/// "-ies", "-ed", "-ing", "-er", with a dropped "e" or a doubled consonant).
fn is_inflected(folded: &str) -> bool {
    let known = |stem: &str| stem.len() >= 2 && is_everyday(stem);
    let undouble = |stem: &str| {
        let b = stem.as_bytes();
        b.len() >= 3 && b[b.len() - 1] == b[b.len() - 2] && known(&stem[..stem.len() - 1])
    };
    if let Some(stem) = folded.strip_suffix("ies") {
        if known(&format!("{stem}y")) {
            return true;
        }
    }
    for suffix in ["s", "es", "ed", "ing", "er", "ers", "d"] {
        if let Some(stem) = folded.strip_suffix(suffix) {
            if known(stem) || known(&format!("{stem}e")) || undouble(stem) {
                return true;
            }
        }
    }
    false
}

/// `true` when a folded word of five letters or more is a common typo of an English word of
/// five letters or more: a letter left out ("battry"), two neighbouring letters swapped
/// ("recieve"), a letter doubled ("closses"), or, from seven letters, one letter replaced.
fn is_typo(folded: &str) -> bool {
    let chars: Vec<char> = folded.chars().collect();
    let n = chars.len();
    if n < 5 {
        return false;
    }
    let english = |w: &str| w.len() >= 5 && ENGLISH.contains(w);
    let word = |v: &[char]| v.iter().collect::<String>();
    // a letter left out: insert one
    for i in 0..=n {
        for c in 'a'..='z' {
            let mut v = chars.clone();
            v.insert(i, c);
            if english(&word(&v)) {
                return true;
            }
        }
    }
    for i in 0..n {
        // a letter doubled
        if i > 0 && chars[i] == chars[i - 1] {
            let mut v = chars.clone();
            v.remove(i);
            if english(&word(&v)) {
                return true;
            }
        }
        // two neighbouring letters swapped
        if i + 1 < n && chars[i] != chars[i + 1] {
            let mut v = chars.clone();
            v.swap(i, i + 1);
            if english(&word(&v)) {
                return true;
            }
        }
        // one letter replaced
        if n >= 7 {
            for c in 'a'..='z' {
                if c != chars[i] {
                    let mut v = chars.clone();
                    v[i] = c;
                    if english(&word(&v)) {
                        return true;
                    }
                }
            }
        }
    }
    false
}

/// `true` when a folded word looks like a name: letters only, no English or chat word (nor an
/// inflected form or a common typo of one), not one Vietnamese syllable.
pub(crate) fn is_name_like(folded: &str) -> bool {
    folded.chars().count() >= 2
        && folded.chars().all(|c| c.is_ascii_lowercase())
        && !is_everyday(folded)
        && !is_vietnamese_syllable(folded)
        && !is_inflected(folded)
        && !is_typo(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_no_words_and_no_syllables() {
        for name in ["fortnite", "netflix", "zalo", "shopee", "garena", "momo"] {
            assert!(is_name_like(name), "{name}");
        }
        for word in [
            "couch",
            "cereal",
            "sideways",
            "bruh",
            "khoan",
            "nguyen",
            "gi",
            "x2",
            "behaviour",
            "shinies",
            "refunding",
            "battry",
            "forver",
            "closses",
            "recieve",
            "tuesday",
        ] {
            assert!(!is_name_like(word), "{word}");
        }
        assert!(is_vietnamese_syllable("nghieng"));
        assert!(!is_vietnamese_syllable("free"));
    }
}
