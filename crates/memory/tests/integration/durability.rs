//! A write that returned survives the process being killed with SIGKILL.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use memory::{Level, SqliteVec, VectorStore};
use uuid::Uuid;

use crate::support::{COLLECTION, collection, point, vector};

const CHILD: &str = "MEMORY_DURABILITY_CHILD_DIR";
const POINTS: usize = 200;

/// Run as a child process by `a_returned_write_survives_kill_9`: writes, says so, then waits to be killed.
#[tokio::test]
async fn child_writes_then_waits_to_be_killed() -> anyhow::Result<()> {
    let Some(dir) = std::env::var_os(CHILD) else {
        return Ok(()); // only meaningful as the child of the test below
    };
    let store = SqliteVec::open(&dir)?;
    store.ensure_collection(&collection()).await?;
    let ids: Vec<Uuid> = (0..POINTS).map(|_| Uuid::now_v7()).collect();
    let points = ids
        .iter()
        .enumerate()
        .map(|(index, id)| {
            let mut point = point("acme", Level::Task, &format!("task {index}"), vector(index, 0.3));
            point.id = *id;
            point
        })
        .collect();
    store.upsert(COLLECTION, points).await?;
    println!(
        "written {}",
        ids.iter().map(Uuid::to_string).collect::<Vec<_>>().join(",")
    );
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

#[tokio::test]
async fn a_returned_write_survives_kill_9() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "--exact",
            "durability::child_writes_then_waits_to_be_killed",
            "--nocapture",
        ])
        .env(CHILD, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut ids = None;
    for line in BufReader::new(stdout).lines() {
        if let Some(written) = line?.strip_prefix("written ") {
            ids = Some(
                written
                    .split(',')
                    .map(Uuid::parse_str)
                    .collect::<Result<Vec<_>, _>>()?,
            );
            break;
        }
    }
    // SIGKILL on Unix: no destructor, no flush, no checkpoint runs in the child.
    child.kill()?;
    child.wait()?;
    let ids = ids.ok_or_else(|| anyhow::anyhow!("the child never reported its write"))?;
    assert_eq!(ids.len(), POINTS);

    let store = SqliteVec::open(dir.path())?;
    store.ensure_collection(&collection()).await?;
    for id in ids {
        assert!(
            store.get(COLLECTION, "acme", id).await?.is_some(),
            "point {id} was lost"
        );
    }
    Ok(())
}
