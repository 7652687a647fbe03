//! Call analysis without a model: talk ratio, questions, longest monologue, and a lexicon
//! sentiment score per speaker and for the whole call. Deterministic (same transcript, same
//! numbers, on every machine) and explainable (every score lists the words that made it).
//!
//! The method (also in the README):
//! - Talk time of a speaker = Σ (end − start) of their sentences; talk ratio = their talk time ÷
//!   everyone's talk time.
//! - Questions = sentences whose text ends with `?`.
//! - Longest monologue = the longest stretch in which one speaker talks without anybody else
//!   speaking in between (consecutive monologues of the same speaker are merged): last sentence
//!   end − first sentence start.
//! - Sentiment: each sentence is lower-cased and split into words (letters, digits and `'`).
//!   Each word found in [`LEXICON`] contributes its weight (−3…+3). A word preceded within the
//!   three words before it (same sentence) by a negator ([`NEGATORS`]: "not", "never", "don't"…)
//!   contributes the opposite weight ("not happy" counts −2). With P = the sum of positive
//!   contributions and N = the sum of the absolute negative ones, score = (P − N) ÷ (P + N), in
//!   [−1, 1], and 0 when no word of the lexicon occurs. Label: positive above 0.1, negative
//!   below −0.1, neutral otherwise. Rounded to 3 decimals.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::client::Monologue;

/// Version of the method; changes when the lexicon or the rules change.
pub const METHOD: &str = "sophia-lexicon-v1";

/// Words that flip the weight of a lexicon word up to three words after them.
pub const NEGATORS: &[&str] = &[
    "not",
    "no",
    "never",
    "none",
    "nothing",
    "neither",
    "nor",
    "cannot",
    "can't",
    "cant",
    "don't",
    "dont",
    "doesn't",
    "doesnt",
    "didn't",
    "didnt",
    "isn't",
    "isnt",
    "wasn't",
    "wasnt",
    "aren't",
    "arent",
    "weren't",
    "won't",
    "wont",
    "wouldn't",
    "wouldnt",
    "shouldn't",
    "couldn't",
    "hardly",
    "without",
];

/// The sales-conversation lexicon: word → weight. Sorted, lower case, one form per line.
pub const LEXICON: &[(&str, i8)] = &[
    ("amazing", 3),
    ("appreciate", 2),
    ("awesome", 3),
    ("bad", -2),
    ("benefit", 2),
    ("best", 3),
    ("blocked", -2),
    ("blocker", -2),
    ("broken", -2),
    ("bug", -2),
    ("bugs", -2),
    ("cancel", -2),
    ("churn", -2),
    ("clear", 1),
    ("complicated", -2),
    ("concern", -1),
    ("concerned", -2),
    ("concerns", -1),
    ("confident", 2),
    ("confusing", -2),
    ("costly", -2),
    ("crash", -2),
    ("delay", -1),
    ("delayed", -1),
    ("difficult", -2),
    ("disappointed", -3),
    ("disappointing", -3),
    ("easy", 2),
    ("effective", 2),
    ("excellent", 3),
    ("excited", 2),
    ("exciting", 2),
    ("expensive", -2),
    ("fail", -2),
    ("failed", -2),
    ("fantastic", 3),
    ("fast", 1),
    ("fine", 1),
    ("frustrated", -3),
    ("frustrating", -3),
    ("glad", 2),
    ("good", 2),
    ("great", 3),
    ("happy", 2),
    ("hard", -1),
    ("hate", -3),
    ("helpful", 2),
    ("impressed", 3),
    ("impressive", 3),
    ("improve", 1),
    ("interested", 1),
    ("issue", -1),
    ("issues", -1),
    ("like", 1),
    ("love", 3),
    ("missing", -1),
    ("nice", 2),
    ("perfect", 3),
    ("pleased", 2),
    ("poor", -2),
    ("problem", -2),
    ("problems", -2),
    ("risk", -1),
    ("risky", -2),
    ("sad", -2),
    ("slow", -1),
    ("smooth", 2),
    ("solid", 2),
    ("sorry", -1),
    ("success", 2),
    ("successful", 2),
    ("terrible", -3),
    ("thank", 1),
    ("thanks", 1),
    ("unclear", -1),
    ("unfortunately", -2),
    ("unhappy", -2),
    ("upset", -2),
    ("useful", 2),
    ("valuable", 2),
    ("value", 1),
    ("waste", -2),
    ("wonderful", 3),
    ("worried", -2),
    ("worry", -2),
    ("worse", -2),
    ("worst", -3),
    ("wrong", -2),
];

/// The weight of `word` (lower case) in the lexicon.
pub fn weight(word: &str) -> Option<i8> {
    LEXICON
        .binary_search_by(|(w, _)| (*w).cmp(word))
        .ok()
        .and_then(|i| LEXICON.get(i))
        .map(|(_, w)| *w)
}

