//! Keyword search, done the same way on both engines: the server turns texts into terms (words
//! folded to lower case without accents, plus their Spanish and English stems), and both
//! SQLite FTS5 and PostgreSQL's full-text search only index and match those terms. So "cupula"
//! finds "Cúpula", "telescopios" finds "telescopio", and both engines give the same answers.
//!
//! Every term of a text is made of letters and digits only. The terms that say where a text
//! belongs (`SCOPE_MARK`) begin with a character no word has, so nothing anybody types, in a
//! text or in a search, is ever taken for one.

use crate::model::TextSegment;
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::BTreeSet;
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;

/// Query words beyond this many are ignored.
const MAX_QUERY_WORDS: usize = 8;

/// A folded word is cut to this many bytes: the longest term PostgreSQL keeps (longer ones
/// would be stored wrapped, or refused in a query). Index and queries cut alike.
const MAX_TERM_BYTES: usize = 2047;

fn stemmers() -> &'static (Stemmer, Stemmer) {
    static STEMMERS: OnceLock<(Stemmer, Stemmer)> = OnceLock::new();
    STEMMERS.get_or_init(|| {
        (
            Stemmer::create(Algorithm::Spanish),
            Stemmer::create(Algorithm::English),
        )
    })
}

/// Lower case without diacritics: "Cúpula" → "cupula", "Año" → "ano".
pub fn fold(word: &str) -> String {
    word.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A word as it is indexed and looked for: folded, and cut to `MAX_TERM_BYTES`.
fn term_of(word: &str) -> String {
    let mut folded = fold(word);
    if folded.len() > MAX_TERM_BYTES {
        let mut end = MAX_TERM_BYTES;
        while !folded.is_char_boundary(end) {
            end -= 1;
        }
        folded.truncate(end);
    }
    folded
}

/// The words of a text with their byte ranges: runs of letters and digits. Anything else
/// separates words, `SCOPE_MARK` included.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(move |w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
}

/// The terms a folded word stands for: itself and its stems.
fn word_terms(folded: &str) -> BTreeSet<String> {
    let (spanish, english) = stemmers();
    let mut terms = BTreeSet::new();
    terms.insert(folded.to_string());
    terms.insert(spanish.stem(folded).into_owned());
    terms.insert(english.stem(folded).into_owned());
    terms.retain(|t| !t.is_empty());
    terms
}

/// The one term a query word looks for: the shorter of its stems (they are indexed with every
/// word, so a text with any form that stems alike matches).
fn query_stem(folded: &str) -> String {
    let (spanish, english) = stemmers();
    let spanish = spanish.stem(folded);
    let english = english.stem(folded);
    let stem = if english.len() < spanish.len() {
        english
    } else {
        spanish
    };
    if stem.is_empty() {
        folded.to_string()
    } else {
        stem.into_owned()
    }
}

/// The terms to index for a text, separated by spaces.
pub fn index_terms(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for (_, word) in words(text) {
        for term in word_terms(&term_of(word)) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&term);
        }
    }
    out
}

/// Where a searchable text belongs. Its scope is indexed as terms of its own, so a search is
/// restricted to what the viewer may see inside the full-text index itself: a client's search
/// walks only their organization's public texts, however large the observatory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentScope {
    pub observatory_id: i64,
    pub organization_id: i64,
    pub internal: bool,
}

/// Scope terms start with this. Words are letters and digits only (`words` splits at
/// anything else), so no term of a text or of a query can equal a scope term, nor can a
/// prefix query reach one. Both engines keep the mark inside a term: FTS5 counts it as a
/// token character (`tokenchars '_'`, migration 20261201000002) and PostgreSQL's vector is
/// made of the terms as they are (`array_to_tsvector`), not re-split by a text parser, whose
/// idea of a letter depends on the database's locale.
const SCOPE_MARK: &str = "_";

