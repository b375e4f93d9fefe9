//! The schema, as sea-orm migrations: one schema for SQLite and PostgreSQL, applied on
//! connect and safe to apply again.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

/// The migrations, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(InitialSchema),
            Box::new(FaultManagement),
            Box::new(ListSummaries),
            Box::new(AttributeIndex),
        ]
    }
}

/// Records, unique keys and the notification outbox.
struct InitialSchema;

impl MigrationName for InitialSchema {
    fn name(&self) -> &str {
        "m0001_initial_schema"
    }
}

const RECORDS: &str = "CREATE TABLE IF NOT EXISTS records (
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    vnfd_id TEXT,
    vnf_provider TEXT,
    vnf_product_name TEXT,
    vnf_instance_name TEXT,
    instantiation_state TEXT,
    vnf_instance_id TEXT,
    operation TEXT,
    operation_state TEXT,
    onboarding_state TEXT,
    operational_state TEXT,
    usage_state TEXT,
    name TEXT,
    is_default INTEGER NOT NULL DEFAULT 0,
    runnable INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    state_entered_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, kind, id)
)";

const INDEXES: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS records_instantiation_state ON records (tenant, kind, instantiation_state, id)",
    "CREATE INDEX IF NOT EXISTS records_vnfd ON records (tenant, kind, vnfd_id, id)",
    "CREATE INDEX IF NOT EXISTS records_product ON records (tenant, kind, vnf_provider, vnf_product_name)",
    "CREATE INDEX IF NOT EXISTS records_name ON records (tenant, kind, vnf_instance_name)",
    "CREATE INDEX IF NOT EXISTS records_op_instance ON records (tenant, vnf_instance_id, operation_state)",
    "CREATE INDEX IF NOT EXISTS records_op_state ON records (tenant, kind, operation_state, operation, id)",
    "CREATE INDEX IF NOT EXISTS records_package_state ON records (tenant, kind, onboarding_state, operational_state, usage_state)",
    "CREATE INDEX IF NOT EXISTS records_runnable ON records (runnable, lease_expires_at, id)",
    // The invariant of SOL003: at most one operation in progress per VNF instance.
    "CREATE UNIQUE INDEX IF NOT EXISTS one_op_in_progress_per_instance ON records (tenant, vnf_instance_id) \
     WHERE kind = 'VnfLcmOpOcc' AND operation_state IN ('STARTING', 'PROCESSING', 'FAILED_TEMP', 'ROLLING_BACK')",
    "CREATE TABLE IF NOT EXISTS unique_keys (
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (tenant, name, value)
    )",
    "CREATE INDEX IF NOT EXISTS unique_keys_holder ON unique_keys (tenant, kind, id)",
    "CREATE INDEX IF NOT EXISTS outbox_head ON outbox (tenant, subscription_id, seq)",
];

fn outbox_table(backend: DbBackend) -> String {
    let seq = match backend {
        DbBackend::Postgres => "seq BIGSERIAL PRIMARY KEY",
        _ => "seq INTEGER PRIMARY KEY AUTOINCREMENT",
    };
    format!(
        "CREATE TABLE IF NOT EXISTS outbox (
            {seq},
            tenant TEXT NOT NULL,
            subscription_id TEXT NOT NULL,
            payload TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            not_before BIGINT,
            lease_owner TEXT,
            lease_expires_at BIGINT
        )"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for InitialSchema {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        db.execute_unprepared(RECORDS).await?;
        db.execute_unprepared(&outbox_table(backend)).await?;
        for statement in INDEXES {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in ["outbox", "unique_keys", "records"] {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await?;
        }
        Ok(())
    }
}

/// VNF fault management: alarms and FM subscriptions are records like the others (kinds
/// `Alarm` and `FmSubscription`, an alarm's `managedObjectId` in `vnf_instance_id`);
/// this adds the index that lists an instance's alarms.
struct FaultManagement;

impl MigrationName for FaultManagement {
    fn name(&self) -> &str {
        "m0002_fault_management"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for FaultManagement {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS records_alarm_object ON records (tenant, kind, vnf_instance_id, id)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS records_alarm_object")
            .await?;
        Ok(())
    }
}

/// Lists served without decoding records: `summary` holds a record's default list view
/// (`Record::summary`) for the kinds whose lists leave complex attributes out, and
/// `summary_version` the record version it was written at. Rows written before it, or
/// updated since by a VNFM that does not keep summaries, have none current and are
/// summarised when listed.
struct ListSummaries;

impl MigrationName for ListSummaries {
    fn name(&self) -> &str {
        "m0003_list_summaries"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for ListSummaries {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE records ADD COLUMN summary TEXT")
            .await?;
        db.execute_unprepared("ALTER TABLE records ADD COLUMN summary_version BIGINT")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for column in ["summary_version", "summary"] {
            db.execute_unprepared(&format!("ALTER TABLE records DROP COLUMN {column}"))
                .await?;
        }
        Ok(())
    }
}

/// The attribute index (see the `attrs` module): `record_attrs` holds a row per scalar
/// of a record's ETSI view, and `records.attrs_version` the record version those rows
/// were written at. Rows whose index is not current (not reached yet by the index task,
/// written before the index or by a VNFM that does not keep it, or too large to index)
/// are found through `records_unindexed` and taken as candidates by every filtered
/// list; [`crate::SqlStore::index_pending`] indexes them.
struct AttributeIndex;

impl MigrationName for AttributeIndex {
    fn name(&self) -> &str {
        "m0004_attribute_index"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AttributeIndex {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // Orderings compare strings byte by byte, as filters on records do: PostgreSQL's
        // default collation would not.
        let value = match manager.get_database_backend() {
            DbBackend::Postgres => "TEXT COLLATE \"C\"",
            _ => "TEXT",
        };
        for statement in [
            "ALTER TABLE records ADD COLUMN attrs_version BIGINT".to_owned(),
            format!(
                "CREATE TABLE IF NOT EXISTS record_attrs (
                    tenant TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    id TEXT NOT NULL,
                    path TEXT NOT NULL,
                    value {value},
                    num DOUBLE PRECISION
                )"
            ),
            "CREATE INDEX IF NOT EXISTS record_attrs_value ON record_attrs (tenant, kind, path, value, id)"
                .to_owned(),
            "CREATE INDEX IF NOT EXISTS record_attrs_num ON record_attrs (tenant, kind, path, num, id) \
             WHERE num IS NOT NULL"
                .to_owned(),
            "CREATE INDEX IF NOT EXISTS record_attrs_owner ON record_attrs (tenant, kind, id)".to_owned(),
            "CREATE INDEX IF NOT EXISTS records_unindexed ON records (tenant, kind, id) \
             WHERE attrs_version IS NULL OR attrs_version <> version"
                .to_owned(),
        ] {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in [
            "DROP INDEX IF EXISTS records_unindexed",
            "DROP TABLE IF EXISTS record_attrs",
            "ALTER TABLE records DROP COLUMN attrs_version",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }
}
