//! `cupula`: serve the portal, migrate its database, create an administrator.

use app::backend::accounts::{create_account, NewAccount};
use app::backend::config::Config;
use app::backend::demo;
use app::backend::error::ServiceError;
use app::backend::secret_key::SecretKey;
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
        /// Create the demo observatory and its accounts when the database is empty, and print
        /// their passwords once. For trying the portal out, never for a real installation.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Show the newest e-mails queued for an address, as JSON (what the portal sent or will send).
    /// Single-use links show with their token redacted.
    Outbox {
        #[arg(long)]
        to: String,
        #[arg(long, default_value_t = 10)]
        limit: i64,
        /// Show the links of unsent e-mails whole, opened with the portal's secret key
        /// (CUPULA_SECRET_KEY or <data dir>/secret.key).
        #[arg(long)]
        reveal: bool,
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
    /// Write a backup of the portal, while it runs, to FILE (a tar archive): a consistent copy of
    /// the SQLite database, the secret key file, the logos and the attachments kept in the data
    /// directory. On PostgreSQL use pg_dump instead (see the README).
    Backup { file: PathBuf },
    /// Bring a backup FILE back into the configured data directory, which must be empty, and
    /// check it: the database's integrity, its migrations, and every attached file.
    Restore { file: PathBuf },
    /// The built-in speech engine's model file.
    SpeechModel {
        #[command(subcommand)]
        action: SpeechModelCommand,
    },
}

#[derive(Subcommand)]
enum SpeechModelCommand {
    /// Convert Whisper in CTranslate2's form (a folder with model.bin and tokenizer.json) into
    /// the ggml file the built-in engine reads (weights quantized to q8_0).
    Convert {
        source_dir: PathBuf,
        output_file: PathBuf,
        /// Keep the weights in half precision instead (twice the size).
        #[arg(long)]
        f16: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Needs no configuration: it makes the file that `speech_model` may then name.
    if let Some(Command::SpeechModel { action }) = &cli.command {
        return convert_speech_model(action);
    }
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
        match cli.command.unwrap_or(Command::Serve { demo: false }) {
            Command::Serve { demo } => serve(config, demo).await,
            Command::Migrate => migrate(config).await,
            Command::Outbox { to, limit, reveal } => outbox(config, &to, limit, reveal).await,
            Command::Backup { file } => backup(config, &file).await,
            Command::Restore { file } => restore(config, &file).await,
            Command::CreateAdmin {
                email,
                name,
                observatory_name,
            } => create_admin(config, &email, &name, &observatory_name).await,
            // Converted above, before the configuration was read.
            Command::SpeechModel { .. } => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(message),
    }
}

fn convert_speech_model(action: &SpeechModelCommand) -> ExitCode {
    use app::backend::speech_model::{convert, WeightType};
    let SpeechModelCommand::Convert {
        source_dir,
        output_file,
        f16,
    } = action;
    let weights = if *f16 {
        WeightType::F16
    } else {
        WeightType::Q8_0
    };
    match convert(source_dir, output_file, weights) {
        Ok(()) => {
            println!("{}", output_file.display());
            ExitCode::SUCCESS
        }
        Err(err) => fail(err),
    }
}

fn fail(err: impl std::fmt::Display) -> ExitCode {
    eprintln!("cupula: {err}");
    ExitCode::FAILURE
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into());
    // Logs go to standard error: standard output carries what commands print (`outbox` JSON,
    // the demo accounts), which scripts read.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(mut config: Config, demo: bool) -> Result<(), String> {
    let db = server::open_database(&config)
        .await
        .map_err(|e| e.to_string())?;
    config.secret_key = Some(SecretKey::for_serving(&config).map_err(|e| e.to_string())?);
    // Computed now, off the executor, so the first sign-in with an unknown address costs no more
    // than any other.
    let _ = tokio::task::spawn_blocking(app::backend::passwords::dummy_hash).await;
    // A fresh installation holds no accounts anybody knows of: the operator creates the first
    // administrator, unless the demo is asked for.
    if demo {
        if let Some(accounts) = demo::seed_if_empty(&db)
            .await
            .map_err(|e| service_error(e, Lang::En))?
        {
            print_demo_accounts(&accounts);
        }
    } else if db.count_users().await.map_err(|e| e.to_string())? == 0 {
        println!();
        println!("This portal has no accounts yet. Create the first administrator with:");
        println!("  echo 'a long passphrase' | cupula create-admin --email you@example.org --name \"Your Name\"");
        println!("(or start with `cupula serve --demo` to try the portal with demo accounts).");
        println!();
    }
    let listener = server::bind(config.listen)
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let state = server::state(config, db.clone()).map_err(|e| e.to_string())?;
    server::spawn_housekeeping(&state);
    server::spawn_event_reader(&state).await?;
    server::spawn_mailer(&state)?;
    server::spawn_reply_listener(&state).await?;
    let site = state.leptos_options.site_root.clone();
    if !std::path::Path::new(site.as_ref()).join("pkg").is_dir() {
        tracing::warn!(%site, "the built site was not found: pages render but will not load their scripts and styles; build with `cargo leptos build` or set CUPULA_SITE_ROOT");
    }
    tracing::info!(%addr, %site, engine = ?db.engine(), "serving");
    // On standard output, after anything printed above (the demo accounts): scripts that start
    // the portal read up to this line.
    println!("Cúpula is listening on http://{addr}");
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

async fn backup(config: Config, file: &std::path::Path) -> Result<(), String> {
    // Opened as the portal opens it, without migrating: a backup copies what is there.
    let db = app::backend::storage::Db::connect(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let made = app::backend::backup::create(&db, &config, file).await;
    db.close().await;
    let summary = made.map_err(|e| e.to_string())?;
    println!(
        "Backup written to {}: {} requests, {} other files, {} bytes.",
        file.display(),
        summary.tickets,
        summary.files,
        summary.bytes
    );
    Ok(())
}

async fn restore(config: Config, file: &std::path::Path) -> Result<(), String> {
    let summary = app::backend::backup::restore(&config, file)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "Restored into {}: {} requests, {} attached files, all checked.",
        config.data_dir.display(),
        summary.tickets,
        summary.attached_files
    );
    Ok(())
}

async fn outbox(config: Config, to: &str, limit: i64, reveal: bool) -> Result<(), String> {
    // Only read here: a new key would open nothing.
    let key = if reveal {
        Some(SecretKey::for_reading(&config).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let db = server::open_database(&config)
        .await
        .map_err(|e| e.to_string())?;
    let mails = app::backend::outbox::mail_to(&db, to, limit, key.as_ref()).await;
    db.close().await;
    let json: Vec<serde_json::Value> = mails
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|mail| {
            serde_json::json!({
                "to": mail.to_address,
                "kind": mail.kind,
                "subject": mail.subject,
                "body": mail.body,
                "created_at": mail.created_at.to_rfc3339(),
                "sent_at": mail.sent_at.map(|at| at.to_rfc3339()),
                "attempts": mail.attempts,
                "last_error": mail.last_error,
                "failed_at": mail.failed_at.map(|at| at.to_rfc3339()),
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
    .map_err(|e| service_error(e, Lang::En))?;
    db.close().await;
    println!("Administrator {email} created.");
    Ok(())
}

fn service_error(err: ServiceError, lang: Lang) -> String {
    match err {
        ServiceError::User(msg) => msg.text(lang).to_string(),
        ServiceError::Store(e) => e.to_string(),
        ServiceError::Io(e) => e.to_string(),
    }
}
