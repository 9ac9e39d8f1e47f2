//! The search index: one immutable snapshot of the articles, built with tantivy in RAM.

use std::collections::{HashMap, HashSet};

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{FAST, Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, DocSet, Index, Searcher, TERMINATED, TantivyDocument, Term};

use crate::article::{Article, Language};
use crate::confidence;
use crate::embeddings::{self, ArticleVectors};
use crate::error::Error;
use crate::lexicon::Lexicon;
use crate::query::{self, QueryWord};
use crate::search::{Answer, Confidence, DEFAULT_THRESHOLD, SearchOptions, Suggestion};
use crate::text::{self, Word};

#[derive(Clone, Copy)]
struct Fields {
    ord: Field,
    title: Field,
    tags: Field,
    body: Field,
    title_exact: Field,
    body_exact: Field,
    title_bi: Field,
    tags_bi: Field,
    body_bi: Field,
    all: Field,
    all_exact: Field,
}

/// Field weights (BM25 scores are multiplied by these).
mod boost {
    pub(super) const TITLE: f32 = 3.0;
    pub(super) const TAGS: f32 = 2.0;
    pub(super) const BODY: f32 = 1.0;
    pub(super) const TITLE_EXACT: f32 = 1.5;
    pub(super) const BODY_EXACT: f32 = 0.5;
    pub(super) const TITLE_BI: f32 = 3.0;
    pub(super) const TAGS_BI: f32 = 2.0;
    pub(super) const BODY_BI: f32 = 1.5;
    /// Multiplier for a typo-corrected word.
    pub(super) const FUZZY: f32 = 0.6;
    /// Multiplier for a synonym of a query word.
    pub(super) const SYNONYM: f32 = 0.7;
    /// Multiplier for a synonym of a query phrase of several words.
    pub(super) const PHRASE_SYNONYM: f32 = 1.0;
    /// Multiplier for an everyday word.
    pub(super) const GENERIC: f32 = 0.5;
    /// Multiplier for the accent-folded form of a word typed with diacritics (its exact form
    /// is searched too).
    pub(super) const FOLDED_ONLY: f32 = 0.5;
}

/// How much of a query word an article covers when it has this form of it.
mod credit {
    pub(super) const EXACT: f32 = 1.0;
    pub(super) const FOLDED_ONLY: f32 = 0.3;
    pub(super) const SYNONYM: f32 = 0.9;
    pub(super) const FUZZY: f32 = 0.7;
    /// Share of the credit when the word is only in the body.
    pub(super) const BODY_ONLY: f32 = 0.4;
    /// Weight of an everyday word relative to its rarity.
    pub(super) const GENERIC: f32 = 0.3;
    /// Factor for an article that has none of the query's topical words in its title or tags.
    pub(super) const UNANCHORED: f32 = 0.7;
}

/// One alternative way an article can cover a query word: any of `terms`, worth `credit`.
#[derive(Clone)]
struct Alt {
    terms: Vec<Term>,
    /// The same word in the title or tags: full credit; elsewhere only [`credit::BODY_ONLY`].
    strong: Vec<Term>,
    credit: f32,
    /// A typo correction.
    fuzzy: bool,
}

impl Alt {
    /// A stemmed word: anywhere in the article, strong in its title or tags.
    fn stem(f: Fields, stem: &str, credit: f32, fuzzy: bool) -> Self {
        Self {
            terms: vec![Term::from_field_text(f.all, stem)],
            strong: vec![
                Term::from_field_text(f.title, stem),
                Term::from_field_text(f.tags, stem),
            ],
            credit,
            fuzzy,
        }
    }

    /// A pair of stemmed words: in any pair field, strong in the title's or tags'.
    fn bigram(f: Fields, bigram: &str, credit: f32) -> Self {
        Self {
            terms: [f.title_bi, f.tags_bi, f.body_bi]
                .into_iter()
                .map(|field| Term::from_field_text(field, bigram))
                .collect(),
            strong: vec![
                Term::from_field_text(f.title_bi, bigram),
                Term::from_field_text(f.tags_bi, bigram),
            ],
            credit,
            fuzzy: false,
        }
    }
}

/// The query being built: boosted term clauses, each (field, text) once.
#[derive(Default)]
struct Clauses {
    clauses: Vec<(Occur, Box<dyn Query>)>,
    seen: HashSet<(Field, String)>,
}

impl Clauses {
    fn add(&mut self, field: Field, text: &str, weight: f32) {
        if self.seen.insert((field, text.to_owned())) {
            let term = Term::from_field_text(field, text);
            let query = TermQuery::new(term, IndexRecordOption::WithFreqs);
            self.clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(query), weight)),
            ));
        }
    }

    /// A stemmed word in the title, tags and body, times `factor`.
    fn add_stem(&mut self, f: Fields, stem: &str, factor: f32) {
        self.add(f.title, stem, boost::TITLE * factor);
        self.add(f.tags, stem, boost::TAGS * factor);
        self.add(f.body, stem, boost::BODY * factor);
    }

    /// A word pair in the title, tags and body pair fields, times `factor`.
    fn add_bigram(&mut self, f: Fields, bigram: &str, factor: f32) {
        self.add(f.title_bi, bigram, boost::TITLE_BI * factor);
        self.add(f.tags_bi, bigram, boost::TAGS_BI * factor);
        self.add(f.body_bi, bigram, boost::BODY_BI * factor);
    }
}

