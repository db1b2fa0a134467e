//! SQL for tickets, their timelines, search and API tokens.
//!
//! Every read is scoped by a `TicketScope` (observatory, and organization for clients), so
//! another tenant's ids behave as if they did not exist. Lists page by keyset (the sort key and
//! the id of the last row seen), never by OFFSET, so deep pages cost what the first one costs.

use super::notifications::QUEUE_ENTRY;
use super::{on_pool, on_tx, Db, StoreError, Tx};
use crate::backend::search::{SearchQuery, SearchScope};
use crate::model::{Status, TicketSort};
use chrono::{DateTime, Utc};

/// What the person asking may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketScope {
    pub observatory_id: i64,
    /// Clients: only their organization's tickets.
    pub organization_id: Option<i64>,
    /// Staff see internal notes; clients never do.
    pub internal: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketRow {
    pub id: i64,
    pub observatory_id: i64,
    pub organization_id: i64,
    pub organization: String,
    pub number: String,
    pub request_type: String,
    pub telescope_id: Option<i64>,
    pub telescope: Option<String>,
    pub priority: i64,
    pub status: String,
    pub subject: String,
    pub assignee_id: Option<i64>,
    pub assignee: Option<String>,
    pub created_by: i64,
    pub opened_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// How a done request was closed (`model::Resolution`).
    pub resolution: Option<String>,
    /// The cadence its timer belongs to, when it has one (`waiting`, `confirmation`).
    pub timer_cadence: Option<String>,
}

const TICKET_SELECT: &str =
    "SELECT t.id, t.observatory_id, t.organization_id, o.name AS organization, \
    t.number, t.request_type, t.telescope_id, tel.name AS telescope, t.priority, t.status, \
    t.subject, t.assignee_id, a.name AS assignee, t.created_by, c.name AS opened_by, \
    t.created_at, t.updated_at, t.closed_at, t.resolution, tt.cadence AS timer_cadence \
    FROM tickets t \
    JOIN organizations o ON o.id = t.organization_id \
    JOIN users c ON c.id = t.created_by \
    LEFT JOIN telescopes tel ON tel.id = t.telescope_id \
    LEFT JOIN users a ON a.id = t.assignee_id \
    LEFT JOIN ticket_timers tt ON tt.ticket_id = t.id";

/// A text a keyword search matched: its ticket, whether it is the subject, its indexed terms,
/// whether its ticket passes the list's filters, and what the views and the order of results
/// need of its ticket.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MatchedText {
    pub ticket_id: i64,
    pub subject: bool,
    pub terms: String,
    pub in_view: bool,
    pub closed: bool,
    pub updated_at: DateTime<Utc>,
}

/// A row of a list: what `TicketSummary` shows.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListRow {
    pub id: i64,
    pub number: String,
    pub subject: String,
    pub request_type: String,
    pub status: String,
    pub priority: i64,
    pub organization: String,
    pub telescope: Option<String>,
    pub assignee: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolution: Option<String>,
}

const LIST_COLUMNS: &str = "t.id, t.number, t.subject, t.request_type, t.status, t.priority, \
    o.name AS organization, tel.name AS telescope, a.name AS assignee, t.created_at, t.updated_at, \
    t.resolution";
const LIST_JOINS: &str = "JOIN organizations o ON o.id = t.organization_id \
    LEFT JOIN telescopes tel ON tel.id = t.telescope_id \
    LEFT JOIN users a ON a.id = t.assignee_id";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: i64,
    pub kind: String,
    pub internal: bool,
    pub author: Option<String>,
    pub author_role: Option<String>,
    pub body: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub struct NewTicketRow<'a> {
    pub observatory_id: i64,
    pub organization_id: i64,
    pub request_type: &'a str,
    pub telescope_id: Option<i64>,
    pub priority: i64,
    pub subject: &'a str,
    pub comment: &'a str,
    pub created_by: i64,
    /// Search terms of the subject and number, and of the first comment.
    pub subject_terms: String,
    pub comment_terms: String,
    pub now: DateTime<Utc>,
    /// The year its number carries: the observatory's local year at `now`.
    pub number_year: i32,
}

/// The ids a new ticket got.
#[derive(Debug, Clone)]
pub struct CreatedTicket {
    pub id: i64,
    pub number: String,
    pub entry_id: i64,
}

/// A timeline entry to append.
pub struct NewEntry<'a> {
    pub kind: &'a str,
    pub internal: bool,
    pub author_id: Option<i64>,
    pub body: &'a str,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    /// Search terms of the body, for text entries.
    pub terms: Option<String>,
}

