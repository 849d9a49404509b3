//! Errors of the infrastructure layer. Messages are in Chinese because they
//! reach operators and, through the API, workers.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("配置有误：{0}")]
    Configuration(String),

    #[error("无法连接数据库：{0}")]
    Connection(#[source] sqlx::Error),

    #[error("数据库操作失败：{0}")]
    Database(#[from] sqlx::Error),

    #[error("数据库迁移失败：{0}")]
    Migration(#[from] sqlx::migrate::MigrateError),

    #[error("同一案件刚被他人修改（{stream_id} 第 {version} 条已存在），请刷新后重试")]
    Conflict { stream_id: String, version: u64 },

    #[error("事件数据无法解析（{context}）：{source}")]
    Serialization {
        context: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("个人信息密钥错误：{0}")]
    Vault(String),

    #[error("该对象的个人信息已依法删除，不能再写入新的个人信息")]
    PersonalDataErased { stream_id: String },

    #[error("指令编号 {command_id} 已用于另一条不同的指令，请为新的操作生成新的编号")]
    IdempotencyMismatch { command_id: String },

    #[error("事件升级失败：{0}")]
    Upcast(String),
}

impl StoreError {
    pub(crate) fn connection(error: sqlx::Error) -> Self {
        StoreError::Connection(error)
    }

    pub(crate) fn serialization(context: impl Into<String>, source: serde_json::Error) -> Self {
        StoreError::Serialization {
            context: context.into(),
            source,
        }
    }
}

/// True when the error is a unique-constraint violation (a concurrent writer
/// took the same stream version or command id first).
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}