/// The terms to index for a text: its words and its scope.
pub fn document_terms(text: &str, scope: DocumentScope) -> String {
    let mut terms = index_terms(text);
    terms.push_str(&format!(
        " {SCOPE_MARK}obs{} {SCOPE_MARK}org{}",
        scope.observatory_id, scope.organization_id
    ));
    // Internal texts are the few: marking them (not the public ones) keeps the term a client's
    // search excludes short, where a "public" term would be nearly as long as the index.
    if scope.internal {
        terms.push_str(&format!(" {SCOPE_MARK}internal"));
    }
    terms
}

/// Who searches: their observatory, their organization (clients), whether internal texts count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchScope {
    /// `None` when the deployment hosts one observatory: its scope term would match every text
    /// and only cost time (results are still filtered by observatory outside the index).
    pub observatory_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub internal: bool,
}

impl SearchScope {
    /// The scope terms a text must have.
    fn required(&self) -> Vec<String> {
        let mut terms: Vec<String> = self
            .observatory_id
            .map(|id| format!("{SCOPE_MARK}obs{id}"))
            .into_iter()
            .collect();
        if let Some(org) = self.organization_id {
            terms.push(format!("{SCOPE_MARK}org{org}"));
        }
        terms
    }

    /// The scope term a text must not have.
    fn excluded(&self) -> Option<String> {
        (!self.internal).then(|| format!("{SCOPE_MARK}internal"))
    }
}

/// How an engine writes a query expression.
struct Syntax {
    term: fn(&str) -> String,
    prefix: fn(&str) -> String,
    and: &'static str,
    /// Between the expression and a term it must not have.
    not: &'static str,
}

/// A query word ending in `*` (and at least this long) matches every word it begins.
const MIN_PREFIX_CHARS: usize = 3;

/// One word of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
enum QueryWord {
    /// Matches every word indexed with this stem: the shorter of the word's Spanish and English
    /// stems, the one that gathers more forms ("tormentas" → "torment", "cleaning" → "clean").
    /// One term per word keeps the index walk to one posting list per word, and PostgreSQL's
    /// estimate of how many texts match close to the truth (an OR of a word's stems, which
    /// nearly always occur together, reads to it as twice as many).
    Stem(String),
    /// `telesc*`: matches any word that begins so. Only when asked for: a prefix walks every
    /// term it begins, which costs far more than a word.
    Prefix(String),
}

impl QueryWord {
    fn matches_term(&self, term: &str) -> bool {
        match self {
            QueryWord::Stem(stem) => term == stem,
            QueryWord::Prefix(prefix) => term.starts_with(prefix.as_str()),
        }
    }
}

/// A parsed keyword query: every word must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    words: Vec<QueryWord>,
}

impl SearchQuery {
    /// `None` when the text has no word to look for.
    pub fn parse(text: &str) -> Option<SearchQuery> {
        let words: Vec<QueryWord> = words(text)
            .take(MAX_QUERY_WORDS)
            .map(|(at, word)| {
                let folded = term_of(word);
                let wildcard = text[at + word.len()..].starts_with('*');
                if wildcard && folded.chars().count() >= MIN_PREFIX_CHARS {
                    QueryWord::Prefix(folded)
                } else {
                    QueryWord::Stem(query_stem(&folded))
                }
            })
            .collect();
        (!words.is_empty()).then_some(SearchQuery { words })
    }

    /// How well a matching text answers the query, higher is better: for each query word, its
    /// occurrences saturating as in BM25 and weighed down in long texts, doubled in a subject.
    /// Computed here from the indexed terms, so both engines rank alike.
    pub fn score(&self, terms: &str, subject: bool, average_terms: f64) -> f64 {
        const K1: f64 = 1.2;
        const B: f64 = 0.75;
        let length = terms.split(' ').count() as f64;
        let norm = K1 * (1.0 - B + B * length / average_terms.max(1.0));
        let score: f64 = self
            .words
            .iter()
            .map(|word| {
                let occurrences = terms.split(' ').filter(|t| word.matches_term(t)).count() as f64;
                occurrences * (K1 + 1.0) / (occurrences + norm)
            })
            .sum();
        if subject {
            score * 2.0
        } else {
            score
        }
    }