/// What a change does to the ticket's own columns, checked against what the person saw.
#[derive(Debug, Clone, Default)]
pub struct TicketChange {
    /// New status and whether it closes the ticket; applied only if the status is still
    /// `expected_status`.
    pub status: Option<(String, bool)>,
    pub expected_status: Option<String>,
    /// New assignee (`Some(None)`: nobody), applied only if the assignee is still
    /// `expected_assignee`.
    pub assignee: Option<Option<i64>>,
    pub expected_assignee: Option<Option<i64>>,
    /// New priority, applied only if the priority is still `expected_priority`.
    pub priority: Option<i64>,
    pub expected_priority: Option<i64>,
    /// With a status change: the life-cycle timer the new status starts. A status change
    /// always ends the ticket's earlier timer and resolution.
    pub timer: Option<NewTimer>,
}

/// A life-cycle timer: the next action of a cadence and when it is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTimer {
    pub cadence: &'static str,
    pub step: i64,
    pub due_at: DateTime<Utc>,
}

/// How many of the most recent matching texts a keyword search ranks.
pub const SEARCH_CANDIDATES: usize = 1000;

/// PostgreSQL keeps search documents in partitions of 2^`SEARCH_PARTITION_BITS` ids, each with
/// its own index (migration 20261122000008 makes them; the two must agree).
const SEARCH_PARTITION_BITS: u32 = 20;
pub const SEARCH_PARTITION_SIZE: i64 = 1 << SEARCH_PARTITION_BITS;

/// A bound value of a query built at run time.
#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    Text(String),
    Time(DateTime<Utc>),
}

/// Which tickets a list holds, in the services' terms; `conditions` writes it as SQL.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub observatory_id: i64,
    pub organization_id: Option<i64>,
    pub status: Option<String>,
    pub request_type: Option<String>,
    pub priority: Option<i64>,
    pub telescope_id: Option<i64>,
    /// Done, and its client has not yet confirmed or disputed it.
    pub awaiting_confirmation: bool,
    pub resolution: Option<String>,
    /// Each must hold; `None` is "nobody".
    pub assignees: Vec<Option<i64>>,
    pub created_by: Option<i64>,
    /// `Some(false)`: the open ones only; `Some(true)`: the closed ones only.
    pub closed: Option<bool>,
}

impl Selection {
    pub(crate) fn conditions(&self) -> Conditions {
        let mut c = Conditions::default();
        c.add("t.observatory_id = ?", Arg::Int(self.observatory_id));
        if let Some(org) = self.organization_id {
            c.add("t.organization_id = ?", Arg::Int(org));
        }
        if let Some(status) = &self.status {
            c.add("t.status = ?", Arg::Text(status.clone()));
        }
        if let Some(kind) = &self.request_type {
            c.add("t.request_type = ?", Arg::Text(kind.clone()));
        }
        if let Some(priority) = self.priority {
            c.add("t.priority = ?", Arg::Int(priority));
        }
        if let Some(telescope) = self.telescope_id {
            c.add("t.telescope_id = ?", Arg::Int(telescope));
        }
        if self.awaiting_confirmation {
            c.add("t.status = ?", Arg::Text(Status::Done.code().into()));
            c.add_plain("t.resolution IS NULL");
        }
        if let Some(resolution) = &self.resolution {
            c.add("t.resolution = ?", Arg::Text(resolution.clone()));
        }
        for assignee in &self.assignees {
            match assignee {
                Some(id) => c.add("t.assignee_id = ?", Arg::Int(*id)),
                None => c.add_plain("t.assignee_id IS NULL"),
            }
        }
        if let Some(user) = self.created_by {
            c.add("t.created_by = ?", Arg::Int(user));
        }
        match self.closed {
            None => {}
            // Compared, not tested as booleans, so both engines use the `closed` column of
            // the list indexes.
            Some(false) => c.add_plain("t.closed = FALSE"),
            Some(true) => c.add_plain("t.closed = TRUE"),
        }
        c
    }
}

/// Conditions on `tickets t`, with their arguments, numbered as they are added.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conditions {
    pub sql: Vec<String>,
    pub args: Vec<Arg>,
}

impl Conditions {
    /// Adds a condition whose `?` stands for the next argument.
    pub fn add(&mut self, condition: &str, arg: Arg) {
        self.args.push(arg);
        let placeholder = format!("${}", self.args.len());
        self.sql.push(condition.replace('?', &placeholder));
    }

    pub fn add_plain(&mut self, condition: &str) {
        self.sql.push(condition.to_string());
    }

    /// The next placeholder, for arguments added by hand.
    pub(crate) fn placeholder(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    /// Placeholders for a list of ids, as `IN (…)` takes them.
    fn id_list(&mut self, ids: &[i64]) -> String {
        ids.iter()
            .map(|id| self.placeholder(Arg::Int(*id)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub(crate) fn where_clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.sql.join(" AND "))
        }
    }

    /// The conditions as one true-or-false column.
    fn as_column(&self) -> String {
        if self.sql.is_empty() {
            "TRUE".to_string()
        } else {
            format!(
                "CASE WHEN {} THEN TRUE ELSE FALSE END",
                self.sql.join(" AND ")
            )
        }
    }
}

/// Where a keyset page starts: the sort key of the last row of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyset {
    Updated(DateTime<Utc>, i64),
    Created(DateTime<Utc>, i64),
    Priority(i64, DateTime<Utc>, i64),
}

