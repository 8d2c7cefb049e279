//! The production store: a Qdrant server through qdrant-client (gRPC).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use qdrant_client::qdrant::vector_output::Vector;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FieldType, Filter as QFilter, GetPointsBuilder, HnswConfigDiffBuilder,
    KeywordIndexParamsBuilder, PointId, PointStruct, QueryPointsBuilder, Range, RetrievedPoint,
    UpsertPointsBuilder, VectorParamsBuilder, point_id::PointIdOptions,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use uuid::Uuid;

use super::{VectorStore, check_name, check_point};
use crate::{Collection, Error, Filter, Hit, Level, Point, Result, Search};

/// Where each collection records its model and dimension: a point of no org, never returned by a filtered read.
const RECORD: Uuid = Uuid::nil();

/// Tries of a call that failed because the server was unavailable, overloaded or slow.
const TRIES: u32 = 4;

/// The production `VectorStore`: a Qdrant server through qdrant-client (gRPC).
///
/// A collection per embedding model, created on first use with cosine distance and the HNSW graph built per
/// tenant (`m = 0`, `payload_m = 16`, Qdrant's multitenancy setup), `org_id` indexed as the tenant key and
/// level, agent, namespace and both times indexed too. Search is approximate (HNSW); vectors come back
/// normalised (Qdrant normalises for cosine); writes wait for the server to apply them. A call that fails
/// because the server is unavailable is retried (4 tries over about a second), then `Error::Qdrant`.
#[derive(Clone)]
pub struct QdrantServer {
    client: Qdrant,
    url: String,
    dimensions: Arc<Mutex<HashMap<String, usize>>>,
}

