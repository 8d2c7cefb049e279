//! Catalog search: the one query whose SQL differs between the engines, because full-text search does.
//!
//! A search is reduced to plain words first (letters and digits; common English stopwords dropped; at
//! most [`MAX_WORDS`]), so no input is a syntax error and both engines see the same words. Each engine's
//! full-text index, the table `agents_fts`, decides which listings match all of them (PostgreSQL: a stored
//! tsvector weighted by field under a GIN index, queried with `plainto_tsquery`; SQLite: FTS5 with each
//! word quoted), stemming as it goes. Relevance is then the same formula on both: for every word, 10 if the
//! name has it, 4 if the tags or capabilities do, 1 if the description does (PostgreSQL asks the stored
//! tsvector with the word restricted to the field's weight, `word:A`, so nothing is re-parsed per row);
//! ties go to the better rated, then the more installed, then by name. So the same query gives the same
//! results in the same order on either engine.
//!
//! On PostgreSQL a search of one word reads its page off an index already in the sort's order: the table
//! `agents_fts_terms` holds each word of each listing with the score a search for that word alone gives
//! it, the columns searches filter and sort on (kept by a trigger on `agents_fts`), indexed by word, then
//! score and the tie-breakers, and by word, then each other sort's column. A search of two words by
//! relevance first looks only among the listings with a search word in their name (a tsvector of names,
//! under one GIN index with the document, which finds the listings with a word in the name and every word
//! in the document in one scan): those outrank all others, so when they fill the page they are the page,
//! found without scoring every listing that mentions a word somewhere. Searches of more words sorted
//! otherwise walk an index in the sort's order.
//!
//! A relevance search on PostgreSQL always finds its matches through a full-text index, and a search of one
//! word reads them off `agents_fts_terms` in order whatever its sort, so one plan serves every value. Its
//! text depends only on the number of words, where it looks and which filters are set (their values are
//! binds), so with at most [`MAX_PREPARED_FILTERS`] filters it is one of a bounded set of texts: a connection
//! prepares it once and PostgreSQL soon reuses a generic plan, skipping the parse and plan that cost as much
//! as running it. (A filter switched off by a NULL bind, `($n IS NULL OR …)`, would make one text of them
//! all, but PostgreSQL then misjudges how many rows the filters keep, finds the generic plan dearer than one
//! made for the values, and plans every search afresh.) Each tsquery of the score is a one-row subquery,
//! computed once per search: in a generic plan a function of a parameter would run again for every row.
//! Searches of several words sorted otherwise keep a plan made for their values, since how many listings
//! match decides whether to walk the sort's index or sort the matches.

use diesel::pg::Pg;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel::sqlite::Sqlite;
use diesel_async::RunQueryDsl;

use super::agents::Agent;
use super::sql_types::{Timestamptz, Uuid};
use super::{Conn, Id, Time};

/// The columns of [`Agent`], named rather than `agents.*`: a prepared statement whose columns changed under
/// it (a migration adding one) would fail until the connection closed.
const LISTING_COLUMNS: [&str; 25] = [
    "id",
    "agent_id",
    "owner_org_id",
    "listed",
    "current_version",
    "name",
    "description",
    "category",
    "tags",
    "capabilities",
    "keywords",
    "pricing_model",
    "price_micros",
    "risk",
    "installs",
    "rating_count",
    "rating_sum",
    "rating_avg_milli",
    "stars_1",
    "stars_2",
    "stars_3",
    "stars_4",
    "stars_5",
    "created_at",
    "published_at",
];

/// Words of a search beyond these are ignored.
pub const MAX_WORDS: usize = 8;
/// The most filters a relevance search on PostgreSQL may set and still be prepared: a text per set of
/// filters, so this bounds how many statements a connection keeps.
pub const MAX_PREPARED_FILTERS: usize = 2;

/// How much a word found in each field adds to relevance, and the field's weight label in PostgreSQL's
/// stored tsvector.
const FIELD_WEIGHTS: [(&str, i32, char); 3] =
    [("name", 10, 'A'), ("keywords", 4, 'B'), ("description", 1, 'D')];

