//! `shouwang serve`: the HTTP API and the projector, on the configured
//! database, until SIGTERM or Ctrl-C.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;
use shouwang_api::{ApiSettings, AppState};
use shouwang_domain::vocabulary::UserRole;
use shouwang_domain::volunteer::PointsPolicy;
use shouwang_infrastructure::users::{NewUser, add_user, find_user};
use shouwang_infrastructure::{Application, Store};
use shouwang_projections::Projector;
use tokio::sync::watch;
use uuid::Uuid;

use crate::demo::{DemoArgs, generate};
use crate::users::generate_password;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SHOUWANG_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// On an empty database: write the demo county and create demo logins
    /// (printed once), so a new user can explore at once.
    #[arg(long)]
    demo: bool,
}

#[allow(clippy::print_stdout)]
pub async fn run(store: Store, args: ServeArgs) -> anyhow::Result<()> {
    if args.demo {
        prepare_demo(&store).await?;
    }
    let projector = Projector::new(store.clone(), shouwang_projections::all_projections());
    projector.prepare().await.context("准备读模型")?;
    let (stop_projector, projector_stopped) = watch::channel(false);
    let projector_task = {
        let projector = projector.clone();
        tokio::spawn(async move { projector.run(projector_stopped).await })
    };
    let state = AppState::new(
        Application::new(store.clone(), PointsPolicy::default()),
        projector,
        ApiSettings::default(),
    );
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("无法监听 {}（端口被占用？可用 --bind 换一个）", args.bind))?;
    let address = listener.local_addr().context("监听地址")?;
    println!("守望已启动：http://{address}  接口文档：http://{address}/api/docs  （Ctrl-C 停止）");
    shouwang_api::serve(listener, state, shutdown_signal())
        .await
        .context("HTTP 服务")?;
    // Requests have finished; the projector stops at its next checkpoint.
    let _ = stop_projector.send(true);
    match projector_task.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "读模型停止时出错"),
        Err(error) => tracing::error!(%error, "读模型任务异常结束"),
    }
    store.database().close().await;
    println!("守望已停止。");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("收到停止信号，等待进行中的请求完成");
}

/// Writes the demo county into an empty database and creates one login per
/// role; prints the passwords once.
#[allow(clippy::print_stdout)]
async fn prepare_demo(store: &Store) -> anyhow::Result<()> {
    if store.last_position().await? > 0 {
        println!("数据库中已有数据，跳过演示数据生成（--demo 只填充空数据库）。");
        return Ok(());
    }
    let summary = generate(
        store,
        &DemoArgs {
            people: 200,
            seed: 2026,
            concurrency: 4,
        },
    )
    .await?;
    println!("{summary}");
    let organization = summary
        .organizations
        .first()
        .map(|(id, _)| *id)
        .unwrap_or_else(Uuid::nil);
    let logins: [(&str, &str, UserRole, &str, Option<Uuid>); 5] = [
        ("admin", "系统管理员", UserRole::Admin, "", None),
        (
            "official",
            "县民政局干部",
            UserRole::Official,
            "360121",
            None,
        ),
        (
            "supervisor",
            "莲塘镇督导",
            UserRole::Supervisor,
            "360121",
            Some(organization),
        ),
        (
            "worker",
            "莲塘镇社工",
            UserRole::SocialWorker,
            "360121100",
            Some(organization),
        ),
        ("auditor", "第三方评估员", UserRole::Auditor, "360121", None),
    ];
    println!("演示账号（密码只显示这一次）：");
    for (username, name, role, scope, organization_id) in &logins {
        if find_user(store.database(), username).await?.is_some() {
            continue;
        }
        let password = generate_password();
        add_user(
            store.database(),
            NewUser {
                username: (*username).to_owned(),
                display_name: (*name).to_owned(),
                role: *role,
                region_scope: (*scope).to_owned(),
                organization_id: *organization_id,
                password: password.clone(),
            },
        )
        .await?;
        println!(
            "  {username:<10} {password}  （{}，管辖区域 {}）",
            role.label_zh(),
            if scope.is_empty() { "全国" } else { scope }
        );
    }
    Ok(())
}