impl std::fmt::Debug for QdrantServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl QdrantServer {
    /// A client of the server at `url` (gRPC, e.g. `http://localhost:6334`); nothing is sent yet.
    ///
    /// # Errors
    ///
    /// `Error::Qdrant` when the URL is invalid.
    pub fn connect(url: &str, api_key: Option<String>) -> Result<Self> {
        let client = Qdrant::from_url(url)
            .api_key(api_key)
            .timeout(Duration::from_secs(10))
            .skip_compatibility_check()
            .build()
            .map_err(|error| qdrant(url, &error))?;
        Ok(Self {
            client,
            url: url.to_owned(),
            dimensions: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// Runs a call, again while the server is unavailable, overloaded or slow to answer.
    async fn call<T, F, Fut>(&self, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = std::result::Result<T, QdrantError>> + Send,
    {
        let mut wait = Duration::from_millis(100);
        let mut tries = 0;
        loop {
            tries += 1;
            match call().await {
                Ok(value) => return Ok(value),
                Err(error) if tries < TRIES && transient(&error) => {
                    tracing::warn!(%error, tries, "qdrant call failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(error) => return Err(qdrant(&self.url, &error)),
            }
        }
    }

    async fn retrieve(
        &self,
        collection: &str,
        ids: Vec<PointId>,
        vectors: bool,
    ) -> Result<Vec<RetrievedPoint>> {
        let response = self
            .call(|| {
                self.client.get_points(
                    GetPointsBuilder::new(collection, ids.clone())
                        .with_payload(true)
                        .with_vectors(vectors),
                )
            })
            .await?;
        Ok(response.result)
    }

    /// The collection's dimension; `Error::NoCollection` when it was never created.
    async fn check_collection(&self, collection: &str) -> Result<usize> {
        if let Some(dimension) = self
            .dimensions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(collection)
        {
            return Ok(*dimension);
        }
        if !self.call(|| self.client.collection_exists(collection)).await? {
            return Err(Error::NoCollection(collection.to_owned()));
        }
        let (_, dimension) = self.record(collection).await?;
        self.dimensions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(collection.to_owned(), dimension);
        Ok(dimension)
    }

    /// The model and dimension the collection records.
    async fn record(&self, collection: &str) -> Result<(String, usize)> {
        let record = self
            .retrieve(collection, vec![RECORD.to_string().into()], false)
            .await?;
        let payload = record
            .into_iter()
            .next()
            .map(|point| serde_json::Value::from(Payload::from(point.payload)))
            .ok_or_else(|| Error::Stored(format!("collection {collection} records no model")))?;
        let model = payload["model"].as_str().unwrap_or_default().to_owned();
        let dimension = payload["dimension"]
            .as_u64()
            .and_then(|dimension| usize::try_from(dimension).ok())
            .ok_or_else(|| Error::Stored(format!("collection {collection} records no dimension")))?;
        Ok((model, dimension))
    }
}

impl VectorStore for QdrantServer {
    async fn ensure_collection(&self, collection: &Collection) -> Result<()> {
        check_name(&collection.name)?;
        let name = collection.name.as_str();
        let exists = self.call(|| self.client.collection_exists(name)).await?;
        if exists {
            let (model, dimension) = self.record(name).await?;
            if model != collection.model || dimension != collection.dimension {
                return Err(Error::ModelMismatch {
                    collection: name.to_owned(),
                    stored_model: model,
                    stored_dimension: dimension,
                    model: collection.model.clone(),
                    dimension: collection.dimension,
                });
            }
            return Ok(());
        }
        let size = u64::try_from(collection.dimension).unwrap_or(u64::MAX);
        self.call(|| {
            self.client.create_collection(
                CreateCollectionBuilder::new(name)
                    .vectors_config(VectorParamsBuilder::new(size, Distance::Cosine))
                    .hnsw_config(HnswConfigDiffBuilder::default().m(0).payload_m(16)),
            )
        })
        .await?;
        self.call(|| {
            self.client.create_field_index(
                CreateFieldIndexCollectionBuilder::new(name, "org_id", FieldType::Keyword)
                    .field_index_params(KeywordIndexParamsBuilder::default().is_tenant(true))
                    .wait(true),
            )
        })
        .await?;
        for (field, kind) in [
            ("level", FieldType::Integer),
            ("agent", FieldType::Keyword),
            ("namespace", FieldType::Keyword),
            ("created_at", FieldType::Integer),
            ("expires_at", FieldType::Integer),
        ] {
            self.call(|| {
                self.client
                    .create_field_index(CreateFieldIndexCollectionBuilder::new(name, field, kind).wait(true))
            })
            .await?;
        }
        let mut vector = vec![0.0; collection.dimension];
        if let Some(first) = vector.first_mut() {
            *first = 1.0;
        }
        let record = Payload::try_from(serde_json::json!({
            "org_id": "",
            "model": collection.model,
            "dimension": collection.dimension,
        }))
        .map_err(|error| qdrant(&self.url, &error))?;
        let point = PointStruct::new(RECORD.to_string(), vector, record);
        self.call(|| {
            self.client
                .upsert_points(UpsertPointsBuilder::new(name, vec![point.clone()]).wait(true))
        })
        .await?;
        Ok(())
    }

    async fn upsert(&self, collection: &str, points: Vec<Point>) -> Result<()> {
        check_name(collection)?;
        if points.is_empty() {
            return Ok(());
        }
        let dimension = self.check_collection(collection).await?;
        for point in &points {
            check_point(collection, dimension, point)?;
        }
        let ids: Vec<PointId> = points.iter().map(|point| point.id.to_string().into()).collect();
        for existing in self.retrieve(collection, ids, false).await? {
            let org = serde_json::Value::from(Payload::from(existing.payload))["org_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let id = point_uuid(existing.id.as_ref());
            if let Some(point) = points.iter().find(|point| Some(point.id) == id)
                && point.org != org
            {
                return Err(Error::IdTaken { id: point.id });
            }
        }
        let structs = points
            .into_iter()
            .map(|point| {
                let payload =
                    Payload::try_from(payload(&point)).map_err(|error| qdrant(&self.url, &error))?;
                Ok(PointStruct::new(point.id.to_string(), point.vector, payload))
            })
            .collect::<Result<Vec<_>>>()?;
        self.call(|| {
            self.client
                .upsert_points(UpsertPointsBuilder::new(collection, structs.clone()).wait(true))
        })
        .await?;
        Ok(())
    }

    async fn get(&self, collection: &str, org: &str, id: Uuid) -> Result<Option<Point>> {
        check_name(collection)?;
        if org.is_empty() {
            return Err(Error::NoOrg);
        }
        self.check_collection(collection).await?;
        let found = self
            .retrieve(collection, vec![id.to_string().into()], true)
            .await?;
        let Some(found) = found.into_iter().next() else {
            return Ok(None);
        };
        let vector = match found.vectors.as_ref().and_then(|vectors| vectors.get_vector()) {
            Some(Vector::Dense(dense)) => dense.data,
            _ => Vec::new(),
        };
        let mut point = from_payload(id, found.payload)?;
        if point.org != org {
            return Ok(None);
        }
        point.vector = vector;
        Ok(Some(point))
    }

    async fn search(&self, collection: &str, search: Search) -> Result<Vec<Hit>> {
        check_name(collection)?;
        if search.filter.org.is_empty() {
            return Err(Error::NoOrg);
        }
        if search.limit == 0 {
            return Ok(Vec::new());
        }
        let dimension = self.check_collection(collection).await?;
        if search.vector.len() != dimension {
            return Err(Error::WrongDimension {
                collection: collection.to_owned(),
                expected: dimension,
                got: search.vector.len(),
            });
        }
        let filter = conditions(&search.filter);
        let limit = u64::try_from(search.limit).unwrap_or(u64::MAX);
        let response = self
            .call(|| {
                let mut query = QueryPointsBuilder::new(collection)
                    .query(search.vector.clone())
                    .filter(filter.clone())
                    .limit(limit)
                    .with_payload(true);
                if let Some(min) = search.min_score {
                    query = query.score_threshold(min);
                }
                self.client.query(query)
            })
            .await?;
        response
            .result
            .into_iter()
            .map(|scored| {
                let id = point_uuid(scored.id.as_ref())
                    .ok_or_else(|| Error::Stored("a point without a UUID".to_owned()))?;
                Ok(Hit {
                    point: from_payload(id, scored.payload)?,
                    score: scored.score,
                })
            })
            .collect()
    }

    async fn delete(&self, collection: &str, filter: Filter) -> Result<u64> {
        check_name(collection)?;
        if filter.org.is_empty() {
            return Err(Error::NoOrg);
        }
        self.check_collection(collection).await?;
        self.delete_matching(collection, conditions(&filter)).await
    }

    async fn count(&self, collection: &str, filter: Filter) -> Result<u64> {
        check_name(collection)?;
        if filter.org.is_empty() {
            return Err(Error::NoOrg);
        }
        self.check_collection(collection).await?;
        self.count_matching(collection, conditions(&filter)).await
    }

    async fn delete_expired(&self, collection: &str, now_ms: i64) -> Result<u64> {
        check_name(collection)?;
        self.check_collection(collection).await?;
        #[expect(
            clippy::cast_precision_loss,
            reason = "Qdrant ranges are f64; ms times fit 53 bits"
        )]
        let expired = QFilter::must([Condition::range(
            "expires_at",
            Range {
                lte: Some(now_ms as f64),
                ..Range::default()
            },
        )]);
        self.delete_matching(collection, expired).await
    }
}

impl QdrantServer {
    async fn count_matching(&self, collection: &str, filter: QFilter) -> Result<u64> {
        let response = self
            .call(|| {
                self.client.count(
                    CountPointsBuilder::new(collection)
                        .filter(filter.clone())
                        .exact(true),
                )
            })
            .await?;
        Ok(response.result.map_or(0, |result| result.count))
    }

    async fn delete_matching(&self, collection: &str, filter: QFilter) -> Result<u64> {
        let count = self.count_matching(collection, filter.clone()).await?;
        self.call(|| {
            self.client.delete_points(
                DeletePointsBuilder::new(collection)
                    .points(filter.clone())
                    .wait(true),
            )
        })
        .await?;
        Ok(count)
    }
}

fn conditions(filter: &Filter) -> QFilter {
    let mut must = vec![Condition::matches("org_id", filter.org.clone())];
    if let Some(level) = filter.level {
        must.push(Condition::matches("level", level.number()));
    }
    if let Some(agent) = &filter.agent {
        must.push(Condition::matches("agent", agent.clone()));
    }
    if let Some(namespace) = &filter.namespace {
        must.push(Condition::matches("namespace", namespace.clone()));
    }
    #[expect(
        clippy::cast_precision_loss,
        reason = "Qdrant ranges are f64; ms times fit 53 bits"
    )]
    let range = |gte: Option<i64>, lt: Option<i64>, gt: Option<i64>| Range {
        gte: gte.map(|at| at as f64),
        lt: lt.map(|at| at as f64),
        gt: gt.map(|at| at as f64),
        ..Range::default()
    };
    if filter.created_from.is_some() || filter.created_before.is_some() {
        must.push(Condition::range(
            "created_at",
            range(filter.created_from, filter.created_before, None),
        ));
    }
    if let Some(at) = filter.alive_at {
        must.push(Condition::range("expires_at", range(None, None, Some(at))));
    }
    QFilter::must(must)
}

fn payload(point: &Point) -> serde_json::Value {
    serde_json::json!({
        "org_id": point.org,
        "level": point.level.number(),
        "agent": point.agent.clone().unwrap_or_default(),
        "namespace": point.namespace.clone().unwrap_or_default(),
        "created_at": point.created_at,
        "expires_at": point.expires_at.unwrap_or(i64::MAX),
        "text": point.text,
        "data": point.data,
    })
}

fn from_payload(id: Uuid, payload: HashMap<String, qdrant_client::qdrant::Value>) -> Result<Point> {
    let json = serde_json::Value::from(Payload::from(payload));
    let bad = |what: &str| Error::Stored(format!("point {id}: {what}"));
    let text = |field: &str| json[field].as_str().unwrap_or_default().to_owned();
    let level = json["level"]
        .as_i64()
        .and_then(Level::from_number)
        .ok_or_else(|| bad("unknown level"))?;
    let expires_at = json["expires_at"].as_i64().filter(|at| *at != i64::MAX);
    Ok(Point {
        id,
        org: text("org_id"),
        level,
        agent: Some(text("agent")).filter(|agent| !agent.is_empty()),
        namespace: Some(text("namespace")).filter(|namespace| !namespace.is_empty()),
        created_at: json["created_at"].as_i64().ok_or_else(|| bad("no created_at"))?,
        expires_at,
        text: text("text"),
        data: json["data"].clone(),
        vector: Vec::new(),
    })
}

fn point_uuid(id: Option<&PointId>) -> Option<Uuid> {
    match id?.point_id_options.as_ref()? {
        PointIdOptions::Uuid(text) => Uuid::parse_str(text).ok(),
        PointIdOptions::Num(_) => None,
    }
}

/// Whether trying again may help: the server unavailable, overloaded, or slow.
fn transient(error: &QdrantError) -> bool {
    match error {
        QdrantError::ResponseError { status } => matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Aborted
        ),
        QdrantError::ResourceExhaustedError { .. } => true,
        _ => false,
    }
}

fn qdrant(url: &str, error: &dyn std::fmt::Display) -> Error {
    Error::Qdrant {
        url: url.to_owned(),
        message: error.to_string(),
    }
}