/// Words too common to search for (PostgreSQL's English list drops these too).
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it", "of", "on",
    "or", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
];

/// The words of a search: lowercased runs of letters and digits, without stopwords, at most [`MAX_WORDS`].
#[must_use]
pub fn words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
    {
        if !STOPWORDS.contains(&word.as_str()) && !words.contains(&word) && words.len() < MAX_WORDS {
            words.push(word);
        }
    }
    words
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    Relevance,
    Rating,
    Installs,
    Newest,
    Price,
}

/// Where a page starts: after a row (keyset, stable under inserts) or, for relevance, after so many rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Position {
    Start,
    After { value: i64, id: Id },
    Offset(i64),
}

#[derive(Clone, Debug, Default)]
pub struct Filters {
    /// Words to search for; `None` lists without searching.
    pub text: Option<String>,
    pub category: Option<String>,
    pub tag: Option<String>,
    pub capability: Option<String>,
    pub pricing_model: Option<String>,
    pub max_price_micros: Option<i64>,
    pub min_rating_milli: Option<i32>,
    pub risk: Option<String>,
}

/// The value a row is sorted by, for the next page's cursor.
#[must_use]
pub fn sort_value(sort: Sort, agent: &Agent) -> i64 {
    match sort {
        Sort::Rating => i64::from(agent.rating_avg_milli),
        Sort::Installs => agent.installs,
        Sort::Newest => agent.published_at.map_or(0, |at| at.0.timestamp_micros()),
        Sort::Price => agent.price_micros,
        Sort::Relevance => 0,
    }
}

/// FTS5 query text: each word quoted, so it is only ever a word.
fn fts5_phrase(words: &[String], column: Option<&str>) -> String {
    let quoted: Vec<String> = words.iter().map(|word| format!("\"{word}\"")).collect();
    match column {
        Some(column) => format!("{column} : ({})", quoted.join(" ")),
        None => quoted.join(" "),
    }
}

/// `%|value|%` for a LIKE over a `|a|b|` column, with LIKE's wildcards escaped.
fn contains_value(value: &str) -> String {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%|{escaped}|%")
}

#[derive(Clone)]
enum Bind {
    Text(String),
    BigInt(i64),
    Integer(i32),
    Id(Id),
    Time(Time),
}

/// SQL with its binds, numbered `$n` for PostgreSQL and `?` for SQLite.
struct Statement {
    postgres: bool,
    sql: String,
    binds: Vec<Bind>,
    /// One of a bounded set of texts, so worth preparing once per connection.
    fixed: bool,
}

impl Statement {
    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        if self.postgres {
            format!("${}", self.binds.len())
        } else {
            "?".to_owned()
        }
    }
}

/// Which matching listings a statement looks among, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Among {
    All,
    /// Only those with a search word in their name (PostgreSQL, which keeps the names' words in a tsvector of
    /// their own).
    NameMatches,
    /// The listings with the one word of the search, in the sort's order off `agents_fts_terms` (PostgreSQL),
    /// which holds each word of each listing with the score a search for that word alone gives it and the
    /// columns the other sorts order by.
    Term,
}

/// Whether, in a search of `words` words, every listing with one of them in its name outranks every listing
/// without: the least the first can score (one word in the name, each other word in the weakest field)
/// beats the most the second can (each word in every other field). True for one and two words. A word
/// PostgreSQL drops as a stopword counts for nothing on either side, so fewer words only widen the gap.
fn name_matches_rank_first(words: usize) -> bool {
    let Ok(words) = i32::try_from(words) else {
        return false;
    };
    let [(_, name, _), others @ ..] = FIELD_WEIGHTS;
    let weakest = FIELD_WEIGHTS
        .iter()
        .map(|(_, weight, _)| *weight)
        .min()
        .unwrap_or(0);
    let elsewhere: i32 = others.iter().map(|(_, weight, _)| weight).sum();
    words > 0 && name + (words - 1) * weakest > words * elsewhere
}