    /// An FTS5 MATCH expression: `"a" AND "c"* AND "_obs1" AND "_org7" NOT "_internal"`,
    /// restricted to the searcher's scope. Terms are letters and digits (and scope terms the
    /// mark), so quoting them is enough.
    pub fn fts5(&self, scope: SearchScope) -> String {
        self.clauses(
            scope,
            Syntax {
                term: |t| format!("\"{t}\""),
                prefix: |p| format!("\"{p}\"*"),
                and: " AND ",
                not: " NOT ",
            },
        )
    }

    /// A PostgreSQL `tsquery` literal, read as it is (`CAST(… AS tsquery)`, no text parser, as
    /// the indexed vectors): `'a' & 'c':* & '_obs1' & '_org7' & !'_internal'`.
    pub fn tsquery(&self, scope: SearchScope) -> String {
        self.clauses(
            scope,
            Syntax {
                term: |t| format!("'{t}'"),
                prefix: |p| format!("'{p}':*"),
                and: " & ",
                not: " & !",
            },
        )
    }

    fn clauses(&self, scope: SearchScope, syntax: Syntax) -> String {
        let mut expression = self
            .words
            .iter()
            .map(|word| match word {
                QueryWord::Stem(stem) => (syntax.term)(stem),
                QueryWord::Prefix(p) => (syntax.prefix)(p),
            })
            .chain(scope.required().iter().map(|t| (syntax.term)(t)))
            .collect::<Vec<_>>()
            .join(syntax.and);
        if let Some(excluded) = scope.excluded() {
            expression.push_str(syntax.not);
            expression.push_str(&(syntax.term)(&excluded));
        }
        expression
    }

    /// Whether a word of a text matches one of the query's words.
    fn matches(&self, word: &str) -> bool {
        let folded = term_of(word);
        let terms = word_terms(&folded);
        self.words.iter().any(|query_word| match query_word {
            QueryWord::Stem(stem) => terms.contains(stem),
            QueryWord::Prefix(prefix) => folded.starts_with(prefix.as_str()),
        })
    }

    /// The whole text, with the matching words marked.
    pub fn highlight(&self, text: &str) -> Vec<TextSegment> {
        self.segments(text, 0, text.len())
    }

    /// About `max_chars` characters of `text` around its first match, with matches marked and
    /// "…" where the text was cut.
    pub fn excerpt(&self, text: &str, max_chars: usize) -> Vec<TextSegment> {
        let first_hit = words(text)
            .find(|(_, w)| self.matches(w))
            .map(|(at, _)| at)
            .unwrap_or(0);
        // Start a little before the first match, at a character boundary.
        let start = text[..first_hit]
            .char_indices()
            .rev()
            .nth(max_chars / 4)
            .map(|(i, _)| i)
            .unwrap_or(0);
        let end = text[start..]
            .char_indices()
            .nth(max_chars)
            .map(|(i, _)| start + i)
            .unwrap_or(text.len());
        let mut segments = self.segments(text, start, end);
        if start > 0 {
            segments.insert(0, plain("…"));
        }
        if end < text.len() {
            segments.push(plain("…"));
        }
        segments
    }

    fn segments(&self, text: &str, start: usize, end: usize) -> Vec<TextSegment> {
        let slice = &text[start..end];
        let mut segments = Vec::new();
        let mut cursor = 0;
        for (at, word) in words(slice) {
            // A word cut by the excerpt's end is not highlighted as a whole word.
            if self.matches(word) {
                if at > cursor {
                    segments.push(plain(&slice[cursor..at]));
                }
                segments.push(TextSegment {
                    text: word.to_string(),
                    hit: true,
                });
                cursor = at + word.len();
            }
        }
        if cursor < slice.len() {
            segments.push(plain(&slice[cursor..]));
        }
        segments
    }
}