/// Words of everyday talk that no help center is about (`training/offtopic.txt`, folded and
/// stemmed, function words left out).
static OFFTOPIC: std::sync::LazyLock<HashSet<String>> = std::sync::LazyLock::new(|| {
    include_str!("../training/offtopic.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(text::words)
        .filter(|w| !text::is_stop(&w.folded))
        .map(|w| w.stem)
        .collect()
});

/// The constant of reciprocal rank fusion: an article's fused score is the sum over the
/// lexical and the cosine rankings of `1 / (RRF_K + rank)` (Cormack, Clarke and Büttcher,
/// 2009, whose 60 is the usual choice).
const RRF_K: f32 = 60.0;

/// A message's vector and the articles' vectors it is compared with.
#[derive(Clone, Copy)]
pub(crate) struct Semantic<'a> {
    pub(crate) query: &'a [f32],
    pub(crate) articles: &'a ArticleVectors,
}

/// In the sure and unsure bands, an article among the first three (after the first) is shown
/// when its confidence is at least this share of the show threshold.
const UNSURE_SHARE: f32 = 0.5;

/// A topical word of the query, weighted by its rarity in the knowledge base and by its
/// sentence.
#[allow(clippy::struct_excessive_bools)]
struct Concept {
    weight: f32,
    alts: Vec<Alt>,
    /// An everyday word: on its own it never makes an article confident.
    generic: bool,
    /// The knowledge base has the word, a correction of it or a synonym.
    known: bool,
    /// The word is in a sentence that asks.
    asked: bool,
    /// A pair of neighbouring Vietnamese syllables (a compound).
    pair: bool,
    /// A word of everyday talk that no help center is about ([`OFFTOPIC`]).
    offtopic: bool,
}

/// How one hit covers the query (see [`Engine::coverage`]).
#[derive(Debug, Clone, Copy, Default)]
struct Cover {
    weight: f32,
    strong: f32,
    salient: f32,
    asked: f32,
    fuzzy: f32,
    pairs: f32,
}

/// One ranked article and what the confidence model reads about it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Candidate {
    /// Index of the article.
    pub(crate) ord: usize,
    /// Final score (BM25 scaled by coverage and language).
    pub(crate) score: f32,
    /// Language of the article.
    pub(crate) lang: Language,
    /// Share of the query's concept weight covered (the old confidence).
    pub(crate) coverage: f32,
    /// Share of the query's concept weight found in the title or tags.
    pub(crate) strong: f32,
    /// Share of the (at most three) heaviest topical words found.
    pub(crate) salient: f32,
    /// Share of the asking sentences' weight covered.
    pub(crate) asked: f32,
    /// Share of the covered weight that only typo corrections cover.
    pub(crate) fuzzy: f32,
    /// Share of the weight of the message's Vietnamese compounds (pairs of syllables) found as
    /// pairs (0 for English messages).
    pub(crate) pairs: f32,
    /// Reciprocal rank fusion score (0 for a lexical ranking).
    pub(crate) fused: f32,
    /// The article's cosine with the message, in standard deviations above the mean cosine of
    /// every article with a vector (0 for a lexical ranking).
    pub(crate) cosine_z: f32,
    /// The article's cosine minus the best other article's, in the same units (0 for a lexical
    /// ranking).
    pub(crate) cosine_margin: f32,
    /// `1 / (1 + rank)` in the cosine ranking, 0 outside its first candidates (and for a
    /// lexical ranking).
    pub(crate) semantic_rank: f32,
}

impl Candidate {
    /// The score that orders a ranking: the fused score with a vector, the lexical one without.
    pub(crate) fn rank_score(&self, semantic: bool) -> f32 {
        if semantic { self.fused } else { self.score }
    }
}

/// The ranked candidates of one message.
pub(crate) struct Ranking {
    /// Best first.
    pub(crate) candidates: Vec<Candidate>,
    /// Language of the message.
    pub(crate) language: Language,
    /// Number of distinct topical words.
    pub(crate) concepts: usize,
    /// Share of the topical words the knowledge base knows nothing about.
    pub(crate) unknown: f32,
    /// 1 when one of the (at most three) heaviest topical words is unknown to the knowledge
    /// base (no term, correction or synonym): typically the name of another product ("my
    /// <other game> account got banned").
    pub(crate) unknown_salient: f32,
    /// Share of the topical words' weight in words of everyday talk ([`OFFTOPIC`]) that the
    /// knowledge base does not know ("weather", "recipe", another app's name).
    pub(crate) offtopic: f32,
    /// Ranked with the message's vector too (fused order, semantic features set).
    pub(crate) semantic: bool,
    query: Option<BooleanQuery>,
}

/// An immutable, searchable snapshot of a set of articles.
pub(crate) struct Engine {
    searcher: Searcher,
    fields: Fields,
    articles: Vec<Article>,
    lexicon: Lexicon,
    num_docs: u64,
    /// Where each article is in the index, by article position.
    addresses: Vec<Option<DocAddress>>,
    // Kept so that the searcher's index stays alive with its tokenizers.
    _index: Index,
}

fn text_options(tokenizer: &str, option: IndexRecordOption) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(option),
    )
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let freqs = IndexRecordOption::WithFreqs;
    let stem = text_options(text::STEM, freqs);
    let exact = text_options(text::EXACT, freqs);
    let bi = text_options(text::BIGRAM, freqs);
    let basic_stem = text_options(text::STEM, IndexRecordOption::Basic);
    let basic_exact = text_options(text::EXACT, IndexRecordOption::Basic);
    let fields = Fields {
        ord: b.add_u64_field("ord", FAST),
        title: b.add_text_field("title", stem.clone()),
        tags: b.add_text_field("tags", stem.clone()),
        body: b.add_text_field("body", stem),
        title_exact: b.add_text_field("title_exact", exact.clone()),
        body_exact: b.add_text_field("body_exact", exact),
        title_bi: b.add_text_field("title_bi", bi.clone()),
        tags_bi: b.add_text_field("tags_bi", bi.clone()),
        body_bi: b.add_text_field("body_bi", bi),
        all: b.add_text_field("all", basic_stem),
        all_exact: b.add_text_field("all_exact", basic_exact),
    };
    (b.build(), fields)
}