/// The statement of a search whose text (if any) is `words`, the [`words`] of `filters.text`.
fn statement(
    postgres: bool,
    filters: &Filters,
    words: Option<&[String]>,
    sort: Sort,
    position: &Position,
    limit: i64,
    among: Among,
) -> Option<Statement> {
    if words.is_some_and(<[String]>::is_empty) {
        // Nothing searchable (only punctuation or stopwords): nothing matches.
        return None;
    }
    // A PostgreSQL search filters, ranks and pages within `agents_fts` (which holds only listed agents), or
    // for one word within `agents_fts_terms`, then reads the page's rows from `agents`; everything else runs
    // on `agents` itself.
    let within_search_table = postgres && words.is_some();
    let t = match (within_search_table, among) {
        (true, Among::Term) => "agents_fts_terms",
        (true, _) => "agents_fts",
        (false, _) => "agents",
    };
    let mut st = Statement {
        postgres,
        sql: String::new(),
        binds: Vec::new(),
        fixed: within_search_table && (sort == Sort::Relevance || among == Among::Term),
    };
    // `agents_fts` holds only listed agents; `agents` says which are.
    let mut conditions = if within_search_table {
        Vec::new()
    } else {
        vec!["agents.listed".to_owned()]
    };
    let mut and = |st: &mut Statement, condition: &str, value: Bind| {
        let placeholder = st.bind(value);
        conditions.push(condition.replace("{}", &placeholder));
    };
    if let Some(words) = words {
        if among == Among::Term {
            // The word's lexeme, as `agents_fts` stemmed it: a word of letters and digits is one token.
            and(
                &mut st,
                "agents_fts_terms.term = (SELECT lexeme FROM unnest(to_tsvector('english', {})) LIMIT 1)",
                Bind::Text(words.join(" ")),
            );
        } else if postgres {
            if among == Among::NameMatches {
                // Words are only letters and digits, so `a | b` is always a tsquery of those words.
                and(
                    &mut st,
                    "agents_fts.name_document @@ to_tsquery('english', {})",
                    Bind::Text(words.join(" | ")),
                );
            }
            // The name holds one word only if the document does, so a one-word search among the name matches
            // needs no second look at the document (and the planner is not tempted into reading both indexes).
            if among == Among::All || words.len() > 1 {
                and(
                    &mut st,
                    "agents_fts.document @@ plainto_tsquery('english', {})",
                    Bind::Text(words.join(" ")),
                );
            }
        } else {
            and(
                &mut st,
                "agents.rowid IN (SELECT rowid FROM agents_fts WHERE agents_fts MATCH {})",
                Bind::Text(fts5_phrase(words, None)),
            );
        }
    }
    let like = r"LIKE {} ESCAPE '\'";
    // The filters that are set; the others are left out of the statement.
    let set: Vec<(String, Bind)> = [
        (
            format!("{t}.category = {{}}"),
            filters.category.clone().map(Bind::Text),
        ),
        (
            format!("{t}.tags {like}"),
            filters.tag.as_deref().map(contains_value).map(Bind::Text),
        ),
        (
            format!("{t}.capabilities {like}"),
            filters.capability.as_deref().map(contains_value).map(Bind::Text),
        ),
        (
            format!("{t}.pricing_model = {{}}"),
            filters.pricing_model.clone().map(Bind::Text),
        ),
        (
            format!("{t}.price_micros <= {{}}"),
            filters.max_price_micros.map(Bind::BigInt),
        ),
        (
            format!("{t}.rating_avg_milli >= {{}}"),
            filters.min_rating_milli.map(Bind::Integer),
        ),
        (format!("{t}.risk = {{}}"), filters.risk.clone().map(Bind::Text)),
    ]
    .into_iter()
    .filter_map(|(condition, value)| Some((condition, value?)))
    .collect();
    st.fixed &= set.len() <= MAX_PREPARED_FILTERS;
    for (condition, value) in set {
        and(&mut st, &condition, value);
    }

    let (column, descending) = match sort {
        Sort::Rating => ("rating_avg_milli", true),
        Sort::Installs => ("installs", true),
        Sort::Newest => ("published_at", true),
        Sort::Price => ("price_micros", false),
        Sort::Relevance => ("", true),
    };
    if let Position::After { value, id } = position {
        let value = if sort == Sort::Newest {
            Bind::Time(Time::from_unix_micros(*value))
        } else {
            Bind::BigInt(*value)
        };
        // Each placeholder is bound once, in the order it appears: SQLite's `?` are positional.
        let (op, id_op) = if descending { ("<", ">") } else { (">", ">") };
        let beyond = st.bind(value.clone());
        let tied = st.bind(value);
        let id = st.bind(Bind::Id(*id));
        conditions.push(format!(
            "({t}.{column} {op} {beyond} OR ({t}.{column} = {tied} AND {t}.id {id_op} {id}))"
        ));
    }
    let mut score = Vec::new();
    if among == Among::Term {
        score.push("agents_fts_terms.score".to_owned());
    } else if let (Sort::Relevance, Some(words)) = (sort, words) {
        for word in words {
            for (field, weight, label) in FIELD_WEIGHTS {
                let matched = if postgres {
                    // A word is only letters and digits, so `word:A` is always one tsquery term.
                    let term = st.bind(Bind::Text(format!("{word}:{label}")));
                    format!("agents_fts.document @@ (SELECT to_tsquery('english', {term}))")
                } else {
                    let phrase = st.bind(Bind::Text(fts5_phrase(std::slice::from_ref(word), Some(field))));
                    format!("agents.rowid IN (SELECT rowid FROM agents_fts WHERE agents_fts MATCH {phrase})")
                };
                score.push(format!("CASE WHEN {matched} THEN {weight} ELSE 0 END"));
            }
        }
    }
    // The order, over the table `of`, with the relevance score as `score_is`.
    let order = |of: &str, score_is: &str| match (sort, words) {
        (Sort::Relevance, Some(_)) => {
            format!("{score_is} DESC, {of}.rating_avg_milli DESC, {of}.installs DESC, {of}.name, {of}.id")
        }
        (Sort::Relevance, None) => format!("{of}.published_at DESC, {of}.id"),
        (_, _) => format!(
            "{of}.{column} {}, {of}.id",
            if descending { "DESC" } else { "ASC" }
        ),
    };
    let score = if score.is_empty() {
        "0".to_owned()
    } else {
        format!("({})", score.join(" + "))
    };
    let limit = st.bind(Bind::BigInt(limit));
    let mut page = format!(" LIMIT {limit}");
    if let Position::Offset(offset) = position {
        let offset = st.bind(Bind::BigInt(*offset));
        page.push_str(&format!(" OFFSET {offset}"));
    }
    let conditions = conditions.join(" AND ");
    let columns = LISTING_COLUMNS
        .map(|column| format!("agents.{column}"))
        .join(", ");
    st.sql = if within_search_table {
        // A stored score is ordered by its column, so the order is the term index's.
        let score_is = if among == Among::Term {
            "agents_fts_terms.score"
        } else {
            "score"
        };
        format!(
            "SELECT {columns} FROM agents JOIN (SELECT {t}.id, {score} AS score FROM {t} \
             WHERE {conditions} ORDER BY {}{page}) AS hit ON hit.id = agents.id ORDER BY {}",
            order(t, score_is),
            order("agents", "hit.score"),
        )
    } else {
        format!(
            "SELECT {columns} FROM agents WHERE {conditions} ORDER BY {}{page}",
            order("agents", &score)
        )
    };
    Some(st)
}