fn plain(text: &str) -> TextSegment {
    TextSegment {
        text: text.to_string(),
        hit: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(segments: &[TextSegment]) -> Vec<&str> {
        segments
            .iter()
            .filter(|s| s.hit)
            .map(|s| s.text.as_str())
            .collect()
    }

    #[test]
    fn folding_removes_case_and_accents() {
        assert_eq!(fold("Cúpula"), "cupula");
        assert_eq!(fold("CAMARA"), "camara");
        assert_eq!(fold("Año"), "ano");
        assert_eq!(fold("Über"), "uber");
    }

    #[test]
    fn indexed_terms_include_folded_words_and_stems() {
        let terms = index_terms("La cúpula no abre; telescopios parados.");
        let terms: Vec<&str> = terms.split(' ').collect();
        assert!(terms.contains(&"cupula"));
        assert!(terms.contains(&"telescopios"));
        assert!(terms.contains(&"telescopi"), "{terms:?}");
        assert!(terms.iter().all(|t| t.chars().all(char::is_alphanumeric)));
    }

    #[test]
    fn queries_match_across_accents_case_and_plurals() {
        let query = SearchQuery::parse("CUPULA telescopio").unwrap();
        let segments = query.highlight("La cúpula del Telescopios Norte");
        assert_eq!(hits(&segments), vec!["cúpula", "Telescopios"]);
        let joined: String = segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(joined, "La cúpula del Telescopios Norte");
        let english = SearchQuery::parse("mirrors").unwrap();
        assert_eq!(
            hits(&english.highlight("The mirror is dusty")),
            vec!["mirror"]
        );
        let verb = SearchQuery::parse("cleaning").unwrap();
        assert_eq!(hits(&verb.highlight("We cleaned it")), vec!["cleaned"]);
        let plural = SearchQuery::parse("tormentas").unwrap();
        assert_eq!(
            hits(&plural.highlight("Tras la tormenta, nada")),
            vec!["tormenta"]
        );
    }

    #[test]
    fn query_expressions_quote_every_term() {
        let query = SearchQuery::parse("cúpula \"; DROP TABLE telescopes; --").unwrap();
        let client = SearchScope {
            observatory_id: Some(1),
            organization_id: Some(7),
            internal: false,
        };
        let fts = query.fts5(client);
        assert_eq!(
            fts,
            "\"cupul\" AND \"drop\" AND \"tabl\" AND \"telescop\" \
             AND \"_obs1\" AND \"_org7\" NOT \"_internal\""
        );
        let staff = SearchScope {
            organization_id: None,
            internal: true,
            ..client
        };
        let ts = query.tsquery(staff);
        assert_eq!(ts, "'cupul' & 'drop' & 'tabl' & 'telescop' & '_obs1'");
        let only_observatory = SearchScope {
            observatory_id: None,
            ..staff
        };
        assert!(!query.fts5(only_observatory).contains(SCOPE_MARK));
        assert!(
            query.tsquery(client).ends_with(" & '_org7' & !'_internal'"),
            "{}",
            query.tsquery(client)
        );
        assert!(!ts.contains(":*"), "no prefix unless asked for: {ts}");
        assert_eq!(SearchQuery::parse("  ;; -- "), None);
    }

    #[test]
    fn documents_carry_their_scope() {
        let public = document_terms(
            "Cúpula",
            DocumentScope {
                observatory_id: 1,
                organization_id: 7,
                internal: false,
            },
        );
        assert!(public.ends_with(" _obs1 _org7"), "{public}");
        let note = document_terms(
            "Cúpula",
            DocumentScope {
                observatory_id: 1,
                organization_id: 7,
                internal: true,
            },
        );
        assert!(note.ends_with(" _obs1 _org7 _internal"), "{note}");
    }

    #[test]
    fn no_text_or_query_yields_a_scope_term() {
        let scope = DocumentScope {
            observatory_id: 1,
            organization_id: 7,
            internal: false,
        };
        // Scope terms typed into a text, as they are indexed and in the former `zzscope` form.
        let typed = "Hola _obs1 _org7 _internal __org7 org_7 zzscopeorg7 zzscopeinternal";
        let terms = document_terms(typed, scope);
        let scope_terms: Vec<&str> = terms
            .split(' ')
            .filter(|t| t.starts_with(SCOPE_MARK))
            .collect();
        assert_eq!(scope_terms, vec!["_obs1", "_org7"], "{terms}");
        assert!(index_terms(typed)
            .split(' ')
            .all(|t| t.chars().all(char::is_alphanumeric)));
        // The typed words stay searchable as the words they are.
        assert!(terms.split(' ').any(|t| t == "org7"), "{terms}");

        let query = SearchQuery::parse("_org8 _internal _obs*").unwrap();
        let client = SearchScope {
            observatory_id: Some(1),
            organization_id: Some(7),
            internal: false,
        };
        assert_eq!(
            query.fts5(client),
            "\"org8\" AND \"intern\" AND \"obs\"* AND \"_obs1\" AND \"_org7\" NOT \"_internal\""
        );
        assert_eq!(
            query.tsquery(client),
            "'org8' & 'intern' & 'obs':* & '_obs1' & '_org7' & !'_internal'"
        );
    }

    #[test]
    fn very_long_words_are_cut_alike_in_texts_and_queries() {
        // "ø" has no accent to fold away: two bytes each, twice too long.
        let long = "ø".repeat(MAX_TERM_BYTES);
        let terms = index_terms(&format!("{long} corto"));
        assert!(terms.split(' ').all(|t| t.len() <= MAX_TERM_BYTES));
        let query = SearchQuery::parse(&long).unwrap();
        assert!(query.tsquery(everything()).len() <= MAX_TERM_BYTES + 2);
        assert!(terms.split(' ').any(|t| query.words[0].matches_term(t)));
        assert_eq!(hits(&query.highlight(&long)).len(), 1);
    }

    #[test]
    fn a_word_ending_in_a_star_matches_as_a_prefix() {
        let query = SearchQuery::parse("Teles*").unwrap();
        assert_eq!(hits(&query.highlight("el telescopio")), vec!["telescopio"]);
        assert_eq!(query.fts5(everything()), "\"teles\"*");
        assert_eq!(query.tsquery(everything()), "'teles':*");
        // Without the star a word matches whole words (and stems) only.
        let word = SearchQuery::parse("teles").unwrap();
        assert!(hits(&word.highlight("el telescopio")).is_empty());
        // Too short to be useful as a prefix: a plain word.
        let short = SearchQuery::parse("te*").unwrap();
        assert!(hits(&short.highlight("el telescopio")).is_empty());
        assert_eq!(short.fts5(everything()), "\"te\"");
    }

    fn everything() -> SearchScope {
        SearchScope {
            observatory_id: None,
            organization_id: None,
            internal: true,
        }
    }

    #[test]
    fn scores_prefer_more_occurrences_shorter_texts_and_subjects() {
        let query = SearchQuery::parse("cúpula").unwrap();
        let terms = |text: &str| index_terms(text);
        let once = terms("la cupula no gira desde ayer por la noche");
        let twice = terms("la cupula no gira y la cupula hace ruido");
        let long = terms(&format!("la cupula no gira {}", "otra palabra ".repeat(30)));
        let average = 12.0;
        let score = |t: &str, subject| query.score(t, subject, average);
        assert!(score(&twice, false) > score(&once, false));
        assert!(score(&once, false) > score(&long, false));
        assert!(score(&once, true) > score(&once, false));
        assert_eq!(score(&terms("nada que ver"), false), 0.0);
    }

    #[test]
    fn excerpts_show_the_match_and_mark_cuts() {
        let text = format!(
            "{} la cúpula se atasca {}",
            "antes ".repeat(60),
            "después ".repeat(60)
        );
        let query = SearchQuery::parse("cupula").unwrap();
        let excerpt = query.excerpt(&text, 80);
        assert_eq!(excerpt.first().unwrap().text, "…");
        assert_eq!(excerpt.last().unwrap().text, "…");
        assert_eq!(hits(&excerpt), vec!["cúpula"]);
    }
}
