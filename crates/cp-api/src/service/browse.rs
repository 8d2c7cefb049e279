//! Reading the catalog: search and filters, sorting, cursors, an agent's detail and reviews.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use protocol::{Money, Page};
use serde::{Deserialize, Serialize};

use super::catalog::{State, VersionView, stored_manifest};
use super::reviews::ReviewView;
use crate::auth::Caller;
use crate::db::agents::Agent;
use crate::db::search::{self, Filters, Position, Sort};
use crate::db::{self, Conn, Id};
use crate::error::Error;

pub const DEFAULT_PAGE: i64 = 20;
pub const MAX_PAGE: i64 = 100;

/// A listing as the catalog shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AgentSummary {
    pub agent_id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub tags: Vec<String>,
    pub capabilities: Vec<String>,
    pub current_version: Option<String>,
    pub pricing_model: String,
    /// The headline price (per run, else monthly, else per unit, else per CPU-hour).
    pub price: Money,
    pub risk: String,
    pub rating: Rating,
    pub installs: i64,
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rating {
    /// Mean stars, to three decimals; 0 without ratings.
    pub average: f64,
    pub count: i32,
    /// How many gave 1, 2, 3, 4 and 5 stars.
    pub distribution: [i32; 5],
}

fn bar_values(text: &str) -> Vec<String> {
    text.split('|')
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
        .collect()
}

impl From<&Agent> for AgentSummary {
    fn from(agent: &Agent) -> Self {
        Self {
            agent_id: agent.agent_id.clone(),
            name: agent.name.clone(),
            description: agent.description.clone(),
            category: agent.category.clone(),
            tags: bar_values(&agent.tags),
            capabilities: bar_values(&agent.capabilities),
            current_version: agent.current_version.clone(),
            pricing_model: agent.pricing_model.clone(),
            price: Money::from_micros(agent.price_micros),
            risk: agent.risk.clone(),
            rating: Rating {
                average: f64::from(agent.rating_avg_milli) / 1000.0,
                count: agent.rating_count,
                distribution: [
                    agent.stars_1,
                    agent.stars_2,
                    agent.stars_3,
                    agent.stars_4,
                    agent.stars_5,
                ],
            },
            installs: agent.installs,
            published_at: agent.published_at.map(|at| at.0),
        }
    }
}

/// The catalog query as it arrives (`GET /api/v1/agents?…`); unknown parameters are refused.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CatalogQuery {
    pub q: Option<String>,
    pub category: Option<String>,
    pub tag: Option<String>,
    pub capability: Option<String>,
    pub pricing_model: Option<String>,
    /// Dollars, as an exact decimal (`"1.50"`).
    pub max_price: Option<String>,
    /// Stars, 0 to 5 (`"4.5"`).
    pub min_rating: Option<String>,
    pub risk: Option<String>,
    pub sort: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// What a cursor holds: the sort it belongs to, and where the next page starts.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    sort: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<uuid::Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    offset: Option<i64>,
}

const SORTS: [(&str, Sort); 5] = [
    ("relevance", Sort::Relevance),
    ("rating", Sort::Rating),
    ("installs", Sort::Installs),
    ("newest", Sort::Newest),
    ("price", Sort::Price),
];

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), Error> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "{field} {value:?} is not one of: {}",
            allowed.join(", ")
        )))
    }
}

/// Checks the query and turns it into search terms: every problem is a 400 that says what is allowed.
/// The search terms of a catalog query, and the sort's name for the cursors it gives out.
struct Terms {
    filters: Filters,
    sort: Sort,
    sort_name: String,
    position: Position,
    limit: i64,
}