/// The ORDER BY of a list in each order; every one ends with the id, as keyset pages need.
fn order_by(sort: TicketSort) -> &'static str {
    match sort {
        TicketSort::Updated => "t.updated_at DESC, t.id DESC",
        TicketSort::Created => "t.created_at DESC, t.id DESC",
        TicketSort::Priority => "t.priority DESC, t.updated_at DESC, t.id DESC",
    }
}

macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Int(v) => query.bind(*v),
                Arg::Text(v) => query.bind(v.clone()),
                Arg::Time(v) => query.bind(*v),
            };
        }
        query
    }};
}
pub(crate) use bind_args;

impl Db {
    /// The rows of a query built at run time, its arguments bound in order.
    pub(crate) async fn fetch_all_with<T>(
        &self,
        sql: &str,
        args: &[Arg],
    ) -> Result<Vec<T>, StoreError>
    where
        T: Send + Unpin,
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        let rows = on_pool!(self, |pool| {
            bind_args!(sqlx::query_as(sql), args).fetch_all(pool).await
        })?;
        Ok(rows)
    }
}

/// The partitions of search documents a PostgreSQL search asks at once: `lowest..=highest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SearchWindow {
    lowest: i64,
    highest: i64,
}

impl SearchWindow {
    /// The partition holding the newest document.
    fn newest(newest_id: i64) -> SearchWindow {
        let partition = newest_id.max(0) >> SEARCH_PARTITION_BITS;
        SearchWindow {
            lowest: partition,
            highest: partition,
        }
    }

    fn first_id(self) -> i64 {
        self.lowest << SEARCH_PARTITION_BITS
    }

    fn end_id(self) -> i64 {
        (self.highest + 1) << SEARCH_PARTITION_BITS
    }

    /// The older partitions to ask next, after this window and the newer ones held `found`
    /// matches (`None`: enough matched, or nothing older is left). As many partitions as the
    /// rate of matches so far says the missing ones need, a fifth more; twice as many as this
    /// window when nothing matched yet. Rare words thus reach the oldest texts in a few
    /// queries, and common ones ask one partition at a time.
    fn next(self, newest_id: i64, found: usize) -> Option<SearchWindow> {
        if found >= SEARCH_CANDIDATES || self.lowest == 0 {
            return None;
        }
        let width = if found == 0 {
            2 * (self.highest - self.lowest + 1)
        } else {
            let searched = (newest_id + 1 - self.first_id()) as f64;
            let missing = (SEARCH_CANDIDATES - found) as f64;
            let needed = 1.2 * missing * searched / found as f64;
            (needed / SEARCH_PARTITION_SIZE as f64).ceil().max(1.0) as i64
        };
        let highest = self.lowest - 1;
        Some(SearchWindow {
            lowest: (highest - width + 1).max(0),
            highest,
        })
    }
}

/// A search's candidate texts (`candidates`, a query on `search_documents`) with what the
/// results need of their tickets, and whether each ticket passes `conditions`. The conditions'
/// placeholders come before the query's in number though after them in the text: both engines
/// bind `$n` by its number.
fn with_tickets(candidates: &str, conditions: &Conditions) -> String {
    format!(
        "SELECT c.ticket_id, c.subject, c.terms, {} AS in_view, t.closed, t.updated_at \
         FROM ({candidates}) c JOIN tickets t ON t.id = c.ticket_id",
        conditions.as_column()
    )
}

/// Timestamps keep microseconds, the precision both engines store, so a keyset cursor made from
/// a stored value finds that value again.
pub fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