/// Lower-case words of a sentence: runs of letters, digits and apostrophes (’ becomes ').
pub fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase().replace('\u{2019}', "'");
    lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Words of the lexicon found, with their counts and summed contributions.
#[derive(Debug, Default, Clone)]
struct Tally {
    positive: f64,
    negative: f64,
    hits: u64,
    /// word (with "not " when negated) → (count, summed contribution)
    words: BTreeMap<String, (u64, i64)>,
}

impl Tally {
    fn add_sentence(&mut self, text: &str) -> u64 {
        let ws = words(text);
        for (i, w) in ws.iter().enumerate() {
            let Some(base) = weight(w) else { continue };
            let negated = ws[i.saturating_sub(3)..i]
                .iter()
                .any(|p| NEGATORS.contains(&p.as_str()));
            let contribution = if negated {
                -i64::from(base)
            } else {
                i64::from(base)
            };
            if contribution > 0 {
                self.positive += contribution as f64;
            } else {
                self.negative += (-contribution) as f64;
            }
            self.hits += 1;
            let key = if negated {
                format!("not {w}")
            } else {
                w.clone()
            };
            let e = self.words.entry(key).or_insert((0, 0));
            e.0 += 1;
            e.1 += contribution;
        }
        ws.len() as u64
    }

    fn merge(&mut self, other: &Tally) {
        self.positive += other.positive;
        self.negative += other.negative;
        self.hits += other.hits;
        for (w, (n, c)) in &other.words {
            let e = self.words.entry(w.clone()).or_insert((0, 0));
            e.0 += n;
            e.1 += c;
        }
    }

    fn sentiment(&self) -> Sentiment {
        let total = self.positive + self.negative;
        let score = if total > 0.0 {
            round3((self.positive - self.negative) / total)
        } else {
            0.0
        };
        let label = if score > 0.1 {
            "positive"
        } else if score < -0.1 {
            "negative"
        } else {
            "neutral"
        };
        let mut pos: Vec<(&String, &(u64, i64))> =
            self.words.iter().filter(|(_, (_, c))| *c > 0).collect();
        pos.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(a.0.cmp(b.0)));
        let mut neg: Vec<(&String, &(u64, i64))> =
            self.words.iter().filter(|(_, (_, c))| *c < 0).collect();
        neg.sort_by(|a, b| a.1.1.cmp(&b.1.1).then(a.0.cmp(b.0)));
        let top = |v: Vec<(&String, &(u64, i64))>| {
            v.into_iter()
                .take(5)
                .map(|(w, (n, c))| WordHit {
                    word: w.clone(),
                    count: *n,
                    contribution: *c,
                })
                .collect()
        };
        Sentiment {
            score,
            label,
            positive: self.positive,
            negative: self.negative,
            lexicon_hits: self.hits,
            top_positive: top(pos),
            top_negative: top(neg),
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A lexicon word that moved a score.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct WordHit {
    /// The word, prefixed with "not " when a negator flipped it
    pub word: String,
    pub count: u64,
    /// Sum of its weights in this scope
    pub contribution: i64,
}

/// A lexicon sentiment score and what made it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Sentiment {
    /// (P − N) ÷ (P + N), from −1 (only negative words) to 1 (only positive); 0 without hits
    pub score: f64,
    /// positive (> 0.1), negative (< −0.1) or neutral
    pub label: &'static str,
    /// P: sum of positive contributions
    pub positive: f64,
    /// N: sum of absolute negative contributions
    pub negative: f64,
    /// Lexicon words found
    pub lexicon_hits: u64,
    /// Up to 5 words that pushed the score up
    pub top_positive: Vec<WordHit>,
    /// Up to 5 words that pushed the score down
    pub top_negative: Vec<WordHit>,
}

/// The numbers of one speaker.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SpeakerStats {
    pub speaker_id: String,
    /// Resolved through the call's parties; "Speaker <id>" when Gong does not know them
    pub name: String,
    /// Internal, External or Unknown (Gong's affiliation)
    pub affiliation: String,
    /// Seconds of speech (sum of sentence durations)
    pub talk_time_s: f64,
    /// Share of all talk time, 0..1
    pub talk_ratio: f64,
    pub words: u64,
    /// Sentences ending with "?"
    pub questions: u64,
    /// Longest uninterrupted stretch of this speaker, seconds
    pub longest_monologue_s: f64,
    pub sentiment: Sentiment,
}

/// The whole analysis.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Analysis {
    /// Speakers in order of first words
    pub speakers: Vec<SpeakerStats>,
    /// Seconds of speech of everyone
    pub total_talk_time_s: f64,
    pub total_questions: u64,
    /// Everyone's words together
    pub overall: Sentiment,
}