fn read(query: &CatalogQuery) -> Result<Terms, Error> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}; it was {limit}"
        )));
    }
    let text = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if text.is_some_and(|q| q.chars().count() > 200) {
        return Err(Error::BadRequest("q has at most 200 characters".to_owned()));
    }
    let sort_name = query
        .sort
        .as_deref()
        .unwrap_or(if text.is_some() { "relevance" } else { "newest" });
    let sort = match SORTS
        .iter()
        .find(|(name, _)| *name == sort_name)
        .map(|(_, sort)| *sort)
    {
        // Without words to rank by, relevance is recency.
        Some(Sort::Relevance) if text.is_none() => Sort::Newest,
        Some(sort) => sort,
        None => {
            return Err(Error::BadRequest(format!(
                "sort {sort_name:?} is not one of: relevance, rating, installs, newest, price"
            )));
        }
    };
    if let Some(model) = &query.pricing_model {
        one_of(
            "pricing_model",
            model,
            &["free", "usage", "subscription", "hybrid"],
        )?;
    }
    if let Some(risk) = &query.risk {
        one_of("risk", risk, &["low", "medium", "high", "critical"])?;
    }
    let max_price_micros = match &query.max_price {
        None => None,
        Some(text) => {
            let price: Money = text
                .parse()
                .map_err(|error| Error::BadRequest(format!("max_price: {error}")))?;
            if price.is_negative() {
                return Err(Error::BadRequest("max_price cannot be negative".to_owned()));
            }
            Some(price.micros())
        }
    };
    let min_rating_milli = match &query.min_rating {
        None => None,
        Some(text) => {
            let stars: f64 = text
                .parse()
                .ok()
                .filter(|stars: &f64| (0.0..=5.0).contains(stars))
                .ok_or_else(|| {
                    Error::BadRequest(format!(
                        "min_rating {text:?} is not a number of stars from 0 to 5"
                    ))
                })?;
            // In range, so the conversion cannot overflow.
            #[expect(clippy::cast_possible_truncation, reason = "0 to 5000 after the range check")]
            Some((stars * 1000.0).round() as i32)
        }
    };
    let position = match &query.cursor {
        None => Position::Start,
        Some(text) => {
            let bad = || Error::BadRequest(format!("{text:?} is not a cursor this list gave out"));
            let cursor: Cursor = URL_SAFE_NO_PAD
                .decode(text)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .ok_or_else(bad)?;
            if cursor.sort != sort_name {
                return Err(Error::BadRequest(format!(
                    "this cursor belongs to sort {:?}, not {sort_name:?}",
                    cursor.sort
                )));
            }
            match (cursor.value, cursor.id, cursor.offset) {
                (Some(value), Some(id), None) if sort != Sort::Relevance => {
                    Position::After { value, id: Id(id) }
                }
                (None, None, Some(offset)) if offset >= 0 => Position::Offset(offset),
                _ => return Err(bad()),
            }
        }
    };
    let position = match (sort, text, position) {
        (Sort::Relevance, Some(_), Position::Start) => Position::Offset(0),
        (_, _, position) => position,
    };
    let filters = Filters {
        text: text.map(str::to_owned),
        category: query.category.clone(),
        tag: query.tag.clone(),
        capability: query.capability.clone(),
        pricing_model: query.pricing_model.clone(),
        max_price_micros,
        min_rating_milli,
        risk: query.risk.clone(),
    };
    Ok(Terms {
        filters,
        sort,
        sort_name: sort_name.to_owned(),
        position,
        limit,
    })
}

fn encode(cursor: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default())
}

/// One page of the catalog.
///
/// # Errors
///
/// [`Error::BadRequest`] for a bad parameter; database errors.
pub async fn list(conn: &mut Conn<'_>, query: &CatalogQuery) -> Result<Page<AgentSummary>, Error> {
    let Terms {
        filters,
        sort,
        sort_name,
        position,
        limit,
    } = read(query)?;
    // One more than the page, to know whether there is a next one.
    let mut agents = search::search(conn, &filters, sort, &position, limit + 1).await?;
    let more = agents.len() as i64 > limit;
    agents.truncate(usize::try_from(limit).unwrap_or_default());
    let next_cursor = more.then(|| match position {
        Position::Offset(offset) => encode(&Cursor {
            sort: sort_name.clone(),
            value: None,
            id: None,
            offset: Some(offset + limit),
        }),
        Position::Start | Position::After { .. } => {
            let last = agents.last();
            encode(&Cursor {
                sort: sort_name.clone(),
                value: last.map(|agent| search::sort_value(sort, agent)),
                id: last.map(|agent| agent.id.0),
                offset: None,
            })
        }
    });
    Ok(Page {
        items: agents.iter().map(AgentSummary::from).collect(),
        next_cursor,
    })
}