impl Db {
    /// Creates a ticket with the next number of its observatory and year, its first timeline
    /// entry and its search documents, in one transaction.
    pub async fn ticket_by_number(
        &self,
        scope: TicketScope,
        number: &str,
    ) -> Result<Option<TicketRow>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as(&format!(
                "{TICKET_SELECT} WHERE t.observatory_id = $1 AND t.number = $2 \
                 AND ($3 = 0 OR t.organization_id = $3)"
            ))
            .bind(scope.observatory_id)
            .bind(number)
            .bind(scope.organization_id.unwrap_or(0))
            .fetch_optional(pool)
            .await
        })?;
        Ok(row)
    }

    /// The timeline of a ticket in order; internal entries only when the scope allows.
    pub async fn timeline(
        &self,
        scope: TicketScope,
        ticket_id: i64,
    ) -> Result<Vec<EntryRow>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT e.id, e.kind, e.internal, u.name AS author, u.role AS author_role, e.body, \
                 e.old_value, e.new_value, e.created_at \
                 FROM timeline_entries e LEFT JOIN users u ON u.id = e.author_id \
                 WHERE e.ticket_id = $1 AND e.observatory_id = $2 AND ($3 OR NOT e.internal) \
                 ORDER BY e.id",
            )
            .bind(ticket_id)
            .bind(scope.observatory_id)
            .bind(scope.internal)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// The messages, notes, files and voice comments after entry `after` that someone other
    /// than `user_id` added, and that the scope sees: what was said while `user_id` wrote.
    pub async fn replies_after(
        &self,
        scope: TicketScope,
        ticket_id: i64,
        after: i64,
        user_id: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let ids = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT id FROM timeline_entries \
                 WHERE ticket_id = $1 AND observatory_id = $2 AND ($3 OR NOT internal) \
                 AND id > $4 AND (author_id IS NULL OR author_id <> $5) \
                 AND kind IN ('message', 'note', 'attachment', 'voice') ORDER BY id",
            )
            .bind(ticket_id)
            .bind(scope.observatory_id)
            .bind(scope.internal)
            .bind(after)
            .bind(user_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(ids)
    }

    /// Applies a change to a ticket and appends the entry that records it, in one transaction.
    /// Returns `None`, changing nothing, when the ticket's status is no longer the expected one
    /// (somebody else changed it meanwhile).
    pub async fn record_change(
        &self,
        observatory_id: i64,
        ticket_id: i64,
        change: TicketChange,
        entry: NewEntry<'_>,
    ) -> Result<Option<i64>, StoreError> {
        let now = now_micros();
        let mut sets = Conditions::default();
        let mut assignments = vec![format!("updated_at = {}", sets.placeholder(Arg::Time(now)))];
        if let Some((status, closed)) = &change.status {
            assignments.push(format!(
                "status = {}",
                sets.placeholder(Arg::Text(status.clone()))
            ));
            assignments.push(format!(
                "closed = {}",
                if *closed { "TRUE" } else { "FALSE" }
            ));
            if *closed {
                assignments.push(format!("closed_at = {}", sets.placeholder(Arg::Time(now))));
            } else {
                assignments.push("closed_at = NULL".into());
            }
            assignments.push("resolution = NULL".into());
        }
        if let Some(assignee) = change.assignee {
            match assignee {
                Some(id) => {
                    assignments.push(format!("assignee_id = {}", sets.placeholder(Arg::Int(id))))
                }
                None => assignments.push("assignee_id = NULL".into()),
            }
        }
        if let Some(priority) = change.priority {
            assignments.push(format!(
                "priority = {}",
                sets.placeholder(Arg::Int(priority))
            ));
        }
        sets.add("id = ?", Arg::Int(ticket_id));
        sets.add("observatory_id = ?", Arg::Int(observatory_id));
        if let Some(expected) = &change.expected_status {
            sets.add("status = ?", Arg::Text(expected.clone()));
        }
        match change.expected_assignee {
            Some(Some(id)) => sets.add("assignee_id = ?", Arg::Int(id)),
            Some(None) => sets.add_plain("assignee_id IS NULL"),
            None => {}
        }
        if let Some(expected) = change.expected_priority {
            sets.add("priority = ?", Arg::Int(expected));
        }
        let update = format!(
            "UPDATE tickets SET {} {}",
            assignments.join(", "),
            sets.where_clause()
        );
        let mut tx = self.begin().await?;
        let changed = on_tx!(&mut tx, |conn| {
            bind_args!(sqlx::query(&update), &sets.args)
                .execute(&mut **conn)
                .await
                .map(|done| done.rows_affected())
        })?;
        if changed != 1 {
            return Ok(None);
        }
        if change.status.is_some() {
            tx.set_timer(ticket_id, change.timer.as_ref(), now).await?;
        }
        let entry_id = tx
            .append_entry(observatory_id, ticket_id, entry, now)
            .await?;
        tx.commit().await?;
        Ok(Some(entry_id))
    }

    /// One page of tickets matching `conditions` (which must scope by observatory), in `order`,
    /// after `keyset`; one more row than `limit` tells whether another page follows.
    pub async fn list_tickets(
        &self,
        selection: &Selection,
        order: TicketSort,
        keyset: Option<Keyset>,
        limit: usize,
    ) -> Result<Vec<ListRow>, StoreError> {
        let mut conditions = selection.conditions();
        match keyset {
            Some(Keyset::Updated(at, id)) => {
                let (a, b) = (
                    conditions.placeholder(Arg::Time(at)),
                    conditions.placeholder(Arg::Int(id)),
                );
                conditions.add_plain(&format!("(t.updated_at, t.id) < ({a}, {b})"));
            }
            Some(Keyset::Created(at, id)) => {
                let (a, b) = (
                    conditions.placeholder(Arg::Time(at)),
                    conditions.placeholder(Arg::Int(id)),
                );
                conditions.add_plain(&format!("(t.created_at, t.id) < ({a}, {b})"));
            }
            Some(Keyset::Priority(priority, at, id)) => {
                let p = conditions.placeholder(Arg::Int(priority));
                let (a, b) = (
                    conditions.placeholder(Arg::Time(at)),
                    conditions.placeholder(Arg::Int(id)),
                );
                conditions.add_plain(&format!(
                    "(t.priority, t.updated_at, t.id) < ({p}, {a}, {b})"
                ));
            }
            None => {}
        }
        let sql = format!(
            "SELECT {LIST_COLUMNS} FROM tickets t {LIST_JOINS} {} ORDER BY {} LIMIT {}",
            conditions.where_clause(),
            order_by(order),
            limit + 1
        );
        self.fetch_all_with(&sql, &conditions.args).await
    }

    /// How many tickets match `conditions`, counting no further than `cap + 1`: the work stays
    /// bounded however many there are, and `cap + 1` reads as "more than `cap`".
    pub async fn count_tickets(&self, selection: &Selection, cap: i64) -> Result<i64, StoreError> {
        let conditions = selection.conditions();
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM tickets t {} LIMIT {}) capped",
            conditions.where_clause(),
            cap + 1
        );
        let count = on_pool!(self, |pool| {
            bind_args!(sqlx::query_scalar::<_, i64>(&sql), &conditions.args)
                .fetch_one(pool)
                .await
        })?;
        Ok(count)
    }

    /// Tickets per status of the observatory, or of one organization, and of one assignee
    /// (0: unassigned) when given: read from `ticket_counts`, a few rows whatever the volume.
    pub async fn status_counts(
        &self,
        observatory_id: i64,
        organization_id: Option<i64>,
        assignee_id: Option<i64>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut conditions = Conditions::default();
        conditions.add("observatory_id = ?", Arg::Int(observatory_id));
        if let Some(org) = organization_id {
            conditions.add("organization_id = ?", Arg::Int(org));
        }
        if let Some(assignee) = assignee_id {
            conditions.add("assignee_id = ?", Arg::Int(assignee));
        }
        let sql = format!(
            "SELECT status, CAST(SUM(tickets) AS BIGINT) FROM ticket_counts {} GROUP BY status",
            conditions.where_clause()
        );
        self.fetch_all_with(&sql, &conditions.args).await
    }

    /// The `SEARCH_CANDIDATES` most recent texts matching a keyword query, within the
    /// searcher's scope (see `search::SearchScope`: the index itself only yields what they may
    /// see), each saying whether its ticket passes `conditions` (the list's filters: whether
    /// all the candidates were taken is known even when few pass). Both engines stop at the
    /// most recent matches, so a word found in half a million texts answers about as fast as a
    /// rare one; relevance is then ranked among recent activity, which is what people look for.
    pub async fn matching_texts(
        &self,
        selection: &Selection,
        query: &SearchQuery,
        scope: SearchScope,
    ) -> Result<Vec<MatchedText>, StoreError> {
        match self {
            // FTS5 walks its posting lists newest first and stops at the limit.
            Db::Sqlite(_) => {
                let mut conditions = selection.conditions();
                let q = conditions.placeholder(Arg::Text(query.fts5(scope)));
                let candidates = format!(
                    "SELECT d.ticket_id, d.entry_id IS NULL AS subject, d.terms \
                     FROM (SELECT rowid AS doc_id FROM search_index WHERE search_index MATCH {q} \
                           ORDER BY rowid DESC LIMIT {SEARCH_CANDIDATES}) m \
                     JOIN search_documents d ON d.id = m.doc_id"
                );
                self.fetch_all_with(&with_tickets(&candidates, &conditions), &conditions.args)
                    .await
            }
            // GIN intersects whole posting lists before anything is ordered: three common
            // words would cost the length of their lists however few texts are wanted. Each
            // partition has its own index, so the search asks the newest partition first and
            // older ones only while too few texts matched (see `SearchWindow::next`).
            Db::Postgres(pool) => {
                // The sequence's last value: the newest id, or just above it (no plan over
                // every partition, as MAX(id) would need).
                let newest: i64 = sqlx::query_scalar("SELECT last_value FROM search_document_ids")
                    .fetch_one(pool)
                    .await?;
                let words = query.tsquery(scope);
                let mut texts: Vec<MatchedText> = Vec::new();
                let mut window = Some(SearchWindow::newest(newest));
                while let Some(current) = window {
                    let mut bounded = selection.conditions();
                    let q = bounded.placeholder(Arg::Text(words.clone()));
                    let from = bounded.placeholder(Arg::Int(current.first_id()));
                    let to = bounded.placeholder(Arg::Int(current.end_id()));
                    let candidates = format!(
                        "SELECT ticket_id, entry_id IS NULL AS subject, terms \
                         FROM search_documents \
                         WHERE terms_vector @@ CAST({q} AS tsquery) \
                           AND id >= {from} AND id < {to} \
                         ORDER BY id DESC LIMIT {}",
                        SEARCH_CANDIDATES - texts.len()
                    );
                    let sql = with_tickets(&candidates, &bounded);
                    texts.extend(
                        self.fetch_all_with::<MatchedText>(&sql, &bounded.args)
                            .await?,
                    );
                    window = current.next(newest, texts.len());
                }
                Ok(texts)
            }
        }
    }

    /// The list rows of the given tickets (already known to be in the reader's scope), in no
    /// particular order.
    pub async fn tickets_by_ids(&self, ids: &[i64]) -> Result<Vec<ListRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conditions = Conditions::default();
        let list = conditions.id_list(ids);
        let sql =
            format!("SELECT {LIST_COLUMNS} FROM tickets t {LIST_JOINS} WHERE t.id IN ({list})");
        self.fetch_all_with(&sql, &conditions.args).await
    }

    /// The texts of the given tickets that a search may show an excerpt of, in order: entries'
    /// bodies and voice comments' transcripts.
    pub async fn searchable_texts(
        &self,
        ticket_ids: &[i64],
        internal: bool,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        if ticket_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conditions = Conditions::default();
        let list = conditions.id_list(ticket_ids);
        let public = if internal { "" } else { "AND NOT e.internal" };
        let sql = format!(
            "SELECT ticket_id, body FROM ( \
               SELECT e.ticket_id, e.id, e.body FROM timeline_entries e \
               WHERE e.ticket_id IN ({list}) AND e.body <> '' {public} \
               UNION ALL \
               SELECT v.ticket_id, v.entry_id AS id, v.transcript AS body FROM voice_entries v \
               JOIN timeline_entries e ON e.id = v.entry_id \
               WHERE v.ticket_id IN ({list}) AND v.transcript <> '' {public} \
             ) texts ORDER BY id"
        );
        self.fetch_all_with(&sql, &conditions.args).await
    }

    /// Active staff of the observatory, by name: who a ticket can be assigned to.
    pub async fn agents(&self, observatory_id: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name FROM users WHERE observatory_id = $1 AND role IN ('admin', 'agent') \
                 AND active AND password_hash IS NOT NULL ORDER BY name",
            )
            .bind(observatory_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// The name of an active staff member of the observatory.
    pub async fn agent_name(
        &self,
        observatory_id: i64,
        user_id: i64,
    ) -> Result<Option<String>, StoreError> {
        let name = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT name FROM users WHERE id = $1 AND observatory_id = $2 \
                 AND role IN ('admin', 'agent') AND active",
            )
            .bind(user_id)
            .bind(observatory_id)
            .fetch_optional(pool)
            .await
        })?;
        Ok(name)
    }

    /// Names of users by id (for assignment entries); unknown ids are left out.
    pub async fn user_names(
        &self,
        observatory_id: i64,
        ids: &[i64],
    ) -> Result<Vec<(i64, String)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conditions = Conditions::default();
        let list = conditions.id_list(ids);
        let observatory = conditions.placeholder(Arg::Int(observatory_id));
        let sql = format!(
            "SELECT id, name FROM users WHERE id IN ({list}) AND observatory_id = {observatory}"
        );
        self.fetch_all_with(&sql, &conditions.args).await
    }

    /// Active organizations of the observatory (or only the given one) with their telescopes
    /// in service: what a new request may be about.
    pub async fn ticket_choices(
        &self,
        observatory_id: i64,
        organization_id: Option<i64>,
    ) -> Result<Vec<(i64, String, Option<i64>, Option<String>)>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT o.id, o.name, tel.id, tel.name FROM organizations o \
                 LEFT JOIN telescopes tel ON tel.organization_id = o.id AND tel.retired_at IS NULL \
                 WHERE o.observatory_id = $1 AND o.active AND ($2 = 0 OR o.id = $2) \
                 ORDER BY o.name, o.id, tel.name, tel.id",
            )
            .bind(observatory_id)
            .bind(organization_id.unwrap_or(0))
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// Whether a telescope in service belongs to the organization (within the observatory).
    pub async fn telescope_in_service(
        &self,
        observatory_id: i64,
        organization_id: i64,
        telescope_id: i64,
    ) -> Result<bool, StoreError> {
        let count: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM telescopes WHERE id = $1 AND organization_id = $2 \
                 AND observatory_id = $3 AND retired_at IS NULL",
            )
            .bind(telescope_id)
            .bind(organization_id)
            .bind(observatory_id)
            .fetch_one(pool)
            .await
        })?;
        Ok(count == 1)
    }

    /// A telescope within the scope: (name, model, location, organization, retired).
    pub async fn scoped_telescope(
        &self,
        scope: TicketScope,
        telescope_id: i64,
    ) -> Result<Option<(String, String, String, String, bool)>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT tel.name, tel.model, tel.location, o.name, (tel.retired_at IS NOT NULL) \
                 FROM telescopes tel JOIN organizations o ON o.id = tel.organization_id \
                 WHERE tel.id = $1 AND tel.observatory_id = $2 \
                 AND ($3 = 0 OR tel.organization_id = $3)",
            )
            .bind(telescope_id)
            .bind(scope.observatory_id)
            .bind(scope.organization_id.unwrap_or(0))
            .fetch_optional(pool)
            .await
        })?;
        Ok(row)
    }

    // ---- API tokens ----

    pub async fn insert_api_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<i64, StoreError> {
        let id = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(user_id)
            .bind(name)
            .bind(token_hash)
            .bind(now)
            .bind(expires_at)
            .fetch_one(pool)
            .await
        })?;
        Ok(id)
    }

    /// The person's tokens that were not revoked (expired ones included), newest first.
    pub async fn api_tokens(&self, user_id: i64) -> Result<Vec<ApiTokenRow>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, user_id, name, created_at, expires_at, last_used_at FROM api_tokens \
                 WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id DESC",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    pub async fn revoke_api_token(&self, user_id: i64, token_id: i64) -> Result<bool, StoreError> {
        let changed = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $1 \
                 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
            )
            .bind(Utc::now())
            .bind(token_id)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(changed == 1)
    }

    /// The token with this hash, unless revoked: the service decides whether it still works.
    pub async fn api_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<ApiTokenRow>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, user_id, name, created_at, expires_at, last_used_at FROM api_tokens \
                 WHERE token_hash = $1 AND revoked_at IS NULL",
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row)
    }

    /// Records a use of a token, unless one was recorded after `unless_used_since` (also when
    /// two requests race: only one of them writes).
    pub async fn touch_api_token(
        &self,
        token_id: i64,
        now: DateTime<Utc>,
        unless_used_since: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE api_tokens SET last_used_at = $1 \
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)",
            )
            .bind(now)
            .bind(token_id)
            .bind(unless_used_since)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }
}