#[derive(Default)]
struct Acc {
    talk_ms: f64,
    words: u64,
    questions: u64,
    longest_ms: f64,
    tally: Tally,
}

/// Analyse a transcript; `who(speaker_id)` gives (name, affiliation).
pub fn analyse(monologues: &[Monologue], who: impl Fn(&str) -> (String, String)) -> Analysis {
    let mut order: Vec<String> = Vec::new();
    let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
    // Current run: (speaker, first start, last end).
    let mut run: Option<(String, f64, f64)> = None;
    let close = |acc: &mut BTreeMap<String, Acc>, run: &Option<(String, f64, f64)>| {
        if let Some((s, a, b)) = run
            && let Some(x) = acc.get_mut(s)
        {
            x.longest_ms = x.longest_ms.max((b - a).max(0.0));
        }
    };
    for m in monologues {
        if m.sentences.is_empty() {
            continue;
        }
        let id = m.speaker_id.clone();
        if !acc.contains_key(&id) {
            order.push(id.clone());
        }
        let first = m.sentences.first().map(|s| s.start).unwrap_or(0.0);
        let last = m.sentences.last().map(|s| s.end).unwrap_or(0.0);
        match &mut run {
            Some((s, _, end)) if *s == id => *end = last.max(*end),
            _ => {
                close(&mut acc, &run);
                run = Some((id.clone(), first, last));
            }
        }
        let a = acc.entry(id).or_default();
        for s in &m.sentences {
            a.talk_ms += (s.end - s.start).max(0.0);
            a.words += a.tally.add_sentence(&s.text);
            if s.text.trim_end().ends_with('?') {
                a.questions += 1;
            }
        }
    }
    close(&mut acc, &run);
    let total_ms: f64 = acc.values().map(|a| a.talk_ms).sum();
    let mut overall = Tally::default();
    let mut speakers = Vec::new();
    for id in order {
        let Some(a) = acc.get(&id) else { continue };
        overall.merge(&a.tally);
        let (name, affiliation) = who(&id);
        speakers.push(SpeakerStats {
            name,
            affiliation,
            talk_time_s: round3(a.talk_ms / 1000.0),
            talk_ratio: if total_ms > 0.0 {
                round3(a.talk_ms / total_ms)
            } else {
                0.0
            },
            words: a.words,
            questions: a.questions,
            longest_monologue_s: round3(a.longest_ms / 1000.0),
            sentiment: a.tally.sentiment(),
            speaker_id: id,
        });
    }
    Analysis {
        total_talk_time_s: round3(total_ms / 1000.0),
        total_questions: speakers.iter().map(|s| s.questions).sum(),
        speakers,
        overall: overall.sentiment(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Sentence;

    #[test]
    fn lexicon_is_sorted_lower_case_and_unique() {
        for pair in LEXICON.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        for (w, x) in LEXICON {
            assert_eq!(*w, w.to_lowercase());
            assert!((-3..=3).contains(x) && *x != 0, "{w}");
        }
        assert_eq!(weight("great"), Some(3));
        assert_eq!(weight("table"), None);
    }

    #[test]
    fn negation_flips_within_three_words() {
        let mut t = Tally::default();
        t.add_sentence("I am not very happy, but the demo was great.");
        // "happy" (+2) negated → −2; "great" +3.
        assert_eq!((t.positive, t.negative), (3.0, 2.0));
        let s = t.sentiment();
        assert_eq!(s.score, 0.2);
        assert_eq!(s.label, "positive");
        assert_eq!(s.top_negative[0].word, "not happy");
    }

    fn mono(id: &str, sentences: &[(f64, f64, &str)]) -> Monologue {
        Monologue {
            speaker_id: id.into(),
            topic: None,
            sentences: sentences
                .iter()
                .map(|(a, b, t)| Sentence {
                    start: *a,
                    end: *b,
                    text: t.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn talk_ratio_questions_and_merged_monologues() {
        let t = vec![
            mono("a", &[(0.0, 2_000.0, "Hi, thanks for joining?")]),
            mono("a", &[(2_000.0, 5_000.0, "Shall we start")]),
            mono("b", &[(5_000.0, 6_000.0, "Sure.")]),
        ];
        let r = analyse(&t, |id| (id.to_uppercase(), "Internal".into()));
        assert_eq!(r.speakers[0].longest_monologue_s, 5.0);
        assert_eq!(r.speakers[0].talk_ratio, round3(5.0 / 6.0));
        assert_eq!(r.speakers[0].questions, 1);
        assert_eq!(r.speakers[1].name, "B");
        assert_eq!(r.total_questions, 1);
    }
}
