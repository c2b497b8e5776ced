//! The database platform's unit tests run on: SQLite in memory, or a fresh PostgreSQL schema when
//! `HAVEN_TEST_DATABASE_URL` is set, so a module's rules are checked on both backends.

use sea_orm::{ConnectOptions, ConnectionTrait as _, DatabaseConnection};
use sea_orm_migration::{MigrationTrait, SchemaManager};

/// A database with `migrations` applied. Drop the returned [`Scratch`] last: on PostgreSQL it removes the
/// schema again.
pub(crate) async fn database(migrations: &[&dyn MigrationTrait]) -> (DatabaseConnection, Scratch) {
    let (db, scratch) = match std::env::var("HAVEN_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(base) => {
            let schema = format!("pt_{}", uuid::Uuid::now_v7().simple());
            let admin = sea_orm::Database::connect(&base).await.expect("connect");
            admin
                .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                .await
                .expect("create schema");
            let separator = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{separator}options%5Bsearch_path%5D={schema}");
            let db = crate::db::connect(&url).await.expect("connect");
            (db, Scratch(Some((base, schema))))
        }
        None => {
            // One connection: every connection to `sqlite::memory:` would open a database of its own.
            let mut options = ConnectOptions::new("sqlite::memory:");
            options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .sqlx_logging(false);
            let db = sea_orm::Database::connect(options).await.expect("sqlite");
            (db, Scratch(None))
        }
    };
    let manager = SchemaManager::new(&db);
    for migration in migrations {
        migration.up(&manager).await.expect("migrate");
    }
    (db, scratch)
}

/// The PostgreSQL schema a test made, dropped with this guard.
#[derive(Debug)]
pub(crate) struct Scratch(Option<(String, String)>);

impl Drop for Scratch {
    fn drop(&mut self) {
        let Some((base, schema)) = self.0.take() else {
            return;
        };
        // Drop runs outside async: a short-lived runtime of its own does the cleanup.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(admin) = sea_orm::Database::connect(&base).await {
                        admin
                            .execute_unprepared(&format!(
                                "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                            ))
                            .await
                            .ok();
                    }
                });
            }
        });
        cleanup.join().ok();
    }
}