/// A personal API key as stored (its hash is never read back).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiTokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// `None`: the key does not expire.
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl Tx {
    /// Marks the ticket as changed now, and so locks it for the rest of the transaction (on
    /// SQLite the transaction holds the write lock from its start). `false`: no such ticket in
    /// the observatory, or, with `open_only`, it is closed.
    pub async fn touch_ticket(
        &mut self,
        observatory_id: i64,
        ticket_id: i64,
        now: DateTime<Utc>,
        open_only: bool,
    ) -> Result<bool, StoreError> {
        let sql = if open_only {
            "UPDATE tickets SET updated_at = $1 WHERE id = $2 AND observatory_id = $3 \
             AND closed = FALSE"
        } else {
            "UPDATE tickets SET updated_at = $1 WHERE id = $2 AND observatory_id = $3"
        };
        let changed = on_tx!(self, |tx| {
            sqlx::query(sql)
                .bind(now)
                .bind(ticket_id)
                .bind(observatory_id)
                .execute(&mut **tx)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(changed == 1)
    }

    /// Appends a timeline entry (and the search document of its text), queued for the
    /// notifier.
    pub async fn append_entry(
        &mut self,
        observatory_id: i64,
        ticket_id: i64,
        entry: NewEntry<'_>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let entry_id = on_tx!(self, |tx| {
            let entry_id: i64 = sqlx::query_scalar(
                "INSERT INTO timeline_entries (observatory_id, ticket_id, kind, internal, author_id, \
                 body, old_value, new_value, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(observatory_id)
            .bind(ticket_id)
            .bind(entry.kind)
            .bind(entry.internal)
            .bind(entry.author_id)
            .bind(entry.body)
            .bind(&entry.old_value)
            .bind(&entry.new_value)
            .bind(now)
            .fetch_one(&mut **tx)
            .await?;
            sqlx::query(QUEUE_ENTRY)
                .bind(entry_id)
                .bind(now)
                .bind(ticket_id)
                .execute(&mut **tx)
                .await?;
            if let Some(terms) = &entry.terms {
                sqlx::query(
                    "INSERT INTO search_documents (ticket_id, entry_id, internal, terms) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(ticket_id)
                .bind(entry_id)
                .bind(entry.internal)
                .bind(terms)
                .execute(&mut **tx)
                .await?;
            }
            Ok::<_, sqlx::Error>(entry_id)
        })?;
        self.record_event(entry_id, None, now).await?;
        Ok(entry_id)
    }

    /// Inserts a ticket with its first entry and search documents. As a transaction's first
    /// statement it takes SQLite's write lock, so concurrent creations queue instead of failing.
    pub async fn insert_ticket(
        &mut self,
        new: NewTicketRow<'_>,
    ) -> Result<CreatedTicket, StoreError> {
        let year = i64::from(new.number_year);
        let created = on_tx!(self, |tx| {
            let sequence: i64 = sqlx::query_scalar(
                "INSERT INTO ticket_counters (observatory_id, year, last_number) VALUES ($1, $2, 1) \
                 ON CONFLICT (observatory_id, year) \
                 DO UPDATE SET last_number = ticket_counters.last_number + 1 \
                 RETURNING last_number",
            )
            .bind(new.observatory_id)
            .bind(year)
            .fetch_one(&mut **tx)
            .await?;
            let prefix: String =
                sqlx::query_scalar("SELECT ticket_prefix FROM observatories WHERE id = $1")
                    .bind(new.observatory_id)
                    .fetch_one(&mut **tx)
                    .await?;
            let number = format!("{prefix}-{year}-{sequence:05}");
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO tickets (observatory_id, organization_id, number, request_type, \
                 telescope_id, priority, status, closed, subject, created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'open', FALSE, $7, $8, $9, $9) RETURNING id",
            )
            .bind(new.observatory_id)
            .bind(new.organization_id)
            .bind(&number)
            .bind(new.request_type)
            .bind(new.telescope_id)
            .bind(new.priority)
            .bind(new.subject)
            .bind(new.created_by)
            .bind(new.now)
            .fetch_one(&mut **tx)
            .await?;
            let entry_id: i64 = sqlx::query_scalar(
                "INSERT INTO timeline_entries (observatory_id, ticket_id, kind, internal, author_id, \
                 body, created_at) VALUES ($1, $2, 'created', FALSE, $3, $4, $5) RETURNING id",
            )
            .bind(new.observatory_id)
            .bind(id)
            .bind(new.created_by)
            .bind(new.comment)
            .bind(new.now)
            .fetch_one(&mut **tx)
            .await?;
            sqlx::query(QUEUE_ENTRY)
                .bind(entry_id)
                .bind(new.now)
                .bind(id)
                .execute(&mut **tx)
                .await?;
            let subject_terms = format!(
                "{} {}",
                new.subject_terms,
                crate::backend::search::index_terms(&number)
            );
            for (entry, terms) in [(None, subject_terms), (Some(entry_id), new.comment_terms)] {
                sqlx::query(
                    "INSERT INTO search_documents (ticket_id, entry_id, internal, terms) \
                     VALUES ($1, $2, FALSE, $3)",
                )
                .bind(id)
                .bind(entry)
                .bind(terms)
                .execute(&mut **tx)
                .await?;
            }
            Ok::<_, StoreError>(CreatedTicket {
                id,
                number,
                entry_id,
            })
        })?;
        self.record_event(created.entry_id, None, new.now).await?;
        Ok(created)
    }

    /// Indexes more text of an entry for search (the names of files sent with it).
    pub async fn index_text(
        &mut self,
        ticket_id: i64,
        entry_id: i64,
        internal: bool,
        terms: &str,
    ) -> Result<(), StoreError> {
        on_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO search_documents (ticket_id, entry_id, internal, terms) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(ticket_id)
            .bind(entry_id)
            .bind(internal)
            .bind(terms)
            .execute(&mut **tx)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// The ticket with this id in the observatory, as the transaction sees it.
    pub async fn ticket_by_id(
        &mut self,
        observatory_id: i64,
        ticket_id: i64,
    ) -> Result<Option<TicketRow>, StoreError> {
        let row = on_tx!(self, |tx| {
            sqlx::query_as(&format!(
                "{TICKET_SELECT} WHERE t.id = $1 AND t.observatory_id = $2"
            ))
            .bind(ticket_id)
            .bind(observatory_id)
            .fetch_optional(&mut **tx)
            .await
        })?;
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The windows a search walks, given how many texts had matched after each.
    fn walk(newest_id: i64, found_after: &[usize]) -> Vec<(i64, i64)> {
        let mut windows = Vec::new();
        let mut window = Some(SearchWindow::newest(newest_id));
        let mut found = found_after.iter();
        while let Some(current) = window {
            windows.push((current.lowest, current.highest));
            window = current.next(newest_id, *found.next().unwrap_or(&0));
        }
        windows
    }

    #[test]
    fn search_windows_start_newest_and_widen_with_the_rate_of_matches() {
        let size = SEARCH_PARTITION_SIZE;
        // Half a partition filled so far in partition 9.
        let newest = 9 * size + size / 2;
        assert_eq!(SearchWindow::newest(newest).first_id(), 9 * size);
        assert_eq!(SearchWindow::newest(newest).end_id(), 10 * size);
        // Enough in the newest partition: one query.
        assert_eq!(walk(newest, &[SEARCH_CANDIDATES]), vec![(9, 9)]);
        // Common words: 600 in half a partition, 400 missing need one more partition.
        assert_eq!(walk(newest, &[600, 1000]), vec![(9, 9), (8, 8)]);
        // 250 in half a partition: 750 missing need 1.5 partitions and a fifth: 2.
        assert_eq!(walk(newest, &[250, 1000]), vec![(9, 9), (7, 8)]);
        // Nothing yet: twice as wide each time, down to partition 0.
        assert_eq!(
            walk(newest, &[0, 0, 0]),
            vec![(9, 9), (7, 8), (3, 6), (0, 2)]
        );
        // A rare word: 3 found in the newest half partition asks all the rest at once.
        assert_eq!(walk(newest, &[3, 5]), vec![(9, 9), (0, 8)]);
        // An empty index has one partition to ask.
        assert_eq!(walk(0, &[0]), vec![(0, 0)]);
    }
}
