//! `cupula`: serve the portal, migrate its database, create an administrator.

use app::backend::accounts::{create_account, AccountError, NewAccount};
use app::backend::config::Config;
use app::backend::demo;
use app::backend::storage::accounts::NewObservatory;
use app::i18n::Lang;
use app::model::Role;
use clap::{Parser, Subcommand};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cupula",
    version,
    about = "Cúpula, the support portal for observatories"
)]
struct Cli {
    /// A TOML configuration file; CUPULA_* environment variables override its values.
    #[arg(long, env = "CUPULA_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the portal (the default command).
    Serve {
        /// Do not create the demo observatory when the database is empty.
        #[arg(long, env = "CUPULA_NO_DEMO")]
        no_demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Show the newest e-mails queued for an address, as JSON (what the portal sent or will send).
    Outbox {
        #[arg(long)]
        to: String,
        #[arg(long, default_value_t = 10)]
        limit: i64,
    },
    /// Create an administrator; the password is read from the first line of standard input.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Name of the observatory to create when the database has none yet.
        #[arg(long, default_value = "Observatorio")]
        observatory_name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), |key| std::env::var(key).ok()) {
        Ok(config) => config,
        Err(err) => return fail(err),
    };
    init_tracing(config.log_json);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => return fail(err),
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve { no_demo: false }) {
            Command::Serve { no_demo } => serve(config, no_demo).await,
            Command::Migrate => migrate(config).await,
            Command::Outbox { to, limit } => outbox(config, &to, limit).await,
            Command::CreateAdmin {
                email,
                name,
                observatory_name,
            } => create_admin(config, &email, &name, &observatory_name).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(message),
    }
}

fn fail(err: impl std::fmt::Display) -> ExitCode {
    eprintln!("cupula: {err}");
    ExitCode::FAILURE
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(config: Config, no_demo: bool) -> Result<(), String> {
    let db = server::open_database(&config)
        .await
        .map_err(|e| e.to_string())?;
    // Computed now, off the executor, so the first sign-in with an unknown address costs no more
    // than any other.
    let _ = tokio::task::spawn_blocking(app::backend::passwords::dummy_hash).await;
    if !no_demo {
        if let Some(accounts) = demo::seed_if_empty(&db)
            .await
            .map_err(|e| account_error(e, Lang::En))?
        {
            print_demo_accounts(&accounts);
        }
    }
    let listener = server::bind(config.listen)
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let state = server::state(config, db.clone());
    let site = state.leptos_options.site_root.clone();
    if !std::path::Path::new(site.as_ref()).join("pkg").is_dir() {
        tracing::warn!(%site, "the built site was not found: pages render but will not load their scripts and styles; build with `cargo leptos build` or set CUPULA_SITE_ROOT");
    }
    tracing::info!(%addr, %site, engine = ?db.engine(), "Cúpula is listening on http://{addr}");
    server::serve(listener, server::router(state), server::shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    db.close().await;
    Ok(())
}

fn print_demo_accounts(accounts: &[demo::DemoAccount]) {
    println!();
    println!("Demo observatory created: {}", demo::DEMO_OBSERVATORY_NAME);
    println!("Demo accounts (shown only this once, keep them):");
    for account in accounts {
        println!(
            "  {:<7} {:<36} {}",
            account.role.code(),
            account.email,
            account.password
        );
    }
    println!();
}

async fn migrate(config: Config) -> Result<(), String> {
    let db = server::open_database(&config)
        .await
        .map_err(|e| e.to_string())?;
    db.close().await;
    println!("The database is up to date.");
    Ok(())
}

async fn outbox(config: Config, to: &str, limit: i64) -> Result<(), String> {
    let db = server::open_database(&config)
        .await
        .map_err(|e| e.to_string())?;
    let mails = db
        .mail_to(&to.trim().to_lowercase(), limit.clamp(1, 1000))
        .await
        .map_err(|e| e.to_string())?;
    db.close().await;
    let json: Vec<serde_json::Value> = mails
        .into_iter()
        .map(|mail| {
            serde_json::json!({
                "to": mail.to_address,
                "kind": mail.kind,
                "subject": mail.subject,
                "body": mail.body_text,
                "created_at": mail.created_at.to_rfc3339(),
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?
    );
    Ok(())
}

async fn create_admin(
    config: Config,
    email: &str,
    name: &str,
    observatory_name: &str,
) -> Result<(), String> {
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = password.trim_end_matches(['\r', '\n']);
    let db = server::open_database(&config)
        .await
        .map_err(|e| e.to_string())?;
    let observatory_id = match db.default_observatory().await.map_err(|e| e.to_string())? {
        Some(observatory) => observatory.id,
        None => db
            .insert_observatory(NewObservatory {
                slug: "observatorio",
                name: observatory_name,
                ticket_prefix: "OBS",
            })
            .await
            .map_err(|e| e.to_string())?,
    };
    create_account(
        &db,
        NewAccount {
            observatory_id,
            organization_id: None,
            email,
            name,
            role: Role::Admin,
            language: Lang::Es,
            password: Some(password),
        },
    )
    .await
    .map_err(|e| account_error(e, Lang::En))?;
    db.close().await;
    println!("Administrator {email} created.");
    Ok(())
}

fn account_error(err: AccountError, lang: Lang) -> String {
    match err {
        AccountError::User(msg) => msg.text(lang).to_string(),
        AccountError::Store(e) => e.to_string(),
        AccountError::Io(e) => e.to_string(),
    }
}