/// Bigram text of several independent pieces (tags), without pairs across pieces.
fn bigrams_of<'a>(
    analyzer: &mut TextAnalyzer,
    pieces: impl IntoIterator<Item = &'a str>,
) -> String {
    pieces
        .into_iter()
        .map(|p| text::bigram_text(&text::stems_with(analyzer, p)))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Engine {
    /// Indexes the articles.
    pub(crate) fn build(articles: Vec<Article>, lexicon: Lexicon) -> Result<Self, Error> {
        let (schema, f) = schema();
        let index = Index::create_in_ram(schema);
        index
            .tokenizers()
            .register(text::STEM, text::stem_analyzer());
        index
            .tokenizers()
            .register(text::EXACT, text::exact_analyzer());
        index
            .tokenizers()
            .register(text::BIGRAM, text::bigram_analyzer());
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .clamp(1, 4);
        let mut writer =
            index.writer_with_num_threads::<TantivyDocument>(threads, 40_000_000 * threads)?;
        let mut analyzer = text::stem_analyzer();
        for (ord, a) in articles.iter().enumerate() {
            let title = text::clean(&a.title);
            let tags: Vec<String> = a.tags.iter().map(|t| text::clean(t)).collect();
            let body = text::plain_text(&text::clean(&a.body));
            let tags_text = tags.join(" ; ");
            let mut doc = TantivyDocument::default();
            doc.add_u64(f.ord, ord as u64);
            doc.add_text(f.title, &title);
            doc.add_text(f.tags, &tags_text);
            doc.add_text(f.body, &body);
            doc.add_text(f.title_exact, &title);
            doc.add_text(f.body_exact, &body);
            doc.add_text(f.title_bi, bigrams_of(&mut analyzer, [title.as_str()]));
            doc.add_text(
                f.tags_bi,
                bigrams_of(&mut analyzer, tags.iter().map(String::as_str)),
            );
            doc.add_text(
                f.body_bi,
                bigrams_of(&mut analyzer, body.split(['.', ';', '!', '?', ':'])),
            );
            for piece in [&title, &tags_text, &body] {
                doc.add_text(f.all, piece);
                doc.add_text(f.all_exact, piece);
            }
            writer.add_document(doc)?;
        }
        writer.commit()?;
        drop(writer);
        let reader = index
            .reader_builder()
            .reload_policy(tantivy::ReloadPolicy::Manual)
            .try_into()?;
        let searcher = reader.searcher();
        let num_docs = searcher.num_docs();
        let mut addresses = vec![None; articles.len()];
        for (segment_ord, segment) in searcher.segment_readers().iter().enumerate() {
            let column = segment.fast_fields().u64("ord")?;
            let segment_ord = u32::try_from(segment_ord).unwrap_or(u32::MAX);
            for doc_id in 0..segment.max_doc() {
                if let Some(ord) = column.first(doc_id)
                    && let Some(slot) = usize::try_from(ord).ok().and_then(|o| addresses.get_mut(o))
                {
                    *slot = Some(DocAddress::new(segment_ord, doc_id));
                }
            }
        }
        Ok(Self {
            searcher,
            fields: f,
            articles,
            lexicon,
            num_docs,
            addresses,
            _index: index,
        })
    }

    pub(crate) fn articles(&self) -> &[Article] {
        &self.articles
    }

    pub(crate) fn lexicon(&self) -> &Lexicon {
        &self.lexicon
    }

    fn idf(&self, df: u64) -> f32 {
        #[allow(clippy::cast_precision_loss)]
        let (n, df) = (self.num_docs as f32, df as f32);
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    fn df(&self, term: &Term) -> Result<u64, Error> {
        Ok(self.searcher.doc_freq(term)?)
    }

    /// Terms of the knowledge base close to an unknown word of five letters or more: the word
    /// with a dropped final `g` put back ("crashin"), else the terms one edit away (two for
    /// long words). In an English message, a word of three or four letters is completed
    /// instead ([`Self::completions`]); Vietnamese syllables are whole words, never cut.
    fn corrections(&self, word: &Word, language: Language) -> Result<Vec<String>, Error> {
        let stem = word.stem.as_str();
        let len = stem.chars().count();
        if !stem.chars().all(|c| c.is_ascii_alphabetic()) {
            return Ok(Vec::new());
        }
        if (3..5).contains(&len) && language == Language::English {
            return self.completions(stem);
        }
        if len < 5 {
            return Ok(Vec::new());
        }
        if word.folded.ends_with("in") {
            let full = text::stems(&format!("{}g", word.folded));
            if let [one] = full.as_slice()
                && self.df(&Term::from_field_text(self.fields.all, one))? > 0
            {
                return Ok(vec![one.clone()]);
            }
        }
        let distance = if len >= 8 { 2 } else { 1 };
        let query =
            FuzzyTermQuery::new(Term::from_field_text(self.fields.all, stem), distance, true);
        let mut found: HashMap<String, (usize, u32)> = HashMap::new();
        for segment in self.searcher.segment_readers() {
            let inverted = segment.inverted_index(self.fields.all)?;
            let mut stream = inverted
                .terms()
                .search(query.automaton()?)
                .into_stream()
                .map_err(|e| Error::with_source(crate::error::ErrorKind::Index, e))?;
            while stream.advance() {
                let Ok(term) = std::str::from_utf8(stream.key()) else {
                    continue;
                };
                let entry = found
                    .entry(term.to_owned())
                    .or_insert((text::edit_distance(stem, term), 0));
                entry.1 += stream.value().doc_freq;
            }
        }
        let mut candidates: Vec<(String, (usize, u32))> = found.into_iter().collect();
        candidates.sort_by(|a, b| {
            a.1.0
                .cmp(&b.1.0)
                .then(b.1.1.cmp(&a.1.1))
                .then(a.0.cmp(&b.0))
        });
        let best = candidates.first().map(|c| c.1.0);
        Ok(candidates
            .into_iter()
            .filter(|c| Some(c.1.0) == best)
            .take(2)
            .map(|c| c.0)
            .collect())
    }

    /// Chat shortens words by cutting them ("prob", "diff", "config"): the most frequent term of
    /// the knowledge base that a short unknown word begins, at least two letters longer and at
    /// most three times as long.
    fn completions(&self, stem: &str) -> Result<Vec<String>, Error> {
        let len = stem.len();
        let mut found: HashMap<String, u32> = HashMap::new();
        for segment in self.searcher.segment_readers() {
            let inverted = segment.inverted_index(self.fields.all)?;
            let mut stream = inverted
                .terms()
                .range()
                .ge(stem.as_bytes())
                .into_stream()
                .map_err(|e| Error::with_source(crate::error::ErrorKind::Index, e))?;
            while stream.advance() {
                let key = stream.key();
                if !key.starts_with(stem.as_bytes()) {
                    break;
                }
                if key.len() < len + 2 || key.len() > len * 3 {
                    continue;
                }
                if let Ok(term) = std::str::from_utf8(key) {
                    *found.entry(term.to_owned()).or_insert(0) += stream.value().doc_freq;
                }
            }
        }
        let best = found
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
        Ok(best.map(|b| vec![b.0]).unwrap_or_default())
    }

    /// Ranks the articles for a message: candidates best first, with the signals the
    /// confidence model reads. Nothing is filtered. With the message's vector, the lexical
    /// candidates and the first articles by cosine are ranked together by reciprocal rank
    /// fusion and carry the semantic features.
    pub(crate) fn rank(
        &self,
        message: &str,
        opts: &SearchOptions,
        semantic: Option<Semantic<'_>>,
    ) -> Result<Ranking, Error> {
        let parsed = query::parse(message, &self.lexicon, opts.language);
        let language = parsed.language;
        let empty = Ranking {
            candidates: Vec::new(),
            language,
            concepts: 0,
            unknown: 0.0,
            unknown_salient: 0.0,
            offtopic: 0.0,
            semantic: false,
            query: None,
        };
        let words = parsed.words;
        if words.is_empty() || self.num_docs == 0 {
            return Ok(empty);
        }
        let mut clauses = Clauses::default();
        let stop: Vec<bool> = words
            .iter()
            .map(|w| text::is_stop(&w.word.folded))
            .collect();
        let (mut concepts, concept_of_word) =
            self.word_concepts(&words, &stop, language, opts, &mut clauses)?;
        let topical = concepts.len();
        self.add_bigrams(&words, &stop, &mut clauses);
        if opts.synonyms {
            self.add_synonyms(&words, &concept_of_word, &mut concepts, &mut clauses);
        }
        if language == Language::Vietnamese {
            self.add_compound_concepts(&words, &stop, &concept_of_word, &mut concepts);
        }
        if clauses.clauses.is_empty() {
            return Ok(empty);
        }
        #[allow(clippy::cast_precision_loss)]
        let unknown = if topical == 0 {
            0.0
        } else {
            concepts[..topical].iter().filter(|c| !c.known).count() as f32 / topical as f32
        };
        let unknown_salient = {
            let mut heaviest: Vec<&Concept> =
                concepts[..topical].iter().filter(|c| !c.generic).collect();
            heaviest.sort_by(|a, b| b.weight.total_cmp(&a.weight));
            if heaviest.iter().take(3).any(|c| !c.known) {
                1.0
            } else {
                0.0
            }
        };
        let offtopic = {
            let all: f32 = concepts[..topical].iter().map(|c| c.weight).sum();
            let off: f32 = concepts[..topical]
                .iter()
                .filter(|c| c.offtopic && !c.known)
                .map(|c| c.weight)
                .sum();
            if all > 0.0 { off / all } else { 0.0 }
        };
        let query = BooleanQuery::new(clauses.clauses);
        let limit = opts.candidates.max(opts.limit);
        let mut top = self
            .searcher
            .search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        let cosines = semantic.map(|s| self.cosines(s, limit));
        if let Some(cosines) = &cosines {
            // the first articles by cosine that the lexical search did not find: ranked too,
            // with no lexical score
            let found: HashSet<DocAddress> = top.iter().map(|(_, a)| *a).collect();
            for &ord in &cosines.order {
                if let Some(Some(address)) = self.addresses.get(ord)
                    && !found.contains(address)
                {
                    top.push((0.0, *address));
                }
            }
        }
        let mut candidates = self.candidates(&concepts, &top, language, opts)?;
        if let Some(cosines) = &cosines {
            fuse(&mut candidates, cosines);
        }
        Ok(Ranking {
            candidates,
            language,
            concepts: topical,
            unknown,
            unknown_salient,
            offtopic,
            semantic: cosines.is_some(),
            query: Some(query),
        })
    }

    /// Every article's cosine with the message and the first `limit` articles by cosine.
    fn cosines(&self, semantic: Semantic<'_>, limit: usize) -> Cosines {
        let by_ord: Vec<Option<f32>> = (0..self.articles.len())
            .map(|ord| {
                semantic
                    .articles
                    .vectors
                    .get(ord)
                    .and_then(Option::as_ref)
                    .map(|v| embeddings::dot(semantic.query, v))
            })
            .collect();
        let known: Vec<f32> = by_ord.iter().flatten().copied().collect();
        #[allow(clippy::cast_precision_loss)]
        let n = known.len().max(1) as f32;
        let mean = known.iter().sum::<f32>() / n;
        let std = (known.iter().map(|c| (c - mean).powi(2)).sum::<f32>() / n)
            .sqrt()
            .max(1e-3);
        let mut order: Vec<usize> = (0..by_ord.len()).filter(|&o| by_ord[o].is_some()).collect();
        order.sort_by(|a, b| {
            by_ord[*b]
                .unwrap_or(f32::MIN)
                .total_cmp(&by_ord[*a].unwrap_or(f32::MIN))
                .then(a.cmp(b))
        });
        order.truncate(limit);
        Cosines {
            by_ord,
            order,
            mean,
            std,
        }
    }

    /// The answer to a message: its band and the articles to show (see [`Confidence`]).
    pub(crate) fn answer(
        &self,
        message: &str,
        opts: &SearchOptions,
        semantic: Option<Semantic<'_>>,
    ) -> Result<Answer, Error> {
        let ranking = self.rank(message, opts, semantic)?;
        let language = ranking.language;
        let considered = ranking
            .candidates
            .len()
            .min(opts.limit.max(confidence::TOP));
        let p: Vec<f32> = (0..considered)
            .map(|i| confidence::probability(&ranking, i))
            .collect();
        let first = p.first().copied().unwrap_or(0.0);
        let best_of_top = p.iter().take(confidence::TOP).copied().fold(0.0, f32::max);
        // with the threshold off, the band is still told with the default threshold
        let show = opts.threshold.unwrap_or(DEFAULT_THRESHOLD);
        let band = if first >= opts.sure_threshold && first >= show {
            Confidence::Sure
        } else if best_of_top >= show {
            Confidence::Unsure
        } else {
            Confidence::Unknown
        };
        let fused = ranking.semantic;
        let best_score = ranking
            .candidates
            .first()
            .map_or(0.0, |c| c.rank_score(fused));
        let floor =
            |i: usize| ranking.candidates[i].rank_score(fused) >= best_score * opts.relative_floor;
        let picked: Vec<(usize, f32)> = match (opts.threshold, band) {
            (None, _) => p.iter().copied().enumerate().take(opts.limit).collect(),
            (Some(_), Confidence::Unknown) => Vec::new(),
            // the answer, then the other plausible articles of the first three (as in the
            // unsure band: a close second is often the one), then any other confident one
            (Some(show), Confidence::Sure) => p
                .iter()
                .copied()
                .enumerate()
                .filter(|&(i, pi)| {
                    i == 0
                        || (floor(i)
                            && (pi >= show || (i < confidence::TOP && pi >= show * UNSURE_SHARE)))
                })
                .take(opts.limit)
                .collect(),
            (Some(show), Confidence::Unsure) => p
                .iter()
                .copied()
                .enumerate()
                .take(confidence::TOP)
                .filter(|&(i, pi)| pi >= show * UNSURE_SHARE && floor(i))
                .take(opts.limit.min(opts.unsure_limit))
                .collect(),
        };
        let suggestions = self.suggestions(&ranking, &picked, opts)?;
        Ok(Answer {
            confidence: band,
            suggestions,
            language,
        })
    }

    /// The ids of a ranking's candidates, best first.
    pub(crate) fn ids(&self, ranking: &Ranking) -> Vec<String> {
        ranking
            .candidates
            .iter()
            .filter_map(|c| self.articles.get(c.ord).map(|a| a.id.clone()))
            .collect()
    }

    /// The suggestions for some candidates of a ranking, with their confidences.
    pub(crate) fn suggestions(
        &self,
        ranking: &Ranking,
        picked: &[(usize, f32)],
        opts: &SearchOptions,
    ) -> Result<Vec<Suggestion>, Error> {
        let Some(query) = &ranking.query else {
            return Ok(Vec::new());
        };
        if picked.is_empty() {
            return Ok(Vec::new());
        }
        let mut generator = SnippetGenerator::create(&self.searcher, query, self.fields.body)?;
        generator.set_max_num_chars(opts.snippet_chars);
        let mut out = Vec::with_capacity(picked.len());
        for &(i, confidence) in picked {
            let Some(candidate) = ranking.candidates.get(i) else {
                continue;
            };
            let article = &self.articles[candidate.ord];
            out.push(Suggestion {
                id: article.id.clone(),
                title: article.title.clone(),
                url: article.url.clone(),
                lang: article.lang,
                snippet: snippet(
                    &generator,
                    &text::plain_text(&text::clean(&article.body)),
                    opts.snippet_chars,
                ),
                score: candidate.rank_score(ranking.semantic),
                confidence,
            });
        }
        Ok(out)
    }

    /// One concept per distinct topical word, with its clauses (exact form, stem, typo fixes).
    fn word_concepts(
        &self,
        words: &[QueryWord],
        stop: &[bool],
        language: Language,
        opts: &SearchOptions,
        clauses: &mut Clauses,
    ) -> Result<(Vec<Concept>, Vec<Option<usize>>), Error> {
        let f = self.fields;
        let mut concepts: Vec<Concept> = Vec::new();
        let mut concept_of_word: Vec<Option<usize>> = vec![None; words.len()];
        let mut concept_by_stem: HashMap<&str, usize> = HashMap::new();
        let mut weight_of_stem: HashMap<&str, f32> = HashMap::new();
        for (qw, _) in words.iter().zip(stop).filter(|(_, s)| !**s) {
            let e = weight_of_stem.entry(qw.word.stem.as_str()).or_insert(0.0);
            *e = e.max(qw.weight);
        }
        for (i, qw) in words.iter().enumerate() {
            let w = &qw.word;
            if stop[i] {
                continue;
            }
            if let Some(&c) = concept_by_stem.get(w.stem.as_str()) {
                concept_of_word[i] = Some(c);
                continue;
            }
            let sentence = weight_of_stem.get(w.stem.as_str()).copied().unwrap_or(1.0);
            let generic = text::is_generic(&w.folded) || text::is_generic(&w.stem);
            let g = if generic { boost::GENERIC } else { 1.0 } * sentence;
            // typed with diacritics: the folded form may be another word ("trời" / "trôi")
            let folded_only = if w.has_diacritics() {
                boost::FOLDED_ONLY
            } else {
                1.0
            };
            // an everyday word of the story around the question only counts for coverage:
            // in a large knowledge base its long posting lists would slow every search
            let searched = !(generic && sentence < query::ASKING);
            if searched {
                clauses.add_stem(f, &w.stem, g * folded_only);
            }
            let stem_term = Term::from_field_text(f.all, &w.stem);
            let df = self.df(&stem_term)?;
            let mut alts = Vec::new();
            if w.has_diacritics() {
                clauses.add(f.title_exact, &w.exact, boost::TITLE_EXACT * g);
                clauses.add(f.body_exact, &w.exact, boost::BODY_EXACT * g);
                alts.push(Alt {
                    terms: vec![Term::from_field_text(f.all_exact, &w.exact)],
                    strong: vec![Term::from_field_text(f.title_exact, &w.exact)],
                    credit: credit::EXACT,
                    fuzzy: false,
                });
                alts.push(Alt::stem(f, &w.stem, credit::FOLDED_ONLY, false));
            } else {
                alts.push(Alt::stem(f, &w.stem, credit::EXACT, false));
            }
            let mut known = df > 0;
            if df == 0 && opts.typo_tolerance {
                for fix in self.corrections(w, language)? {
                    clauses.add_stem(f, &fix, boost::FUZZY * sentence);
                    alts.push(Alt::stem(f, &fix, credit::FUZZY, true));
                    known = true;
                }
            }
            concept_by_stem.insert(w.stem.as_str(), concepts.len());
            concept_of_word[i] = Some(concepts.len());
            let base = self.idf(df) * if generic { credit::GENERIC } else { 1.0 };
            concepts.push(Concept {
                weight: base * sentence,
                alts,
                generic,
                known,
                asked: sentence >= query::ASKING,
                pair: false,
                offtopic: OFFTOPIC.contains(w.stem.as_str()),
            });
        }
        Ok((concepts, concept_of_word))
    }

    /// Clauses for adjacent word pairs of one sentence (not both function words).
    fn add_bigrams(&self, words: &[QueryWord], stop: &[bool], clauses: &mut Clauses) {
        let f = self.fields;
        for (i, pair) in words.windows(2).enumerate() {
            let story = pair[0].weight < query::ASKING;
            if (stop[i] && stop[i + 1]) || pair[0].sentence != pair[1].sentence || story {
                continue;
            }
            let bigram = format!("{}_{}", pair[0].word.stem, pair[1].word.stem);
            clauses.add_bigram(f, &bigram, pair[0].weight.min(pair[1].weight));
        }
    }

    /// Vietnamese meaning lives in two-syllable compounds ("mật khẩu", "tài khoản"): an article
    /// that has a query's syllables only apart covers less of it than one with the compounds.
    /// Adds each pair of neighbouring query words (not both function words) as a concept worth
    /// half the mean of its words.
    fn add_compound_concepts(
        &self,
        words: &[QueryWord],
        stop: &[bool],
        concept_of_word: &[Option<usize>],
        concepts: &mut Vec<Concept>,
    ) {
        let f = self.fields;
        let weight_of =
            |i: usize, concepts: &[Concept]| concept_of_word[i].map_or(0.0, |c| concepts[c].weight);
        for (i, pair) in words.windows(2).enumerate() {
            if stop[i] || stop[i + 1] || pair[0].sentence != pair[1].sentence {
                continue;
            }
            let weight = 0.25 * (weight_of(i, concepts) + weight_of(i + 1, concepts));
            let bigram = format!("{}_{}", pair[0].word.stem, pair[1].word.stem);
            let generic = concept_of_word[i].is_none_or(|c| concepts[c].generic)
                && concept_of_word[i + 1].is_none_or(|c| concepts[c].generic);
            concepts.push(Concept {
                weight,
                alts: vec![Alt::bigram(f, &bigram, credit::EXACT)],
                generic,
                known: true,
                asked: pair[0].weight >= query::ASKING && pair[1].weight >= query::ASKING,
                pair: true,
                offtopic: false,
            });
        }
    }

    /// Clauses for the lexicon's synonyms; each also covers the words it replaces.
    fn add_synonyms(
        &self,
        words: &[QueryWord],
        concept_of_word: &[Option<usize>],
        concepts: &mut [Concept],
        clauses: &mut Clauses,
    ) {
        let f = self.fields;
        let folded: Vec<String> = words.iter().map(|w| w.word.folded.clone()).collect();
        for e in self.lexicon.expand(&folded) {
            if words[e.start..e.start + e.len]
                .windows(2)
                .any(|p| p[0].sentence != p[1].sentence)
            {
                continue;
            }
            let weight = words[e.start..e.start + e.len]
                .iter()
                .map(|w| w.weight)
                .fold(f32::INFINITY, f32::min);
            let b = weight
                * if e.len > 1 {
                    boost::PHRASE_SYNONYM
                } else {
                    boost::SYNONYM
                };
            for alt in &e.alternatives {
                let stems = text::stems(&alt.join(" "));
                let alt = match stems.as_slice() {
                    [] => continue,
                    [one] => {
                        clauses.add_stem(f, one, b);
                        Alt::stem(f, one, credit::SYNONYM, false)
                    }
                    [first, second, ..] => {
                        let bigram = format!("{first}_{second}");
                        clauses.add_bigram(f, &bigram, b);
                        Alt::bigram(f, &bigram, credit::SYNONYM)
                    }
                };
                for c in concept_of_word[e.start..e.start + e.len].iter().flatten() {
                    concepts[*c].known = true;
                    concepts[*c].alts.push(alt.clone());
                }
            }
        }
    }

    /// Final scores: BM25 scaled by coverage and language, best first, with their signals.
    fn candidates(
        &self,
        concepts: &[Concept],
        top: &[(f32, DocAddress)],
        language: Language,
        opts: &SearchOptions,
    ) -> Result<Vec<Candidate>, Error> {
        let total_weight: f32 = concepts.iter().map(|c| c.weight).sum();
        let covers = self.coverage(concepts, top)?;
        let mut out: Vec<Candidate> = Vec::with_capacity(top.len());
        for ((score, address), cover) in top.iter().zip(covers) {
            let ord = self.ord(*address)?;
            let Some(article) = self.articles.get(ord) else {
                continue;
            };
            let coverage = if total_weight > 0.0 {
                (cover.weight / total_weight).min(1.0)
            } else {
                0.0
            };
            let mut score = *score * (opts.coverage_floor + (1.0 - opts.coverage_floor) * coverage);
            if language == Language::English && article.lang != Language::English {
                score *= opts.foreign_penalty;
            }
            out.push(Candidate {
                ord,
                score,
                lang: article.lang,
                coverage,
                strong: cover.strong,
                salient: cover.salient,
                asked: cover.asked,
                fuzzy: cover.fuzzy,
                pairs: cover.pairs,
                fused: 0.0,
                cosine_z: 0.0,
                cosine_margin: 0.0,
                semantic_rank: 0.0,
            });
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.ord.cmp(&b.ord)));
        Ok(out)
    }

    fn ord(&self, address: DocAddress) -> Result<usize, Error> {
        let column = self
            .searcher
            .segment_reader(address.segment_ord)
            .fast_fields()
            .u64("ord")?;
        let ord = column.first(address.doc_id).unwrap_or(u64::MAX);
        Ok(usize::try_from(ord).unwrap_or(usize::MAX))
    }

    /// For each hit, how it covers the query's concepts: the weighted sum (zero when it covers
    /// no concept but everyday words, reduced when no topical word is in its title or tags) and
    /// the shares the confidence model reads.
    fn coverage(
        &self,
        concepts: &[Concept],
        top: &[(f32, DocAddress)],
    ) -> Result<Vec<Cover>, Error> {
        let n = top.len();
        let mut out = vec![Cover::default(); n];
        let mut specific = vec![false; n];
        let mut anchored = vec![false; n];
        let mut strong_weight = vec![0.0_f32; n];
        let mut fuzzy_weight = vec![0.0_f32; n];
        let mut asked_weight = vec![0.0_f32; n];
        let mut salient_hits = vec![0_usize; n];
        let mut pair_weight = vec![0.0_f32; n];
        let pair_total: f32 = concepts.iter().filter(|c| c.pair).map(|c| c.weight).sum();
        // the (at most) three heaviest specific concepts
        let mut order: Vec<usize> = (0..concepts.len())
            .filter(|&c| !concepts[c].generic)
            .collect();
        order.sort_by(|a, b| concepts[*b].weight.total_cmp(&concepts[*a].weight));
        order.truncate(3);
        let total: f32 = concepts.iter().map(|c| c.weight).sum();
        let asked_total: f32 = concepts.iter().filter(|c| c.asked).map(|c| c.weight).sum();
        // Which (term, segment, doc) pairs exist: read each posting list once per segment.
        let mut by_segment: HashMap<u32, Vec<(u32, usize)>> = HashMap::new();
        for (i, (_, a)) in top.iter().enumerate() {
            by_segment
                .entry(a.segment_ord)
                .or_default()
                .push((a.doc_id, i));
        }
        for docs in by_segment.values_mut() {
            docs.sort_unstable();
        }
        let mut cache: HashMap<Term, Vec<bool>> = HashMap::new();
        for (c, concept) in concepts.iter().enumerate() {
            let mut best = vec![0.0_f32; n];
            let mut in_title = vec![false; n];
            let mut title_credit = vec![0.0_f32; n];
            let mut by_fuzzy = vec![false; n];
            for alt in &concept.alts {
                let anywhere = self.any_present(&alt.terms, &by_segment, n, &mut cache)?;
                let strong = self.any_present(&alt.strong, &by_segment, n, &mut cache)?;
                for i in 0..n {
                    let value = if strong[i] {
                        in_title[i] = true;
                        title_credit[i] = title_credit[i].max(alt.credit);
                        alt.credit
                    } else if anywhere[i] {
                        alt.credit * credit::BODY_ONLY
                    } else {
                        0.0
                    };
                    if value > best[i] {
                        best[i] = value;
                        by_fuzzy[i] = alt.fuzzy;
                    }
                }
            }
            for i in 0..n {
                let got = concept.weight * best[i];
                out[i].weight += got;
                specific[i] |= best[i] > 0.0 && !concept.generic;
                anchored[i] |= in_title[i] && !concept.generic;
                strong_weight[i] += concept.weight * title_credit[i];
                if by_fuzzy[i] {
                    fuzzy_weight[i] += got;
                }
                if concept.asked {
                    asked_weight[i] += got;
                }
                if concept.pair {
                    pair_weight[i] += got;
                }
                if best[i] > 0.0 && order.contains(&c) {
                    salient_hits[i] += 1;
                }
            }
        }
        #[allow(clippy::cast_precision_loss)]
        for i in 0..n {
            let o = &mut out[i];
            if !specific[i] {
                o.weight = 0.0;
            } else if !anchored[i] {
                o.weight *= credit::UNANCHORED;
            }
            let share = |x: f32, of: f32| if of > 0.0 { (x / of).min(1.0) } else { 0.0 };
            o.strong = share(strong_weight[i], total);
            o.fuzzy = share(fuzzy_weight[i], o.weight.max(f32::MIN_POSITIVE));
            o.asked = share(asked_weight[i], asked_total);
            o.pairs = share(pair_weight[i], pair_total);
            o.salient = if order.is_empty() {
                0.0
            } else {
                salient_hits[i] as f32 / order.len() as f32
            };
        }
        Ok(out)
    }

    fn any_present(
        &self,
        terms: &[Term],
        by_segment: &HashMap<u32, Vec<(u32, usize)>>,
        n: usize,
        cache: &mut HashMap<Term, Vec<bool>>,
    ) -> Result<Vec<bool>, Error> {
        let mut out = vec![false; n];
        for term in terms {
            if !cache.contains_key(term) {
                let present = self.present(term, by_segment, n)?;
                cache.insert(term.clone(), present);
            }
            for (o, p) in out.iter_mut().zip(&cache[term]) {
                *o |= *p;
            }
        }
        Ok(out)
    }

    fn present(
        &self,
        term: &Term,
        by_segment: &HashMap<u32, Vec<(u32, usize)>>,
        n: usize,
    ) -> Result<Vec<bool>, Error> {
        let mut present = vec![false; n];
        for (segment, docs) in by_segment {
            let reader = self.searcher.segment_reader(*segment);
            let inverted = reader.inverted_index(term.field())?;
            let postings = inverted
                .read_postings(term, IndexRecordOption::Basic)
                .map_err(|e| Error::with_source(crate::error::ErrorKind::Index, e))?;
            let Some(mut postings) = postings else {
                continue;
            };
            for &(doc, i) in docs {
                let current = postings.doc();
                if current == doc
                    || (current < doc && current != TERMINATED && postings.seek(doc) == doc)
                {
                    present[i] = true;
                }
            }
        }
        Ok(present)
    }
}

/// The cosines of one message (see [`Engine::cosines`]).
struct Cosines {
    /// By article position; `None` for an article without a vector.
    by_ord: Vec<Option<f32>>,
    /// The first articles by cosine, best first.
    order: Vec<usize>,
    mean: f32,
    std: f32,
}

/// Sets the semantic features and orders the candidates by reciprocal rank fusion of their
/// lexical rank (by score, among the articles the lexical search found) and their cosine rank
/// (among the first articles by cosine).
fn fuse(candidates: &mut [Candidate], cosines: &Cosines) {
    // `candidates` comes sorted by lexical score; those with no score were added by cosine
    let mut lexical_rank = 0_u16;
    for c in candidates.iter_mut() {
        let cosine = cosines
            .by_ord
            .get(c.ord)
            .copied()
            .flatten()
            .unwrap_or(cosines.mean);
        let best_other = cosines
            .order
            .iter()
            .find(|&&o| o != c.ord)
            .and_then(|&o| cosines.by_ord[o])
            .unwrap_or(cosines.mean);
        let semantic_rank = cosines.order.iter().position(|&o| o == c.ord);
        c.cosine_z = ((cosine - cosines.mean) / cosines.std).clamp(-5.0, 10.0);
        c.cosine_margin = ((cosine - best_other) / cosines.std).clamp(-5.0, 5.0);
        #[allow(clippy::cast_precision_loss)]
        {
            c.semantic_rank = semantic_rank.map_or(0.0, |r| 1.0 / (1.0 + r as f32));
            c.fused = semantic_rank.map_or(0.0, |r| 1.0 / (RRF_K + 1.0 + r as f32));
        }
        if c.score > 0.0 {
            lexical_rank = lexical_rank.saturating_add(1);
            c.fused += 1.0 / (RRF_K + f32::from(lexical_rank));
        }
    }
    candidates.sort_by(|a, b| {
        b.fused
            .total_cmp(&a.fused)
            .then(b.score.total_cmp(&a.score))
            .then(a.ord.cmp(&b.ord))
    });
}

fn snippet(generator: &SnippetGenerator, plain: &str, max_chars: usize) -> String {
    let snippet = generator.snippet(plain);
    let fragment = snippet.fragment().trim();
    if fragment.is_empty() {
        return shorten(plain, max_chars);
    }
    let range = snippet.fragment_range();
    let mut out = String::new();
    if range.start > 0 {
        out.push('…');
    }
    out.push_str(fragment);
    if range.end < plain.len() {
        out.push('…');
    }
    out
}

fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{}…", cut.trim_end_matches([',', '.', ';', ':']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert_eq!(text::edit_distance("login", "loggin"), 1);
        assert_eq!(text::edit_distance("teh", "the"), 1);
        assert_eq!(text::edit_distance("abc", "abc"), 0);
        assert_eq!(text::edit_distance("", "ab"), 2);
    }

    #[test]
    fn everyday_words_the_knowledge_base_does_not_know_are_off_topic() {
        let kb = crate::KnowledgeBase::sample().expect("sample");
        let options = SearchOptions::default().with_threshold(None);
        let off = kb
            .rank("will it snow, should i bring an umbrella", &options)
            .expect("rank");
        assert!(off.offtopic > 0.5, "{}", off.offtopic);
        let on = kb
            .rank("the reset email for my password never came", &options)
            .expect("rank");
        assert!(on.offtopic < f32::EPSILON, "{}", on.offtopic);
        assert!(!OFFTOPIC.contains("the") && OFFTOPIC.contains("umbrella"));
    }

    #[test]
    fn shorten_cuts_at_a_word() {
        assert_eq!(shorten("one two three", 9), "one two…");
        assert_eq!(shorten("short", 10), "short");
    }
}