macro_rules! run {
    ($backend:ty, $conn:expr, $statement:expr) => {{
        let fixed = $statement.fixed;
        let mut query = diesel::sql_query($statement.sql).into_boxed::<$backend>();
        for bind in $statement.binds {
            query = match bind {
                Bind::Text(value) => query.bind::<Text, _>(value),
                Bind::BigInt(value) => query.bind::<BigInt, _>(value),
                Bind::Integer(value) => query.bind::<Integer, _>(value),
                Bind::Id(value) => query.bind::<Uuid, _>(value),
                Bind::Time(value) => query.bind::<Timestamptz, _>(value),
            };
        }
        if fixed {
            super::Prepared(query).load::<Agent>($conn).await
        } else {
            query.load::<Agent>($conn).await
        }
    }};
}

/// Listed agents matching `filters`, in `sort` order, from `position`, at most `limit`.
///
/// # Errors
///
/// Database errors.
pub async fn search(
    conn: &mut Conn<'_>,
    filters: &Filters,
    sort: Sort,
    position: &Position,
    limit: i64,
) -> diesel::QueryResult<Vec<Agent>> {
    let searched = filters.text.as_deref().map(words);
    let words = searched.as_deref();
    let count = words.map_or(0, <[String]>::len);
    if let Conn::Postgres(c) = conn {
        // One word: a term index holds the whole answer in the sort's order.
        if count == 1
            && let Some(statement) = statement(true, filters, words, sort, position, limit, Among::Term)
        {
            return run!(Pg, &mut **c, statement);
        }
        if sort == Sort::Relevance
            && name_matches_rank_first(count)
            && let Some(statement) =
                statement(true, filters, words, sort, position, limit, Among::NameMatches)
        {
            let page = run!(Pg, &mut **c, statement)?;
            // The name matches rank first; if they fill the page, nothing else belongs on it. Most searches
            // end here, having ranked a few hundred listings instead of thousands.
            if i64::try_from(page.len()) == Ok(limit) {
                return Ok(page);
            }
        }
    }
    let postgres = matches!(conn, Conn::Postgres(_));
    let Some(statement) = statement(postgres, filters, words, sort, position, limit, Among::All) else {
        return Ok(Vec::new());
    };
    match conn {
        Conn::Postgres(c) => run!(Pg, &mut **c, statement),
        Conn::Sqlite(c) => run!(Sqlite, &mut **c, statement),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statement of a search, its words taken from the filters as [`search`] takes them.
    fn statement_of(
        postgres: bool,
        filters: &Filters,
        sort: Sort,
        position: &Position,
        limit: i64,
        among: Among,
    ) -> Option<Statement> {
        let words = filters.text.as_deref().map(words);
        statement(postgres, filters, words.as_deref(), sort, position, limit, among)
    }

    #[test]
    fn user_text_becomes_plain_words() {
        let found = words(r#"Billing "normalizer" OR cost* NEAR(x y) col:z 'the' & | -q"#);
        assert_eq!(
            found,
            ["billing", "normalizer", "cost", "near", "x", "y", "col", "z"],
            "stopwords and the ninth word go"
        );
        assert!(words(r#"" ' & | * : ( ) the and"#).is_empty());
        assert_eq!(words("Coût coût données"), ["coût", "données"]);
        assert_eq!(fts5_phrase(&words("near or"), Some("name")), r#"name : ("near")"#);
    }

    #[test]
    fn the_listing_columns_are_the_agents() {
        use diesel::{QueryDsl as _, SelectableHelper as _};
        let select =
            diesel::debug_query::<Pg, _>(&super::super::schema::agents::table.select(Agent::as_select()))
                .to_string();
        let named = LISTING_COLUMNS
            .map(|column| format!("\"agents\".\"{column}\""))
            .join(", ");
        assert!(select.starts_with(&format!("SELECT {named} FROM")), "{select}");
    }

    #[test]
    fn like_wildcards_in_values_are_literal() {
        assert_eq!(contains_value("multi_cloud"), r"%|multi\_cloud|%");
        assert_eq!(contains_value("100%"), r"%|100\%|%");
    }

    #[test]
    fn name_matches_rank_first_for_one_or_two_words() {
        // One word: 10 at least against 4 + 1. Two: 10 + 1 against 2 × (4 + 1). Three: 12 against 15.
        let first: Vec<bool> = (0..5).map(name_matches_rank_first).collect();
        assert_eq!(first, [false, true, true, false, false]);
    }

    /// The PostgreSQL statement for the first page of a search among the name matches.
    fn first_page_among_names(filters: &Filters) -> Statement {
        statement_of(
            true,
            filters,
            Sort::Relevance,
            &Position::Offset(0),
            21,
            Among::NameMatches,
        )
        .unwrap()
    }

    #[test]
    fn a_search_among_name_matches_asks_the_names_index() {
        let one = Filters {
            text: Some("Billing".into()),
            category: Some("finops".into()),
            ..Filters::default()
        };
        let pg = first_page_among_names(&one);
        assert!(
            pg.sql.contains(
                "WHERE agents_fts.name_document @@ to_tsquery('english', $1) AND agents_fts.category = $2"
            ),
            "{}",
            pg.sql
        );
        assert!(
            !pg.sql.contains("plainto_tsquery"),
            "one word in the name is in the document: {}",
            pg.sql
        );
        let two = Filters {
            text: Some("cloud cost".into()),
            ..Filters::default()
        };
        let pg = first_page_among_names(&two);
        assert!(
            pg.sql.contains("name_document @@ to_tsquery('english', $1) AND agents_fts.document @@ plainto_tsquery('english', $2)"),
            "{}",
            pg.sql
        );
        assert!(matches!(&pg.binds[0], Bind::Text(any) if any == "cloud | cost"));
    }

    #[test]
    fn a_relevance_search_on_postgres_is_one_text_per_set_of_filters() {
        let cloud = Filters {
            text: Some("cloud".into()),
            category: Some("finops".into()),
            ..Filters::default()
        };
        let billing = Filters {
            text: Some("billing".into()),
            category: Some("security".into()),
            ..Filters::default()
        };
        let plain = Filters {
            text: Some("billing".into()),
            ..Filters::default()
        };
        let filtered = Filters {
            text: Some("billing".into()),
            category: Some("finops".into()),
            max_price_micros: Some(1),
            min_rating_milli: Some(3000),
            risk: Some("low".into()),
            ..Filters::default()
        };
        for among in [Among::Term, Among::NameMatches, Among::All] {
            let text = |filters: &Filters, position: &Position, limit: i64| {
                statement_of(true, filters, Sort::Relevance, position, limit, among).unwrap()
            };
            let first = text(&cloud, &Position::Offset(0), 21);
            let later = text(&billing, &Position::Offset(40), 5);
            assert_eq!(first.sql, later.sql, "other values, one text");
            assert!(first.fixed, "{}", first.sql);
            assert!(!first.sql.contains("IS NULL"), "{}", first.sql);
            assert_ne!(text(&plain, &Position::Offset(0), 21).sql, first.sql);
            let unbounded = text(&filtered, &Position::Offset(0), 21);
            assert!(
                !unbounded.fixed,
                "more filters than are prepared: {}",
                unbounded.sql
            );
            if among != Among::Term {
                assert!(
                    first.sql.contains("@@ (SELECT to_tsquery('english', $"),
                    "{}",
                    first.sql
                );
            }
        }
        let by_rating =
            statement_of(true, &filtered, Sort::Rating, &Position::Start, 21, Among::All).unwrap();
        assert!(
            !by_rating.fixed && !by_rating.sql.contains("IS NULL"),
            "{}",
            by_rating.sql
        );
        let sqlite = statement_of(
            false,
            &filtered,
            Sort::Relevance,
            &Position::Offset(0),
            21,
            Among::All,
        )
        .unwrap();
        assert!(!sqlite.fixed && !sqlite.sql.contains("IS NULL"), "{}", sqlite.sql);
    }

    #[test]
    fn a_one_word_search_reads_its_terms_in_the_rank_index_order() {
        let one = Filters {
            text: Some("Billing".into()),
            category: Some("finops".into()),
            ..Filters::default()
        };
        let pg = statement_of(true, &one, Sort::Relevance, &Position::Offset(0), 21, Among::Term).unwrap();
        assert!(
            pg.sql.contains(
                "WHERE agents_fts_terms.term = (SELECT lexeme FROM unnest(to_tsvector('english', $1)) LIMIT 1) \
                 AND agents_fts_terms.category = $2"
            ),
            "{}",
            pg.sql
        );
        // The `agents_fts_terms_rank` index's order, so the page is its first entries.
        assert!(
            pg.sql.contains(
                "ORDER BY agents_fts_terms.score DESC, agents_fts_terms.rating_avg_milli DESC, agents_fts_terms.installs DESC, \
                 agents_fts_terms.name, agents_fts_terms.id LIMIT $3 OFFSET $4) AS hit"
            ),
            "{}",
            pg.sql
        );
        assert!(!pg.sql.contains("tsquery"), "{}", pg.sql);
        assert!(matches!(&pg.binds[0], Bind::Text(word) if word == "billing"));
    }

    #[test]
    fn a_one_word_search_in_another_order_walks_that_sorts_term_index() {
        let one = Filters {
            text: Some("billing".into()),
            max_price_micros: Some(50_000_000),
            ..Filters::default()
        };
        for (sort, order) in [
            (
                Sort::Rating,
                "agents_fts_terms.rating_avg_milli DESC, agents_fts_terms.id",
            ),
            (
                Sort::Installs,
                "agents_fts_terms.installs DESC, agents_fts_terms.id",
            ),
            (
                Sort::Newest,
                "agents_fts_terms.published_at DESC, agents_fts_terms.id",
            ),
            (
                Sort::Price,
                "agents_fts_terms.price_micros ASC, agents_fts_terms.id",
            ),
        ] {
            let first = statement_of(true, &one, sort, &Position::Start, 21, Among::Term).unwrap();
            assert!(first.fixed, "one text for every word and price: {}", first.sql);
            assert!(
                first.sql.contains(&format!(
                    "FROM agents_fts_terms WHERE agents_fts_terms.term = (SELECT lexeme FROM \
                     unnest(to_tsvector('english', $1)) LIMIT 1) AND agents_fts_terms.price_micros <= $2 \
                     ORDER BY {order} LIMIT $3) AS hit"
                )),
                "{sort:?}: {}",
                first.sql
            );
            let after = Position::After {
                value: 1,
                id: Id::new(),
            };
            let next = statement_of(true, &one, sort, &after, 21, Among::Term).unwrap();
            assert!(next.fixed, "{}", next.sql);
            assert!(
                next.sql.contains(" AND agents_fts_terms.id > $5)"),
                "the page after reads on in the same index: {}",
                next.sql
            );
        }
    }

    #[test]
    fn statements_number_their_binds_per_engine() {
        let filters = Filters {
            text: Some("billing".into()),
            tag: Some("finops".into()),
            ..Filters::default()
        };
        let pg = statement_of(
            true,
            &filters,
            Sort::Relevance,
            &Position::Offset(20),
            10,
            Among::All,
        )
        .unwrap();
        assert!(pg.sql.contains("@@ plainto_tsquery('english', $1)"), "{}", pg.sql);
        assert!(pg.sql.contains("LIMIT $6 OFFSET $7) AS hit"), "{}", pg.sql);
        assert!(
            pg.sql.contains("FROM agents_fts WHERE agents_fts.document"),
            "{}",
            pg.sql
        );
        let sqlite =
            statement_of(false, &filters, Sort::Relevance, &Position::Start, 10, Among::All).unwrap();
        assert!(
            sqlite.sql.contains("agents_fts MATCH ?") && !sqlite.sql.contains('$'),
            "{}",
            sqlite.sql
        );
        let nothing = Filters {
            text: Some("*&|".into()),
            ..Filters::default()
        };
        assert!(statement_of(false, &nothing, Sort::Relevance, &Position::Start, 10, Among::All).is_none());
    }
}
