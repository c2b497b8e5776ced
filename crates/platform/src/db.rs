//! Database connection for both backends: PostgreSQL in production, SQLite as the embedded default.

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// After an erasure on SQLite: copy the write-ahead log into the database and truncate it, so no older
/// page image of the erased rows survives in the WAL file. Best effort: a long-running reader can keep
/// the checkpoint from completing, and the next one finishes the job.
pub async fn purge_wal(db: &DatabaseConnection) -> Result<(), DbErr> {
    use sea_orm::ConnectionTrait as _;
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
    }
    Ok(())
}

/// Connects with the settings measured to matter: SQLite in WAL mode with `synchronous=NORMAL` (sqlx
/// leaves the rollback journal on, which ran about 30 times slower), and no ping before each acquire.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    if let Some(parent) = sqlite_file_path(url).and_then(|path| std::path::Path::new(path).parent())
    {
        std::fs::create_dir_all(parent).map_err(|e| DbErr::Custom(e.to_string()))?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .test_before_acquire(false)
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5));
    if url.starts_with("sqlite:") {
        options.max_connections(8).map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
                // Deleted content is overwritten, so an erased child leaves no bytes behind.
                .pragma("secure_delete", "ON")
        });
    } else {
        options.max_connections(16);
    }
    let mut db = Database::connect(options).await?;
    crate::telemetry::db::instrument(&mut db);
    Ok(db)
}

fn sqlite_file_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://")?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && !path.contains(":memory:")).then_some(path)
}
