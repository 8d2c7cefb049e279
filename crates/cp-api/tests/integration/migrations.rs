use cp_api::db;
use cp_api::db::migrations::{self, Direction};

use crate::support::{TestDb, on_both_backends};

on_both_backends! {
    async fn migrations_go_up_down_and_up_again(backend: Backend) {
        let db = TestDb::empty(backend).await;
        let applied = migrations::run(&db.database, Direction::Up).await.unwrap();
        assert!(!applied.is_empty());
        assert!(migrations::run(&db.database, Direction::Up).await.unwrap().is_empty(), "nothing left to apply");
        assert!(tables(&db).await.contains(&"orgs".to_owned()));

        let reverted = migrations::run(&db.database, Direction::DownAll).await.unwrap();
        assert_eq!(reverted.len(), applied.len());
        let left: Vec<String> = tables(&db).await.into_iter().filter(|t| !t.starts_with("__diesel")).collect();
        assert!(left.is_empty(), "every down.sql removes what its up.sql made: {left:?}");

        assert_eq!(migrations::run(&db.database, Direction::Up).await.unwrap(), applied);
    }
}

async fn tables(db: &TestDb) -> Vec<String> {
    let pool = db::Pool::open(&db.database, 1).await.unwrap();
    let mut pooled = pool.get().await.unwrap();
    crate::schema::table_names(&mut pooled.conn()).await
}
