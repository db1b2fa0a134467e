//! Keyword search, done the same way on both engines: the server turns texts into terms (words
//! folded to lower case without accents, plus their Spanish and English stems), and both
//! SQLite FTS5 and PostgreSQL's full-text search only index and match those terms. So "cupula"
//! finds "Cúpula", "telescopios" finds "telescopio", and both engines give the same answers.

use crate::model::TextSegment;
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::BTreeSet;
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;

/// Query words beyond this many are ignored.
const MAX_QUERY_WORDS: usize = 8;

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

/// The words of a text with their byte ranges: runs of letters and digits.
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

/// The terms to index for a text, separated by spaces.
pub fn index_terms(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for (_, word) in words(text) {
        for term in word_terms(&fold(word)) {
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

/// Scope terms start with this; no folded word of a text starts so (`zz` is no Spanish or
/// English prefix), and a search for one only ever narrows what the viewer may see anyway.
const SCOPE_MARK: &str = "zzscope";

/// The terms to index for a text: its words and its scope.
pub fn document_terms(text: &str, scope: DocumentScope) -> String {
    let mut terms = index_terms(text);
    terms.push_str(&format!(
        " {SCOPE_MARK}obs{} {SCOPE_MARK}org{}",
        scope.observatory_id, scope.organization_id
    ));
    if !scope.internal {
        terms.push_str(&format!(" {SCOPE_MARK}public"));
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
    fn terms(&self) -> Vec<String> {
        let mut terms: Vec<String> = self
            .observatory_id
            .map(|id| format!("{SCOPE_MARK}obs{id}"))
            .into_iter()
            .collect();
        if let Some(org) = self.organization_id {
            terms.push(format!("{SCOPE_MARK}org{org}"));
        }
        if !self.internal {
            terms.push(format!("{SCOPE_MARK}public"));
        }
        terms
    }
}

/// A parsed keyword query: every word must match (through itself or one of its stems).
/// The last word also matches as a prefix, so a half-typed word already finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Per query word, the terms any of which may match.
    words: Vec<BTreeSet<String>>,
    /// The folded last word, matched as a prefix.
    prefix: Option<String>,
}

impl SearchQuery {
    /// `None` when the text has no word to look for.
    pub fn parse(text: &str) -> Option<SearchQuery> {
        let folded: Vec<String> = words(text)
            .map(|(_, w)| fold(w))
            .take(MAX_QUERY_WORDS)
            .collect();
        let last = folded.last()?.clone();
        Some(SearchQuery {
            words: folded.iter().map(|w| word_terms(w)).collect(),
            prefix: (last.chars().count() >= 3).then_some(last),
        })
    }

    /// An FTS5 MATCH expression: `("a" OR "b") AND ("c" OR "c"*) AND "zzscope…"`, restricted
    /// to the searcher's scope. Terms are letters and digits only, so quoting them is enough.
    pub fn fts5(&self, scope: SearchScope) -> String {
        self.clauses(
            scope,
            |t| format!("\"{t}\""),
            |p| format!("\"{p}\"*"),
            " OR ",
            " AND ",
        )
    }

    /// A PostgreSQL `to_tsquery('simple', …)` expression: `('a' | 'b') & ('c' | 'c':*) & 'zzscope…'`.
    pub fn tsquery(&self, scope: SearchScope) -> String {
        self.clauses(
            scope,
            |t| format!("'{t}'"),
            |p| format!("'{p}':*"),
            " | ",
            " & ",
        )
    }

    fn clauses(
        &self,
        scope: SearchScope,
        term: impl Fn(&str) -> String,
        prefix: impl Fn(&str) -> String,
        or: &str,
        and: &str,
    ) -> String {
        let last = self.words.len().saturating_sub(1);
        self.words
            .iter()
            .enumerate()
            .map(|(i, terms)| {
                let mut options: Vec<String> = terms.iter().map(|t| term(t)).collect();
                if let (true, Some(p)) = (i == last, &self.prefix) {
                    options.push(prefix(p));
                }
                format!("({})", options.join(or))
            })
            .chain(scope.terms().iter().map(|t| term(t)))
            .collect::<Vec<_>>()
            .join(and)
    }

    /// Whether a word of a text matches one of the query's words.
    fn matches(&self, word: &str) -> bool {
        let folded = fold(word);
        if self
            .prefix
            .as_deref()
            .is_some_and(|p| folded.starts_with(p))
        {
            return true;
        }
        let terms = word_terms(&folded);
        self.words
            .iter()
            .any(|options| !options.is_disjoint(&terms))
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
        assert!(fts.starts_with("(\"cupul\" OR \"cupula\")"), "{fts}");
        assert!(
            fts.ends_with(
                "\"telescopes\"*) AND \"zzscopeobs1\" AND \"zzscopeorg7\" AND \"zzscopepublic\""
            ),
            "{fts}"
        );
        assert!(!fts.contains(';'));
        let staff = SearchScope {
            organization_id: None,
            internal: true,
            ..client
        };
        let ts = query.tsquery(staff);
        assert!(ts.contains("'cupula'"), "{ts}");
        assert!(ts.ends_with(":*) & 'zzscopeobs1'"), "{ts}");
        let only_observatory = SearchScope {
            observatory_id: None,
            ..staff
        };
        assert!(!query.fts5(only_observatory).contains("zzscope"));
        assert!(
            ts.contains("'telescopes':*"),
            "the last word also matches as a prefix: {ts}"
        );
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
        assert!(
            public.ends_with("zzscopeobs1 zzscopeorg7 zzscopepublic"),
            "{public}"
        );
        let note = document_terms(
            "Cúpula",
            DocumentScope {
                observatory_id: 1,
                organization_id: 7,
                internal: true,
            },
        );
        assert!(!note.contains("public"), "{note}");
    }

    #[test]
    fn a_half_typed_last_word_matches_as_a_prefix() {
        let query = SearchQuery::parse("teles").unwrap();
        assert_eq!(hits(&query.highlight("el telescopio")), vec!["telescopio"]);
        // Too short to be useful as a prefix.
        let short = SearchQuery::parse("te").unwrap();
        assert!(hits(&short.highlight("el telescopio")).is_empty());
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