/// An agent with its versions and current manifest.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AgentDetail {
    #[serde(flatten)]
    pub summary: AgentSummary,
    pub owner_org_id: uuid::Uuid,
    pub listed: bool,
    /// The current version's manifest (the newest version when none is published, for its owners).
    pub manifest: serde_json::Value,
    pub versions: Vec<VersionView>,
}

/// The agent as `caller` may see it: everyone sees published agents and their public versions; the owning
/// org's members and platform admins also see drafts and unlisted agents.
///
/// # Errors
///
/// [`Error::NotFound`] for an agent the caller may not see.
pub async fn detail(
    conn: &mut Conn<'_>,
    caller: Option<Caller>,
    agent_id: &str,
) -> Result<AgentDetail, Error> {
    let not_found = || Error::NotFound(format!("no agent {agent_id:?}"));
    let agent = db::agents::by_agent_id(conn, agent_id)
        .await
        .map_err(|_| not_found())?;
    let insider = match caller {
        Some(caller) if caller.is_platform_admin => true,
        Some(caller) => db::memberships::role(conn, agent.owner_org_id, caller.user_id)
            .await?
            .is_some(),
        None => false,
    };
    if !agent.listed && !insider {
        return Err(not_found());
    }
    let versions = db::agent_versions::of_agent(conn, agent.id).await?;
    let shown_manifest = versions
        .iter()
        .find(|v| Some(&v.version) == agent.current_version.as_ref())
        .or_else(|| versions.last().filter(|_| insider))
        .map(stored_manifest)
        .transpose()?
        .map(|manifest| serde_json::to_value(manifest).unwrap_or_default())
        .unwrap_or_default();
    let versions = versions
        .iter()
        .map(|version| VersionView::of(&agent.agent_id, version))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|view| insider || matches!(view.state, State::Published | State::Deprecated))
        .collect();
    Ok(AgentDetail {
        summary: AgentSummary::from(&agent),
        owner_org_id: agent.owner_org_id.0,
        listed: agent.listed,
        manifest: shown_manifest,
        versions,
    })
}

/// A listed agent's reviews, newest first.
///
/// # Errors
///
/// [`Error::NotFound`] for an agent not in the catalog; [`Error::BadRequest`] for a bad cursor or limit.
pub async fn reviews(
    conn: &mut Conn<'_>,
    agent_id: &str,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<ReviewView>, Error> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}; it was {limit}"
        )));
    }
    let before = cursor
        .map(|text| {
            uuid::Uuid::parse_str(text)
                .map(Id)
                .map_err(|_| Error::BadRequest(format!("{text:?} is not a cursor this list gave out")))
        })
        .transpose()?;
    let agent = db::agents::by_agent_id(conn, agent_id)
        .await
        .ok()
        .filter(|agent| agent.listed)
        .ok_or_else(|| Error::NotFound(format!("no agent {agent_id:?} in the catalog")))?;
    let mut reviews = db::reviews::of_agent(conn, agent.id, before, limit + 1).await?;
    let more = reviews.len() as i64 > limit;
    reviews.truncate(usize::try_from(limit).unwrap_or_default());
    let next_cursor = more.then(|| reviews.last().map(|r| r.id.0.to_string())).flatten();
    Ok(Page {
        items: reviews.into_iter().map(Into::into).collect(),
        next_cursor,
    })
}
