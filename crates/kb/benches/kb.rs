//! Knowledge base benchmark (criterion): what the agent runs per message
//! ([`KnowledgeBase::answer`]: ranking, confidence model, band, snippets), for the embedded
//! sample and for a synthetic knowledge base (100,000 articles by default). Criterion reports
//! the mean per message; before that the bench prints a table with the index build time, the
//! memory and the p50/p99 latency over every query, since the targets are percentiles.
//!
//! ```text
//! cargo bench -p flexcord-kb --bench kb            # KB_BENCH_N=20000 for a smaller run
//! ```
//! Queries: the crate's own labelled messages (`training/retrieval.jsonl`,
//! `tests/fixtures/extra_queries.jsonl`) and every sample article title.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use flexcord_kb::{Article, KnowledgeBase, Language, SearchOptions, eval};

/// Resident set size of this process in KiB (Linux), 0 elsewhere.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

fn synthetic(n: usize, sample: &[Article]) -> Vec<Article> {
    let vocabulary = |lang: Language| -> Vec<String> {
        let mut words: Vec<String> = sample
            .iter()
            .filter(|a| a.lang == lang)
            .flat_map(|a| {
                a.body
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter(|w| w.chars().all(char::is_alphanumeric))
            .collect();
        words.sort();
        words.dedup();
        words
    };
    let en = vocabulary(Language::English);
    let vi = vocabulary(Language::Vietnamese);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|i| {
            let (lang, words) = if i % 10 == 9 {
                (Language::Vietnamese, &vi)
            } else {
                (Language::English, &en)
            };
            let mut pick = |count: usize| -> String {
                (0..count)
                    .map(|_| words[rng.below(words.len())].as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let title = pick(3 + i % 4);
            let tags = (0..3).map(|_| pick(1)).collect();
            let body = (0..8)
                .map(|_| format!("{}.", pick(25)))
                .collect::<Vec<_>>()
                .join("\n\n");
            Article {
                id: format!("synthetic-{i}"),
                title,
                tags,
                lang,
                url: format!("https://help.example/articles/synthetic-{i}"),
                body,
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn latency(kb: &KnowledgeBase, queries: &[String], rounds: usize) -> (Duration, Duration, usize) {
    let options = SearchOptions::default().with_limit(3);
    let mut times = Vec::with_capacity(queries.len() * rounds);
    for _ in 0..rounds {
        for q in queries {
            let start = Instant::now();
            let hits = kb.answer(q, &options).expect("search");
            times.push(start.elapsed());
            black_box(hits);
        }
    }
    let mut slowest: Vec<(Duration, &String)> = times
        .chunks(queries.len())
        .fold(vec![Duration::ZERO; queries.len()], |mut acc, round| {
            for (a, t) in acc.iter_mut().zip(round) {
                *a = (*a).max(*t);
            }
            acc
        })
        .into_iter()
        .zip(queries)
        .collect();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (t, q) in slowest.iter().take(3) {
        let words = q.split_whitespace().count();
        println!("  slowest: {} ms, {words} words", ms(*t));
    }
    times.sort();
    (
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.len(),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn queries(sample: &[Article]) -> Vec<String> {
    let mut queries = Vec::new();
    for file in [
        "training/retrieval.jsonl",
        "tests/fixtures/extra_queries.jsonl",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        queries.extend(
            eval::load_queries(&path)
                .expect("bench queries")
                .into_iter()
                .map(|q| q.q),
        );
    }
    queries.extend(sample.iter().map(|a| a.title.clone()));
    queries
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("KB_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let (sample, _) = KnowledgeBase::sample_articles();
    let queries = queries(&sample);

    println!(
        "| knowledge base | articles | build ms | RSS delta MiB | searches | p50 ms | p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|");

    let mut builds = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        black_box(KnowledgeBase::from_articles(sample.clone()).expect("index"));
        builds.push(start.elapsed());
    }
    builds.sort();
    let before = rss_kib();
    let kb = KnowledgeBase::sample().expect("index");
    let delta = rss_kib().saturating_sub(before);
    let (p50, p99, count) = latency(&kb, &queries, 20);
    #[allow(clippy::cast_precision_loss)]
    let mib = |kib: u64| format!("{:.1}", kib as f64 / 1024.0);
    println!(
        "| sample | {} | {} (median of 5) | {} | {count} | {} | {} |",
        sample.len(),
        ms(builds[2]),
        mib(delta),
        ms(p50),
        ms(p99)
    );
    let options = SearchOptions::default().with_limit(3);
    let mut group = c.benchmark_group("answer");
    group.bench_function("sample, every bench query", |b| {
        b.iter(|| {
            for q in &queries {
                black_box(kb.answer(q, &options).expect("search"));
            }
        });
    });
    drop(kb);

    let articles = synthetic(n, &sample);
    let before = rss_kib();
    let start = Instant::now();
    let kb = KnowledgeBase::from_articles(articles).expect("index");
    let build = start.elapsed();
    let delta = rss_kib().saturating_sub(before);
    let (p50, p99, count) = latency(&kb, &queries, 3);
    println!(
        "| synthetic | {n} | {} | {} | {count} | {} | {} |",
        ms(build),
        mib(delta),
        ms(p50),
        ms(p99)
    );
    group.sample_size(10);
    group.bench_function(format!("synthetic {n}, every bench query"), |b| {
        b.iter(|| {
            for q in &queries {
                black_box(kb.answer(q, &options).expect("search"));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
