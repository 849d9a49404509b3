//! `shouwang users add|list|disable|reset-password`.

use std::io::BufRead;

use anyhow::Context;
use clap::{Args, Subcommand};
use shouwang_domain::vocabulary::UserRole;
use shouwang_infrastructure::Database;
use shouwang_infrastructure::users::{NewUser, add_user, disable_user, list_users, reset_password};
use uuid::Uuid;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user. Without --password-stdin a strong password is generated and printed once.
    Add(AddUser),
    /// List users with their role, scope and organization.
    List,
    /// Disable a user and end all their sessions.
    Disable { username: String },
    /// Set a new password (generated unless --password-stdin) and end all sessions.
    ResetPassword {
        username: String,
        /// Read the new password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Args)]
pub struct AddUser {
    #[arg(long)]
    username: String,
    /// The name shown to others, e.g. 张社工.
    #[arg(long)]
    name: String,
    /// social_worker, supervisor, official, auditor or admin.
    #[arg(long, value_parser = parse_role)]
    role: UserRole,
    /// Region scope: a prefix of the 12-digit region code (e.g. 360121 for a county; empty for the whole country).
    #[arg(long, default_value = "")]
    scope: String,
    /// The organization the user works for, if any.
    #[arg(long)]
    organization: Option<Uuid>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

fn parse_role(text: &str) -> Result<UserRole, String> {
    UserRole::from_code(text).ok_or_else(|| {
        let roles: Vec<&str> = UserRole::ALL.iter().map(|r| r.code()).collect();
        format!("未知角色 {text}；可选：{}", roles.join(", "))
    })
}

/// A random password of 20 characters from an alphabet without look-alikes.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

fn password_from(stdin: bool) -> anyhow::Result<(String, bool)> {
    if stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("读取密码")?;
        Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
    } else {
        Ok((generate_password(), true))
    }
}

#[allow(clippy::print_stdout)]
pub async fn run(db: &Database, command: UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::Add(add) => {
            let (password, generated) = password_from(add.password_stdin)?;
            let user = add_user(
                db,
                NewUser {
                    username: add.username,
                    display_name: add.name,
                    role: add.role,
                    region_scope: add.scope,
                    organization_id: add.organization,
                    password: password.clone(),
                },
            )
            .await?;
            println!(
                "已添加用户 {}（{}，{}，管辖区域 {}）",
                user.username,
                user.display_name,
                user.role.label_zh(),
                scope_label(&user.region_scope)
            );
            if generated {
                println!("初始密码（只显示这一次）：{password}");
            }
        }
        UsersCommand::List => {
            for user in list_users(db).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    user.username,
                    user.display_name,
                    user.role.code(),
                    scope_label(&user.region_scope),
                    user.organization_id
                        .map(|o| o.to_string())
                        .unwrap_or_else(|| "-".to_owned()),
                    if user.disabled { "已停用" } else { "正常" }
                );
            }
        }
        UsersCommand::Disable { username } => {
            disable_user(db, &username).await?;
            println!("已停用用户 {username}，其所有会话已失效");
        }
        UsersCommand::ResetPassword {
            username,
            password_stdin,
        } => {
            let (password, generated) = password_from(password_stdin)?;
            reset_password(db, &username, &password).await?;
            println!("已重置用户 {username} 的密码，其所有会话已失效");
            if generated {
                println!("新密码（只显示这一次）：{password}");
            }
        }
    }
    Ok(())
}

fn scope_label(scope: &str) -> &str {
    if scope.is_empty() { "全国" } else { scope }
}
